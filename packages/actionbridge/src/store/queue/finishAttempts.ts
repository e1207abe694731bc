import { sql } from 'kysely';
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

/**
 * Records a batch of answers in two statements, whatever its size (graphile-worker's
 * `completeJobs` idea, in SQL both backends share: `UPDATE … FROM (VALUES …)`). Returns the
 * deliveries that moved (still pending and leased by this process); the others were cancelled or
 * taken over meanwhile, and only their attempts are recorded.
 */
export async function finishAttempts(
  q: Q,
  owner: string,
  results: readonly AttemptResult[],
  now: string,
): Promise<Set<string>> {
  if (results.length === 0) return new Set();
  const int = (v: number | null) => sql`cast(${v} as integer)`;
  const big = (v: number | null) => sql`cast(${v} as bigint)`;
  const attempts = results.map(
    (r) =>
      sql`(${r.attempt_id}, ${r.outcome}, ${int(r.duration_ms)}, ${int(r.status_code)}, ${JSON.stringify(r.response_headers)}, ${r.response_body}, ${r.error})`,
  );
  await sql`update delivery_attempts set outcome = v.column2, duration_ms = v.column3, status_code = v.column4,
      response_headers = v.column5, response_body = v.column6, error = v.column7
    from (values ${sql.join(attempts)}) as v
    where delivery_attempts.id = v.column1`.execute(q.db);
  const deliveries = results.map(
    (r) =>
      sql`(${r.delivery_id}, ${r.delivery.status}, ${int(r.delivery.tries)}, ${big(r.delivery.next_attempt_ms)}, ${int(r.delivery.handed_back ? 1 : 0)}, ${int(r.status_code)}, ${r.error})`,
  );
  const moved = await sql<{ id: string }>`update deliveries set status = v.column2, tries = v.column3,
      next_attempt_ms = v.column4, updated_at = ${now}, locked_until_ms = 0, lease_owner = null,
      last_status_code = case when v.column5 = 1 then deliveries.last_status_code else v.column6 end,
      last_error = case when v.column5 = 1 then deliveries.last_error else v.column7 end
    from (values ${sql.join(deliveries)}) as v
    where deliveries.id = v.column1 and deliveries.status = 'pending' and deliveries.lease_owner = ${owner}
    returning deliveries.id`.execute(q.db);
  return new Set(moved.rows.map((r) => r.id));
}
