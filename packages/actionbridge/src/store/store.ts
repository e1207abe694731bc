import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import { activityQueries } from './activities.js';
import { appConfigurationQueries } from './app-configurations.js';
import { appQueries } from './apps.js';
import { callbackQueries } from './callbacks.js';
import type { Q } from './context.js';
import { deliveryQueries } from './deliveries.js';
import { entityQueries } from './entities.js';
import { entitySchemaQueries } from './entity-schemas.js';
import { eventQueries } from './events.js';
import { executionQueries } from './executions.js';
import { flowQueries } from './flows.js';
import { idempotencyQueries } from './idempotency.js';
import { orgQueries } from './orgs.js';
import { relationQueries } from './relations.js';

export type { FeedQuery } from './activities.js';
export type { AppRow, AppVersion } from './apps.js';
export type { ResumeTokenRow } from './callbacks.js';
export type { CountedFlow, Page } from './flows.js';
export type { IdempotencyRow } from './idempotency.js';
export type { ApiTokenRow, OrgRow, SigningKeyRow } from './orgs.js';
export type { ListedRelation, RelationQuery } from './relations.js';

/**
 * Everything ActionBridge persists, by aggregate (one module each); the work queue's operations
 * are in `queue/`, one file each. One implementation over Kysely serves SQLite and PostgreSQL; the
 * conformance suite (`store.test.ts`) runs against both. Every read and write of tenant data takes
 * the org id: a row of another org is indistinguishable from a missing one.
 */
export type Store = ReturnType<typeof orgQueries> &
  ReturnType<typeof appQueries> &
  ReturnType<typeof entityQueries> &
  ReturnType<typeof relationQueries> &
  ReturnType<typeof activityQueries> &
  ReturnType<typeof entitySchemaQueries> &
  ReturnType<typeof idempotencyQueries> &
  ReturnType<typeof eventQueries> &
  ReturnType<typeof flowQueries> &
  ReturnType<typeof executionQueries> &
  ReturnType<typeof deliveryQueries> &
  ReturnType<typeof callbackQueries> & {
    readonly dialect: Dialect;
    /** For the queue operations in `queue/`. */
    readonly q: Q;
    /** The App API's configurations and versions (epilot's `/v1/app-configurations`). */
    appConfigurations(): ReturnType<typeof appConfigurationQueries>;
    /** Runs `fn` in one transaction (or in the current one, when already inside). */
    transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
    close(): Promise<void>;
  };

export function makeStore(
  db: Kysely<Database> | Transaction<Database>,
  dialect: Dialect,
  inTransaction = false,
): Store {
  const q: Q = { db, dialect };
  const store: Store = {
    dialect,
    q,
    ...orgQueries(q),
    ...appQueries(q),
    ...entityQueries(q),
    ...relationQueries(q),
    ...activityQueries(q),
    ...entitySchemaQueries(q),
    ...idempotencyQueries(q),
    ...eventQueries(q),
    ...flowQueries(q),
    ...executionQueries(q),
    ...deliveryQueries(q),
    ...callbackQueries(q),
    appConfigurations: () => appConfigurationQueries(db, dialect),
    transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
      if (inTransaction) return fn(store);
      return (db as Kysely<Database>).transaction().execute((trx) => fn(makeStore(trx, dialect, true)));
    },
    async close() {
      await (db as Kysely<Database>).destroy();
    },
  };
  return store;
}
