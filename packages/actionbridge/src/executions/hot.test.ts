import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Flow } from '../domain/types.js';
import { countRun, DEFAULT_HOT_LIMIT, type HotCounter, hotLimit } from './hot.js';

const flow = (max_executions?: unknown): Flow => ({
  id: 'flow-1',
  org_id: 'org-1',
  flow_name: 'f',
  enabled: true,
  triggers: [],
  actions: [],
  version: 1,
  created_at: '2026-12-01T12:00:00.000Z',
  updated_at: '2026-12-01T12:00:00.000Z',
  ...(max_executions === undefined ? {} : { max_executions }),
});

describe('hotLimit', () => {
  it('is 100 runs in 30 s when the flow sets none', () => {
    assert.deepEqual(DEFAULT_HOT_LIMIT, { count: 100, windowMs: 30_000 });
    assert.deepEqual(hotLimit(flow()), { count: 100, windowMs: 30_000 });
    assert.deepEqual(hotLimit(flow({})), { count: 100, windowMs: 30_000 });
  });

  it('reads the count and an ISO 8601 window of days, hours, minutes and seconds', () => {
    assert.deepEqual(hotLimit(flow({ count: 5, window: 'PT10S' })), { count: 5, windowMs: 10_000 });
    assert.deepEqual(hotLimit(flow({ count: 1, window: 'PT2M' })), { count: 1, windowMs: 120_000 });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'PT1H' })), { count: 3, windowMs: 3_600_000 });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'P1D' })), { count: 3, windowMs: 86_400_000 });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'P1DT1H1M1S' })), {
      count: 3,
      windowMs: 86_400_000 + 3_600_000 + 60_000 + 1_000,
    });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'P2DT3H4M5S' })), {
      count: 3,
      windowMs: ((2 * 24 + 3) * 60 + 4) * 60_000 + 5_000,
    });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'PT1.5S' })), { count: 3, windowMs: 1_500 });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'PT90M' })), { count: 3, windowMs: 5_400_000 });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'P10D' })), { count: 3, windowMs: 864_000_000 });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'PT12H' })), { count: 3, windowMs: 43_200_000 });
    assert.deepEqual(hotLimit(flow({ count: 3, window: 'PT1.25S' })), { count: 3, windowMs: 1_250 });
  });

  it('falls back to 100 for a count that is missing, below 1 or not a number', () => {
    for (const count of [undefined, 0, -5, 0.5, '10', null])
      assert.equal(hotLimit(flow({ count, window: 'PT10S' })).count, 100, `count ${String(count)}`);
    assert.equal(hotLimit(flow({ count: 1, window: 'PT10S' })).count, 1);
  });

  it('falls back to 30 s for a window that is missing, malformed, zero or not a string', () => {
    for (const window of [
      undefined,
      '',
      'P',
      'PT',
      'PT0S',
      'P0D',
      '10S',
      'PT10',
      'xPT10S',
      'PT10Sx',
      'pt10s',
      10_000,
      null,
    ])
      assert.equal(hotLimit(flow({ count: 5, window })).windowMs, 30_000, `window ${String(window)}`);
  });
});

describe('countRun', () => {
  const limit = { count: 3, windowMs: 1_000 };
  const fresh: HotCounter = { window_ms: 0, count: 0, prev_count: 0 };

  it('counts runs up to the limit and calls the next one hot, without counting it', () => {
    let c = fresh;
    for (let i = 1; i <= 3; i++) {
      const r = countRun(c, limit, 100);
      assert.equal(r.hot, false, `run ${i}`);
      assert.deepEqual(r.counter, { window_ms: 0, count: i, prev_count: 0 });
      c = r.counter;
    }
    assert.deepEqual(countRun(c, limit, 100), { counter: { window_ms: 0, count: 3, prev_count: 0 }, hot: true });
  });

  it('moves to the next window at exactly one window later, carrying the count over as the previous', () => {
    const c: HotCounter = { window_ms: 0, count: 2, prev_count: 9 };
    // At 1000: the new window starts at 1000 and the previous one overlaps fully (weight 1): 2 + 0 < 3.
    assert.deepEqual(countRun(c, limit, 1_000), { counter: { window_ms: 1_000, count: 1, prev_count: 2 }, hot: false });
    // Just before: still the same window.
    assert.deepEqual(countRun(c, limit, 999), { counter: { window_ms: 0, count: 3, prev_count: 9 }, hot: false });
  });

  it('weights the previous window by how much of it still overlaps the sliding window', () => {
    // The previous window had 3 runs; at 1/4 into the current one, 3 × 0.75 = 2.25 < 3 → not hot.
    const c: HotCounter = { window_ms: 1_000, count: 0, prev_count: 3 };
    assert.deepEqual(countRun(c, limit, 1_250), { counter: { window_ms: 1_000, count: 1, prev_count: 3 }, hot: false });
    // Then 3 × 0.75 + 1 = 3.25 ≥ 3 → hot.
    assert.deepEqual(countRun({ window_ms: 1_000, count: 1, prev_count: 3 }, limit, 1_250), {
      counter: { window_ms: 1_000, count: 1, prev_count: 3 },
      hot: true,
    });
    // At the start of the window the previous counts fully: 3 ≥ 3 → hot.
    assert.equal(countRun(c, limit, 1_000).hot, true);
    // At 2/3 in: 3 × 1/3 + 1 = 2 < 3 → not hot.
    assert.equal(countRun({ window_ms: 1_000, count: 1, prev_count: 3 }, limit, 1_000 + 2_000 / 3).hot, false);
  });

  it('sees a burst across a window boundary', () => {
    let c = fresh;
    for (let i = 0; i < 3; i++) c = countRun(c, limit, 900 + i).counter;
    // 1010: a new window, but the 3 runs ~100 ms ago still count ×0.99.
    const r = countRun(c, limit, 1_010);
    assert.equal(r.hot, false, '3 × 0.99 = 2.97 < 3');
    assert.deepEqual(r.counter, { window_ms: 1_000, count: 1, prev_count: 3 });
    assert.equal(countRun(r.counter, limit, 1_020).hot, true, '3 × 0.98 + 1 = 3.94');
  });

  it('starts afresh at now after two or more windows of quiet', () => {
    const c: HotCounter = { window_ms: 0, count: 3, prev_count: 3 };
    assert.deepEqual(countRun(c, limit, 2_000), { counter: { window_ms: 2_000, count: 1, prev_count: 0 }, hot: false });
    assert.deepEqual(countRun(c, limit, 5_432), { counter: { window_ms: 5_432, count: 1, prev_count: 0 }, hot: false });
    // Just under two windows: the window moves by one and the old count becomes the previous one.
    assert.deepEqual(countRun(c, limit, 1_999), { counter: { window_ms: 1_000, count: 1, prev_count: 3 }, hot: false });
  });

  it('a limit of one run lets exactly one run per window through', () => {
    const one = { count: 1, windowMs: 1_000 };
    const r1 = countRun(fresh, one, 0);
    assert.deepEqual(r1, { counter: { window_ms: 0, count: 1, prev_count: 0 }, hot: false });
    assert.equal(countRun(r1.counter, one, 500).hot, true);
  });
});
