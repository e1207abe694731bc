import type { AttemptOutcome, DeliveryStatus } from '../../domain/types.js';
import type { Q } from '../context.js';

export interface AttemptResult {
  attempt_id: string;
  delivery_id: string;
  outcome: Exclude<AttemptOutcome, 'in_flight'>;
  duration_ms: number;
  status_code: number | null;
  response_headers: Record<string, string>;
  response_body: string;
  error: string | null;
  /** The delivery afterwards: due again at `next_attempt_ms`, or ended. */
  delivery: {
    status: DeliveryStatus;
    tries: number;
    next_attempt_ms: number | null;
    /** Handed back unsent (shutdown): the attempt does not count. */
    handed_back?: boolean;
  };
}

/**
 * Records one attempt's answer and moves its delivery on, if this process still holds its lease
 * and it is still pending (not cancelled or taken over meanwhile). Returns whether the delivery moved.
 */
export async function finishAttempt(q: Q, owner: string, r: AttemptResult, now: string): Promise<boolean> {
  await q.db
    .updateTable('delivery_attempts')
    .set({
      outcome: r.outcome,
      duration_ms: r.duration_ms,
      status_code: r.status_code,
      response_headers: JSON.stringify(r.response_headers),
      response_body: r.response_body,
      error: r.error,
    })
    .where('id', '=', r.attempt_id)
    .execute();
  const d = r.delivery;
  const moved = await q.db
    .updateTable('deliveries')
    .set({
      status: d.status,
      tries: d.tries,
      next_attempt_ms: d.next_attempt_ms,
      updated_at: now,
      locked_until_ms: 0,
      lease_owner: null,
      ...(d.handed_back ? {} : { last_status_code: r.status_code, last_error: r.error }),
    })
    .where('id', '=', r.delivery_id)
    .where('status', '=', 'pending')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(moved.numUpdatedRows) > 0;
}
