import type { Delivery } from '../domain/types.js';
import type { Outcome } from '../executions/state.js';
import type { AttemptResult } from '../store/queue/finishAttempts.js';
import { unstorableJson } from '../util/json.js';
import type { SendResult } from './client.js';
import { classify, nextDelayMs, retryAfterSeconds, type Verdict } from './retry.js';

export interface Judged {
  verdict: Verdict;
  result: Omit<AttemptResult, 'attempt_id'>;
  /** Set when the delivery ended: what its action's outcome is. */
  outcome?: Outcome;
}

/**
 * What one attempt's answer means (SPEC §2): success, a retry at the schedule's next delay (or
 * `Retry-After`), or the end of the delivery. `schedule` is the delivery's own or the platform's.
 */
export function judge(d: Delivery, r: SendResult, schedule: readonly number[], nowMs: number): Judged {
  const verdict = classify(r);
  const tries = d.tries + 1;
  const response = r.kind === 'response' ? r : undefined;
  const base = {
    delivery_id: d.id,
    duration_ms: r.durationMs,
    status_code: response?.status ?? null,
    response_headers: response?.headers ?? {},
    response_body: response?.body ?? '',
    error: r.kind === 'error' ? r.error : null,
  };
  const delay =
    verdict === 'retry' ? nextDelayMs(schedule, tries, retryAfterSeconds(response?.headers['retry-after'])) : undefined;
  if (delay !== undefined) {
    return {
      verdict,
      result: { ...base, outcome: 'retry', delivery: { status: 'pending', tries, next_attempt_ms: nowMs + delay } },
    };
  }
  const ok = verdict === 'success';
  return {
    verdict,
    result: {
      ...base,
      outcome: ok ? 'succeeded' : verdict === 'retry' ? 'retry' : 'failed',
      delivery: { status: ok ? 'succeeded' : 'failed', tries, next_attempt_ms: null },
    },
    outcome: ok ? { status: 'success', outputs: outputsOf(r) } : failureOf(r),
  };
}

/** An attempt that could not even be made (its body or secret cannot be opened): the delivery fails. */
export function unsendable(d: Delivery, reason: string): Judged {
  return {
    verdict: 'fail',
    result: {
      delivery_id: d.id,
      duration_ms: 0,
      status_code: null,
      response_headers: {},
      response_body: '',
      error: reason,
      outcome: 'failed',
      delivery: { status: 'failed', tries: d.tries + 1, next_attempt_ms: null },
    },
    outcome: { status: 'failed', error: { error_code: 'BAD_CONFIG', error_reason: reason } },
  };
}

function outputsOf(result: SendResult): Record<string, unknown> {
  if (result.kind !== 'response' || result.truncated || !result.body) return {};
  try {
    const parsed: unknown = JSON.parse(result.body);
    // Too deep or holding NUL: the app's answer cannot be stored as outputs (its raw text is kept).
    if (unstorableJson(parsed)) return {};
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    // A 2xx with a body that is not JSON still succeeds; it just has no outputs.
    return {};
  }
}

function failureOf(result: SendResult): Outcome {
  if (result.kind === 'error') {
    const code = result.denied ? 'BAD_CONFIG' : result.timeout ? 'TIMEOUT_ERROR' : 'CUSTOM_ACTION_ERROR';
    return { status: 'failed', error: { error_code: code, error_reason: result.error } };
  }
  let reason = `HTTP ${result.status}`;
  try {
    const body = JSON.parse(result.body) as Record<string, unknown>;
    const nested = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>).message : undefined);
    const r = [body.error_reason, body.message, body.error, nested(body.error)].find((x) => typeof x === 'string' && x);
    if (typeof r === 'string') reason = r.slice(0, 2000).replaceAll('\u0000', '\uFFFD');
  } catch {
    // not JSON: the status says it all
  }
  return { status: 'failed', error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: reason } };
}
