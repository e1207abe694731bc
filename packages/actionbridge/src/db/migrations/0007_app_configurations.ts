import type { Kysely, Migration } from 'kysely';

/**
 * epilot's App API on top of the apps the engine already reads (`apps`, `app_versions`):
 * - `app_configurations`: the app's unversioned metadata (name, TranslatedString description,
 *   category, …) as a JSON document;
 * - `app_configuration_versions`: per engine version (`seq` = `app_versions.version`), epilot's
 *   version string, whether it is still a `draft` or `published` (immutable), and its versioned
 *   metadata (changelog, role, review) as a JSON document.
 * An app without these rows (created with `POST /v1/apps`) reads as published versions "1", "2", ….
 */
export const appConfigurations: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('app_configurations')
      .addColumn('app_id', 'text', (c) => c.primaryKey().references('apps.id'))
      .addColumn('owner_org_id', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('app_configuration_versions')
      .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('app_configuration_versions_pk', ['app_id', 'seq'])
      .execute();
    await db.schema
      .createIndex('app_configuration_versions_label')
      .on('app_configuration_versions')
      .columns(['app_id', 'version'])
      .unique()
      .execute();
  },
};
