import type { Flow } from '../domain/types.js';
import { triggerKeys } from '../executions/triggers.js';
import { parse, type Q } from './context.js';

export interface Page<T> {
  total: number;
  results: T[];
}

/** A flow with its hot-flow counter (see `executions/hot.ts`). */
export interface CountedFlow {
  flow: Flow;
  hot: { window_ms: number; count: number; prev_count: number };
}

/** Flows, their trigger index and hot-flow counters. */
export function flowQueries(q: Q) {
  const { db } = q;
  async function indexTriggers(flow: Flow) {
    await db.deleteFrom('flow_triggers').where('flow_id', '=', flow.id).execute();
    const rows = triggerKeys(flow).map((k) => ({ ...k, org_id: flow.org_id, flow_id: flow.id }));
    if (rows.length)
      await db
        .insertInto('flow_triggers')
        .values(rows)
        .onConflict((oc) => oc.doNothing())
        .execute();
  }
  return {
    /** Inserts a flow and indexes its triggers (call inside a transaction). */
    async insertFlow(flow: Flow): Promise<void> {
      await db
        .insertInto('flows')
        .values({
          id: flow.id,
          org_id: flow.org_id,
          entity_schema: flow.entity_schema ?? null,
          enabled: flow.enabled ? 1 : 0,
          data: JSON.stringify(flow),
          created_at: flow.created_at,
          updated_at: flow.updated_at,
          hot_window_ms: 0,
          hot_count: 0,
          hot_prev_count: 0,
        })
        .execute();
      await indexTriggers(flow);
    },
    /** Replaces a flow and re-indexes its triggers (call inside a transaction). */
    async updateFlow(flow: Flow): Promise<void> {
      await db
        .updateTable('flows')
        .set({
          entity_schema: flow.entity_schema ?? null,
          enabled: flow.enabled ? 1 : 0,
          data: JSON.stringify(flow),
          updated_at: flow.updated_at,
        })
        .where('org_id', '=', flow.org_id)
        .where('id', '=', flow.id)
        .execute();
      await indexTriggers(flow);
    },
    /** Stores a flow the system changed (hot: disabled) without touching its triggers. */
    async setFlowData(flow: Flow): Promise<void> {
      await db
        .updateTable('flows')
        .set({ enabled: flow.enabled ? 1 : 0, data: JSON.stringify(flow), updated_at: flow.updated_at })
        .where('org_id', '=', flow.org_id)
        .where('id', '=', flow.id)
        .execute();
    },
    async getFlow(orgId: string, id: string): Promise<Flow | undefined> {
      const row = await db
        .selectFrom('flows')
        .select('data')
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && parse<Flow>(row.data);
    },
    async listFlows(orgId: string, p: { schema?: string; from: number; size: number }): Promise<Page<Flow>> {
      let base = db.selectFrom('flows').where('org_id', '=', orgId);
      if (p.schema) base = base.where('entity_schema', '=', p.schema);
      const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
      const rows = await base.select('data').orderBy('created_at').orderBy('id').offset(p.from).limit(p.size).execute();
      return { total: Number(total), results: rows.map((r) => parse<Flow>(r.data)) };
    },
    /**
     * The flows that events of these (org, schema, operation) keys can start, through the trigger
     * index: one query for a whole batch of events, whatever the number of flows in the org.
     */
    async flowsTriggeredBy(keys: ReadonlyArray<{ org_id: string; schema: string }>): Promise<CountedFlow[]> {
      if (keys.length === 0) return [];
      const rows = await db
        .selectFrom('flows')
        .select(['data', 'hot_window_ms', 'hot_count', 'hot_prev_count'])
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('flow_triggers')
            .select('flow_id')
            .where((w) => w.or(keys.map((k) => w.and([w('org_id', '=', k.org_id), w('schema', '=', k.schema)])))),
        )
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({
        flow: parse<Flow>(r.data),
        hot: { window_ms: Number(r.hot_window_ms), count: r.hot_count, prev_count: r.hot_prev_count },
      }));
    },
    /** Stores a flow's hot-flow counter: one UPDATE per flow per batch of events. */
    async setHotCounter(orgId: string, flowId: string, hot: CountedFlow['hot']): Promise<void> {
      await db
        .updateTable('flows')
        .set({ hot_window_ms: hot.window_ms, hot_count: hot.count, hot_prev_count: hot.prev_count })
        .where('org_id', '=', orgId)
        .where('id', '=', flowId)
        .execute();
    },
    /** Deletes a flow and its trigger index (call inside a transaction). */
    async deleteFlow(orgId: string, id: string): Promise<boolean> {
      const r = await db.deleteFrom('flows').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      await db.deleteFrom('flow_triggers').where('flow_id', '=', id).where('org_id', '=', orgId).execute();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
