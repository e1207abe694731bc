import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { CustomActionError, SignatureError } from '../errors.js';
import { getAccessToken } from '../headers.js';
import { createTestKit, type SignedTestRequest } from '../testing/index.js';
import type { CustomActionPayload } from '../types.js';
import { verifyEpilotSignature } from '../verify.js';
import { customActionHandler, readRawBody, verifyRequest } from './node.js';

const kit = createTestKit({ secret: true });
const servers: Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Starts a loopback server; it is closed after the tests. */
async function listen(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/action`;
}

const requestInit = (signed: SignedTestRequest) => ({ headers: signed.headers, body: signed.body });

async function post(url: string, signed: SignedTestRequest): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: 'POST', ...requestInit(signed) });
  return { status: response.status, body: await response.json() };
}

describe('node: customActionHandler on a real http server', () => {
  const calls: Array<{ payload: CustomActionPayload; token: string | undefined; id: string }> = [];
  let url: string;
  const errors: unknown[] = [];

  test('start', async () => {
    url = await listen(
      customActionHandler(
        async (payload, context) => {
          calls.push({ payload, token: context.accessToken, id: context.webhookId });
          if (payload.data.action_config.fail === 'permanent') throw new CustomActionError('bureau said no');
          if (payload.data.action_config.fail === 'crash') throw new Error('boom');
          return { checked: payload.data.entity._id };
        },
        { ...kit.verifyOptions, dedupe: true, onError: (error) => errors.push(error), maxBodyBytes: 64 * 1024 },
      ),
    );
  });

  test('a signed request reaches the handler; its answer is the JSON response', async () => {
    const sent = kit.payload();
    const signed = kit.sign(sent, { accessToken: 'token-1' });
    assert.deepEqual(await post(url, signed), { status: 200, body: { checked: sent.data.entity._id } });
    assert.deepEqual(calls.at(-1), { payload: sent, token: 'token-1', id: signed.id });
  });

  test('a bad signature is 401 with the code; the handler is not called', async () => {
    const before = calls.length;
    const signed = createTestKit().sign();
    assert.deepEqual(await post(url, signed), {
      status: 401,
      body: { error_reason: 'invalid signature: no signature verifies with a trusted key', code: 'no_valid_signature' },
    });
    const { 'webhook-signature': _, ...headers } = kit.sign().headers;
    const missing = await post(url, { ...kit.sign(), headers });
    assert.equal(missing.status, 401);
    assert.equal((missing.body as { code: string }).code, 'missing_header');
    assert.equal(calls.length, before);
  });

  test('a retry with the same webhook-id gets the first answer without running the handler again', async () => {
    const sent = kit.payload();
    const signed = kit.sign(sent);
    const before = calls.length;
    const first = await post(url, signed);
    assert.deepEqual(first, { status: 200, body: { checked: sent.data.entity._id } });
    assert.deepEqual(await post(url, signed), first);
    assert.equal(calls.length, before + 1);
  });

  test('CustomActionError sets the status and error_reason; other errors are 500 and reported', async () => {
    assert.deepEqual(await post(url, kit.sign(kit.payload({ action_config: { fail: 'permanent' } }))), {
      status: 422,
      body: { error_reason: 'bureau said no' },
    });
    assert.deepEqual(await post(url, kit.sign(kit.payload({ action_config: { fail: 'crash' } }))), {
      status: 500,
      body: { error_reason: 'internal error' },
    });
    assert.match(String(errors.at(-1)), /boom/);
  });

  test('a failed handler releases the webhook-id, so the platform retry runs it', async () => {
    const signed = kit.sign(kit.payload({ action_config: { fail: 'permanent' } }));
    const before = calls.length;
    await post(url, signed);
    await post(url, signed);
    assert.equal(calls.length, before + 2);
  });

  test('a body over maxBodyBytes is 413', async () => {
    const signed = kit.sign(kit.payload({ app_options: { big: 'x'.repeat(70 * 1024) } }));
    assert.equal((await post(url, signed)).status, 413);
  });
});

describe('node: verifyRequest, readRawBody and verifyEpilotSignature with a real IncomingMessage', () => {
  test('verifyRequest reads the stream and verifies', async () => {
    const seen: unknown[] = [];
    const failures: unknown[] = [];
    const url = await listen(async (req, res) => {
      try {
        const payload = await verifyRequest(req, kit.verifyOptions);
        seen.push(payload.data.org_id, getAccessToken(req));
        res.end('ok');
      } catch (error) {
        failures.push(error);
        res.statusCode = 401;
        res.end();
      }
    });
    await fetch(url, {
      method: 'POST',
      ...requestInit(kit.sign(kit.payload({ org_id: 'org_node' }), { accessToken: 'tok' })),
    });
    assert.deepEqual(seen, ['org_node', 'tok']);
    await fetch(url, { method: 'POST', headers: createTestKit().sign().headers, body: '{}' });
    assert.ok(failures[0] instanceof SignatureError);
    assert.equal(failures.length, 1);
  });

  test('verifyEpilotSignature on an IncomingMessage whose raw body was read into req.body', async () => {
    const results: boolean[] = [];
    const url = await listen(async (req, res) => {
      const withBody = Object.assign(req, { body: await readRawBody(req) }) as IncomingMessage & { body: Buffer };
      results.push(await verifyEpilotSignature(withBody, kit.verifyOptions));
      res.end();
    });
    const signed = kit.sign();
    await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body });
    await fetch(url, { method: 'POST', headers: signed.headers, body: `${signed.body} ` });
    assert.deepEqual(results, [true, false]);
  });
});

describe('node: readRawBody', () => {
  test('prefers rawBody, then a raw body; rejects a parsed one and a consumed stream', async () => {
    const empty = { headers: {}, async *[Symbol.asyncIterator]() {} };
    assert.equal(await readRawBody({ ...empty, rawBody: 'raw', body: { parsed: true } }), 'raw');
    assert.equal(await readRawBody({ ...empty, body: 'text' }), 'text');
    await assert.rejects(readRawBody({ ...empty, body: { parsed: true } }), /already parsed/);
    await assert.rejects(readRawBody({ ...empty, readableEnded: true }), /already consumed/);
    // Express 4 sets req.body = {} when no parser matched, leaving the stream unread
    const unread = Object.assign(Readable.from([Buffer.from('raw bytes')]), { headers: {}, body: {} });
    assert.equal(String(await readRawBody(unread)), 'raw bytes');
    await assert.rejects(readRawBody(empty, { maxBodyBytes: 0 }), TypeError);
  });
});

describe('node: answers that keep the platform right', () => {
  test('a key URL that is down answers 503 (retried), not 401 (failed for good)', async () => {
    const down = await listen((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const url = await listen(customActionHandler(() => ({}), { publicKeyUrl: down, onError: () => {} }));
    const r = await post(url, createTestKit().sign());
    assert.equal(r.status, 503);
    assert.equal((r.body as { code: string }).code, 'key_unavailable');
  });

  test('a result JSON cannot express is a 500 and reported, not a crash', async () => {
    const errors: unknown[] = [];
    const url = await listen(
      customActionHandler(() => ({ n: 1n }), { ...kit.verifyOptions, onError: (e) => errors.push(e) }),
    );
    const r = await post(url, kit.sign());
    assert.equal(r.status, 500);
    assert.equal(errors.length, 1);
  });

  test('with dedupe, a handler that returns nothing answers {} both times', async () => {
    const url = await listen(customActionHandler(() => undefined, { ...kit.verifyOptions, dedupe: true }));
    const signed = kit.sign();
    assert.deepEqual(await post(url, signed), { status: 200, body: {} });
    assert.deepEqual(await post(url, signed), { status: 200, body: {} });
  });
});
