import { sql } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Q } from '../context.js';
import { toEvent } from '../events.js';

/** A claimed event; `unreadable` says why its stored row cannot be read (it then fails on its own). */
export type ClaimedEvent = ReturnType<typeof toEvent> & { unreadable?: string };

function readEvent(row: Database['entity_events']): ClaimedEvent {
  try {
    return toEvent(row);
  } catch (err) {
    const { entity: _e, diff: _d, previous: _p, ...rest } = row;
    return {
      ...toEvent({ ...rest, entity: '{}', diff: '{"added":{},"updated":{},"deleted":{}}', previous: null }),
      unreadable: `the stored event cannot be read: ${(err as Error).message}`,
    };
  }
}

/**
 * Leases up to `limit` pending events, fairly across orgs: at most `perOrg` of each org's oldest,
 * taken round by round (every org's first, then every org's second, …), so one org's write flood
 * delays only its own events. On PostgreSQL the rows are locked with SKIP LOCKED, so processes
 * claiming at once never take the same event.
 */
export async function claimEvents(
  q: Q,
  a: { now: number; leaseMs: number; owner: string; limit: number; perOrg: number },
): Promise<ClaimedEvent[]> {
  const lease = a.now + a.leaseMs;
  // Each org with pending events (a loose index scan: one seek per org) gives its oldest few;
  // ranking every pending event instead cost 2.2 ms a claim under a backlog (profiled).
  const candidates = sql`
      orgs(org) as (
        select (select org_id from entity_events where processed = 0 order by org_id limit 1)
        union all
        select (select org_id from entity_events where processed = 0 and org_id > orgs.org order by org_id limit 1)
        from orgs where orgs.org is not null),
      cand as (${
        q.dialect === 'postgres'
          ? // LATERAL: PostgreSQL plans the correlated IN (… LIMIT) join below as a scan.
            sql`select x.id, x.org_id, x.created_ms from orgs cross join lateral (
          select y.id, y.org_id, y.created_ms from entity_events y
          where y.org_id = orgs.org and y.processed = 0 and y.locked_until_ms <= ${a.now}
          order by y.created_ms limit ${a.perOrg}) x where orgs.org is not null`
          : sql`select x.id, x.org_id, x.created_ms from orgs join entity_events x on x.id in (
          select y.id from entity_events y
          where y.org_id = orgs.org and y.processed = 0 and y.locked_until_ms <= ${a.now}
          order by y.created_ms limit ${a.perOrg})`
      })`;
  const ranked = sql`select id, created_ms, row_number() over (partition by org_id order by created_ms, id) as rn
      from cand`;
  const rows =
    q.dialect === 'postgres'
      ? await sql<Database['entity_events']>`
          with recursive ${candidates},
          ranked as (${ranked}),
          pick as (select id, rn, created_ms from ranked where rn <= ${a.perOrg} order by rn, created_ms limit ${a.limit * 4}),
          locked as (
            select e.id from entity_events e join pick p on p.id = e.id
            where e.processed = 0 and e.locked_until_ms <= ${a.now}
            order by p.rn, p.created_ms limit ${a.limit}
            for update of e skip locked)
          update entity_events e set locked_until_ms = ${lease}, lease_owner = ${a.owner}
          from locked where e.id = locked.id returning e.*`.execute(q.db)
      : await sql<Database['entity_events']>`
          with recursive ${candidates}
          update entity_events set locked_until_ms = ${lease}, lease_owner = ${a.owner}
          where id in (select id from (${ranked}) where rn <= ${a.perOrg} order by rn, created_ms limit ${a.limit})
          returning *`.execute(q.db);
  return rows.rows
    .map((r) => ({ ...r, created_ms: Number(r.created_ms) }))
    .sort((x, y) => x.created_ms - y.created_ms || x.id.localeCompare(y.id))
    .map(readEvent);
}
