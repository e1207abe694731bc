/**
 * The load generator (one for every variant): an HTTP client on an undici `Pool` with keep-alive,
 * closed-loop (N writes in flight) and open-loop (a steady rate) drivers, and the tracker of receipts
 * the receiver reports.
 */
import { Pool } from 'undici';
import { now, sleep } from './proc.js';
import type { ReceiverMessage, Route } from './receiver.js';

export interface Reply {
  status: number;
  body: any;
}

/** A JSON client of one server. */
export class Api {
  private readonly pool: Pool;
  constructor(
    readonly base: string,
    connections = 64,
  ) {
    this.pool = new Pool(base, {
      connections,
      keepAliveTimeout: 60_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
  }

  async req(method: string, path: string, body?: unknown, token?: string, timeoutMs?: number): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.pool.request({
      method: method as 'GET',
      path,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      ...(timeoutMs ? { headersTimeout: timeoutMs, bodyTimeout: timeoutMs } : {}),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text
    }
    return { status: res.statusCode, body: parsed };
  }

  /** Like `req`, but anything other than 2xx throws with the answer. */
  async ok(method: string, path: string, body?: unknown, token?: string): Promise<any> {
    const r = await this.req(method, path, body, token);
    if (r.status < 200 || r.status >= 300) {
      throw new Error(`${method} ${this.base}${path} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`);
    }
    return r.body;
  }

  /** Closes the connections, failing requests still in flight (a scenario's end does not wait for them). */
  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

/**
 * Receipts reported by the receiver, first receipt per id (a retried delivery arrives again).
 * Ids look like `<phase>.<n>`; receipts are counted per phase.
 */
export class Tracker {
  readonly at = new Map<string, number>();
  readonly routeCounts: Record<Route, number> = { ok: 0, hang: 0, slow: 0 };
  private readonly perPhase = new Map<string, number>();
  private readonly lastAt = new Map<string, number>();
  private waiters: Array<{ phase: string; n: number; resolve: () => void }> = [];
  /** Receiver clock minus ours, in ms (calibrated at start; both read the wall clock). */
  offset = 0;

  onMessage(m: ReceiverMessage): void {
    if (m.type !== 'receipts') return;
    this.routeCounts[m.route] += m.ids.length;
    m.ids.forEach((id, i) => {
      if (!id || this.at.has(id)) return;
      const t = (m.at[i] as number) - this.offset;
      this.at.set(id, t);
      const phase = id.slice(0, id.lastIndexOf('.'));
      this.perPhase.set(phase, (this.perPhase.get(phase) ?? 0) + 1);
      this.lastAt.set(phase, Math.max(this.lastAt.get(phase) ?? 0, t));
    });
    const ready = this.waiters.filter((w) => this.count(w.phase) >= w.n);
    for (const w of ready) w.resolve();
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
  }

  count(phase: string): number {
    return this.perPhase.get(phase) ?? 0;
  }

  /** The latest receipt of a phase. */
  last(phase: string): number | undefined {
    return this.lastAt.get(phase);
  }

  /** Resolves true once `n` receipts of `phase` arrived, false at `deadline` (our clock). */
  wait(phase: string, n: number, deadline: number): Promise<boolean> {
    if (this.count(phase) >= n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, deadline - now());
      const waiter = {
        phase,
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves true once the receiver has seen `n` requests on `route`, false at `deadline`. */
  async waitRoute(route: Route, n: number, deadline: number): Promise<boolean> {
    while (this.routeCounts[route] < n) {
      if (now() > deadline) return false;
      await sleep(10);
    }
    return true;
  }
}

/** Runs `write(i)` for i in [0, count) with `concurrency` in flight; stops starting new ones at `deadline`. */
export async function closedLoop(
  count: number,
  concurrency: number,
  write: (i: number) => Promise<void>,
  deadline = Number.POSITIVE_INFINITY,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count && now() < deadline) await write(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/**
 * Starts `write(i)` at `rate` per second regardless of answers (open loop), `count` times; resolves
 * when every write has been answered, or at `deadline` with some still unanswered.
 */
export async function openLoop(
  rate: number,
  count: number,
  write: (i: number) => Promise<void>,
  deadline: number,
): Promise<void> {
  const t0 = now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count && now() < deadline; i++) {
    const wait = t0 + (i * 1000) / rate - now();
    if (wait > 1) await sleep(wait);
    pending.push(write(i));
  }
  await Promise.race([Promise.all(pending), sleep(Math.max(0, deadline - now()))]);
}

/** Nearest-rank percentile of `values` (0 < p ≤ 100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
