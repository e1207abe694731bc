import type { AnyCustomActionPayload } from './types.js';

/** The result reported to the platform for an action that waits for a callback. */
export interface CallbackResult {
  /**
   * `success` resumes the execution; `failed` fails the action with `error_reason`.
   * @default 'success'
   */
  status?: 'success' | 'failed';
  /** The action's outputs (a JSON object). */
  outputs?: Record<string, unknown>;
  /** Why the action failed; recorded as its `error_reason`. */
  error_reason?: string;
}

/** Where to send the callback: a payload that waits for one, or its `callback_url` and `resume_token`. */
export type CallbackTarget = AnyCustomActionPayload | { callback_url: string; resume_token: string };

/** Options of {@link reportResult}. */
export interface ReportResultOptions {
  /**
   * Timeout of the request, in milliseconds.
   * @default 10000
   */
  timeoutMs?: number;
  /**
   * Aborts the request.
   * @default none: only `timeoutMs` ends it
   */
  signal?: AbortSignal;
  /**
   * The `fetch` to use.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
}

/** The callback endpoint answered with a non-2xx status. */
export class CallbackError extends Error {
  /** HTTP status of the answer. */
  readonly status: number;
  /** Body of the answer (at most 2 KiB). */
  readonly body: string;

  constructor(status: number, body: string) {
    super(`callback answered ${status}${body ? `: ${body}` : ''}`);
    this.name = 'CallbackError';
    this.status = status;
    this.body = body;
  }
}

function targetOf(target: CallbackTarget): { callback_url: string; resume_token: string } {
  if (target === null || typeof target !== 'object') throw new TypeError('reportResult: target must be an object');
  const flat = target as { callback_url?: unknown; resume_token?: unknown; data?: unknown };
  const source = (flat.data !== null && typeof flat.data === 'object' ? flat.data : flat) as {
    callback_url?: unknown;
    resume_token?: unknown;
  };
  const { callback_url, resume_token } = source;
  if (typeof callback_url !== 'string' || typeof resume_token !== 'string' || !callback_url || !resume_token) {
    throw new TypeError(
      'reportResult: the payload has no callback_url/resume_token; the flow action does not wait for a callback',
    );
  }
  try {
    const url = new URL(callback_url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error();
  } catch {
    throw new TypeError(`reportResult: callback_url is not an http(s) URL: ${callback_url}`);
  }
  return { callback_url, resume_token };
}

function validateResult(result: unknown): CallbackResult {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new TypeError('reportResult: result must be an object');
  }
  const { status, outputs, error_reason } = result as Record<string, unknown>;
  if (status !== undefined && status !== 'success' && status !== 'failed') {
    throw new TypeError(`reportResult: status must be "success" or "failed", got ${String(status)}`);
  }
  if (outputs !== undefined && (outputs === null || typeof outputs !== 'object' || Array.isArray(outputs))) {
    throw new TypeError('reportResult: outputs must be a JSON object');
  }
  if (error_reason !== undefined && typeof error_reason !== 'string') {
    throw new TypeError('reportResult: error_reason must be a string');
  }
  return result as CallbackResult;
}

/**
 * Reports the result of an action that waits for a callback: POSTs
 * `{resume_token, status?, outputs?, error_reason?}` to the payload's `callback_url` with global
 * `fetch`. The token works once. Throws a {@link CallbackError} on a non-2xx answer, a TypeError
 * when the payload has no callback or the result is invalid.
 *
 * @example
 * await reportResult(payload, { outputs: { score: 712 } });
 * await reportResult(payload, { status: 'failed', error_reason: 'bureau unreachable' });
 */
export async function reportResult(
  target: CallbackTarget,
  result: CallbackResult = {},
  options: ReportResultOptions = {},
): Promise<void> {
  const { callback_url, resume_token } = targetOf(target);
  const { status, outputs, error_reason } = validateResult(result);
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`reportResult: timeoutMs must be a positive number, got ${String(options.timeoutMs)}`);
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw new TypeError('reportResult: no fetch available');
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const body: Record<string, unknown> = { resume_token };
  if (status !== undefined) body.status = status;
  if (outputs !== undefined) body.outputs = outputs;
  if (error_reason !== undefined) body.error_reason = error_reason;
  const response = await doFetch(callback_url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal,
    redirect: 'error',
  });
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).slice(0, 2048);
    throw new CallbackError(response.status, text);
  }
  await response.body?.cancel();
}
