import type { Flow } from '../domain/types.js';

/** The hot-flow limit when a flow sets none (SPEC §4): more than 100 runs in 30 s. */
export const DEFAULT_HOT_LIMIT = { count: 100, windowMs: 30_000 } as const;

/** A flow's hot limit: its `max_executions` ({count, window: ISO 8601 duration}) or 100 in 30 s. */
export function hotLimit(flow: Flow): { count: number; windowMs: number } {
  const max = flow.max_executions as { count?: unknown; window?: unknown } | undefined;
  const count = typeof max?.count === 'number' && max.count >= 1 ? max.count : DEFAULT_HOT_LIMIT.count;
  const m =
    typeof max?.window === 'string'
      ? /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(max.window)
      : null;
  const [d, h, min, sec] = [m?.[1], m?.[2], m?.[3], m?.[4]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  const windowMs = (((d * 24 + h) * 60 + min) * 60 + sec) * 1000;
  return { count, windowMs: windowMs > 0 ? windowMs : DEFAULT_HOT_LIMIT.windowMs };
}

export interface HotCounter {
  /** Start of the current window (ms). */
  window_ms: number;
  /** Runs counted in the current window. */
  count: number;
  /** Runs counted in the window before it. */
  prev_count: number;
}

/**
 * Counts one run of a flow and says whether it is over the limit: O(1) per run, with no scan of
 * past executions. Two fixed windows, the previous one weighted by how much of it still overlaps
 * the sliding window ending now (the estimate rate limiters use), so a burst across a window
 * boundary is still seen. Returns the new counter; a hot run is not counted.
 */
export function countRun(
  c: HotCounter,
  limit: { count: number; windowMs: number },
  now: number,
): { counter: HotCounter; hot: boolean } {
  let { window_ms, count, prev_count } = c;
  const elapsed = now - window_ms;
  if (elapsed >= 2 * limit.windowMs) {
    window_ms = now;
    prev_count = 0;
    count = 0;
  } else if (elapsed >= limit.windowMs) {
    window_ms += limit.windowMs;
    prev_count = count;
    count = 0;
  }
  const overlap = 1 - (now - window_ms) / limit.windowMs;
  const estimate = prev_count * Math.max(0, overlap) + count;
  if (estimate >= limit.count) return { counter: { window_ms, count, prev_count }, hot: true };
  return { counter: { window_ms, count: count + 1, prev_count }, hot: false };
}
