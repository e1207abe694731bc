import { sql } from 'kysely';
import type { Q } from '../context.js';

const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

/**
 * When each lane next has work, counting leases in: a delivery leased by a process that died is due
 * when its lease lapses. `since` is when the lane's last claim looked: what was due by then and not
 * claimed waits on a cap (a freed slot wakes the lane), so only what falls due after it counts — even
 * if that is already past. Work leased by this process is its own business. Lanes sleep until then
 * (or until woken).
 */
export async function nextDeliveryDue(q: Q, owner: string, since: number): Promise<number | undefined> {
  // Two index lookups, never a read of the backlog: the first delivery due after `since`, along
  // the pending due-time index, and the first lease of another process to lapse after it, along
  // the pending leases index (migration 0015). A lease's row counts when its lease lapses even if it
  // is due later: waking early only costs a claim. One expression over every pending row instead
  // cost 1.2 ms a call with 6,700 pending, and ran after every claim.
  const row = await sql<{ due: unknown }>`
    select min(due) as due from (
      select * from (
        select next_attempt_ms as due from deliveries
        where status = 'pending' and next_attempt_ms > ${since} and (lease_owner is null or lease_owner <> ${owner})
        order by next_attempt_ms limit 1) as due_next
      union all
      select * from (
        select locked_until_ms as due from deliveries
        where status = 'pending' and lease_owner is not null and locked_until_ms > ${since} and lease_owner <> ${owner}
        order by locked_until_ms limit 1) as lapse_next) as d`.execute(q.db);
  return num(row.rows[0]?.due);
}

export async function nextEventDue(q: Q, owner: string, since: number): Promise<number | undefined> {
  const row = await sql<{ due: unknown }>`
    select min(locked_until_ms) as due from entity_events
    where processed = 0 and locked_until_ms > ${since} and (lease_owner is null or lease_owner <> ${owner})`.execute(
    q.db,
  );
  return num(row.rows[0]?.due);
}

export async function nextCallbackDeadline(q: Q): Promise<number | undefined> {
  const row = await q.db
    .selectFrom('resume_tokens')
    .select((eb) => eb.fn.min('deadline_ms').as('due'))
    .where('used', '=', 0)
    .where('deadline_ms', 'is not', null)
    .executeTakeFirst();
  return num(row?.due);
}
