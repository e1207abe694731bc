/**
 * Helpers of the engine's failure and fairness suites (engine/*.test.ts): app endpoints that hang,
 * answer slowly or drip and count the requests they hold open; real `actionbridge start` processes
 * to kill; direct access to the database a platform uses, to plant rows the API refuses.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Client } from './harness.js';

/** One request an endpoint received. */
export interface Hit {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** `Date.now()` when the request (headers and body) had arrived. */
  at: number;
  webhookId: string;
  webhookTimestamp: string;
  /** `data.entity` of a custom action request, if the body is one. */
  entity: { _id?: string; amount?: unknown } | undefined;
}

/**
 * How an endpoint answers: a (possibly delayed) response; `hang` accepts the request and never
 * answers; `drip` sends 200 headers, then one byte every `dripEveryMs`, and never finishes.
 */
export type Answer = { status?: number; body?: unknown; afterMs?: number } | 'hang' | { dripEveryMs: number };

/**
 * A real loopback HTTP endpoint (its own origin) whose answers a test scripts. It records every
 * request with its arrival time, and counts the requests it holds open now and at most.
 */
export class Endpoint {
  readonly hits: Hit[] = [];
  /** Requests whose connection is still open (arrived, response not finished). */
  open = 0;
  /** The most requests ever open at once. */
  maxOpen = 0;
  url = '';
  /** Decides each answer; `seen` counts the requests so far with this hit's webhook-id (this one included). */
  answer: (hit: Hit, seen: number) => Answer = () => ({ status: 200, body: { ok: true } });
  private readonly server: Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private checks: Array<() => void> = [];

