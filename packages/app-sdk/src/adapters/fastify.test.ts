import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignatureError } from '../errors.js';
import { createTestKit } from '../testing/index.js';
import {
  addRawBodyParser,
  customActionHandler,
  type FastifyInstanceLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  type ParserDone,
  type rawJsonBodyParser,
  verifyRequest,
} from './fastify.js';

const kit = createTestKit();

/** A Fastify request after `addRawBodyParser`: parsed `body`, exact bytes in `rawBody`. */
function parsedRequest(headers: Record<string, string>, body: string): FastifyRequestLike {
  return { headers, body: JSON.parse(body), rawBody: Buffer.from(body) };
}

/** A Fastify reply, recording what the adapter sends. */
function reply() {
  const sent: { status?: number; headers: Record<string, string>; payload?: unknown } = { headers: {} };
  const r: FastifyReplyLike = {
    code(status) {
      sent.status = status;
      return r;
    },
    header(name, value) {
      sent.headers[name] = value;
      return r;
    },
    send(payload) {
      sent.payload = payload;
      return r;
    },
  };
  return { reply: r, sent };
}

describe('fastify: verifyRequest and customActionHandler', () => {
  test('verifies request.rawBody', async () => {
    const signed = kit.sign();
    const payload = await verifyRequest(parsedRequest(signed.headers, signed.body), kit.verifyOptions);
    assert.equal(payload.data.org_id, 'org_test');
  });

  test('a parsed body without rawBody is a TypeError pointing to addRawBodyParser', async () => {
    const signed = kit.sign();
    await assert.rejects(
      verifyRequest({ headers: signed.headers, body: JSON.parse(signed.body) }, kit.verifyOptions),
      /addRawBodyParser/,
    );
  });

  test('the route handler answers 200 / 401', async () => {
    const route = customActionHandler((payload, context) => ({ id: context.webhookId, org: payload.data.org_id }), {
      ...kit.verifyOptions,
    });
    const signed = kit.sign();
    const ok = reply();
    assert.equal(await route(parsedRequest(signed.headers, signed.body), ok.reply), ok.reply);
    assert.equal(ok.sent.status, 200);
    assert.equal(ok.sent.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(ok.sent.payload as string), { id: signed.id, org: 'org_test' });

    const bad = createTestKit().sign();
    const denied = reply();
    await route(parsedRequest(bad.headers, bad.body), denied.reply);
    assert.equal(denied.sent.status, 401);
  });

  test('a tampered rawBody throws SignatureError', async () => {
    const signed = kit.sign();
    await assert.rejects(
      verifyRequest({ ...parsedRequest(signed.headers, signed.body), rawBody: `${signed.body} ` }, kit.verifyOptions),
      SignatureError,
    );
  });
});

describe('fastify: addRawBodyParser', () => {
  test('replaces the JSON parser with one that keeps rawBody', () => {
    const registered: Array<{ type: string | string[]; parseAs: string }> = [];
    let parser: typeof rawJsonBodyParser | undefined;
    const removed: Array<string | string[]> = [];
    const instance: FastifyInstanceLike = {
      addContentTypeParser(type, options, fn) {
        registered.push({ type, parseAs: options.parseAs });
        parser = fn;
      },
      hasContentTypeParser: (type) => type === 'application/json',
      removeContentTypeParser: (type) => removed.push(type),
    };
    addRawBodyParser(instance);
    assert.deepEqual(removed, ['application/json']);
    assert.deepEqual(registered, [{ type: 'application/json', parseAs: 'buffer' }]);

    const request: { rawBody?: unknown } = {};
    const results: Array<[Error | null, unknown]> = [];
    const done: ParserDone = (error, body) => results.push([error, body]);
    parser?.(request, Buffer.from('{"a":1}'), done);
    assert.deepEqual(results[0], [null, { a: 1 }]);
    assert.equal(request.rawBody?.toString(), '{"a":1}');
    parser?.(request, Buffer.from('{nope'), done);
    const [error] = results[1] ?? [];
    assert.equal((error as (Error & { statusCode?: number }) | undefined)?.statusCode, 400);
  });

  test('rejects something that is not a Fastify instance', () => {
    assert.throws(() => addRawBodyParser({} as FastifyInstanceLike), TypeError);
  });
});

// Fastify is a dev dependency only (the SDK has no runtime dependencies): check against the real thing.
const fastifyModule: string = 'fastify';
const Fastify = (await import(fastifyModule)).default as (options?: object) => RealFastify;

interface RealFastify extends FastifyInstanceLike {
  post(path: string, handler: unknown): unknown;
  inject(options: object): Promise<{ statusCode: number; json(): unknown }>;
  close(): Promise<void>;
}

describe('fastify: a real Fastify instance', () => {
  test('addRawBodyParser + customActionHandler via inject()', async () => {
    const app = Fastify();
    try {
      addRawBodyParser(app);
      app.post(
        '/action',
        customActionHandler((payload) => ({ entity: payload.data.entity._id }), kit.verifyOptions),
      );
      const sent = kit.payload();
      const signed = kit.sign(sent);
      const ok = await app.inject({ method: 'POST', url: '/action', headers: signed.headers, payload: signed.body });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(ok.json(), { entity: sent.data.entity._id });
      const tampered = await app.inject({
        method: 'POST',
        url: '/action',
        headers: signed.headers,
        payload: `${signed.body} `,
      });
      assert.equal(tampered.statusCode, 401);
    } finally {
      await app.close();
    }
  });
});

describe('fastify: addRawBodyParser keeps Fastify’s JSON protections', () => {
  test('prototype poisoning and empty bodies are 400 on every route', async () => {
    const app = Fastify();
    try {
      addRawBodyParser(app);
      app.post('/other', async () => ({ ok: true }));
      const poisoned = await app.inject({
        method: 'POST',
        url: '/other',
        headers: { 'content-type': 'application/json' },
        payload: '{"__proto__":{"admin":true}}',
      });
      assert.equal(poisoned.statusCode, 400);
      const empty = await app.inject({
        method: 'POST',
        url: '/other',
        headers: { 'content-type': 'application/json' },
        payload: '',
      });
      assert.equal(empty.statusCode, 400);
      const fine = await app.inject({
        method: 'POST',
        url: '/other',
        headers: { 'content-type': 'application/json' },
        payload: '{"a":1}',
      });
      assert.equal(fine.statusCode, 200);
    } finally {
      await app.close();
    }
  });
});
