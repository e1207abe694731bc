import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type { Agent } from 'undici';
import { EgressDeniedError, type EgressPolicy } from './egress.js';
import { loadUndici, type UndiciParts } from './undici.js';

/** How much of a response is read and kept (SPEC §2: outputs are capped at 64 KiB). */
export const RESPONSE_CAP_BYTES = 64 * 1024;

export type SendResult =
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string>;
      body: string;
      /** The body was longer than the cap and was cut. */
      truncated: boolean;
      durationMs: number;
    }
  | {
      kind: 'error';
      error: string;
      timeout: boolean;
      durationMs: number /** refused by the egress policy */;
      denied?: boolean;
    };

/**
 * The one HTTP client for deliveries: an undici pool with keep-alive, connect/header/body timeouts,
 * no redirects (undici's `request` does not follow them), response bodies read up to a cap.
 */
export class DeliveryClient {
  private loaded: Promise<{ undici: UndiciParts; agent: Agent }> | undefined;

  constructor(private readonly egress: EgressPolicy) {}

  /**
   * Loads undici and makes the pool: the platform calls this once it listens, and the first send
   * waits for it. Imported with the rest at start-up, undici was ~90 ms of the time to healthy
   * (profiled), for a client nothing needs before the first delivery.
   */
  warm(): Promise<{ undici: UndiciParts; agent: Agent }> {
    this.loaded ??= loadUndici().then((undici) => ({
      undici,
      agent: new undici.Agent({
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 60_000,
        connections: 64,
        // Checked after DNS, on the address actually connected to.
        connect: { timeout: 10_000, lookup: this.egress.lookup },
      }),
    }));
    return this.loaded;
  }

  /** Sends one attempt. `signal` aborts it early (shutdown hands the attempt back). */
  async send(
    url: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<SendResult> {
    const started = performance.now();
    const duration = () => Math.round(performance.now() - started);
    // An IP literal skips DNS (and so the lookup hook): check it here.
    const target = new URL(url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const literal = isIP(host) ? this.egress.deny(host) : undefined;
    if (literal)
      return { kind: 'error', error: `egress denied: ${literal}`, timeout: false, durationMs: 0, denied: true };
    const { undici, agent } = await this.warm();
    const { errors } = undici;
    // One controller and one timer per attempt for the whole deadline (headers and body, however
    // slowly it drips). AbortSignal.any over AbortSignal.timeout was ~2 % of the platform's CPU on
    // the end-to-end bench (profiled: two more signals and their weak-reference bookkeeping).
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException(`no response within ${timeoutMs} ms`, 'TimeoutError')),
      timeoutMs,
    );
    timer.unref();
    const handBack = () => deadline.abort(signal?.reason);
    if (signal?.aborted) handBack();
    else signal?.addEventListener('abort', handBack, { once: true });
    try {
      const res = await undici.request.call(agent, {
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: deadline.signal,
      });
      const { chunks, truncated } = await readCapped(res.body, RESPONSE_CAP_BYTES);
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) flat[k] = (Array.isArray(v) ? v.join(', ') : v).replaceAll('\u0000', '\uFFFD');
      }
      return {
        kind: 'response',
        status: res.statusCode,
        headers: flat,
        // Stored as text: NUL cannot live in a PostgreSQL text column.
        body: Buffer.concat(chunks).toString('utf8').replaceAll('\u0000', '\uFFFD'),
        truncated,
        durationMs: duration(),
      };
    } catch (err) {
      const denied = [err, (err as { cause?: unknown }).cause].find((e) => e instanceof EgressDeniedError);
      if (denied)
        return {
          kind: 'error',
          error: `egress denied: ${(denied as Error).message}`,
          timeout: false,
          durationMs: duration(),
          denied: true,
        };
      const timeout =
        err instanceof errors.HeadersTimeoutError ||
        err instanceof errors.BodyTimeoutError ||
        err instanceof errors.ConnectTimeoutError ||
        (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
      return { kind: 'error', error: describe(err, timeoutMs, timeout), timeout, durationMs: duration() };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', handBack);
    }
  }

  async close(): Promise<void> {
    if (this.loaded) await (await this.loaded).agent.close();
  }
}

/**
 * A response body, read up to `cap` bytes (the rest is not read: the stream is destroyed). With
 * listeners rather than `for await`, whose async iterator cost a promise and a wrapper per chunk.
 */
function readCapped(body: Readable, cap: number): Promise<{ chunks: Buffer[]; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (buf: Buffer) => {
      if (size + buf.length > cap) {
        chunks.push(buf.subarray(0, cap - size));
        size = cap;
        body.removeAllListeners('data');
        body.destroy();
        resolve({ chunks, truncated: true });
        return;
      }
      chunks.push(buf);
      size += buf.length;
    });
    body.once('end', () => resolve({ chunks, truncated: false }));
    body.once('error', reject);
  });
}

function describe(err: unknown, timeoutMs: number, timeout: boolean): string {
  if (timeout) return `no response within ${timeoutMs / 1000} s`;
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = (err as { code?: string }).code ?? cause?.code;
    const msg = cause?.message ?? err.message;
    return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  }
  return String(err);
}
