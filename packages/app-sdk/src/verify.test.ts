import assert from 'node:assert/strict';
import { after, beforeEach, describe, test } from 'node:test';
import { SignatureError } from './errors.js';
import {
  buildCustomActionPayload,
  createTestKit,
  generateTestKeyPair,
  serveKeyDocuments,
  signTestRequest,
  toFetchRequest,
  toLambdaEvent,
} from './testing/index.js';
import type { CustomActionPayload, EntitySnapshot } from './types.js';
import { createVerifier, verifyCustomAction, verifyEpilotSignature } from './verify.js';

const kit = createTestKit();

beforeEach(() => {
  delete process.env.ACTIONBRIDGE_PUBLIC_KEY;
  delete process.env.ACTIONBRIDGE_PUBLIC_KEY_URL;
});

describe('verifyCustomAction', () => {
  test('returns the typed payload with every SPEC §1 field', async () => {
    const sent = kit.payload({
      app_options: { api_key: 'k', threshold: 10 },
      action_config: { mode: 'strict' },
      resume_token: 'rt_1',
      callback_url: 'http://localhost/v1/automation/public/executions:resume',
    });
    const payload = await verifyCustomAction(kit.sign(sent), kit.verifyOptions);
    assert.deepEqual(payload, sent);
    assert.equal(payload.type, 'external_integration');
    assert.equal(payload.data.exection_action_id, payload.data.execution_action_id);
    assert.equal(payload.data.trigger.type, 'entity_operation');
    assert.deepEqual(payload.data.trigger.diff, { added: {}, updated: {}, deleted: {} });
  });

  test('type parameters narrow app_options and entity (interfaces allowed)', async () => {
    interface Options {
      threshold: number;
    }
    interface Opportunity extends EntitySnapshot {
      amount?: number;
    }
    const payload = await verifyCustomAction<CustomActionPayload<Options, Opportunity>>(
      kit.sign(kit.payload({ app_options: { threshold: 3 } })),
      kit.verifyOptions,
    );
    const threshold: number = payload.data.app_options.threshold;
    assert.equal(threshold, 3);
  });

  test('uses rawBody next to a parsed body', async () => {
    const signed = kit.sign();
    const payload = await verifyCustomAction(
      { headers: signed.headers, body: JSON.parse(signed.body), rawBody: Buffer.from(signed.body) },
      kit.verifyOptions,
    );
    assert.equal(payload.type, 'external_integration');
  });

  test('a parsed body alone is a TypeError explaining the raw body, never re-serialised', async () => {
    const payload = kit.payload();
    // Signed over exactly JSON.stringify(payload): re-serialising would verify, and must not happen.
    const signed = kit.sign(JSON.stringify(payload));
    await assert.rejects(verifyCustomAction({ headers: signed.headers, body: payload }, kit.verifyOptions), (error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /raw body/);
      assert.match(error.message, /README/);
      return true;
    });
    await assert.rejects(
      verifyCustomAction({ request: { headers: signed.headers, requestBody: payload } }, kit.verifyOptions),
      TypeError,
    );
  });

  test('the context form with a raw requestBody verifies', async () => {
    const signed = kit.sign();
    const payload = await verifyCustomAction(
      { request: { headers: signed.headers, requestBody: signed.body } },
      kit.verifyOptions,
    );
    assert.equal(payload.type, 'external_integration');
  });

  test('a request without a raw body names the adapter to use', async () => {
    const signed = kit.sign();
    await assert.rejects(verifyCustomAction(toFetchRequest(signed), kit.verifyOptions), /app-sdk\/fetch/);
    await assert.rejects(verifyCustomAction({ headers: signed.headers }, kit.verifyOptions), /app-sdk\/node/);
    await assert.rejects(
      verifyCustomAction(toLambdaEvent(signed, { base64: true }) as never, kit.verifyOptions),
      /app-sdk\/lambda/,
    );
  });

  test('a verified body that is not a custom action is a TypeError', async () => {
    for (const body of ['not json', '[1,2]', '{"type":"external_integration"}', 'null']) {
      await assert.rejects(verifyCustomAction(kit.sign(body), kit.verifyOptions), TypeError);
    }
  });

  test('a bad signature throws SignatureError with a code', async () => {
    const signed = kit.sign();
    const other = createTestKit();
    await assert.rejects(verifyCustomAction(signed, other.verifyOptions), (error) => {
      assert.ok(error instanceof SignatureError);
      assert.equal(error.code, 'no_valid_signature');
      assert.equal(error.name, 'SignatureError');
      return true;
    });
  });
});

