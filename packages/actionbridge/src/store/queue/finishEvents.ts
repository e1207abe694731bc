import type { Q } from '../context.js';
import { EVENT_STATUS } from '../events.js';

/**
 * Marks events done, one statement for a batch, and returns the ids it marked: those still pending.
 * An event another process finished meanwhile (it took it over after a lease lapsed, or it
 * processed it from its own memory) is not returned, and the caller writes nothing for it: in the
 * transaction that records an event's executions, this is what makes them happen once.
 */
export async function markEventsProcessed(q: Q, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await q.db
    .updateTable('entity_events')
    .set({ processed: EVENT_STATUS.processed, locked_until_ms: 0, lease_owner: null })
    .where('id', 'in', [...ids])
    .where('processed', '=', EVENT_STATUS.pending)
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

/**
 * Records an event whose processing failed: its error and try count, and either the time of its
 * next try (backoff) or, when its tries are spent, `dead` (kept, listed by `GET /v1/events?status=dead`).
 */
export async function failEvent(
  q: Q,
  a: { id: string; attempts: number; error: string; retryAtMs: number | null },
): Promise<void> {
  await q.db
    .updateTable('entity_events')
    .set({
      attempts: a.attempts,
      last_error: a.error.slice(0, 2000),
      processed: a.retryAtMs === null ? EVENT_STATUS.dead : EVENT_STATUS.pending,
      locked_until_ms: a.retryAtMs ?? 0,
      lease_owner: null,
    })
    .where('id', '=', a.id)
    .where('processed', '=', EVENT_STATUS.pending)
    .execute();
}
