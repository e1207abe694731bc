import { sql } from 'kysely';
import type { Q } from '../context.js';

/**
 * Frees leases. With an `owner`: the ones that process holds (it is shutting down and hands its
 * unfinished work back). Without: every lease — only for a process that knows it is the sole
 * worker (embedded SQLite, at start-up), so a crashed predecessor's work is taken up at once.
 */
export async function releaseLeases(q: Q, owner?: string): Promise<void> {
  // Literal statuses: what lets the partial pending indexes find the rows (migration 0013).
  let d = q.db
    .updateTable('deliveries')
    .set({ locked_until_ms: 0, lease_owner: null })
    .where('status', '=', sql.lit('pending'));
  let e = q.db
    .updateTable('entity_events')
    .set({ locked_until_ms: 0, lease_owner: null })
    .where('processed', '=', sql.lit(0));
  if (owner) {
    d = d.where('lease_owner', '=', owner);
    e = e.where('lease_owner', '=', owner);
  } else {
    e = e.where('lease_owner', 'is not', null);
  }
  await d.execute();
  await e.execute();
}
