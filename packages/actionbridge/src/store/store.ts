import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import { WAKE_CHANNEL } from '../db/wakeup.js';
import type {
  AppManifest,
  Delivery,
  DeliveryAttempt,
  EntityEvent,
  EntityItem,
  Execution,
  Flow,
  Installation,
} from '../types.js';
import type { EntitySearch } from './entities.js';
import * as entities from './entities.js';

type Row<T extends keyof Database> = Selectable<Database[T]>;
export type OrgRow = Row<'orgs'>;
export type ApiTokenRow = Row<'api_tokens'>;
export type SigningKeyRow = Row<'signing_keys'>;
export type AppRow = Row<'apps'>;
export type ResumeTokenRow = Row<'resume_tokens'>;

export interface AppVersion {
  app_id: string;
  version: number;
  manifest: AppManifest;
  created_at: string;
}

export interface Page<T> {
  total: number;
  results: T[];
}

/**
 * Everything ActionBridge persists. One implementation over Kysely serves SQLite and PostgreSQL;
 * the conformance suite (`store.test.ts`) runs against both. Every read and write of tenant data
 * takes the org id: a row of another org is indistinguishable from a missing one.
 */
export interface Store {
  readonly dialect: Dialect;
  /** Runs `fn` in one transaction (or in the current one, when already inside). */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;

  createOrg(row: OrgRow): Promise<void>;
  getOrg(id: string): Promise<OrgRow | undefined>;
  createApiToken(row: ApiTokenRow): Promise<void>;
  findApiToken(tokenHash: string): Promise<ApiTokenRow | undefined>;

  listSigningKeys(purpose: SigningKeyRow['purpose']): Promise<SigningKeyRow[]>;
  insertSigningKey(row: SigningKeyRow): Promise<void>;
  updateSigningKey(kid: string, patch: Pick<SigningKeyRow, 'status' | 'retire_at'>): Promise<void>;

  createApp(app: AppRow, manifest: AppManifest): Promise<void>;
  addAppVersion(appId: string, manifest: AppManifest, now: string): Promise<number>;
  getApp(id: string): Promise<AppRow | undefined>;
  getAppVersion(appId: string, version: number): Promise<AppVersion | undefined>;

  putInstallation(inst: Installation): Promise<void>;
  getInstallation(orgId: string, appId: string): Promise<Installation | undefined>;
  listInstallations(orgId: string): Promise<Installation[]>;
  deleteInstallation(orgId: string, appId: string): Promise<boolean>;

  /** `lock`: hold the row until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite writes are serial anyway). */
  getEntity(orgId: string, id: string, lock?: boolean): Promise<EntityItem | undefined>;
  /** Entities of an org, optionally of one schema, newest first: a scan, for tests and tools. */
  listEntities(orgId: string, schema?: string): Promise<EntityItem[]>;
  listEntitySchemas(orgId: string): Promise<string[]>;
  /** Writes keep the entity's search index in the same transaction (see store/entities.ts). */
  insertEntity(entity: EntityItem): Promise<void>;
  replaceEntity(entity: EntityItem): Promise<void>;
  deleteEntity(orgId: string, id: string): Promise<void>;
  /** Entities matching a planned search (entities/planner.ts), on the index: the count and one page. */
  searchEntities(orgId: string, search: EntitySearch): Promise<{ hits: number; results: EntityItem[] }>;
  /** Serializes transactions that take the same key until they end (upserts of one unique key). */
  lockEntityKey(key: string): Promise<void>;

  insertEvent(event: EntityEvent): Promise<void>;
  /** Leases up to `limit` unprocessed events, oldest first. */
  claimEvents(now: number, leaseMs: number, limit: number): Promise<EntityEvent[]>;
  markEventProcessed(id: string): Promise<void>;

  insertFlow(flow: Flow): Promise<void>;
  updateFlow(flow: Flow): Promise<void>;
  getFlow(orgId: string, id: string): Promise<Flow | undefined>;
  listFlows(orgId: string, q: { schema?: string; from: number; size: number }): Promise<Page<Flow>>;
  /** Flows events can reach: enabled ones, and those the system disabled as hot (they record `hot` runs). */
  listTriggerableFlows(orgId: string): Promise<Flow[]>;
  countExecutionsSince(orgId: string, flowId: string, sinceIso: string): Promise<number>;
  deleteFlow(orgId: string, id: string): Promise<boolean>;

