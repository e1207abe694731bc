import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { Authenticator } from './auth/principal.js';
import { ConfigError } from './config.js';
import { connect, type SqliteSync } from './db/connect.js';
import { DeliveryClient } from './delivery/client.js';
import { EgressPolicy } from './delivery/egress.js';
import { DEFAULT_RETRY_SCHEDULE_S } from './delivery/retry.js';
import { ActivityService } from './entities/activity-service.js';
import { RelationService } from './entities/relation-service.js';
import { EntityService } from './entities/service.js';
import { ExecutionService } from './executions/service.js';
import { buildServer } from './http/server.js';
import { AccessTokens } from './keys/access-tokens.js';
import { KeyRing } from './keys/keyring.js';
import { Metrics } from './metrics.js';
import { SecretBox } from './secrets/box.js';
import { releaseLeases } from './store/queue/releaseLeases.js';
import { makeStore, type Store } from './store/store.js';
import { WakeListener } from './worker/wakeup.js';
import { newWorkerId, Worker } from './worker/worker.js';

export interface PlatformOptions {
  /** TCP port; 0 picks a free one. @default 4000 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Folder for the SQLite database and the generated admin token. @default './actionbridge-data' */
  dataDir?: string;
  /** `postgres://…`: use PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  /** The platform admin's token; generated and persisted in `dataDir` when unset. */
  adminToken?: string;
  /** The URL apps and clients reach this server at; also the access tokens' issuer. @default `http://localhost:${port}` */
  publicUrl?: string;
  /** Retry delays in seconds; its length is the number of attempts. @default [0, 5, 30, 120, 600, 1800, 3600] */
  retrySchedule?: readonly number[];
  /** Per-attempt request timeout in seconds. @default 30 */
  deliveryTimeoutS?: number;
  /** How long a `wait_for_callback` action waits for its callback, in seconds. @default 86400 */
  callbackTimeoutS?: number;
  /**
   * Run the engine (process events, send deliveries) in this process. `false` makes an API-only
   * process, for scale-out next to worker processes on one PostgreSQL. @default true
   */
  worker?: boolean;
  /**
   * Longest the engine's lanes sleep without a wake-up, in ms: the fallback for a notification from
   * another process that never arrived. Lanes otherwise sleep until their next item is due.
   * @default 5000 with PostgreSQL, 60000 on SQLite (one process: every write wakes it)
   */
  pollIntervalMs?: number;
  /** Requests in flight in this process, shared fairly among orgs. @default 128 */
  concurrency?: number;
  /** Requests in flight per endpoint origin (scheme, host, port). @default 16 */
  originConcurrency?: number;
  /** On close (SIGTERM): how long in-flight requests may finish before they are handed back, in seconds. @default 10 */
  shutdownTimeoutS?: number;
  /** Work leases in seconds, renewed every third of that while work runs: a dead process's work moves on after this. @default 5 */
  leaseS?: number;
  /** SQLite: `normal` (a commit survives a kill -9) or `full` (also a power cut; much slower). @default 'normal' */
  sqliteSync?: SqliteSync;
  /**
   * CIDRs of internal addresses deliveries may reach (loopback, private, link-local are refused
   * otherwise). @default [] (public addresses only)
   */
  egressAllow?: readonly string[];
  /**
   * base64 of 32 bytes: encrypts secret option values and delivery bodies at rest. Generated and
   * kept in `dataDir` when unset on SQLite; required with `databaseUrl` (every process shares it).
   */
  secretKey?: string;
  /** pino level. @default 'info' */
  logLevel?: string;
  logger?: Logger;
}

export interface Platform {
  url: string;
  publicUrl: string;
  adminToken: string;
  /** True when this start generated the admin token (first start without ACTIONBRIDGE_ADMIN_TOKEN). */
  adminTokenGenerated: boolean;
  store: Store;
  server: FastifyInstance;
  executions: ExecutionService;
  /** The worker (absent in an API-only process). */
  worker: Worker | undefined;
  /** SQL statements this platform's store has executed so far. */
  statementCount(): number;
  close(): Promise<void>;
}

/** A secret given in the options, or kept in a file of the data folder (created on first start, mode 0600). */
function persistedSecret(
  dataDir: string,
  file: string,
  given: string | undefined,
  generate: () => string,
): { value: string; generated: boolean } {
  if (given) return { value: given, generated: false };
  const path = join(dataDir, file);
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), generated: false };
  mkdirSync(dataDir, { recursive: true });
  const value = generate();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return { value, generated: true };
}

