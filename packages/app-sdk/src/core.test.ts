import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { rejectsWith } from './assertions.test-helper.js';
import { parsePrivateKey } from './keys.js';
import type { VerifyOptions } from './options.js';
import { signWebhook } from './signing.js';
import { generateTestKeyPair, generateTestSecret, signTestRequest } from './testing/index.js';
import { verifyWebhook, type WebhookRequest } from './verify.js';

delete process.env.ACTIONBRIDGE_PUBLIC_KEY;
delete process.env.ACTIONBRIDGE_PUBLIC_KEY_URL;

interface Vectors {
  v1: { secret: string; msg_id: string; timestamp: number; payload: string; signature: string };
  v1a: {
    secret_key: string;
    public_key: string;
    public_key_pem: string;
    msg_id: string;
    timestamp: number;
    payload: string;
    signature: string;
  };
}

/**
 * The published vectors ship with the SDK's tests in `test/fixtures`, a sibling of both `src/` and
 * `dist/`, so this resolves the same from the compiled test that runs and from its source.
 */
function loadVectors(): Vectors {
  const file = new URL('../test/fixtures/standard-webhooks.json', import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')) as Vectors;
}

const vectors = loadVectors();

function vectorRequest(v: { msg_id: string; timestamp: number; payload: string; signature: string }): WebhookRequest {
  return {
    headers: { 'webhook-id': v.msg_id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.signature },
    body: v.payload,
  };
}

/** Flips the lowest bit of one character, keeping digits digits. */
function flipChar(text: string, i: number): string {
  return text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ 1) + text.slice(i + 1);
}

describe('published vectors', () => {
  const v1aOptions: VerifyOptions = { publicKey: vectors.v1a.public_key, now: vectors.v1a.timestamp };

  test('v1a verifies with the whpk_ key', async () => {
    const verified = await verifyWebhook(vectorRequest(vectors.v1a), v1aOptions);
    assert.equal(verified.version, 'v1a');
    assert.equal(verified.id, vectors.v1a.msg_id);
    assert.equal(verified.timestamp, vectors.v1a.timestamp);
    assert.equal(verified.body.toString(), vectors.v1a.payload);
  });

  test('v1a verifies with the PEM key', async () => {
    const verified = await verifyWebhook(vectorRequest(vectors.v1a), {
      publicKey: vectors.v1a.public_key_pem,
      now: vectors.v1a.timestamp,
    });
    assert.equal(verified.version, 'v1a');
  });

  test('v1 verifies with the whsec_ secret', async () => {
    const verified = await verifyWebhook(vectorRequest(vectors.v1), {
      secret: vectors.v1.secret,
      now: vectors.v1.timestamp,
    });
    assert.equal(verified.version, 'v1');
  });

  test('signWebhook reproduces both vector signatures', () => {
    const message = { id: vectors.v1a.msg_id, timestamp: vectors.v1a.timestamp, body: vectors.v1a.payload };
    assert.equal(signWebhook(message, { ed25519: [parsePrivateKey(vectors.v1a.secret_key)] }), vectors.v1a.signature);
    assert.equal(
      signWebhook(
        { id: vectors.v1.msg_id, timestamp: vectors.v1.timestamp, body: vectors.v1.payload },
        {
          hmac: [vectors.v1.secret],
        },
      ),
      vectors.v1.signature,
    );
  });

  test('the vectors fail at the current time (timestamp far in the past)', async () => {
    await rejectsWith(
      verifyWebhook(vectorRequest(vectors.v1a), { publicKey: vectors.v1a.public_key }),
      'timestamp_out_of_tolerance',
    );
  });
});

