import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { EntityItem } from '../domain/types.js';
import { parse, type Q } from './context.js';

function toEntity(row: Selectable<Database['entities']>): EntityItem {
  return parse<EntityItem>(row.data);
}

/** Entities of an org. */
export function entityQueries(q: Q) {
  const { db, dialect } = q;
  return {
    /** `lock`: hold the row until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite writes are serial anyway). */
    async getEntity(orgId: string, id: string, lock = false): Promise<EntityItem | undefined> {
      let s = db.selectFrom('entities').selectAll().where('org_id', '=', orgId).where('id', '=', id);
      if (lock && dialect === 'postgres') s = s.forUpdate();
      const row = await s.executeTakeFirst();
      return row && toEntity(row);
    },
    /** Entities of an org, optionally of one schema, newest first. */
    async listEntities(orgId: string, schema?: string): Promise<EntityItem[]> {
      let s = db.selectFrom('entities').selectAll().where('org_id', '=', orgId);
      if (schema) s = s.where('schema', '=', schema);
      const rows = await s.orderBy('created_at', 'desc').orderBy('id').execute();
      return rows.map(toEntity);
    },
    async listEntitySchemas(orgId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('entities')
        .select('schema')
        .distinct()
        .where('org_id', '=', orgId)
        .orderBy('schema')
        .execute();
      return rows.map((r) => r.schema);
    },
    async insertEntity(e: EntityItem): Promise<void> {
      await db
        .insertInto('entities')
        .values({
          id: e._id,
          org_id: e._org,
          schema: e._schema,
          data: JSON.stringify(e),
          created_at: e._created_at,
          updated_at: e._updated_at,
        })
        .execute();
    },
    async replaceEntity(e: EntityItem): Promise<void> {
      await db
        .updateTable('entities')
        .set({ data: JSON.stringify(e), updated_at: e._updated_at })
        .where('org_id', '=', e._org)
        .where('id', '=', e._id)
        .execute();
    },
    async deleteEntity(orgId: string, id: string): Promise<void> {
      await db.deleteFrom('entities').where('org_id', '=', orgId).where('id', '=', id).execute();
    },
  };
}
