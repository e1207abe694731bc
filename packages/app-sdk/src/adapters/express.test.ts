import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignatureError } from '../errors.js';
import { createTestKit, type SignedTestRequest, toNodeRequest } from '../testing/index.js';
import { captureRawBody, customActionHandler, type ExpressResponseLike, verifyRequest } from './express.js';

const kit = createTestKit();

/** What Express hands a route after `express.json({ verify: captureRawBody })`: stream read, body parsed, raw kept. */
async function afterJsonParser(signed: SignedTestRequest, verify?: typeof captureRawBody) {
  const req = toNodeRequest(signed) as ReturnType<typeof toNodeRequest> & { body?: unknown; rawBody?: Buffer };
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const buf = Buffer.concat(chunks);
  verify?.(req, {}, buf);
  req.body = JSON.parse(buf.toString('utf8'));
  return req;
}

/** What Express hands a route after `express.raw({ type: 'application/json' })`: the body is a Buffer. */
async function afterRawParser(signed: SignedTestRequest) {
  const req = toNodeRequest(signed) as ReturnType<typeof toNodeRequest> & { body?: unknown };
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  req.body = Buffer.concat(chunks);
  return req;
}

/** An Express response, recording what the adapter sends. */
function response() {
  const sent: { status?: number; body?: unknown } = {};
  const res: ExpressResponseLike = {
    status(code) {
      sent.status = code;
      return res;
    },
    json(body) {
      sent.body = body;
      return res;
    },
  };
  return { res, sent };
}

describe('express: customActionHandler', () => {
  const errors: unknown[] = [];
  const route = customActionHandler((payload) => ({ org: payload.data.org_id }), {
    ...kit.verifyOptions,
    onError: (error) => errors.push(error),
  });

  test('express.json({ verify: captureRawBody }): verifies req.rawBody', async () => {
    const { res, sent } = response();
    await route(await afterJsonParser(kit.sign(), captureRawBody), res);
    assert.deepEqual(sent, { status: 200, body: { org: 'org_test' } });
  });

  test('express.raw({ type: "application/json" }): verifies the Buffer body', async () => {
    const { res, sent } = response();
    await route(await afterRawParser(kit.sign()), res);
    assert.deepEqual(sent, { status: 200, body: { org: 'org_test' } });
  });

  test('no body parser: reads the stream itself', async () => {
    const { res, sent } = response();
    await route(toNodeRequest(kit.sign()), res);
    assert.deepEqual(sent, { status: 200, body: { org: 'org_test' } });
  });

  test('a bad signature is 401', async () => {
    const { res, sent } = response();
    await route(await afterJsonParser(createTestKit().sign(), captureRawBody), res);
    assert.equal(sent.status, 401);
    assert.equal((sent.body as { code: string }).code, 'no_valid_signature');
  });

  test('express.json() without captureRawBody: 500, and the reported error says how to fix it', async () => {
    const { res, sent } = response();
    await route(await afterJsonParser(kit.sign()), res);
    assert.equal(sent.status, 500);
    const error = errors.at(-1);
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /captureRawBody/);
  });
});

describe('express: verifyRequest', () => {
  test('uses req.rawBody next to the parsed body', async () => {
    const payload = await verifyRequest(await afterJsonParser(kit.sign(), captureRawBody), kit.verifyOptions);
    assert.equal(payload.type, 'external_integration');
  });

  test('throws SignatureError on a tampered body', async () => {
    const req = await afterJsonParser(kit.sign(), captureRawBody);
    req.rawBody = Buffer.from(`${req.rawBody?.toString()} `);
    await assert.rejects(verifyRequest(req, kit.verifyOptions), SignatureError);
  });
});
