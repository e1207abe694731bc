/** SPEC §2: 0 s, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h — seven attempts. */
export const DEFAULT_RETRY_SCHEDULE_S: readonly number[] = [0, 5, 30, 120, 600, 1800, 3600];
export const RETRY_AFTER_CAP_S = 3600;
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

export type Verdict = 'success' | 'retry' | 'fail';

/** 2xx succeeds; network errors, timeouts and 408/425/429/500/502/503/504 retry; anything else fails for good. */
export function classify(result: { kind: 'response'; status: number } | { kind: 'error'; denied?: boolean }): Verdict {
  if (result.kind === 'error') return result.denied ? 'fail' : 'retry';
  if (result.status >= 200 && result.status < 300) return 'success';
  return RETRYABLE.has(result.status) ? 'retry' : 'fail';
}

/** Seconds a `Retry-After` header asks for (delta-seconds or HTTP date), capped at one hour. */
export function retryAfterSeconds(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const s = /^\s*\d+\s*$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000;
  if (!Number.isFinite(s) || s < 0) return undefined;
  return Math.min(s, RETRY_AFTER_CAP_S);
}

/**
 * When attempt `attemptsMade + 1` is due, in ms from now, or `undefined` when the schedule is spent.
 * The schedule's delay gets ±20 % jitter so retries of many deliveries don't arrive in lockstep.
 */
export function nextDelayMs(
  schedule: readonly number[],
  attemptsMade: number,
  retryAfterS?: number,
  random = Math.random,
): number | undefined {
  if (attemptsMade >= schedule.length) return undefined;
  if (retryAfterS !== undefined) return Math.round(retryAfterS * 1000);
  const base = (schedule[attemptsMade] ?? 0) * 1000;
  return Math.round(base * (0.8 + 0.4 * random()));
}
