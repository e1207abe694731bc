import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import { parse, type Q } from './context.js';

export type EntitySchemaRow = Selectable<Database['entity_schemas']>;

/** An org's entity schemas (epilot's `putSchema`), one JSON document per slug (migration 0010). */
export function entitySchemaQueries({ db }: Q) {
  return {
    async getEntitySchema<T>(orgId: string, slug: string): Promise<T | undefined> {
      const row = await db
        .selectFrom('entity_schemas')
        .select('data')
        .where('org_id', '=', orgId)
        .where('slug', '=', slug)
        .executeTakeFirst();
      return row && parse<T>(row.data);
    },
    /** The org's stored schemas, by slug. */
    async listEntitySchemaDefinitions<T>(orgId: string): Promise<T[]> {
      const rows = await db
        .selectFrom('entity_schemas')
        .select('data')
        .where('org_id', '=', orgId)
        .orderBy('slug')
        .execute();
      return rows.map((r) => parse<T>(r.data));
    },
    /** Creates or replaces the schema of `row.slug`. */
    async putEntitySchema(row: EntitySchemaRow): Promise<void> {
      await db
        .insertInto('entity_schemas')
        .values(row)
        .onConflict((oc) => oc.columns(['org_id', 'slug']).doUpdateSet({ data: row.data, updated_at: row.updated_at }))
        .execute();
    },
    async deleteEntitySchema(orgId: string, slug: string): Promise<boolean> {
      const r = await db
        .deleteFrom('entity_schemas')
        .where('org_id', '=', orgId)
        .where('slug', '=', slug)
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