describe('tampering', () => {
  for (const [name, v, options] of [
    ['v1a', vectors.v1a, { publicKey: vectors.v1a.public_key, now: vectors.v1a.timestamp }],
    ['v1', vectors.v1, { secret: vectors.v1.secret, now: vectors.v1.timestamp }],
  ] as const) {
    test(`${name}: every flipped byte of the id fails`, async () => {
      for (let i = 0; i < v.msg_id.length; i++) {
        await rejectsWith(
          verifyWebhook(vectorRequest({ ...v, msg_id: flipChar(v.msg_id, i) }), options),
          'no_valid_signature',
        );
      }
    });

    test(`${name}: a flipped timestamp fails`, async () => {
      const ts = String(v.timestamp);
      // The last digit keeps the time within tolerance, so the signature itself must catch it.
      const request = vectorRequest(v);
      const headers = request.headers as Record<string, string>;
      await rejectsWith(
        verifyWebhook(
          { ...request, headers: { ...headers, 'webhook-timestamp': flipChar(ts, ts.length - 1) } },
          options,
        ),
        'no_valid_signature',
      );
      // A changed timestamp is also a changed signed content when the clock agrees with it.
      for (let i = 0; i < ts.length; i++) {
        const flipped = flipChar(ts, i);
        await rejectsWith(
          verifyWebhook(
            { ...request, headers: { ...headers, 'webhook-timestamp': flipped } },
            { ...options, now: Number(flipped) },
          ),
          'no_valid_signature',
        );
      }
    });

    test(`${name}: every flipped bit of the body fails`, async () => {
      const body = Buffer.from(v.payload);
      for (let i = 0; i < body.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const tampered = Buffer.from(body);
          tampered[i] = (tampered[i] as number) ^ (1 << bit);
          await rejectsWith(verifyWebhook({ ...vectorRequest(v), body: tampered }, options), 'no_valid_signature');
        }
      }
    });

    test(`${name}: every flipped byte of the signature fails`, async () => {
      const [version, value] = v.signature.split(',') as [string, string];
      const raw = Buffer.from(value, 'base64');
      for (let i = 0; i < raw.length; i++) {
        const tampered = Buffer.from(raw);
        tampered[i] = (tampered[i] as number) ^ 0x01;
        const signature = `${version},${tampered.toString('base64')}`;
        await rejectsWith(verifyWebhook(vectorRequest({ ...v, signature }), options), 'no_valid_signature');
      }
    });

    test(`${name}: a truncated or mangled signature is malformed`, async () => {
      const [version, value] = v.signature.split(',') as [string, string];
      for (const signature of [`${version},${value.slice(0, -4)}`, `${version},${value.slice(1)}!`, `${version},`]) {
        await rejectsWith(verifyWebhook(vectorRequest({ ...v, signature }), options), 'malformed_signature');
      }
    });
  }
});

describe('timestamp tolerance', () => {
  const keys = generateTestKeyPair();
  const timestamp = 1_800_000_000;
  const signed = signTestRequest('{"ok":true}', { privateKey: keys.privateKey, timestamp });

  test('±300 s passes, ±301 s fails', async () => {
    for (const delta of [-300, -1, 0, 1, 300]) {
      await verifyWebhook(signed, { publicKey: keys.publicKey, now: timestamp + delta });
    }
    for (const delta of [-301, 301, 86_400]) {
      await rejectsWith(
        verifyWebhook(signed, { publicKey: keys.publicKey, now: timestamp + delta }),
        'timestamp_out_of_tolerance',
      );
    }
  });

  test('the tolerance is configurable', async () => {
    const options = { publicKey: keys.publicKey, toleranceSeconds: 10 };
    await verifyWebhook(signed, { ...options, now: timestamp + 10 });
    await rejectsWith(verifyWebhook(signed, { ...options, now: timestamp - 11 }), 'timestamp_out_of_tolerance');
  });

  test('now accepts a Date and a function', async () => {
    await verifyWebhook(signed, { publicKey: keys.publicKey, now: new Date(timestamp * 1000) });
    await verifyWebhook(signed, { publicKey: keys.publicKey, now: () => timestamp + 5 });
  });
});

