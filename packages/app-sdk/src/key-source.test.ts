import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { rejectsWith } from './assertions.test-helper.js';
import { parseKeyDocument } from './key-source.js';
import {
  generateTestKeyPair,
  type KeyDocumentServer,
  publicKeysDocument,
  serveKeyDocuments,
  signTestRequest,
  type TestKeyPair,
} from './testing/index.js';
import { createVerifier } from './verify.js';

const servers: KeyDocumentServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function serve(pairs: TestKeyPair[]): Promise<KeyDocumentServer> {
  const server = await serveKeyDocuments(pairs);
  servers.push(server);
  return server;
}

const signedBy = (pair: TestKeyPair) => signTestRequest('{"data":{}}', { privateKey: pair.privateKey });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('key rotation', () => {
  test('a switched key is followed with one refetch; another unknown key within the window is not', async () => {
    const [oldKey, newKey, unknownKey] = [generateTestKeyPair(), generateTestKeyPair(), generateTestKeyPair()];
    const server = await serve([oldKey]);
    const verifier = createVerifier({ publicKeyUrl: server.url });

    await verifier.verifyWebhook(signedBy(oldKey));
    await verifier.verifyWebhook(signedBy(oldKey));
    assert.equal(server.requests, 1, 'fetched once, then cached');

    server.setKeys([newKey]);
    const verified = await verifier.verifyWebhook(signedBy(newKey));
    assert.equal(verified.version, 'v1a');
    assert.equal(verified.kid, publicKeysDocument([newKey]).keys[0]?.kid);
    assert.equal(server.requests, 2, 'one refetch on the unknown signature');

    await rejectsWith(verifier.verifyWebhook(signedBy(unknownKey)), 'no_valid_signature');
    assert.equal(server.requests, 2, 'no refetch within the rate-limit window');
    await verifier.verifyWebhook(signedBy(newKey));
    assert.equal(server.requests, 2);
  });

  test('primary and retiring keys are both trusted', async () => {
    const [primary, retiring] = [generateTestKeyPair(), generateTestKeyPair()];
    const server = await serve([primary, retiring]);
    const verifier = createVerifier({ publicKeyUrl: server.url });
    await verifier.verifyWebhook(signedBy(primary));
    await verifier.verifyWebhook(signedBy(retiring));
    assert.equal(server.requests, 1);
  });

  test('concurrent misses share one refetch', async () => {
    const [oldKey, newKey] = [generateTestKeyPair(), generateTestKeyPair()];
    const server = await serve([oldKey]);
    const verifier = createVerifier({ publicKeyUrl: server.url });
    await verifier.verifyWebhook(signedBy(oldKey));
    server.setKeys([newKey, oldKey]);
    await Promise.all(Array.from({ length: 5 }, () => verifier.verifyWebhook(signedBy(newKey))));
    assert.equal(server.requests, 2);
  });

  test('a short keyRefreshIntervalSeconds refetches on a miss once the interval has passed', async () => {
    const [key, unknownKey] = [generateTestKeyPair(), generateTestKeyPair()];
    const server = await serve([key]);
    const verifier = createVerifier({ publicKeyUrl: server.url, keyRefreshIntervalSeconds: 0.1 });
    await verifier.verifyWebhook(signedBy(key));
    await sleep(150);
    await rejectsWith(verifier.verifyWebhook(signedBy(unknownKey)), 'no_valid_signature');
    await sleep(150);
    await rejectsWith(verifier.verifyWebhook(signedBy(unknownKey)), 'no_valid_signature');
    assert.equal(server.requests, 3);
  });

  test('refresh settings below 0.1 s are refused (they would turn junk traffic into key fetches)', () => {
    assert.throws(
      () => createVerifier({ publicKeyUrl: 'http://localhost:1/k', keyRefreshIntervalSeconds: 0 }),
      /at least 0.1/,
    );
    assert.throws(
      () => createVerifier({ publicKeyUrl: 'http://localhost:1/k', keyCacheTtlSeconds: 0 }),
      /at least 0.1/,
    );
    assert.throws(() => createVerifier({ publicKeyUrl: 'http://keys.example.com/k' }), /must use https/);
  });

  test('a junk signature on first use costs one fetch, not two', async () => {
    const server = await serve([generateTestKeyPair()]);
    const verifier = createVerifier({ publicKeyUrl: server.url });
    await rejectsWith(verifier.verifyWebhook(signedBy(generateTestKeyPair())), 'no_valid_signature');
    assert.equal(server.requests, 1);
  });

  test('the single-key public-key document works as a key URL', async () => {
    const key = generateTestKeyPair();
    const server = await serve([key]);
    await createVerifier({ publicKeyUrl: server.publicKeyUrl }).verifyWebhook(signedBy(key));
  });
});

