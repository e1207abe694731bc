import { type Kysely, type Migration, PostgresAdapter, sql } from 'kysely';

/**
 * Relations and activities (epilot's Entity API):
 * - `entity_relations`: one row per item of an entity's `$relation` attributes, in document order
 *   (`position`): the entity's relations, and through `entity_relations_reverse` the entities that
 *   point at one (reverse relations), without reading the org's entities;
 * - `activities` (epilot's `BaseActivityItem`, as a JSON document), the entity feeds they appear in
 *   (`activity_entities`, newest first by `timestamp`), and the entity writes made as part of each
 *   (`activity_operations`);
 * - `entity_events.activity_id` / `activity_type`: the activity an event belongs to, which flow
 *   filters match as `activity.type`.
 * Entities stored before this migration get their relation rows here.
 *
 * On PostgreSQL ids, attributes and timestamps use the "C" collation, so that order and ranges
 * follow code points as SQLite's BINARY does (see 0006).
 */
export const relationsActivities: Migration = {
  async up(db: Kysely<unknown>) {
    const pg = db.getExecutor().adapter instanceof PostgresAdapter;
    const text = pg ? sql`text collate "C"` : sql`text`;
    const s = db.schema;
    await s
      .createTable('entity_relations')
      .addColumn('org_id', text, (c) => c.notNull())
      .addColumn('entity_id', text, (c) => c.notNull())
      .addColumn('attribute', text, (c) => c.notNull())
      .addColumn('related_id', text, (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('tags', 'text')
      .addPrimaryKeyConstraint('entity_relations_pk', ['org_id', 'entity_id', 'attribute', 'related_id'])
      .execute();
    await s
      .createIndex('entity_relations_reverse')
      .on('entity_relations')
      .columns(['org_id', 'related_id', 'entity_id', 'attribute'])
      .execute();

    await s
      .createTable('activities')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('org_id', text, (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .execute();
    await s
      .createTable('activity_entities')
      .addColumn('org_id', text, (c) => c.notNull())
      .addColumn('activity_id', text, (c) => c.notNull())
      .addColumn('entity_id', text, (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('timestamp', text, (c) => c.notNull())
      .addPrimaryKeyConstraint('activity_entities_pk', ['activity_id', 'entity_id'])
      .execute();
    // An entity's feed: newest first, ranges of time, pages.
    await s
      .createIndex('activity_entities_feed')
      .on('activity_entities')
      .columns(['org_id', 'entity_id', 'timestamp', 'activity_id'])
      .execute();
    await s
      .createTable('activity_operations')
      .addColumn('activity_id', text, (c) => c.notNull())
      .addColumn('id', text, (c) => c.notNull())
      .addColumn('org_id', text, (c) => c.notNull())
      .addColumn('entity_id', text, (c) => c.notNull())
      .addColumn('schema', 'text', (c) => c.notNull())
      .addColumn('occurred_at', text, (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('activity_operations_pk', ['activity_id', 'id'])
      .execute();
    await s
      .createIndex('activity_operations_order')
      .on('activity_operations')
      .columns(['activity_id', 'occurred_at', 'id'])
      .execute();

    await s.alterTable('entity_events').addColumn('activity_id', 'text').execute();
    await s.alterTable('entity_events').addColumn('activity_type', 'text').execute();

    // The relations of entities already stored, 500 entities at a time.
    let after = '';
    for (;;) {
      const { rows } = await sql<{ id: string; org_id: string; data: string }>`
        select id, org_id, data from entities where id > ${after} and data like ${'%"$relation"%'}
        order by id limit 500`.execute(db);
      if (rows.length === 0) break;
      for (const r of rows) {
        const items = relationRows(JSON.parse(r.data) as Record<string, unknown>);
        for (const [position, item] of items.entries()) {
          await sql`insert into entity_relations (org_id, entity_id, attribute, related_id, position, tags)
            values (${r.org_id}, ${r.id}, ${item.attribute}, ${item.entity_id}, ${position}, ${item.tags})
            on conflict do nothing`.execute(db);
        }
      }
      after = (rows.at(-1) as { id: string }).id;
    }
  },
};

/**
 * The relation items of a stored entity: `{ <attribute>: { $relation: [{ entity_id, _tags? }] } }`
 * (kept here so the migration never changes with later code; items that are not well formed are left out).
 */
function relationRows(e: Record<string, unknown>) {
  const out: Array<{ attribute: string; entity_id: string; tags: string | null }> = [];
  for (const [attribute, value] of Object.entries(e)) {
    if (attribute.startsWith('_') || value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    const list = (value as { $relation?: unknown }).$relation;
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const id = (item as { entity_id?: unknown } | null)?.entity_id;
      if (typeof id !== 'string') continue;
      const tags = (item as { _tags?: unknown })._tags;
      out.push({ attribute, entity_id: id, tags: Array.isArray(tags) ? JSON.stringify(tags) : null });
    }
  }
  return out;
}
