import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignatureError } from '../errors.js';
import { signWebhook } from '../signing.js';
import { createTestKit, toLambdaEvent } from '../testing/index.js';
import { customActionHandler, type LambdaHttpEvent, verifyEvent } from './lambda.js';

const kit = createTestKit();

/** An API Gateway REST (v1) proxy event as AWS delivers it (header names as the client sent them). */
function restApiEvent(headers: Record<string, string>, body: string, isBase64Encoded = false): LambdaHttpEvent {
  const cased = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.replace(/(^|-)(\w)/g, (m) => m.toUpperCase()), value]),
  );
  return {
    resource: '/action',
    path: '/action',
    httpMethod: 'POST',
    headers: cased,
    multiValueHeaders: Object.fromEntries(Object.entries(cased).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    requestContext: { stage: 'prod', requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef' },
    body,
    isBase64Encoded,
  } as LambdaHttpEvent;
}

/** An HTTP API (v2) event: lower-case header names, `version: '2.0'`. */
function httpApiEvent(headers: Record<string, string>, body: string, isBase64Encoded = false): LambdaHttpEvent {
  return {
    version: '2.0',
    routeKey: 'POST /action',
    rawPath: '/action',
    rawQueryString: '',
    headers,
    requestContext: { http: { method: 'POST', path: '/action' } },
    body,
    isBase64Encoded,
  } as LambdaHttpEvent;
}

describe('lambda: verifyEvent', () => {
  for (const [name, make] of [
    ['v1 (REST API)', restApiEvent],
    ['v2 (HTTP API)', httpApiEvent],
  ] as const) {
    test(`${name}, plain and base64 bodies`, async () => {
      const sent = kit.payload({ org_id: 'org_lambda' });
      const signed = kit.sign(sent);
      assert.deepEqual(await verifyEvent(make(signed.headers, signed.body), kit.verifyOptions), sent);
      const base64 = Buffer.from(signed.body).toString('base64');
      assert.deepEqual(await verifyEvent(make(signed.headers, base64, true), kit.verifyOptions), sent);
    });

    test(`${name}, a tampered body fails`, async () => {
      const signed = kit.sign();
      await assert.rejects(
        verifyEvent(make(signed.headers, `${signed.body}\n`), kit.verifyOptions),
        (error) => error instanceof SignatureError && error.code === 'no_valid_signature',
      );
    });
  }

  test('a base64 body is verified over its exact bytes, even bytes that are not valid UTF-8', async () => {
    const bytes = Buffer.concat([Buffer.from('{"data":{},"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const id = 'msg_0123456789abcdef0123456789abcdef';
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook({ id, timestamp, body: bytes }, { ed25519: [kit.keys.privateKey] }),
    };
    await verifyEvent(httpApiEvent(headers, bytes.toString('base64'), true), kit.verifyOptions);
    // A text round trip replaces the invalid bytes, and the signature no longer matches.
    await assert.rejects(verifyEvent(httpApiEvent(headers, bytes.toString('utf8')), kit.verifyOptions), SignatureError);
  });

  test('headers only in multiValueHeaders are found', async () => {
    const signed = kit.sign();
    const event = toLambdaEvent(signed, { version: '1.0' });
    event.headers = { 'content-type': 'application/json' };
    await verifyEvent(event, kit.verifyOptions);
  });

  test('the test kit builds both event versions', async () => {
    for (const version of ['1.0', '2.0'] as const) {
      for (const base64 of [false, true]) {
        await verifyEvent(toLambdaEvent(kit.sign(), { version, base64 }), kit.verifyOptions);
      }
    }
  });
});

describe('lambda: customActionHandler', () => {
  const handler = customActionHandler((payload, context) => ({ id: context.webhookId, org: payload.data.org_id }), {
    ...kit.verifyOptions,
  });

  test('200 with the JSON result', async () => {
    const signed = kit.sign();
    const result = await handler(toLambdaEvent(signed, { base64: true }));
    assert.deepEqual(result, {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: signed.id, org: 'org_test' }),
      isBase64Encoded: false,
    });
  });

  test('401 on a bad signature', async () => {
    const result = await handler(toLambdaEvent(createTestKit().sign()));
    assert.equal(result.statusCode, 401);
    assert.equal(JSON.parse(result.body).code, 'no_valid_signature');
  });
});
