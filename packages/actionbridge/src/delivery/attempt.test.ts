import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { Delivery } from '../domain/types.js';
import { judge, unsendable } from './attempt.js';
import type { SendResult } from './client.js';

const NOW = 1_800_000_000_000;

const delivery = (tries = 0): Delivery => ({
  id: 'dlv-1',
  org_id: 'org-1',
  execution_id: 'exec-1',
  action_id: 'a1',
  app_id: 'app-1',
  component_id: 'comp-1',
  webhook_id: 'wh-1',
  status: 'pending',
  request_body: 'sealed',
  attempt_count: tries,
  tries,
  next_attempt_ms: NOW,
  last_status_code: null,
  last_error: null,
  created_at: '2026-12-01T12:00:00.000Z',
  updated_at: '2026-12-01T12:00:00.000Z',
  url: 'https://app.example/hook',
  origin: 'https://app.example:443',
  headers: {},
  timeout_ms: null,
  retry_schedule: null,
  signing_secret: null,
  mint_token: false,
});

const answer = (status: number, body = '', headers: Record<string, string> = {}, truncated = false): SendResult => ({
  kind: 'response',
  status,
  headers,
  body,
  truncated,
  durationMs: 42,
});

const error = (message: string, extra: { timeout?: boolean; denied?: boolean } = {}): SendResult => ({
  kind: 'error',
  error: message,
  timeout: extra.timeout ?? false,
  durationMs: 17,
  ...(extra.denied === undefined ? {} : { denied: extra.denied }),
});

/** Seconds, no jitter under the mocked Math.random (0.5 → factor 1). */
const SCHEDULE = [0, 5, 30];

