import { sql } from 'kysely';
import type { Q } from '../context.js';

/**
 * Leases the given deliveries to `owner` if they are still pending, due and unleased (this process
 * created them and kept them in memory while their origin or org was full; another process, or a
 * claim, may have taken some meanwhile). Each one's `attempt_count` grows by one, as a claim's does.
 * Returns the ids leased. PostgreSQL skips rows locked by other transactions.
 */
export async function leaseDeliveries(
  q: Q,
  ids: readonly string[],
  a: { now: number; untilMs: number; owner: string },
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const list = sql.join([...ids]);
  const rows =
    q.dialect === 'postgres'
      ? await sql<{ id: string }>`update deliveries d
          set locked_until_ms = ${a.untilMs}, lease_owner = ${a.owner}, attempt_count = d.attempt_count + 1
          from (select id from deliveries where id in (${list}) and status = 'pending'
                and next_attempt_ms <= ${a.now} and locked_until_ms <= ${a.now}
                for update skip locked) free
          where d.id = free.id returning d.id`.execute(q.db)
      : await sql<{ id: string }>`update deliveries
          set locked_until_ms = ${a.untilMs}, lease_owner = ${a.owner}, attempt_count = attempt_count + 1
          where id in (${list}) and status = 'pending' and next_attempt_ms <= ${a.now} and locked_until_ms <= ${a.now}
          returning id`.execute(q.db);
  return new Set(rows.rows.map((r) => r.id));
}
