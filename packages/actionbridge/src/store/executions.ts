import { sql } from 'kysely';
import type { Execution } from '../domain/types.js';
import { parse, type Q } from './context.js';
import type { Page } from './flows.js';
import { insertRows } from './insert-rows.js';

const toRow = (e: Execution) => ({
  id: e.id,
  org_id: e.org_id,
  flow_id: e.flow_id,
  entity_id: e.entity_id,
  status: e.execution_status,
  data: JSON.stringify(e),
  created_at: e.created_at,
  updated_at: e.updated_at,
});

/** Executions: one row per run of a flow, its state kept as one JSON document. */
export function executionQueries(q: Q) {
  const { db, dialect } = q;
  const updateOne = async (e: Execution) => {
    await db
      .updateTable('executions')
      .set({ status: e.execution_status, data: JSON.stringify(e), updated_at: e.updated_at })
      .where('org_id', '=', e.org_id)
      .where('id', '=', e.id)
      .execute();
  };
  return {
    /** Inserts executions in one statement. */
    async insertExecutions(list: readonly Execution[]): Promise<void> {
      await insertRows(db, 'executions', list.map(toRow));
    },
    updateExecution: updateOne,
    /** Stores executions' new states in one statement (`UPDATE … FROM (VALUES …)`). */
    async updateExecutions(list: readonly Execution[]): Promise<void> {
      if (list.length === 0) return;
      if (list.length === 1) return updateOne(list[0] as Execution);
      const rows = list.map(
        (e) => sql`(${e.id}, ${e.org_id}, ${e.execution_status}, ${JSON.stringify(e)}, ${e.updated_at})`,
      );
      await sql`update executions set status = v.column3, data = v.column4, updated_at = v.column5
        from (values ${sql.join(rows)}) as v
        where executions.id = v.column1 and executions.org_id = v.column2`.execute(db);
    },
    /** `lock`: hold the row until the transaction ends, for read-modify-write of an execution. */
    async getExecution(orgId: string, id: string, lock = false): Promise<Execution | undefined> {
      let s = db.selectFrom('executions').select('data').where('org_id', '=', orgId).where('id', '=', id);
      if (lock && dialect === 'postgres') s = s.forUpdate();
      const row = await s.executeTakeFirst();
      return row && parse<Execution>(row.data);
    },
    /** Executions by id (any org: the engine's own reads), locked on PostgreSQL. */
    async lockExecutions(ids: readonly string[]): Promise<Map<string, Execution>> {
      if (ids.length === 0) return new Map();
      let s = db
        .selectFrom('executions')
        .select('data')
        .where('id', 'in', [...new Set(ids)]);
      if (dialect === 'postgres') s = s.orderBy('id').forUpdate();
      const rows = await s.execute();
      return new Map(rows.map((r) => parse<Execution>(r.data)).map((e) => [e.id, e]));
    },
    /** The flow of each execution (loop protection: a write inside execution E must not re-trigger E's flow). */
    async flowsOfExecutions(ids: readonly string[]): Promise<Map<string, string>> {
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectFrom('executions')
        .select(['id', 'flow_id'])
        .where('id', 'in', [...new Set(ids)])
        .execute();
      return new Map(rows.map((r) => [r.id, r.flow_id]));
    },
    async listExecutions(
      orgId: string,
      p: { entity_id?: string; from: number; size: number },
    ): Promise<Page<Execution>> {
      let base = db.selectFrom('executions').where('org_id', '=', orgId);
      if (p.entity_id) base = base.where('entity_id', '=', p.entity_id);
      const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
      const rows = await base
        .select('data')
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .offset(p.from)
        .limit(p.size)
        .execute();
      return { total: Number(total), results: rows.map((r) => parse<Execution>(r.data)) };
    },
  };
}
