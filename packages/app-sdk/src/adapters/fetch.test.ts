import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BodyTooLargeError, CustomActionError, SignatureError } from '../errors.js';
import { createTestKit, toFetchRequest } from '../testing/index.js';
import { customActionHandler, verifyRequest } from './fetch.js';

const kit = createTestKit();

describe('fetch: verifyRequest with a global Request', () => {
  test('verifies and returns the payload', async () => {
    const sent = kit.payload({ org_id: 'org_fetch' });
    const payload = await verifyRequest(toFetchRequest(kit.sign(sent)), kit.verifyOptions);
    assert.deepEqual(payload, sent);
  });

  test('a bad signature throws SignatureError', async () => {
    const signed = kit.sign();
    const tampered = new Request('http://localhost/action', {
      method: 'POST',
      headers: signed.headers,
      body: signed.body.replace('org_test', 'org_evil'),
    });
    await assert.rejects(verifyRequest(tampered, kit.verifyOptions), SignatureError);
  });

  test('a Request whose body was already read is a TypeError', async () => {
    const request = toFetchRequest(kit.sign());
    await request.text();
    await assert.rejects(verifyRequest(request, kit.verifyOptions), /already read/);
  });
});

describe('fetch: customActionHandler returns a Response', () => {
  const handle = customActionHandler(
    (payload, context) => {
      if (payload.data.action_config.reject) throw new CustomActionError('rejected', { retryable: true });
      return { entity: payload.data.entity._id, token: context.accessToken ?? null };
    },
    { ...kit.verifyOptions, maxBodyBytes: 4096 },
  );

  test('200 with the handler result', async () => {
    const sent = kit.payload();
    const response = await handle(toFetchRequest(kit.sign(sent, { accessToken: 'tok' })));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.deepEqual(await response.json(), { entity: sent.data.entity._id, token: 'tok' });
  });

  test('401 on a bad signature, 503 for a retryable CustomActionError, 413 past maxBodyBytes', async () => {
    const bad = await handle(toFetchRequest(createTestKit().sign()));
    assert.equal(bad.status, 401);
    assert.equal(((await bad.json()) as { code: string }).code, 'no_valid_signature');
    const retry = await handle(toFetchRequest(kit.sign(kit.payload({ action_config: { reject: true } }))));
    assert.deepEqual([retry.status, await retry.json()], [503, { error_reason: 'rejected' }]);
    const big = await handle(toFetchRequest(kit.sign(kit.payload({ app_options: { blob: 'x'.repeat(5000) } }))));
    assert.equal(big.status, 413);
  });

  test('invalid handler options are a TypeError at setup', () => {
    assert.throws(() => customActionHandler(() => ({}), { dedup: true } as never), /unknown option "dedup"/);
    assert.throws(() => customActionHandler(() => ({}), { maxBodyBytes: -1 }), /maxBodyBytes/);
    assert.throws(() => customActionHandler('handler' as never), /handler must be a function/);
  });

  test('a Hono-style route: (c) => handle(c.req.raw)', async () => {
    const c = { req: { raw: toFetchRequest(kit.sign()) } };
    assert.equal((await handle(c.req.raw)).status, 200);
  });
});

describe('fetch: body limits', () => {
  test('a chunked body over maxBodyBytes is cut off while streaming, not buffered whole', async () => {
    const kit2 = createTestKit();
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 1000) return controller.close();
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const request = new Request('http://localhost/action', {
      method: 'POST',
      headers: kit2.sign().headers as Record<string, string>,
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await assert.rejects(verifyRequest(request, { ...kit2.verifyOptions, maxBodyBytes: 1024 }), BodyTooLargeError);
    assert.ok(pulled < 10, `read ${pulled} chunks of 64 KiB before refusing`);
  });
});