describe('signature header', () => {
  const keys = generateTestKeyPair();
  const other = generateTestKeyPair();
  const secret = generateTestSecret();
  const timestamp = 1_800_000_000;
  const body = '{"type":"external_integration","data":{}}';
  const good = signTestRequest(body, { privateKey: keys.privateKey, timestamp });
  const goodValue = good.headers['webhook-signature'] as string;
  const wrong = signTestRequest(body, { privateKey: other.privateKey, timestamp, id: good.id });
  const wrongValue = wrong.headers['webhook-signature'] as string;
  const withSignature = (signature: string): WebhookRequest => ({
    headers: { ...good.headers, 'webhook-signature': signature },
    body,
  });
  const options = { publicKey: keys.publicKey, now: timestamp };

  test('unknown versions and junk entries are ignored; any valid v1a counts', async () => {
    const header = [
      'v2,AAAA',
      'junk',
      ',',
      'v1a',
      'v1a,not*base64',
      wrongValue,
      'v1,c2hvcnQ=',
      goodValue,
      'v9,Zm9vYmFy',
    ].join(' ');
    const verified = await verifyWebhook(withSignature(header), options);
    assert.equal(verified.version, 'v1a');
  });

  test('tabs and repeated spaces separate entries too', async () => {
    await verifyWebhook(withSignature(`v2,xyz\t ${wrongValue}   ${goodValue} `), options);
  });

  test('any trusted key: the second of several keys verifies', async () => {
    await verifyWebhook(good, { publicKey: [other.publicKeyPem, keys.whpk], now: timestamp });
    // several keys in one string, as ACTIONBRIDGE_PUBLIC_KEY may hold them
    await verifyWebhook(good, { publicKey: `${other.whpk}, ${keys.whpk}`, now: timestamp });
    await verifyWebhook(good, { publicKey: `${other.publicKeyPem}\n${keys.publicKeyPem}`, now: timestamp });
  });

  test('v1 with any trusted secret; v1a and v1 together', async () => {
    const signed = signTestRequest(body, { privateKey: other.privateKey, secret, timestamp });
    const verified = await verifyWebhook(signed, { ...options, secret: [generateTestSecret(), secret] });
    assert.equal(verified.version, 'v1');
    await rejectsWith(verifyWebhook(signed, { ...options, secret: generateTestSecret() }), 'no_valid_signature');
  });

  test('only unknown versions or junk: malformed_signature', async () => {
    for (const header of ['v2,AAAA', 'junk more-junk', 'v1a,!!!', 'v1,abc', `v1b,${goodValue.slice(4)}`]) {
      await rejectsWith(verifyWebhook(withSignature(header), options), 'malformed_signature');
    }
  });

  test('well-formed entries that do not verify: no_valid_signature', async () => {
    await rejectsWith(verifyWebhook(withSignature(wrongValue), options), 'no_valid_signature');
  });

  test('at most maxSignatures entries are checked', async () => {
    const header = `${wrongValue} ${wrongValue} ${goodValue}`;
    await rejectsWith(verifyWebhook(withSignature(header), { ...options, maxSignatures: 2 }), 'no_valid_signature');
    await verifyWebhook(withSignature(header), { ...options, maxSignatures: 3 });
  });
});

describe('headers and error codes', () => {
  const keys = generateTestKeyPair();
  const timestamp = 1_800_000_000;
  const signed = signTestRequest('{}', { privateKey: keys.privateKey, timestamp, accessToken: 'tok' });
  const options = { publicKey: keys.publicKey, now: timestamp };

  test('each missing webhook-* header: missing_header', async () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const headers = { ...signed.headers };
      delete headers[name];
      const error = await rejectsWith(verifyWebhook({ headers, body: signed.body }, options), 'missing_header');
      assert.match(error.message, new RegExp(name));
      await rejectsWith(
        verifyWebhook({ headers: { ...headers, [name]: '' }, body: signed.body }, options),
        'missing_header',
      );
    }
  });

  test('a timestamp that is not integer seconds: malformed_signature', async () => {
    for (const ts of ['1800000000.5', 'abc', '-1800000000', '1e9', '0x6b49d200', '1800000000000000']) {
      await rejectsWith(
        verifyWebhook({ headers: { ...signed.headers, 'webhook-timestamp': ts }, body: signed.body }, options),
        'malformed_signature',
      );
    }
  });

  test('no key configured: key_unavailable', async () => {
    const error = await rejectsWith(verifyWebhook(signed, { now: timestamp }), 'key_unavailable');
    assert.match(error.message, /ACTIONBRIDGE_PUBLIC_KEY/);
  });

  test('only v1 signatures and no secret: key_unavailable', async () => {
    const hmacOnly = signTestRequest('{}', { secret: generateTestSecret(), timestamp });
    const error = await rejectsWith(verifyWebhook(hmacOnly, options), 'key_unavailable');
    assert.match(error.message, /whsec_/);
  });

  test('header names in any case, Fetch Headers, arrays take the first value', async () => {
    const shouting = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toUpperCase(), v]));
    await verifyWebhook({ headers: shouting, body: signed.body }, options);
    const mixed = Object.fromEntries(
      Object.entries(signed.headers).map(([k, v]) => [k.replace(/(^|-)(\w)/g, (m) => m.toUpperCase()), v]),
    );
    await verifyWebhook({ headers: mixed, body: signed.body }, options);
    await verifyWebhook({ headers: new Headers(signed.headers), body: signed.body }, options);
    const arrays = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, [v, 'ignored']]));
    await verifyWebhook({ headers: arrays, body: signed.body }, options);
  });

  test('body as string, Buffer, Uint8Array or ArrayBuffer', async () => {
    const bytes = Buffer.from(signed.body);
    for (const body of [
      signed.body,
      bytes,
      new Uint8Array(bytes),
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    ]) {
      await verifyWebhook({ headers: signed.headers, body }, options);
    }
  });

  test('the verified result carries id, timestamp, version and body', async () => {
    const verified = await verifyWebhook(signed, options);
    assert.deepEqual(
      { id: verified.id, timestamp: verified.timestamp, version: verified.version, body: verified.body.toString() },
      { id: signed.id, timestamp, version: 'v1a', body: '{}' },
    );
  });
});
