import type { Q } from '../context.js';
import { EVENT_STATUS } from '../events.js';

/** Marks events done: one statement for a batch. */
export async function markEventsProcessed(q: Q, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.db
    .updateTable('entity_events')
    .set({ processed: EVENT_STATUS.processed, locked_until_ms: 0, lease_owner: null })
    .where('id', 'in', [...ids])
    .execute();
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
    .execute();
}