  constructor() {
    this.server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      let closed = false;
      res.on('close', () => {
        if (closed) return;
        closed = true;
        this.open--;
        this.notify();
      });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let entity: Hit['entity'];
        try {
          entity = (JSON.parse(body) as { data?: { entity?: Hit['entity'] } }).data?.entity;
        } catch {
          entity = undefined;
        }
        const hit: Hit = {
          url: req.url ?? '',
          headers: req.headers,
          body,
          at: Date.now(),
          webhookId: String(req.headers['webhook-id'] ?? ''),
          webhookTimestamp: String(req.headers['webhook-timestamp'] ?? ''),
          entity,
        };
        this.hits.push(hit);
        const seen = this.hits.filter((h) => h.webhookId === hit.webhookId).length;
        this.respond(res, this.answer(hit, seen));
        this.notify();
      });
    });
  }

  private respond(res: ServerResponse, a: Answer): void {
    if (a === 'hang') return;
    if ('dripEveryMs' in a) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => res.write(' '), a.dripEveryMs);
      this.timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        this.timers.delete(t);
      });
      return;
    }
    const send = () => {
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
      res.end(a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
    };
    if (!a.afterMs) {
      send();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      send();
    }, a.afterMs);
    this.timers.add(t);
    res.on('close', () => {
      clearTimeout(t);
      this.timers.delete(t);
    });
  }

  private notify(): void {
    for (const check of [...this.checks]) check();
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return this;
  }

  /** Resolves once `cond()` holds; re-checked whenever a request arrives or a connection ends. */
  until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.checks = this.checks.filter((c) => c !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.checks = this.checks.filter((c) => c !== check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what} (${this.hits.length} requests, ${this.open} open)`,
          ),
        );
      }, timeoutMs);
      this.checks.push(check);
    });
  }

  /** The first request matching `pred` (already received or still to come). */
  async hit(pred: (h: Hit) => boolean, what: string, timeoutMs = 10_000): Promise<Hit> {
    await this.until(() => this.hits.some(pred), what, timeoutMs);
    return this.hits.find(pred) as Hit;
  }

  /** Requests carrying `webhookId`. */
  withId(webhookId: string): Hit[] {
    return this.hits.filter((h) => h.webhookId === webhookId);
  }

  /** Ends every open connection (hanging and dripping ones included) and stops listening. */
  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * Writes `{amount: marker}` to an entity and waits for its custom action request at `rx`; the lag
 * runs from sending the write to the request's arrival (`Infinity` when it did not arrive within
 * `timeoutMs`). A write that is not accepted throws.
 */
export async function deliveryLag(
  client: Client,
  entityId: string,
  rx: Endpoint,
  marker: number,
  timeoutMs = 5000,
): Promise<{ lagMs: number; writeMs: number }> {
  const t0 = Date.now();
  const w = await client.req('PATCH', `/v1/entity/opportunity/${entityId}`, { amount: marker });
  const writeMs = Date.now() - t0;
  if (w.status !== 200) throw new Error(`write answered ${w.status}: ${JSON.stringify(w.body)}`);
  const mine = (h: Hit) => h.entity?._id === entityId && h.entity.amount === marker;
  try {
    await rx.until(() => rx.hits.some(mine), `the delivery of write ${marker}`, Math.max(0, timeoutMs - writeMs));
  } catch {
    return { lagMs: Number.POSITIVE_INFINITY, writeMs };
  }
  return { lagMs: (rx.hits.find(mine) as Hit).at - t0, writeMs };
}

/** A flow limit high enough that floods in these suites are never disabled as hot. */
export const NO_HOT_LIMIT = { max_executions: { count: 1_000_000, window: 'P0DT30S' } };

/** Direct access to a platform's database, to plant what the API refuses to store. */
export interface RawDb {
  /** Runs one statement; `?` placeholders work on both backends. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function rawDb(where: { dataDir: string } | { databaseUrl: string }): Promise<RawDb> {
  if ('databaseUrl' in where) {
    const c = new pg.Client({ connectionString: where.databaseUrl });
    await c.connect();
    return {
      async query<T>(sql: string, params: unknown[] = []) {
        let n = 0;
        return (
          await c.query(
            sql.replace(/\?/g, () => `$${++n}`),
            params,
          )
        ).rows as T[];
      },
      close: () => c.end(),
    };
  }
  const db = new SQLite(join(where.dataDir, 'actionbridge.sqlite'));
  db.pragma('busy_timeout = 5000');
  return {
    async query<T>(sql: string, params: unknown[] = []) {
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all(...params) as T[];
      stmt.run(...params);
      return [];
    },
    async close() {
      db.close();
    },
  };
}

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/actionbridge.js');
export const CLI_ADMIN_TOKEN = 'resilience-admin-token-0123456789';
/** Shared by every process of one PostgreSQL database (it seals delivery bodies and secret options). */
export const CLI_SECRET_KEY = Buffer.alloc(32, 9).toString('base64');

export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Creates an org with an owner token through a platform's admin API. */
export async function newOrg(admin: Client, name = 'org'): Promise<{ id: string; token: string; client: Client }> {
  const org = (await admin.req('POST', '/v1/orgs', { name })).body as { id: string };
  const tok = (await admin.req('POST', `/v1/orgs/${org.id}/tokens`, { name: 't', role: 'owner' })).body as {
    token: string;
  };
  return { id: org.id, token: tok.token, client: admin.as(tok.token) };
}

/** A real `actionbridge start` process (the CLI), on SQLite in `dataDir` or on `databaseUrl`. */
export class CliProcess {
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly admin: Client;

  private constructor(
    readonly proc: ChildProcess,
    readonly url: string,
  ) {
    this.admin = new Client(url, CLI_ADMIN_TOKEN);
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    proc.stderr?.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString('utf8')).slice(-20_000);
    });
  }

  static async start(opts: {
    dataDir: string;
    databaseUrl?: string | undefined;
    env?: Record<string, string>;
    args?: string[];
    port?: number;
  }): Promise<CliProcess> {
    const port = opts.port ?? (await freePort());
    const env: NodeJS.ProcessEnv = {};
    // Only this test's settings: nothing inherited may point the process at another database.
    for (const [k, v] of Object.entries(process.env))
      if (!k.startsWith('ACTIONBRIDGE_') && k !== 'DATABASE_URL' && k !== 'PORT') env[k] = v;
    Object.assign(env, {
      PORT: String(port),
      ACTIONBRIDGE_DATA_DIR: opts.dataDir,
      ACTIONBRIDGE_ADMIN_TOKEN: CLI_ADMIN_TOKEN,
      ACTIONBRIDGE_SECRET_KEY: CLI_SECRET_KEY,
      ACTIONBRIDGE_EGRESS_ALLOW: '127.0.0.0/8',
      ACTIONBRIDGE_RETRY_SCHEDULE: '0,0.2,0.2,0.2,0.2',
      ACTIONBRIDGE_PUBLIC_URL: 'http://actionbridge.test',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
      ...opts.env,
    });
    const proc = spawn(process.execPath, [bin, 'start', ...(opts.args ?? [])], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const cli = new CliProcess(proc, `http://localhost:${port}`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`actionbridge start exited with ${proc.exitCode ?? proc.signalCode}: ${cli.stderr.trim()}`);
      }
      if (
        await fetch(`${cli.url}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return cli;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`actionbridge start did not answer /healthz within 20 s: ${cli.stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill9(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Sends SIGTERM and measures how long the process takes to exit; one still running after
   * `giveUpMs` is killed with SIGKILL (`exitedMs` is then undefined).
   */
  async terminate(giveUpMs: number): Promise<{ exitedMs: number | undefined; code: number | null }> {
    const t0 = Date.now();
    this.proc.kill('SIGTERM');
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), giveUpMs).unref());
    const first = await Promise.race([this.exited, timer]);
    if (first === 'late') {
      await this.kill9();
      return { exitedMs: undefined, code: null };
    }
    return { exitedMs: Date.now() - t0, code: first.code };
  }
}

/** A temporary folder removed by `done()`. */
export function tempDir(prefix: string): { path: string; done: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, done: () => rmSync(path, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
