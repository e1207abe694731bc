import { type RawBuilder, sql } from 'kysely';
import type { Activity, ActivityOperation } from '../domain/types.js';
import { parse, type Q } from './context.js';
import { type EntityScope, scopeCondition } from './entities.js';

/**
 * Activities (migration 0009): the activity document, the entity feeds it appears in
 * (`activity_entities`, one row per entity, read newest first through `activity_entities_feed`) and
 * the entity writes made as part of it (`activity_operations`, in the order they happened).
 */

export interface FeedQuery {
  /** ISO times; `after`/`before` are strict, `start`/`end` inclusive. */
  after?: string;
  before?: string;
  start?: string;
  end?: string;
  types?: readonly string[];
  from: number;
  size: number;
}

const ROWS_PER_INSERT = 200;

export function activityQueries(q: Q) {
  const { db } = q;

  const feedWhere = (orgId: string, entityIds: readonly string[], f: FeedQuery): RawBuilder<unknown> => {
    const parts: RawBuilder<unknown>[] = [
      sql`f.org_id = ${orgId}`,
      entityIds.length === 1 ? sql`f.entity_id = ${entityIds[0]}` : sql`f.entity_id in (${sql.join([...entityIds])})`,
    ];
    if (f.after) parts.push(sql`f.timestamp > ${f.after}`);
    if (f.before) parts.push(sql`f.timestamp < ${f.before}`);
    if (f.start) parts.push(sql`f.timestamp >= ${f.start}`);
    if (f.end) parts.push(sql`f.timestamp <= ${f.end}`);
    if (f.types?.length) parts.push(sql`f.type in (${sql.join([...f.types])})`);
    return sql.join(parts, sql` and `);
  };

  return {
    async insertActivity(orgId: string, a: Activity): Promise<void> {
      await db
        .insertInto('activities')
        .values({ id: a._id, org_id: orgId, type: a.type, data: JSON.stringify(a), created_at: a.timestamp })
        .execute();
    },

    async getActivity(orgId: string, id: string): Promise<Activity | undefined> {
      const row = await db
        .selectFrom('activities')
        .select('data')
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && parse<Activity>(row.data);
    },

    /** Shows an activity in the feeds of `entityIds` (those it is already in are left as they are). */
    async attachActivity(orgId: string, a: Activity, entityIds: readonly string[]): Promise<void> {
      const rows = [...new Set(entityIds)].map((entity_id) => ({
        org_id: orgId,
        activity_id: a._id,
        entity_id,
        type: a.type,
        timestamp: a.timestamp,
      }));
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        await db
          .insertInto('activity_entities')
          .values(rows.slice(i, i + ROWS_PER_INSERT))
          .onConflict((oc) => oc.columns(['activity_id', 'entity_id']).doNothing())
          .execute();
      }
    },

    /** Whether the activity appears in the feed of an existing entity the scope lets the caller view. */
    async activityConcernsVisible(orgId: string, activityId: string, scope: EntityScope): Promise<boolean> {
      const { rows } = await sql<{ one: number }>`
        select 1 as one from activity_entities f join entities e on e.id = f.entity_id and e.org_id = f.org_id
        where f.org_id = ${orgId} and f.activity_id = ${activityId} and ${scopeCondition(scope)} limit 1`.execute(db);
      return rows.length > 0;
    },

    /** Records an entity write made as part of an activity (`id`: the write's event). */
    async insertActivityOperation(id: string, op: ActivityOperation, occurredAt: string): Promise<void> {
      await db
        .insertInto('activity_operations')
        .values({
          activity_id: op.activity_id,
          id,
          org_id: op.org,
          entity_id: op.entity,
          schema: op.params.slug,
          occurred_at: occurredAt,
          data: JSON.stringify(op),
        })
        .execute();
    },

    /** One page of an activity's operations on entities the scope lets the caller view, oldest first, and their count. */
    async listActivityOperations(
      orgId: string,
      activityId: string,
      p: { scope: EntityScope; from: number; size: number },
    ): Promise<{ total: number; results: ActivityOperation[] }> {
      const where = sql`o.org_id = ${orgId} and o.activity_id = ${activityId} and ${scopeCondition(p.scope, 'o', 'entity_id')}`;
      const count = await sql<{ n: number | string }>`
        select count(*) as n from activity_operations o where ${where}`.execute(db);
      const total = Number(count.rows[0]?.n ?? 0);
      if (p.size === 0 || p.from >= total) return { total, results: [] };
      const page = await sql<{ data: string }>`
        select o.data from activity_operations o where ${where}
        order by o.occurred_at, o.id limit ${p.size} offset ${p.from}`.execute(db);
      return { total, results: page.rows.map((r) => parse<ActivityOperation>(r.data)) };
    },

    /** One page of the activities in the feeds of `entityIds`, newest first, and how many there are. */
    async listEntityFeed(
      orgId: string,
      entityIds: readonly string[],
      f: FeedQuery,
    ): Promise<{ total: number; results: Activity[] }> {
      const where = feedWhere(orgId, entityIds, f);
      const count = await sql<{ n: number | string }>`
        select count(distinct f.activity_id) as n from activity_entities f where ${where}`.execute(db);
      const total = Number(count.rows[0]?.n ?? 0);
      if (f.size === 0 || f.from >= total) return { total, results: [] };
      const page = await sql<{ data: string }>`
        select a.data from (select distinct f.activity_id, f.timestamp from activity_entities f where ${where}) d
        join activities a on a.id = d.activity_id and a.org_id = ${orgId}
        order by d.timestamp desc, d.activity_id desc limit ${f.size} offset ${f.from}`.execute(db);
      return { total, results: page.rows.map((r) => parse<Activity>(r.data)) };
    },
  };
}
