import { type Kysely, type Migration, PostgresAdapter, sql } from 'kysely';
import type { EntityItem } from '../../domain/types.js';
import { writeIndexRows } from '../../store/entities.js';
import type { Database } from '../schema.js';

/**
 * The entity search index (see store/entities.ts): one `entity_terms` row per scalar leaf of an
 * entity, and indexes on `entities` for the default sorts. Existing entities are indexed here.
 *
 * On PostgreSQL the text columns use the "C" collation, so that comparisons (prefix ranges, keyset
 * pagination, sorting) follow code points exactly as SQLite's BINARY does, whatever the database's
 * locale. Index entries stay below PostgreSQL's 2,704-byte btree limit: paths are at most 200 and
 * values at most 256 UTF-16 units (≤ 600 + 768 bytes).
 */
export const entityIndex: Migration = {
  async up(schemaDb: Kysely<unknown>) {
    const db = schemaDb as Kysely<Database>;
    const pg = db.getExecutor().adapter instanceof PostgresAdapter;
    const text = pg ? sql`text collate "C"` : sql`text`;
    await db.schema
      .createTable('entity_terms')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('entity_id', 'text', (c) => c.notNull())
      .addColumn('path', text, (c) => c.notNull())
      .addColumn('value_text', text, (c) => c.notNull())
      .addColumn('value_num', 'double precision')
      .execute();
    // Equality, prefix, text ranges and scans by path; entity_id makes scans index-only and keyset-paged.
    await db.schema
      .createIndex('entity_terms_text')
      .on('entity_terms')
      .columns(['org_id', 'path', 'value_text', 'entity_id'])
      .execute();
    await db.schema
      .createIndex('entity_terms_num')
      .on('entity_terms')
      .columns(['org_id', 'path', 'value_num', 'entity_id'])
      .where(sql.ref('value_num'), 'is not', null)
      .execute();
    // Rewrites and deletes of one entity; sorting by an attribute.
    await db.schema.createIndex('entity_terms_entity').on('entity_terms').columns(['entity_id', 'path']).execute();
    await db.schema.createIndex('entities_org_created').on('entities').columns(['org_id', 'created_at']).execute();
    await db.schema.createIndex('entities_org_updated').on('entities').columns(['org_id', 'updated_at']).execute();

    // Index what is already stored, 500 entities per transaction.
    let after = '';
    for (;;) {
      const rows = await db
        .selectFrom('entities')
        .select(['id', 'data'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(500)
        .execute();
      if (rows.length === 0) break;
      const write = async (tx: Kysely<Database>) => {
        for (const r of rows) await writeIndexRows(tx, JSON.parse(r.data) as EntityItem);
      };
      await (db.isTransaction ? write(db) : db.transaction().execute(write));
      after = (rows.at(-1) as { id: string }).id;
    }
  },
};
