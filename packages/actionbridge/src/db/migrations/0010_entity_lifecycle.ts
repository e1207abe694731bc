import { type Kysely, type Migration, sql } from 'kysely';

/**
 * The entity lifecycle of epilot's Entity API:
 * - `entities.deleted_at`: set while an entity is soft-deleted (in the trash); its search index
 *   rows are then kept under the org's trash key (see `store/entities.ts`), so default searches
 *   never read them. The partial index finds an org's trash without reading its live entities.
 * - `idempotency_keys`: the answer (status and body) of a write sent with an `Idempotency-Key`,
 *   stored in the write's own transaction; one per (org, key), until `expires_ms`. `entity_id`
 *   names the entity the answer holds, so a purge forgets it too.
 * - `entity_schemas`: an org's entity schemas (epilot's `putSchema`), one document per slug.
 */
export const entityLifecycle: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('entities').addColumn('deleted_at', 'text').execute();
    await db.schema
      .createIndex('entities_trash')
      .on('entities')
      .columns(['org_id', 'deleted_at'])
      .where(sql.ref('deleted_at'), 'is not', null)
      .execute();

    await db.schema
      .createTable('idempotency_keys')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('request', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('entity_id', 'text')
      .addColumn('created_ms', 'bigint', (c) => c.notNull())
      .addColumn('expires_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_keys_pk', ['org_id', 'key'])
      .execute();
    await db.schema.createIndex('idempotency_keys_expiry').on('idempotency_keys').column('expires_ms').execute();
    await db.schema
      .createIndex('idempotency_keys_entity')
      .on('idempotency_keys')
      .columns(['org_id', 'entity_id'])
      .where(sql.ref('entity_id'), 'is not', null)
      .execute();

    await db.schema
      .createTable('entity_schemas')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('slug', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('entity_schemas_pk', ['org_id', 'slug'])
      .execute();
  },
};