/** Opens the store, loads (or creates) keys, starts the engine and the HTTP server. */
export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  if (opts.databaseUrl && !opts.secretKey) {
    throw new ConfigError(
      'ACTIONBRIDGE_SECRET_KEY is required with DATABASE_URL: every process must share it (openssl rand -base64 32)',
    );
  }
  const dataDir = opts.dataDir ?? './actionbridge-data';
  const log = opts.logger ?? pino({ level: opts.logLevel ?? 'info' });
  const conn = await connect({
    dataDir,
    databaseUrl: opts.databaseUrl,
    onBackgroundError: (err) =>
      log.warn({ err }, 'database background error (an idle connection lost, or a WAL checkpoint)'),
    sqliteSync: opts.sqliteSync,
  });
  const store = makeStore(conn.db, conn.dialect);
  const workerStore = conn.workerDb === conn.db ? store : makeStore(conn.workerDb, conn.dialect);
  // Embedded mode is one process per data folder: whatever a crashed predecessor had claimed is ours now.
  if (conn.dialect === 'sqlite') await releaseLeases(store.q);
  const admin = persistedSecret(
    dataDir,
    'admin-token',
    opts.adminToken,
    () => `abadmin_${randomBytes(24).toString('base64url')}`,
  );
  const secrets = new SecretBox(
    SecretBox.parseKey(
      persistedSecret(dataDir, 'secret-key', opts.secretKey, () => randomBytes(32).toString('base64')).value,
    ),
  );
  const webhookKeys = await KeyRing.open(store, 'webhook');
  const tokenKeys = await KeyRing.open(store, 'token');

  const port = opts.port ?? 4000;
  const host = opts.host ?? '127.0.0.1';
  // With port 0 the URL is known only after listening; the issuer reads it lazily.
  let publicUrl = opts.publicUrl ?? `http://localhost:${port}`;
  const accessTokens = new AccessTokens(tokenKeys, () => publicUrl);
  const client = new DeliveryClient(new EgressPolicy(opts.egressAllow ?? []));
  const metrics = new Metrics(store);
  const dispatch = {
    secrets,
    publicUrl: () => publicUrl,
    now: () => {
      const ms = Date.now();
      return { ms, iso: new Date(ms).toISOString() };
    },
  };
  const callbackTimeoutMs = (opts.callbackTimeoutS ?? 24 * 3600) * 1000;
  const worker =
    opts.worker === false
      ? undefined
      : new Worker(
          {
            store: workerStore,
            owner: newWorkerId(),
            leaseMs: (opts.leaseS ?? 5) * 1000,
            log: log.child({ component: 'worker' }),
            metrics,
            dispatch,
            signer: { webhookKeys, tokens: accessTokens, secrets },
            client,
            retrySchedule: opts.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_S,
            deliveryTimeoutMs: (opts.deliveryTimeoutS ?? 30) * 1000,
            callbackTimeoutMs,
          },
          {
            concurrency: opts.concurrency ?? 128,
            originConcurrency: opts.originConcurrency ?? 16,
            maxSleepMs: opts.pollIntervalMs ?? (conn.dialect === 'postgres' ? 5000 : 60_000),
          },
        );
  const executions = new ExecutionService({
    store,
    dispatch,
    secrets,
    callbackTimeoutMs,
    metrics,
    wake: () => worker?.wake(),
  });
  const entities = new EntityService(
    store,
    worker && {
      inTransaction: (tx, events) => worker.inline(tx, events),
      keep: (tx, events) => tx.insertEvents(events.map((ev) => ({ ev, state: { status: 'pending' } }))),
      leftOver: (events, err) => {
        if (err)
          log.warn(
            { err, events: events.length },
            'carrying events out with their write failed; the event lane retries them',
          );
        for (const ev of events) worker.offerEvent(ev);
      },
    },
  );
  const relations = new RelationService(store, entities);
  const activities = new ActivityService(store, entities, relations);
  const auth = new Authenticator(store, accessTokens, admin.value);
  const server = await buildServer({
    store,
    healthStore: workerStore,
    auth,
    entities,
    relations,
    activities,
    executions,
    webhookKeys,
    tokenKeys,
    accessTokens,
    publicUrl: () => publicUrl,
    metrics,
    secrets,
    log,
  });
  const url = (await server.listen({ port, host })).replace('127.0.0.1', 'localhost');
  // The delivery client's library loads once the API answers (the first send waits for it).
  if (worker) setImmediate(() => void client.warm());
  if (!opts.publicUrl && port === 0) publicUrl = url;
  const listener =
    worker && opts.databaseUrl ? new WakeListener(opts.databaseUrl, () => worker.wake(), log) : undefined;
  await listener?.start();
  worker?.start();
  // Other processes sharing the database may rotate keys: pick that up (and retire expired keys).
  const keyRefresh = setInterval(() => {
    Promise.all([webhookKeys.reload(), tokenKeys.reload()]).catch((err) => log.warn({ err }, 'key reload failed'));
  }, 60_000);
  keyRefresh.unref();

  return {
    url,
    publicUrl,
    adminToken: admin.value,
    adminTokenGenerated: admin.generated,
    store,
    server,
    executions,
    worker,
    statementCount: conn.statements,
    async close() {
      clearInterval(keyRefresh);
      // Stop taking requests and work; requests in flight get the drain time, then are handed back.
      await Promise.all([server.close(), worker?.stop((opts.shutdownTimeoutS ?? 10) * 1000)]);
      await listener?.close();
      await client.close();
      await store.close();
      if (workerStore !== store) await workerStore.close();
    },
  };
}