  insertExecution(exec: Execution): Promise<void>;
  updateExecution(exec: Execution): Promise<void>;
  /** `lock`: hold the row until the transaction ends, for read-modify-write of an execution. */
  getExecution(orgId: string, id: string, lock?: boolean): Promise<Execution | undefined>;
  listExecutions(orgId: string, q: { entity_id?: string; from: number; size: number }): Promise<Page<Execution>>;

  insertDelivery(d: Delivery): Promise<void>;
  updateDelivery(
    id: string,
    patch: Partial<
      Pick<Delivery, 'status' | 'attempt_count' | 'next_attempt_ms' | 'last_status_code' | 'last_error'>
    > & {
      updated_at: string;
      locked_until_ms?: number;
    },
    /** Only update while the delivery is still `pending` (not cancelled meanwhile); returns whether it did. */
    onlyIfPending?: boolean,
  ): Promise<boolean>;
  /** Stops the pending deliveries of an execution (of one action, when given; sparing `except`). */
  cancelPendingDeliveries(
    orgId: string,
    executionId: string,
    now: string,
    actionId?: string,
    except?: string,
  ): Promise<void>;
  /** Leases up to `limit` pending deliveries whose next attempt is due. */
  claimDueDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]>;
  countPendingDeliveries(): Promise<number>;
  /** The earliest `next_attempt_ms` of a pending delivery, if any. */
  nextDeliveryDue(): Promise<number | undefined>;
  getDelivery(orgId: string, id: string): Promise<Delivery | undefined>;
  listDeliveries(
    orgId: string,
    q: { execution_id?: string; app_id?: string; status?: string; from: number; size: number },
  ): Promise<Page<Delivery>>;
  insertAttempt(a: DeliveryAttempt): Promise<void>;
  listAttempts(deliveryId: string): Promise<DeliveryAttempt[]>;

  insertResumeToken(row: ResumeTokenRow): Promise<void>;
  /** Starts the callback deadline of an action's token, once the app has accepted the request. */
  setResumeDeadline(orgId: string, executionId: string, actionId: string, deadlineMs: number): Promise<void>;
  /**
   * Marks a token used and returns it, or `undefined` when it is unknown or already used, or (with
   * `now`) past its deadline.
   */
  useResumeToken(tokenHash: string, now?: number): Promise<ResumeTokenRow | undefined>;
  /** Unused tokens whose deadline has passed (not yet marked: each is used in its own transaction). */
  dueResumeTokens(now: number, limit: number): Promise<ResumeTokenRow[]>;
  /** Invalidates the tokens of an action (it is being run again: a new token replaces them). */
  revokeResumeTokens(orgId: string, executionId: string, actionId: string): Promise<void>;
  /** Makes a token usable again with no deadline (a replay resends the same token). */
  reopenResumeToken(tokenHash: string): Promise<void>;

  /**
   * Frees every lease. Only for a process that knows it is the sole worker (the embedded SQLite
   * mode, at start-up): work a crashed predecessor had claimed is taken up at once, not after the lease.
   */
  releaseLeases(): Promise<void>;

  close(): Promise<void>;
}

const parse = <T>(text: string): T => JSON.parse(text) as T;

function toDelivery(row: Row<'deliveries'>): Delivery {
  const { locked_until_ms: _lease, ...rest } = row;
  return rest;
}

function toEvent(row: Row<'entity_events'>): EntityEvent {
  return {
    id: row.id,
    org_id: row.org_id,
    entity_id: row.entity_id,
    schema: row.schema,
    operation: row.operation as EntityEvent['operation'],
    entity: parse(row.entity),
    diff: parse(row.diff),
    caused_by_execution: row.caused_by_execution,
    occurred_at: row.occurred_at,
  };
}

function toInstallation(row: Row<'installations'>): Installation {
  return { ...row, option_values: parse(row.option_values), enabled: row.enabled === 1 };
}