describe('key URL failures', () => {
  test('an unreachable key URL: key_unavailable naming the URL, then recovery', async () => {
    const key = generateTestKeyPair();
    const server = await serve([key]);
    server.fail(503);
    const verifier = createVerifier({ publicKeyUrl: server.url, keyRefreshIntervalSeconds: 0.1 });
    const error = await rejectsWith(verifier.verifyWebhook(signedBy(key)), 'key_unavailable');
    assert.match(error.message, /could not be fetched: GET .* answered 503/);
    server.fail(undefined);
    await sleep(150);
    await verifier.verifyWebhook(signedBy(key));
  });

  test('a failing refetch keeps the keys already cached', async () => {
    const key = generateTestKeyPair();
    const server = await serve([key]);
    const verifier = createVerifier({
      publicKeyUrl: server.url,
      keyCacheTtlSeconds: 0.1,
      keyRefreshIntervalSeconds: 0.1,
    });
    await verifier.verifyWebhook(signedBy(key));
    server.fail(500);
    await sleep(150);
    await verifier.verifyWebhook(signedBy(key));
    await verifier.verifyWebhook(signedBy(key));
    await rejectsWith(verifier.verifyWebhook(signedBy(generateTestKeyPair())), 'no_valid_signature');
  });

  test('a static key still verifies while the key URL is down', async () => {
    const [key, fetched] = [generateTestKeyPair(), generateTestKeyPair()];
    const server = await serve([fetched]);
    server.fail(500);
    const verifier = createVerifier({ publicKey: key.whpk, publicKeyUrl: server.url });
    await verifier.verifyWebhook(signedBy(key));
    assert.equal(server.requests, 0, 'static keys are tried before the URL');
  });

  test('a refused connection: key_unavailable', async () => {
    const server = await serve([]);
    const url = server.url;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await rejectsWith(
      createVerifier({ publicKeyUrl: url, keyFetchTimeoutMs: 2000 }).verifyWebhook(signedBy(generateTestKeyPair())),
      'key_unavailable',
    );
  });
});

describe('parseKeyDocument', () => {
  const [a, b] = [generateTestKeyPair(), generateTestKeyPair()];

  test('the public-key shape', () => {
    const keys = parseKeyDocument({ algorithm: 'ed25519', issuer: 'x', public_key: a.publicKeyPem });
    assert.deepEqual(
      keys.map((k) => k.id),
      [a.whpk],
    );
  });

  test('the public-keys shape, with kids; unusable entries skipped', () => {
    const doc = publicKeysDocument([a, b]);
    const keys = parseKeyDocument({
      ...doc,
      keys: [
        ...doc.keys,
        { ...doc.keys[0], status: 'retired', whpk: generateTestKeyPair().whpk, public_key: undefined },
        { kid: 'rsa', algorithm: 'rs256', public_key: 'x' },
        { kid: 'broken', algorithm: 'ed25519', public_key: 'garbage' },
        null,
      ],
    });
    assert.deepEqual(
      keys.map((k) => [k.id, k.kid]),
      doc.keys.map((k) => [k.whpk, k.kid]),
    );
  });

  test('no usable key is a TypeError', () => {
    assert.throws(() => parseKeyDocument({ keys: [] }), TypeError);
    assert.throws(() => parseKeyDocument('text'), TypeError);
    assert.throws(() => parseKeyDocument({ public_key: 'nope' }), TypeError);
  });
});
