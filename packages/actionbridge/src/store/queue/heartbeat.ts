import type { Q } from '../context.js';

/**
 * Renews the leases of the work this process has in hand, so it is never taken over while it runs,
 * and a dead process's work moves on once a short lease lapses. One statement per kind per beat,
 * whatever the count; an item this process lost track of is not renewed and lapses.
 */
export async function renewLeases(
  q: Q,
  owner: string,
  untilMs: number,
  ids: { events: readonly string[]; deliveries: readonly string[] },
): Promise<void> {
  if (ids.deliveries.length) {
    await q.db
      .updateTable('deliveries')
      .set({ locked_until_ms: untilMs })
      .where('id', 'in', [...ids.deliveries])
      .where('lease_owner', '=', owner)
      .where('status', '=', 'pending')
      .execute();
  }
  if (ids.events.length) {
    await q.db
      .updateTable('entity_events')
      .set({ locked_until_ms: untilMs })
      .where('id', 'in', [...ids.events])
      .where('lease_owner', '=', owner)
      .where('processed', '=', 0)
      .execute();
  }
}