describe('verifyEpilotSignature', () => {
  test('a Node request-like object with the raw body (string or Buffer)', async () => {
    const signed = kit.sign();
    assert.equal(await verifyEpilotSignature({ headers: signed.headers, body: signed.body }, kit.verifyOptions), true);
    assert.equal(
      await verifyEpilotSignature({ headers: signed.headers, body: Buffer.from(signed.body) }, kit.verifyOptions),
      true,
    );
  });

  test('{request: {headers, requestBody}} with a parsed body is checked over JSON.stringify, like epilot', async () => {
    const payload = kit.payload();
    const compact = kit.sign(JSON.stringify(payload));
    const input = { request: { headers: compact.headers, requestBody: payload } };
    assert.equal(await verifyEpilotSignature(input, kit.verifyOptions), true);
    // The limit of that path: a sender whose JSON differs from JSON.stringify (here: indentation).
    const pretty = kit.sign(JSON.stringify(payload, null, 2));
    assert.equal(
      await verifyEpilotSignature({ request: { headers: pretty.headers, requestBody: payload } }, kit.verifyOptions),
      false,
    );
    // ...which the raw body fixes.
    assert.equal(
      await verifyEpilotSignature(
        { request: { headers: pretty.headers, requestBody: pretty.body } },
        kit.verifyOptions,
      ),
      true,
    );
  });

  test('false on every verification failure', async () => {
    const signed = kit.sign();
    const other = createTestKit();
    assert.equal(await verifyEpilotSignature(signed, other.verifyOptions), false);
    assert.equal(await verifyEpilotSignature({ headers: {}, body: signed.body }, kit.verifyOptions), false);
    assert.equal(
      await verifyEpilotSignature({ headers: signed.headers, body: `${signed.body} ` }, kit.verifyOptions),
      false,
    );
    assert.equal(await verifyEpilotSignature(signed), false); // no key anywhere
  });

  test('invalid options still throw a TypeError', async () => {
    await assert.rejects(verifyEpilotSignature(kit.sign(), { toleranceSeconds: -1 }), TypeError);
  });
});

describe('keys from the environment', () => {
  test('ACTIONBRIDGE_PUBLIC_KEY as PEM, as whpk_, and as several keys', async () => {
    const signed = kit.sign();
    process.env.ACTIONBRIDGE_PUBLIC_KEY = kit.keys.publicKeyPem;
    assert.equal((await verifyCustomAction(signed)).type, 'external_integration');
    process.env.ACTIONBRIDGE_PUBLIC_KEY = kit.keys.whpk;
    assert.equal(await verifyEpilotSignature(signed), true);
    process.env.ACTIONBRIDGE_PUBLIC_KEY = `${generateTestKeyPair().whpk} ${kit.keys.whpk}`;
    assert.equal(await verifyEpilotSignature(signed), true);
    process.env.ACTIONBRIDGE_PUBLIC_KEY = generateTestKeyPair().publicKeyPem;
    assert.equal(await verifyEpilotSignature(signed), false);
  });

  test('a bad ACTIONBRIDGE_PUBLIC_KEY is a TypeError naming the variable', async () => {
    process.env.ACTIONBRIDGE_PUBLIC_KEY = 'not a key';
    await assert.rejects(verifyCustomAction(kit.sign()), /ACTIONBRIDGE_PUBLIC_KEY/);
  });

  test('options win over the environment', async () => {
    process.env.ACTIONBRIDGE_PUBLIC_KEY = generateTestKeyPair().publicKeyPem;
    assert.equal(await verifyEpilotSignature(kit.sign(), kit.verifyOptions), true);
  });

  describe('ACTIONBRIDGE_PUBLIC_KEY_URL', () => {
    const servers: Array<{ close(): Promise<void> }> = [];
    after(async () => {
      for (const server of servers) await server.close();
    });

    test('the single-key public-key document (epilot shape)', async () => {
      const server = await serveKeyDocuments([kit.keys]);
      servers.push(server);
      process.env.ACTIONBRIDGE_PUBLIC_KEY_URL = server.publicKeyUrl;
      assert.equal(await verifyEpilotSignature(kit.sign()), true);
      assert.equal(await verifyEpilotSignature(kit.sign()), true);
      assert.equal((await verifyCustomAction(kit.sign())).type, 'external_integration');
      assert.equal(server.requests, 1, 'the key is fetched once and cached');
    });

    test('the public-keys document (every active key)', async () => {
      const retiring = generateTestKeyPair();
      const server = await serveKeyDocuments([generateTestKeyPair(), retiring, kit.keys]);
      servers.push(server);
      process.env.ACTIONBRIDGE_PUBLIC_KEY_URL = server.url;
      assert.equal(await verifyEpilotSignature(kit.sign()), true);
      assert.equal(await verifyEpilotSignature(signTestRequest('{}', { privateKey: retiring.privateKey })), true);
      assert.equal(server.requests, 1);
    });
  });
});

describe('createVerifier', () => {
  test('validates options once, up front', () => {
    assert.throws(() => createVerifier({ publicKey: 'nope' }), TypeError);
    assert.throws(() => createVerifier({ tolerance: 5 } as never), /unknown option "tolerance"/);
  });

  test('verifies like the functions', async () => {
    const verifier = createVerifier(kit.verifyOptions);
    const signed = kit.sign(buildCustomActionPayload({ org_id: 'org_x' }));
    assert.equal((await verifier.verifyCustomAction(signed)).data.org_id, 'org_x');
    assert.equal(await verifier.verifyEpilotSignature(signed), true);
    assert.equal((await verifier.verifyWebhook(signed)).id, signed.id);
  });
});

describe('repeated webhook-signature headers', () => {
  test('every value counts, joined by Node/Fetch (", ") or given as an array', async () => {
    const signed = kit.sign();
    const valid = String(signed.headers['webhook-signature']);
    const junk = 'v1a,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==';
    for (const header of [`${junk}, ${valid}`, [junk, valid]]) {
      const payload = await verifyCustomAction(
        { headers: { ...signed.headers, 'webhook-signature': header }, body: signed.body },
        kit.verifyOptions,
      );
      assert.equal(payload.type, 'external_integration');
    }
  });
});
