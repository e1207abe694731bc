import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, DEFAULT_RETRY_SCHEDULE_S, nextDelayMs, RETRY_AFTER_CAP_S, retryAfterSeconds } from './retry.js';

const response = (status: number) => ({ kind: 'response', status }) as const;

describe('retry rules (SPEC §2)', () => {
  it('succeeds on every 2xx and only on 2xx', () => {
    for (const status of [200, 201, 202, 204, 299]) assert.equal(classify(response(status)), 'success', `${status}`);
    for (const status of [100, 199, 300]) assert.notEqual(classify(response(status)), 'success', `${status}`);
  });

  it('retries 408, 425, 429, 500, 502, 503 and 504', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504])
      assert.equal(classify(response(status)), 'retry', `${status}`);
  });

  it('fails for good on any other status: 1xx, 3xx, other 4xx and 5xx', () => {
    const others = [100, 199, 300, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 407, 409, 410, 413, 422, 426, 428];
    for (const status of [...others, 431, 451, 499, 501, 505, 507, 511, 599])
      assert.equal(classify(response(status)), 'fail', `${status}`);
  });

  it('retries network errors and timeouts, but not an egress refusal', () => {
    assert.equal(classify({ kind: 'error' }), 'retry');
    assert.equal(classify({ kind: 'error', denied: false }), 'retry');
    assert.equal(classify({ kind: 'error', denied: true }), 'fail');
  });

  it('has the documented default schedule: 0 s, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h', () => {
    assert.deepEqual(DEFAULT_RETRY_SCHEDULE_S, [0, 5, 30, 120, 600, 1800, 3600]);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');

  it('reads delta-seconds', () => {
    assert.equal(retryAfterSeconds('0', now), 0);
    assert.equal(retryAfterSeconds('1', now), 1);
    assert.equal(retryAfterSeconds('120', now), 120);
    assert.equal(retryAfterSeconds(' 30 ', now), 30);
  });

  it('reads an HTTP date, relative to now', () => {
    assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 12:01:30 GMT', now), 90);
    assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 12:00:00 GMT', now), 0);
  });

  it('caps what it asks for at one hour', () => {
    assert.equal(RETRY_AFTER_CAP_S, 3600);
    assert.equal(retryAfterSeconds('3600', now), 3600);
    assert.equal(retryAfterSeconds('3601', now), 3600);
    assert.equal(retryAfterSeconds('86400', now), 3600);
    assert.equal(retryAfterSeconds('99999999999', now), 3600);
    assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 14:00:00 GMT', now), 3600, 'a date two hours ahead');
    assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 12:59:59 GMT', now), 3599);
  });

  it('ignores what it cannot use: absent, empty, nonsense, negative, a date in the past', () => {
    for (const value of [undefined, '', '   ', 'soon', '-5', '1.5', 'Tue, 01 Dec 2026 11:59:59 GMT'])
      assert.equal(retryAfterSeconds(value, now), undefined, JSON.stringify(value));
  });

  it('measures dates from the current time by default', () => {
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    const s = retryAfterSeconds(inAMinute);
    assert.ok(s !== undefined && s > 58 && s <= 60, `${s} s`);
  });
});

describe('next attempt', () => {
  const schedule = [0, 5, 30];

  it('follows the schedule, with ±20 % jitter', () => {
    assert.equal(
      nextDelayMs(schedule, 1, undefined, () => 0),
      4000,
      'random 0: −20 %',
    );
    assert.equal(
      nextDelayMs(schedule, 1, undefined, () => 0.5),
      5000,
      'random ½: the schedule itself',
    );
    assert.equal(
      nextDelayMs(schedule, 1, undefined, () => 0.999999),
      6000,
      'random →1: +20 %',
    );
    assert.equal(
      nextDelayMs(schedule, 2, undefined, () => 0.25),
      27_000,
    );
    assert.equal(
      nextDelayMs(schedule, 0, undefined, () => 0.9),
      0,
      'no jitter on a zero delay',
    );
  });

  it('spreads real retries across the whole ±20 % band', () => {
    const delays = Array.from({ length: 300 }, () => nextDelayMs(schedule, 2) as number);
    assert.ok(
      delays.every((d) => d >= 24_000 && d <= 36_000),
      `all within 24–36 s: ${Math.min(...delays)}–${Math.max(...delays)}`,
    );
    assert.ok(Math.min(...delays) < 25_500, `some early: min ${Math.min(...delays)}`);
    assert.ok(Math.max(...delays) > 34_500, `some late: max ${Math.max(...delays)}`);
    assert.ok(new Set(delays).size > 100, 'not in lockstep');
  });

  it('waits exactly as long as Retry-After asks, without jitter', () => {
    assert.equal(
      nextDelayMs(schedule, 1, 2.5, () => 0),
      2500,
    );
    assert.equal(
      nextDelayMs(schedule, 1, 0, () => 0),
      0,
    );
    assert.equal(
      nextDelayMs(schedule, 2, 3600, () => 1),
      3_600_000,
    );
  });

  it('stops when the schedule is spent, Retry-After or not', () => {
    assert.equal(nextDelayMs(schedule, 3), undefined);
    assert.equal(nextDelayMs(schedule, 4), undefined);
    assert.equal(nextDelayMs(schedule, 3, 1), undefined);
    assert.equal(nextDelayMs([], 0), undefined);
    assert.equal(
      nextDelayMs([7], 0, undefined, () => 0.5),
      7000,
    );
  });
});