describe('judge', () => {
  beforeEach(() => {
    mock.method(Math, 'random', () => 0.5);
  });
  afterEach(() => {
    mock.restoreAll();
  });

  it('turns a 2xx into a succeeded attempt and delivery with the JSON object body as outputs', () => {
    const r = answer(200, '{"score":700,"ok":true}', { 'content-type': 'application/json' });
    assert.deepEqual(judge(delivery(0), r, SCHEDULE, NOW), {
      verdict: 'success',
      result: {
        delivery_id: 'dlv-1',
        duration_ms: 42,
        status_code: 200,
        response_headers: { 'content-type': 'application/json' },
        response_body: '{"score":700,"ok":true}',
        error: null,
        outcome: 'succeeded',
        delivery: { status: 'succeeded', tries: 1, next_attempt_ms: null },
      },
      outcome: { status: 'success', outputs: { score: 700, ok: true } },
    });
  });

  it('succeeds with empty outputs when the body is empty, not JSON, not an object, or cut at the cap', () => {
    const cases: Array<[string, SendResult]> = [
      ['empty', answer(204, '')],
      ['not JSON', answer(200, 'OK')],
      ['an array', answer(200, '[1,2]')],
      ['a string', answer(200, '"yes"')],
      ['a number', answer(200, '7')],
      ['null', answer(200, 'null')],
      ['truncated', answer(200, '{"a":1}', {}, true)],
    ];
    for (const [name, r] of cases) {
      const j = judge(delivery(0), r, SCHEDULE, NOW);
      assert.equal(j.verdict, 'success', name);
      assert.equal(j.result.outcome, 'succeeded', name);
      assert.deepEqual(j.outcome, { status: 'success', outputs: {} }, name);
    }
  });

  it('succeeds with empty outputs when the answer nests too deep or holds NUL, keeping the raw text', () => {
    const deep = `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`;
    const nul = '{"a":"x\\u0000y"}';
    for (const body of [deep, nul]) {
      const j = judge(delivery(0), answer(200, body), SCHEDULE, NOW);
      assert.deepEqual(j.outcome, { status: 'success', outputs: {} });
      assert.equal(j.result.response_body, body);
    }
  });

  it('schedules a retryable status at the schedule delay after the attempts made', () => {
    const r = answer(503, 'busy', { 'x-a': 'b' });
    assert.deepEqual(judge(delivery(1), r, SCHEDULE, NOW), {
      verdict: 'retry',
      result: {
        delivery_id: 'dlv-1',
        duration_ms: 42,
        status_code: 503,
        response_headers: { 'x-a': 'b' },
        response_body: 'busy',
        error: null,
        outcome: 'retry',
        delivery: { status: 'pending', tries: 2, next_attempt_ms: NOW + 30_000 },
      },
    });
  });

  it('retries the first failure after schedule[1]', () => {
    const j = judge(delivery(0), answer(500), SCHEDULE, NOW);
    assert.deepEqual(j.result.delivery, { status: 'pending', tries: 1, next_attempt_ms: NOW + 5_000 });
    assert.equal(j.outcome, undefined);
  });

  it('honours Retry-After (delta-seconds) instead of the schedule', () => {
    const j = judge(delivery(0), answer(429, '', { 'retry-after': '120' }), SCHEDULE, NOW);
    assert.equal(j.verdict, 'retry');
    assert.deepEqual(j.result.delivery, { status: 'pending', tries: 1, next_attempt_ms: NOW + 120_000 });
  });

  it('retries a network error with the error recorded and no status', () => {
    const j = judge(delivery(0), error('connect ECONNREFUSED 127.0.0.1:9'), SCHEDULE, NOW);
    assert.deepEqual(j, {
      verdict: 'retry',
      result: {
        delivery_id: 'dlv-1',
        duration_ms: 17,
        status_code: null,
        response_headers: {},
        response_body: '',
        error: 'connect ECONNREFUSED 127.0.0.1:9',
        outcome: 'retry',
        delivery: { status: 'pending', tries: 1, next_attempt_ms: NOW + 5_000 },
      },
    });
  });

  it('fails the delivery when the schedule is spent: the attempt stays a retry, the delivery fails', () => {
    const j = judge(delivery(2), answer(502, '{"message":"upstream down"}'), SCHEDULE, NOW);
    assert.deepEqual(j, {
      verdict: 'retry',
      result: {
        delivery_id: 'dlv-1',
        duration_ms: 42,
        status_code: 502,
        response_headers: {},
        response_body: '{"message":"upstream down"}',
        error: null,
        outcome: 'retry',
        delivery: { status: 'failed', tries: 3, next_attempt_ms: null },
      },
      outcome: { status: 'failed', error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'upstream down' } },
    });
  });

  it('fails at once with an empty schedule, even with Retry-After', () => {
    const j = judge(delivery(0), answer(503, '', { 'retry-after': '5' }), [], NOW);
    assert.deepEqual(j.result.delivery, { status: 'failed', tries: 1, next_attempt_ms: null });
    assert.deepEqual(j.outcome, {
      status: 'failed',
      error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'HTTP 503' },
    });
  });

  it('fails a non-retryable status for good on the first attempt', () => {
    const j = judge(delivery(0), answer(400, '{"error_reason":"missing iban"}'), SCHEDULE, NOW);
    assert.deepEqual(j, {
      verdict: 'fail',
      result: {
        delivery_id: 'dlv-1',
        duration_ms: 42,
        status_code: 400,
        response_headers: {},
        response_body: '{"error_reason":"missing iban"}',
        error: null,
        outcome: 'failed',
        delivery: { status: 'failed', tries: 1, next_attempt_ms: null },
      },
      outcome: { status: 'failed', error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'missing iban' } },
    });
  });

  it('takes the reason from error_reason, then message, then error, then error.message', () => {
    const reason = (body: string) => {
      const o = judge(delivery(0), answer(422, body), SCHEDULE, NOW).outcome;
      assert.equal(o?.status, 'failed');
      return o.status === 'failed' ? o.error : undefined;
    };
    const all = { error_reason: 'R', message: 'M', error: 'E' };
    assert.deepEqual(reason(JSON.stringify(all)), { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'R' });
    assert.equal(reason(JSON.stringify({ message: 'M', error: 'E' }))?.error_reason, 'M');
    assert.equal(reason(JSON.stringify({ error: 'E' }))?.error_reason, 'E');
    assert.equal(reason(JSON.stringify({ error: { message: 'nested' } }))?.error_reason, 'nested');
    assert.equal(reason(JSON.stringify({ error_reason: '', message: 'M' }))?.error_reason, 'M', 'empty skipped');
    assert.equal(reason(JSON.stringify({ error_reason: 5, message: 'M' }))?.error_reason, 'M', 'non-string skipped');
    assert.equal(reason(JSON.stringify({ error: { code: 1 } }))?.error_reason, 'HTTP 422');
    assert.equal(reason(JSON.stringify({ error: null }))?.error_reason, 'HTTP 422');
    assert.equal(reason(JSON.stringify({ message: 'M', error: null }))?.error_reason, 'M', 'error: null is no object');
    assert.equal(reason(JSON.stringify({ other: 'x' }))?.error_reason, 'HTTP 422');
    assert.equal(reason('null')?.error_reason, 'HTTP 422');
    assert.equal(reason('not json')?.error_reason, 'HTTP 422');
    assert.equal(reason('')?.error_reason, 'HTTP 422');
  });

  it('cuts the reason at 2000 characters and replaces NUL', () => {
    const long = 'x'.repeat(2500);
    const o = judge(delivery(0), answer(400, JSON.stringify({ message: long })), SCHEDULE, NOW).outcome;
    assert.deepEqual(o, {
      status: 'failed',
      error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'x'.repeat(2000) },
    });
    const n = judge(delivery(0), answer(400, JSON.stringify({ message: 'a\u0000b\u0000' })), SCHEDULE, NOW).outcome;
    assert.deepEqual(n, {
      status: 'failed',
      error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'a\uFFFDb\uFFFD' },
    });
  });

  it('ends a timeout with TIMEOUT_ERROR once the schedule is spent', () => {
    const j = judge(delivery(3), error('timed out after 10000 ms', { timeout: true }), SCHEDULE, NOW);
    assert.equal(j.verdict, 'retry');
    assert.deepEqual(j.result.delivery, { status: 'failed', tries: 4, next_attempt_ms: null });
    assert.deepEqual(j.outcome, {
      status: 'failed',
      error: { error_code: 'TIMEOUT_ERROR', error_reason: 'timed out after 10000 ms' },
    });
  });

  it('ends a network error with CUSTOM_ACTION_ERROR once the schedule is spent', () => {
    const j = judge(delivery(3), error('socket hang up'), SCHEDULE, NOW);
    assert.deepEqual(j.outcome, {
      status: 'failed',
      error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'socket hang up' },
    });
  });

  it('fails an egress refusal at once as BAD_CONFIG, without retrying', () => {
    const j = judge(delivery(0), error('egress denied: 10.0.0.1 is private', { denied: true }), SCHEDULE, NOW);
    assert.deepEqual(j, {
      verdict: 'fail',
      result: {
        delivery_id: 'dlv-1',
        duration_ms: 17,
        status_code: null,
        response_headers: {},
        response_body: '',
        error: 'egress denied: 10.0.0.1 is private',
        outcome: 'failed',
        delivery: { status: 'failed', tries: 1, next_attempt_ms: null },
      },
      outcome: {
        status: 'failed',
        error: { error_code: 'BAD_CONFIG', error_reason: 'egress denied: 10.0.0.1 is private' },
      },
    });
  });

  it('applies ±20 % jitter from the schedule to the next attempt', () => {
    mock.method(Math, 'random', () => 0);
    assert.equal(judge(delivery(0), answer(500), [0, 10], NOW).result.delivery.next_attempt_ms, NOW + 8_000);
    mock.method(Math, 'random', () => 1);
    assert.equal(judge(delivery(0), answer(500), [0, 10], NOW).result.delivery.next_attempt_ms, NOW + 12_000);
  });
});

describe('unsendable', () => {
  it('fails the delivery with BAD_CONFIG and the reason, counting the try', () => {
    assert.deepEqual(unsendable(delivery(2), 'secret cannot be opened'), {
      verdict: 'fail',
      result: {
        delivery_id: 'dlv-1',
        duration_ms: 0,
        status_code: null,
        response_headers: {},
        response_body: '',
        error: 'secret cannot be opened',
        outcome: 'failed',
        delivery: { status: 'failed', tries: 3, next_attempt_ms: null },
      },
      outcome: { status: 'failed', error: { error_code: 'BAD_CONFIG', error_reason: 'secret cannot be opened' } },
    });
  });
});
