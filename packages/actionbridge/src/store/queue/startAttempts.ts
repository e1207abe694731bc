import type { DeliveryAttempt } from '../../domain/types.js';
import type { Q } from '../context.js';
import { insertRows } from '../insert-rows.js';

/**
 * Records attempts as started, before their requests leave: a crash then leaves an `in_flight`
 * attempt, which the next claim of its delivery turns `interrupted` (never a gap in the log).
 */
export async function startAttempts(
  q: Q,
  attempts: readonly DeliveryAttempt[],
  /** Deliveries claimed again after an earlier attempt: their attempts still `in_flight` were cut off. */
  takenOver: readonly string[],
): Promise<void> {
  if (takenOver.length) {
    await q.db
      .updateTable('delivery_attempts')
      .set({ outcome: 'interrupted', error: 'cut off: the process sending it stopped before the answer' })
      .where('delivery_id', 'in', [...takenOver])
      .where('outcome', '=', 'in_flight')
      .execute();
  }
  await insertRows(
    q.db,
    'delivery_attempts',
    attempts.map((a) => ({
      ...a,
      request_headers: JSON.stringify(a.request_headers),
      response_headers: JSON.stringify(a.response_headers),
    })),
  );
}
