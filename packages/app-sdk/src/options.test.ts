import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { resolveVerifyOptions, type VerifyOptions } from './options.js';
import { generateTestKeyPair } from './testing/index.js';

const key = generateTestKeyPair();

function rejects(options: unknown, message: RegExp): void {
  assert.throws(
    () => resolveVerifyOptions(options as VerifyOptions),
    (error) => {
      assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('invalid options throw a TypeError naming the option', () => {
  test('not an object, unknown names', () => {
    rejects(null, /options must be an object/);
    rejects('key', /options must be an object/);
    rejects({ tolerance: 300 }, /unknown option "tolerance"/);
  });

  test('keys', () => {
    rejects({ publicKey: 'not a key' }, /options\.publicKey/);
    rejects({ publicKey: 'whpk_AAAA' }, /options\.publicKey: whpk_ key must hold 32 bytes/);
    rejects({ publicKey: [key.publicKeyPem, 42] }, /options\.publicKey\[1\] must be a PEM string/);
    rejects({ publicKey: key.privateKey.export({ format: 'pem', type: 'pkcs8' }) }, /options\.publicKey/);
    rejects({ publicKey: generateRsaPem() }, /Ed25519/);
    rejects({ secret: 'secret' }, /options\.secret: HMAC secrets start with whsec_/);
    rejects({ secret: 'whsec_AAAA' }, /too short/);
    rejects({ secret: [42] }, /options\.secret\[0\]/);
  });

  test('URLs', () => {
    rejects({ publicKeyUrl: 'not a url' }, /options\.publicKeyUrl is not a valid URL/);
    rejects({ publicKeyUrl: 'file:///etc/passwd' }, /http or https/);
    rejects({ publicKeyUrl: '' }, /options\.publicKeyUrl/);
  });

  test('numbers', () => {
    rejects({ toleranceSeconds: -1 }, /options\.toleranceSeconds must be a finite non-negative number/);
    rejects({ toleranceSeconds: '300' }, /options\.toleranceSeconds/);
    rejects({ toleranceSeconds: Number.NaN }, /options\.toleranceSeconds/);
    rejects({ keyRefreshIntervalSeconds: -5 }, /options\.keyRefreshIntervalSeconds/);
    rejects({ keyCacheTtlSeconds: Number.POSITIVE_INFINITY }, /options\.keyCacheTtlSeconds/);
    rejects({ keyFetchTimeoutMs: 0 }, /options\.keyFetchTimeoutMs/);
    rejects({ maxSignatures: 0 }, /options\.maxSignatures/);
    rejects({ maxSignatures: 1.5 }, /options\.maxSignatures/);
  });

  test('now', () => {
    rejects({ now: Date.now() }, /looks like milliseconds/);
    rejects({ now: new Date(Number.NaN) }, /invalid Date/);
    rejects({ now: '2026-01-01' }, /options\.now/);
  });
});

describe('valid options', () => {
  test('defaults', () => {
    const resolved = resolveVerifyOptions({ publicKey: key.publicKey });
    assert.equal(resolved.toleranceSeconds, 300);
    assert.equal(resolved.maxSignatures, 8);
    assert.equal(resolved.keys.length, 1);
    assert.equal(resolved.source, undefined);
  });

  test('a key string is parsed once and the KeyObject reused', () => {
    const a = resolveVerifyOptions({ publicKey: key.publicKeyPem });
    const b = resolveVerifyOptions({ publicKey: key.publicKeyPem });
    assert.equal(a.keys[0], b.keys[0]);
  });

  test('calls with the same key URL and timings share one key source', () => {
    const url = 'http://127.0.0.1:9/keys';
    assert.equal(
      resolveVerifyOptions({ publicKeyUrl: url }).source,
      resolveVerifyOptions({ publicKeyUrl: url }).source,
    );
    assert.notEqual(
      resolveVerifyOptions({ publicKeyUrl: url }).source,
      resolveVerifyOptions({ publicKeyUrl: url }, true).source,
    );
  });
});

function generateRsaPem(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

describe('private keys are never trusted keys', () => {
  test('a private KeyObject is refused like a private PEM', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    assert.throws(() => resolveVerifyOptions({ publicKey: privateKey }), /private key/);
  });
});
