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
  const ranked = sql`select id, created_ms, row_number() over (partition by org_id order by created_ms, id) as rn
      from entity_events where processed = 0 and locked_until_ms <= ${a.now}`;
  const rows =
    q.dialect === 'postgres'
      ? await sql<Database['entity_events']>`
          with ranked as (${ranked}),
          pick as (select id, rn, created_ms from ranked where rn <= ${a.perOrg} order by rn, created_ms limit ${a.limit * 4}),
          locked as (
            select e.id from entity_events e join pick p on p.id = e.id
            where e.processed = 0 and e.locked_until_ms <= ${a.now}
            order by p.rn, p.created_ms limit ${a.limit}
            for update of e skip locked)
          update entity_events e set locked_until_ms = ${lease}, lease_owner = ${a.owner}
          from locked where e.id = locked.id returning e.*`.execute(q.db)
      : await sql<Database['entity_events']>`
          update entity_events set locked_until_ms = ${lease}, lease_owner = ${a.owner}
          where id in (select id from (${ranked}) where rn <= ${a.perOrg} order by rn, created_ms limit ${a.limit})
          returning *`.execute(q.db);
  return rows.rows
    .map((r) => ({ ...r, created_ms: Number(r.created_ms) }))
    .sort((x, y) => x.created_ms - y.created_ms || x.id.localeCompare(y.id))
    .map(readEvent);
}
