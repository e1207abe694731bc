import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { engineLanes } from './migrations/0005_engine_lanes.js';
import { entityIndex } from './migrations/0006_entity_index.js';
import { appConfigurations } from './migrations/0007_app_configurations.js';
import { eventPreviousValues } from './migrations/0008_event_previous_values.js';
import { relationsActivities } from './migrations/0009_relations_activities.js';
import { entityLifecycle } from './migrations/0010_entity_lifecycle.js';
import { hotPathIndexes } from './migrations/0013_hot_path_indexes.js';
import { executionsByFlow } from './migrations/0014_executions_by_flow.js';
import { pendingLeases } from './migrations/0015_pending_leases.js';

/**
 * Numbered migrations, applied in order. Never edit one after it has been released: add the next.
 * Column types are the ones SQLite and PostgreSQL share (text, integer, bigint).
 *
 * Kysely applies pending migrations in name order; the order of the keys below does not matter
 * (branches register theirs as they land: 0007 before 0006, 0010 before 0009). A database that
 * already ran a later-numbered migration refuses an earlier one that lands after it unless the
 * Migrator allows unordered migrations (`allowUnorderedMigrations`, in db/connect.ts); none of
 * these depends on a number it skipped.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('orgs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('private_pem', 'text', (c) => c.notNull())
        .addColumn('public_pem', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('retire_at', 'text')
        .execute();
      await db.schema
        .createTable('apps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_org_id', 'text', (c) => c.notNull().references('orgs.id'))
        .addColumn('latest_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('app_versions')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('app_versions_pk', ['app_id', 'version'])
        .execute();
      await db.schema
        .createTable('installations')
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('option_values', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('installations_pk', ['org_id', 'app_id'])
        .execute();
      await db.schema
        .createTable('entities')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
        .addColumn('schema', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('entities_org_schema').on('entities').columns(['org_id', 'schema']).execute();
      await db.schema
        .createTable('entity_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull())
        .addColumn('entity_id', 'text', (c) => c.notNull())
        .addColumn('schema', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('diff', 'text', (c) => c.notNull())
        .addColumn('caused_by_execution', 'text')
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('created_ms', 'bigint', (c) => c.notNull())
        .addColumn('processed', 'integer', (c) => c.notNull())
        .addColumn('locked_until_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('entity_events_pending')
        .on('entity_events')
        .columns(['processed', 'created_ms'])
        .execute();
      await db.schema
        .createTable('flows')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
        .addColumn('entity_schema', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('flows_org').on('flows').columns(['org_id', 'enabled']).execute();
      await db.schema
        .createTable('executions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('entity_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('executions_org_entity')
        .on('executions')
        .columns(['org_id', 'entity_id', 'created_at'])
        .execute();
      await db.schema
        .createTable('deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
        .addColumn('execution_id', 'text', (c) => c.notNull())
        .addColumn('action_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('component_id', 'text', (c) => c.notNull())
        .addColumn('webhook_id', 'text', (c) => c.notNull().unique())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('request_body', 'text', (c) => c.notNull())
        .addColumn('attempt_count', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_ms', 'bigint')
        .addColumn('locked_until_ms', 'bigint', (c) => c.notNull())
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('deliveries_due').on('deliveries').columns(['status', 'next_attempt_ms']).execute();
      await db.schema
        .createIndex('deliveries_org_execution')
        .on('deliveries')
        .columns(['org_id', 'execution_id'])
        .execute();
      await db.schema
        .createTable('delivery_attempts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('delivery_id', 'text', (c) => c.notNull().references('deliveries.id'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('request_headers', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('response_headers', 'text', (c) => c.notNull())
        .addColumn('response_body', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .execute();
      await db.schema
        .createIndex('delivery_attempts_delivery')
        .on('delivery_attempts')
        .columns(['delivery_id', 'attempt'])
        .execute();
    },
  },
};

migrations['0002_resume_tokens'] = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('resume_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('execution_id', 'text', (c) => c.notNull())
      .addColumn('action_id', 'text', (c) => c.notNull())
      .addColumn('deadline_ms', 'bigint')
      .addColumn('used', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('resume_tokens_deadline')
      .on('resume_tokens')
      .columns(['used', 'deadline_ms'])
      .execute();
  },
};

migrations['0003_executions_by_flow'] = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex('executions_flow_created')
      .on('executions')
      .columns(['flow_id', 'created_at'])
      .execute();
  },
};

migrations['0004_installation_signing_secret'] = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('installations').addColumn('signing_secret', 'text').execute();
  },
};

migrations['0005_engine_lanes'] = engineLanes;
migrations['0007_app_configurations'] = appConfigurations;
migrations['0006_entity_index'] = entityIndex;
migrations['0008_event_previous_values'] = eventPreviousValues;
migrations['0009_relations_activities'] = relationsActivities;
migrations['0010_entity_lifecycle'] = entityLifecycle;
migrations['0013_hot_path_indexes'] = hotPathIndexes;
migrations['0014_executions_by_flow'] = executionsByFlow;
migrations['0015_pending_leases'] = pendingLeases;

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