export class KyselyStore implements Store {
  constructor(
    private readonly db: Kysely<Database> | Transaction<Database>,
    readonly dialect: Dialect,
    private readonly inTransaction = false,
  ) {}

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return (this.db as Kysely<Database>).transaction().execute((trx) => fn(new KyselyStore(trx, this.dialect, true)));
  }

  async createOrg(row: OrgRow) {
    await this.db.insertInto('orgs').values(row).execute();
  }
  getOrg(id: string) {
    return this.db.selectFrom('orgs').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async createApiToken(row: ApiTokenRow) {
    await this.db.insertInto('api_tokens').values(row).execute();
  }
  findApiToken(tokenHash: string) {
    return this.db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  listSigningKeys(purpose: SigningKeyRow['purpose']) {
    return this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('purpose', '=', purpose)
      .where('status', '!=', 'retired')
      .orderBy('created_at', 'desc')
      .execute();
  }
  async insertSigningKey(row: SigningKeyRow) {
    await this.db.insertInto('signing_keys').values(row).execute();
  }
  async updateSigningKey(kid: string, patch: Pick<SigningKeyRow, 'status' | 'retire_at'>) {
    await this.db.updateTable('signing_keys').set(patch).where('kid', '=', kid).execute();
  }

  async createApp(app: AppRow, manifest: AppManifest) {
    await this.transaction(async (tx) => {
      const { db } = tx as KyselyStore;
      await db.insertInto('apps').values(app).execute();
      const version = { app_id: app.id, version: app.latest_version, created_at: app.created_at };
      await db
        .insertInto('app_versions')
        .values({ ...version, manifest: JSON.stringify(manifest) })
        .execute();
    });
  }
  async addAppVersion(appId: string, manifest: AppManifest, now: string) {
    return this.transaction(async (tx) => {
      const self = tx as KyselyStore;
      const app = await self.db
        .updateTable('apps')
        .set((eb) => ({ latest_version: eb('latest_version', '+', 1), updated_at: now }))
        .where('id', '=', appId)
        .returning('latest_version')
        .executeTakeFirstOrThrow();
      await self.db
        .insertInto('app_versions')
        .values({ app_id: appId, version: app.latest_version, manifest: JSON.stringify(manifest), created_at: now })
        .execute();
      return app.latest_version;
    });
  }
  getApp(id: string) {
    return this.db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async getAppVersion(appId: string, version: number) {
    const row = await this.db
      .selectFrom('app_versions')
      .selectAll()
      .where('app_id', '=', appId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && { ...row, manifest: parse<AppManifest>(row.manifest) };
  }

  async putInstallation(inst: Installation) {
    const row = { ...inst, option_values: JSON.stringify(inst.option_values), enabled: inst.enabled ? 1 : 0 };
    await this.db
      .insertInto('installations')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['org_id', 'app_id']).doUpdateSet({
          version: row.version,
          option_values: row.option_values,
          enabled: row.enabled,
          signing_secret: row.signing_secret,
          updated_at: row.updated_at,
        }),
      )
      .execute();
  }
  async getInstallation(orgId: string, appId: string) {
    const row = await this.db
      .selectFrom('installations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('app_id', '=', appId)
      .executeTakeFirst();
    return row && toInstallation(row);
  }
  async listInstallations(orgId: string) {
    const rows = await this.db
      .selectFrom('installations')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .execute();
    return rows.map(toInstallation);
  }
  async deleteInstallation(orgId: string, appId: string) {
    const r = await this.db
      .deleteFrom('installations')
      .where('org_id', '=', orgId)
      .where('app_id', '=', appId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  getEntity(orgId: string, id: string, lock = false) {
    return entities.getEntity(this.db, this.dialect, orgId, id, lock);
  }
  listEntities(orgId: string, schema?: string) {
    return entities.listEntities(this.db, orgId, schema);
  }
  listEntitySchemas(orgId: string) {
    return entities.listEntitySchemas(this.db, orgId);
  }
  insertEntity(e: EntityItem) {
    return entities.insertEntity(this.db, e);
  }
  replaceEntity(e: EntityItem) {
    return entities.replaceEntity(this.db, e);
  }
  deleteEntity(orgId: string, id: string) {
    return entities.deleteEntity(this.db, orgId, id);
  }
  searchEntities(orgId: string, search: EntitySearch) {
    return entities.searchEntities(this.db, this.dialect, orgId, search);
  }
  lockEntityKey(key: string) {
    return entities.lockEntityKey(this.db, this.dialect, key);
  }

  /** PostgreSQL: tells the other processes that work is waiting (delivered when the transaction commits). */
  private async notifyWork() {
    if (this.dialect === 'postgres') await sql`select pg_notify(${WAKE_CHANNEL}, '')`.execute(this.db);
  }

  async insertEvent(ev: EntityEvent) {
    await this.db
      .insertInto('entity_events')
      .values({
        ...ev,
        entity: JSON.stringify(ev.entity),
        diff: JSON.stringify(ev.diff),
        created_ms: Date.parse(ev.occurred_at),
        processed: 0,
        locked_until_ms: 0,
      })
      .execute();
    await this.notifyWork();
  }
  async claimEvents(now: number, leaseMs: number, limit: number) {
    let due = this.db
      .selectFrom('entity_events')
      .select('id')
      .where('processed', '=', 0)
      .where('locked_until_ms', '<=', now)
      .orderBy('created_ms')
      .orderBy('id')
      .limit(limit);
    if (this.dialect === 'postgres') due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('entity_events')
      .set({ locked_until_ms: now + leaseMs })
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.sort((a, b) => a.created_ms - b.created_ms || a.id.localeCompare(b.id)).map(toEvent);
  }
  async markEventProcessed(id: string) {
    await this.db.updateTable('entity_events').set({ processed: 1 }).where('id', '=', id).execute();
  }

  async insertFlow(flow: Flow) {
    await this.db
      .insertInto('flows')
      .values({
        id: flow.id,
        org_id: flow.org_id,
        entity_schema: flow.entity_schema ?? null,
        enabled: flow.enabled ? 1 : 0,
        data: JSON.stringify(flow),
        created_at: flow.created_at,
        updated_at: flow.updated_at,
      })
      .execute();
  }
  async updateFlow(flow: Flow) {
    await this.db
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
  }
  async getFlow(orgId: string, id: string) {
    const row = await this.db
      .selectFrom('flows')
      .select('data')
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && parse<Flow>(row.data);
  }
  async listFlows(orgId: string, q: { schema?: string; from: number; size: number }) {
    let base = this.db.selectFrom('flows').where('org_id', '=', orgId);
    if (q.schema) base = base.where('entity_schema', '=', q.schema);
    const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows = await base.select('data').orderBy('created_at').orderBy('id').offset(q.from).limit(q.size).execute();
    return { total: Number(total), results: rows.map((r) => parse<Flow>(r.data)) };
  }
  async listTriggerableFlows(orgId: string) {
    const rows = await this.db
      .selectFrom('flows')
      .select('data')
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => parse<Flow>(r.data)).filter((f) => f.enabled || f.disable_details?.disabled_by === 'system');
  }
  async countExecutionsSince(orgId: string, flowId: string, sinceIso: string) {
    const row = await this.db
      .selectFrom('executions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('flow_id', '=', flowId)
      .where('org_id', '=', orgId)
      .where('created_at', '>=', sinceIso)
      .where('status', '!=', 'hot')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  async deleteFlow(orgId: string, id: string) {
    const r = await this.db.deleteFrom('flows').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async insertExecution(e: Execution) {
    await this.db
      .insertInto('executions')
      .values({
        id: e.id,
        org_id: e.org_id,
        flow_id: e.flow_id,
        entity_id: e.entity_id,
        status: e.execution_status,
        data: JSON.stringify(e),
        created_at: e.created_at,
        updated_at: e.updated_at,
      })
      .execute();
  }
  async updateExecution(e: Execution) {
    await this.db
      .updateTable('executions')
      .set({ status: e.execution_status, data: JSON.stringify(e), updated_at: e.updated_at })
      .where('org_id', '=', e.org_id)
      .where('id', '=', e.id)
      .execute();
  }
  async getExecution(orgId: string, id: string, lock = false) {
    let q = this.db.selectFrom('executions').select('data').where('org_id', '=', orgId).where('id', '=', id);
    if (lock && this.dialect === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirst();
    return row && parse<Execution>(row.data);
  }
  async listExecutions(orgId: string, q: { entity_id?: string; from: number; size: number }) {
    let base = this.db.selectFrom('executions').where('org_id', '=', orgId);
    if (q.entity_id) base = base.where('entity_id', '=', q.entity_id);
    const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows = await base
      .select('data')
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .offset(q.from)
      .limit(q.size)
      .execute();
    return { total: Number(total), results: rows.map((r) => parse<Execution>(r.data)) };
  }

  async insertDelivery(d: Delivery) {
    await this.db
      .insertInto('deliveries')
      .values({ ...d, locked_until_ms: 0 })
      .execute();
    await this.notifyWork();
  }
  async updateDelivery(id: string, patch: Parameters<Store['updateDelivery']>[1], onlyIfPending = false) {
    let q = this.db.updateTable('deliveries').set(patch).where('id', '=', id);
    if (onlyIfPending) q = q.where('status', '=', 'pending');
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async cancelPendingDeliveries(orgId: string, executionId: string, now: string, actionId?: string, except?: string) {
    let q = this.db
      .updateTable('deliveries')
      .set({ status: 'cancelled', next_attempt_ms: null, updated_at: now })
      .where('org_id', '=', orgId)
      .where('execution_id', '=', executionId)
      .where('status', '=', 'pending');
    if (actionId) q = q.where('action_id', '=', actionId);
    if (except) q = q.where('id', '!=', except);
    await q.execute();
  }
  async claimDueDeliveries(now: number, leaseMs: number, limit: number) {
    let due = this.db
      .selectFrom('deliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_ms', '<=', now)
      .where('locked_until_ms', '<=', now)
      .orderBy('next_attempt_ms')
      .limit(limit);
    if (this.dialect === 'postgres') due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('deliveries')
      .set({ locked_until_ms: now + leaseMs })
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.map(toDelivery);
  }
  async countPendingDeliveries() {
    const row = await this.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'pending')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  async nextDeliveryDue() {
    const row = await this.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.min('next_attempt_ms').as('due'))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return row?.due == null ? undefined : Number(row.due);
  }
  async getDelivery(orgId: string, id: string) {
    const row = await this.db
      .selectFrom('deliveries')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toDelivery(row);
  }
  async listDeliveries(
    orgId: string,
    q: { execution_id?: string; app_id?: string; status?: string; from: number; size: number },
  ) {
    let base = this.db.selectFrom('deliveries').where('org_id', '=', orgId);
    if (q.execution_id) base = base.where('execution_id', '=', q.execution_id);
    if (q.app_id) base = base.where('app_id', '=', q.app_id);
    if (q.status) base = base.where('status', '=', q.status as Delivery['status']);
    const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows = await base
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .offset(q.from)
      .limit(q.size)
      .execute();
    return { total: Number(total), results: rows.map(toDelivery) };
  }
  async insertAttempt(a: DeliveryAttempt) {
    await this.db
      .insertInto('delivery_attempts')
      .values({
        ...a,
        request_headers: JSON.stringify(a.request_headers),
        response_headers: JSON.stringify(a.response_headers),
      })
      .execute();
  }
  async listAttempts(deliveryId: string) {
    const rows = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', deliveryId)
      .orderBy('attempt')
      .execute();
    return rows.map((r) => ({
      ...r,
      request_headers: parse<Record<string, string>>(r.request_headers),
      response_headers: parse<Record<string, string>>(r.response_headers),
    }));
  }

  async insertResumeToken(row: ResumeTokenRow) {
    await this.db.insertInto('resume_tokens').values(row).execute();
  }
  async setResumeDeadline(orgId: string, executionId: string, actionId: string, deadlineMs: number) {
    await this.db
      .updateTable('resume_tokens')
      .set({ deadline_ms: deadlineMs })
      .where('org_id', '=', orgId)
      .where('execution_id', '=', executionId)
      .where('action_id', '=', actionId)
      .where('used', '=', 0)
      .execute();
  }
  async useResumeToken(tokenHash: string, now?: number) {
    // The conditional update is the once-only guard: two concurrent resumes cannot both win,
    // and a token past its deadline is dead even before the expiry pass has run.
    let q = this.db
      .updateTable('resume_tokens')
      .set({ used: 1 })
      .where('token_hash', '=', tokenHash)
      .where('used', '=', 0);
    if (now !== undefined) q = q.where((eb) => eb.or([eb('deadline_ms', 'is', null), eb('deadline_ms', '>', now)]));
    return q.returningAll().executeTakeFirst();
  }
  async dueResumeTokens(now: number, limit: number) {
    return this.db
      .selectFrom('resume_tokens')
      .selectAll()
      .where('used', '=', 0)
      .where('deadline_ms', '<=', now)
      .orderBy('deadline_ms')
      .limit(limit)
      .execute();
  }
  async revokeResumeTokens(orgId: string, executionId: string, actionId: string) {
    await this.db
      .updateTable('resume_tokens')
      .set({ used: 1 })
      .where('org_id', '=', orgId)
      .where('execution_id', '=', executionId)
      .where('action_id', '=', actionId)
      .execute();
  }
  async reopenResumeToken(tokenHash: string) {
    await this.db
      .updateTable('resume_tokens')
      .set({ used: 0, deadline_ms: null })
      .where('token_hash', '=', tokenHash)
      .execute();
  }

  async releaseLeases() {
    await this.db.updateTable('deliveries').set({ locked_until_ms: 0 }).where('status', '=', 'pending').execute();
    await this.db.updateTable('entity_events').set({ locked_until_ms: 0 }).where('processed', '=', 0).execute();
  }

  async close() {
    await (this.db as Kysely<Database>).destroy();
  }
}
