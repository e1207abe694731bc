import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pino from 'pino';
import { type Platform, type PlatformOptions, startPlatform } from '../platform.js';
import { freshDatabase } from './postgres.js';

export { describeOn } from './postgres.js';

/**
 * The backends platform suites are declared for, always both: declare each with
 * `describeOn(backend, …)`, which reports the PostgreSQL one as skipped when no test server is configured.
 */
export const BACKENDS: ReadonlyArray<'sqlite' | 'postgres'> = ['sqlite', 'postgres'];

/** A JSON client for tests. */
export class Client {
  constructor(
    readonly base: string,
    readonly token?: string,
  ) {}
  as(token: string) {
    return new Client(this.base, token);
  }
  async req(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
}

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  url: string;
}

/** A real loopback HTTP receiver whose answers a test scripts; records every request. */
export class Receiver {
  readonly received: Received[] = [];
  private server: Server;
  url = '';
  /** Decides each answer; default 200 `{"ok": true}`. */
  respond: (
    r: Received,
    n: number,
  ) => { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number } = () => ({
    status: 200,
    body: { ok: true },
  });
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), url: req.url ?? '' };
        this.received.push(r);
        const answer = this.respond(r, this.received.length);
        const send = () => {
          res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
          res.end(
            answer.body === undefined
              ? ''
              : typeof answer.body === 'string'
                ? answer.body
                : JSON.stringify(answer.body),
          );
        };
        if (answer.delayMs) setTimeout(send, answer.delayMs);
        else send();
        for (const w of this.waiters.filter((x) => this.received.length >= x.n)) w.resolve();
        this.waiters = this.waiters.filter((x) => this.received.length < x.n);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return this;
  }

  /** Resolves once `n` requests have arrived. */
  waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`receiver got ${this.received.length}/${n} requests`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export interface TestPlatform extends Platform {
  admin: Client;
  dataDir: string;
  /** Creates an org with an owner token; returns a client acting as it. */
  newOrg(name?: string): Promise<{ id: string; client: Client; token: string }>;
  stop(): Promise<void>;
}

/** An in-process platform on a free port with its own temporary SQLite folder. */
export async function testPlatform(
  opts: PlatformOptions & { backend?: 'sqlite' | 'postgres' } = {},
): Promise<TestPlatform> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ab-test-'));
  const pg = opts.backend === 'postgres' && !opts.databaseUrl ? await freshDatabase() : undefined;
  const platform = await startPlatform({
    ...(pg ? { databaseUrl: pg.url } : {}),
    port: 0,
    dataDir,
    adminToken: 'test-admin-token-0123456789',
    retrySchedule: [0, 0.05, 0.05],
    egressAllow: ['127.0.0.0/8'],
    secretKey: Buffer.alloc(32, 7).toString('base64'),
    deliveryTimeoutS: 5,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...opts,
  });
  const admin = new Client(platform.url, platform.adminToken);
  let stopped = false;
  return Object.assign(platform, {
    admin,
    dataDir,
    async newOrg(name = 'org') {
      const org = (await admin.req('POST', '/v1/orgs', { name })).body as { id: string };
      const tok = (await admin.req('POST', `/v1/orgs/${org.id}/tokens`, { name: 't', role: 'owner' })).body as {
        token: string;
      };
      return { id: org.id, token: tok.token, client: admin.as(tok.token) };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await platform.close();
      await pg?.drop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** A manifest with one custom action pointing at `url`. */
export function manifest(url: string, extra: Record<string, unknown> = {}) {
  return {
    name: 'Test app',
    permissions: [
      { action: 'entity:view', resource: 'opportunity' },
      { action: 'entity:edit', resource: 'opportunity' },
    ],
    components: [
      {
        id: 'act',
        component_type: 'CUSTOM_FLOW_ACTION',
        name: 'Act',
        options: [
          { key: 'threshold', type: 'number', required: true },
          { key: 'api_key', type: 'secret' },
        ],
        configuration: { type: 'external_integration', external_integration_settings: { url } },
      },
    ],
    ...extra,
  };
}

/** Publishes an app at `url`, installs it with its options, and creates an update-triggered flow. */
export async function installFlow(
  client: Client,
  url: string,
  opts: {
    manifest?: Record<string, unknown>;
    actions?: Array<Record<string, unknown>>;
    options?: boolean;
    /** Fields of the flow to set or replace (`max_executions`, `triggers`, …). */
    flow?: Record<string, unknown>;
  } = {},
) {
  const app = (await client.req('POST', '/v1/apps', opts.manifest ?? manifest(url))).body as { app_id: string };
  if (opts.options !== false) {
    await client.req('POST', `/v1/app/${app.app_id}`, {
      option_values: [
        {
          component_id: 'act',
          options: [
            { key: 'threshold', value: 10 },
            { key: 'api_key', value: 's3cret' },
          ],
        },
      ],
    });
  } else {
    await client.req('POST', `/v1/app/${app.app_id}`, {});
  }
  const flow = await client.req('POST', '/v1/automation/flows', {
    flow_name: 'F',
    triggers: [{ type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['updateEntity'] } }],
    actions: opts.actions?.map((a) => ({
      ...a,
      config: { app_id: app.app_id, component_id: 'act', ...(a.config as object) },
    })) ?? [{ name: 'Act', type: 'custom-action', config: { app_id: app.app_id, component_id: 'act' } }],
    ...opts.flow,
  });
  if (flow.status !== 201) throw new Error(`flow: ${JSON.stringify(flow.body)}`);
  return { appId: app.app_id, flow: flow.body as { id: string; actions: { id: string }[] } };
}

/** Polls until `fn` returns a truthy value. */
export async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits for the newest execution of an entity to end, and returns it. */
export async function finishedExecution(client: Client, entityId: string, count = 1) {
  return until(async () => {
    const r = await client.req('GET', `/v1/automation/executions?entity_id=${entityId}`);
    const list = r.body.results as Array<{ execution_status: string }>;
    return list.length >= count && !['in_progress', 'pending'].includes(list[0]!.execution_status)
      ? (list[0] as any)
      : undefined;
  }, `execution of ${entityId}`);
}

/**
 * Registers `before`/`after` hooks of the current suite that start a platform and a receiver and
 * stop them; the returned object holds both once the suite runs.
 */
export function useTestPlatform(opts: Parameters<typeof testPlatform>[0] = {}): { p: TestPlatform; rx: Receiver } {
  const env = {} as { p: TestPlatform; rx: Receiver };
  before(async () => {
    env.p = await testPlatform(opts);
    env.rx = await new Receiver().start();
  });
  after(async () => {
    await env.rx.close();
    await env.p.stop();
  });
  return env;
}
