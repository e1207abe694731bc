import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { parsePublicKey, signedContent, signWebhook } from '@actionbridge/app-sdk';
import { useKeyStore } from '../testing/key-store.js';
import { DEFAULT_RETIRE_AFTER_MS, KeyRing } from './keyring.js';

/** Which of `ring`'s active keys produced the signatures a webhook gets now. */
function signers(ring: KeyRing): string[] {
  const msg = { id: 'msg_1', timestamp: 1_700_000_000, body: '{}' };
  const sigs = signWebhook(msg, { ed25519: ring.active().map((k) => k.privateKey) }).split(' ');
  return sigs.map((s) => {
    const key = ring
      .active()
      .find((k) => verify(null, signedContent(msg), k.publicKey, Buffer.from(s.slice(4), 'base64')));
    return key?.kid ?? 'unknown';
  });
}

describe('KeyRing', () => {
  const env = useKeyStore();

  it('creates one primary Ed25519 key on first open, and keeps it on the next', async () => {
    const ring = await KeyRing.open(env.store, 'webhook');
    assert.equal(ring.active().length, 1);
    const k = ring.primary();
    assert.equal(k.status, 'primary');
    assert.equal(k.retire_at, null);
    assert.match(k.kid, /^whk_/);
    assert.equal(k.publicKey.asymmetricKeyType, 'ed25519');
    assert.equal(k.privateKey.asymmetricKeyType, 'ed25519');
    assert.equal(k.publicPem, createPublicKey(k.privateKey).export({ format: 'pem', type: 'spki' }).toString());
    assert.equal(ring.find(k.kid), k);

    const again = await KeyRing.open(env.store, 'webhook');
    assert.deepEqual(
      again.active().map((x) => x.kid),
      [k.kid],
    );
    const tokens = await KeyRing.open(env.store, 'token');
    assert.match(tokens.primary().kid, /^atk_/, 'each purpose has its own key');
    assert.notEqual(tokens.primary().kid, k.kid);
    assert.equal((await env.store.listSigningKeys('webhook')).length, 1);
  });

  it('rotates: a new primary, the old key retiring in 7 days by default, both signing', async () => {
    const ring = await KeyRing.open(env.store, 'webhook');
    const old = ring.primary();
    const before = Date.now();
    const fresh = await ring.rotate();
    assert.notEqual(fresh.kid, old.kid);
    assert.equal(ring.primary().kid, fresh.kid);
    assert.equal(DEFAULT_RETIRE_AFTER_MS, 7 * 24 * 3600 * 1000);
    const retiring = ring.find(old.kid);
    assert.equal(retiring?.status, 'retiring');
    const retireAt = Date.parse(retiring?.retire_at ?? '');
    assert.ok(retireAt >= before + DEFAULT_RETIRE_AFTER_MS && retireAt <= Date.now() + DEFAULT_RETIRE_AFTER_MS);
    assert.deepEqual(
      ring.active().map((k) => [k.kid, k.status]),
      [
        [fresh.kid, 'primary'],
        [old.kid, 'retiring'],
      ],
    );
    assert.deepEqual(signers(ring), [fresh.kid, old.kid]);
    const described = KeyRing.describe(retiring!);
    assert.deepEqual(
      { ...described, whpk: undefined },
      {
        kid: old.kid,
        algorithm: 'ed25519',
        public_key: old.publicPem,
        whpk: undefined,
        status: 'retiring',
        created_at: old.created_at,
        retire_at: retiring?.retire_at,
      },
    );
    assert.equal(parsePublicKey(described.whpk).export({ format: 'pem', type: 'spki' }).toString(), old.publicPem);
  });

  it('a retiring key stops signing at its retire time, even before the ring is reloaded', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const ring = await KeyRing.open(env.store, 'webhook');
    const old = ring.primary();
    const fresh = await ring.rotate(60_000);
    assert.deepEqual(signers(ring), [fresh.kid, old.kid]);
    t.mock.timers.tick(59_999);
    assert.deepEqual(signers(ring), [fresh.kid, old.kid], 'a millisecond before its retire time it still signs');
    assert.ok(ring.find(old.kid));
    t.mock.timers.tick(1);
    assert.deepEqual(
      ring.active().map((k) => k.kid),
      [fresh.kid],
    );
    assert.equal(ring.find(old.kid), undefined, 'its signatures are not accepted either');
    assert.deepEqual(signers(ring), [fresh.kid]);
  });

  it('reloading marks expired keys retired in the store, for every process', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const ring = await KeyRing.open(env.store, 'webhook');
    const old = ring.primary();
    const fresh = await ring.rotate(60_000);
    t.mock.timers.tick(59_999);
    await ring.reload();
    assert.equal((await env.store.listSigningKeys('webhook')).length, 2, 'not yet');
    t.mock.timers.tick(1);
    await ring.reload();
    assert.deepEqual(
      (await env.store.listSigningKeys('webhook')).map((r) => r.kid),
      [fresh.kid],
      'the old key is retired in the database',
    );
    const elsewhere = await KeyRing.open(env.store, 'webhook');
    assert.deepEqual(
      elsewhere.active().map((k) => k.kid),
      [fresh.kid],
    );
    assert.deepEqual(signers(elsewhere), [fresh.kid]);
    assert.equal(elsewhere.find(old.kid), undefined);
  });

  it('keeps several retiring keys in order, each with its own retire time: primary first, then newest', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const ring = await KeyRing.open(env.store, 'token');
    t.mock.timers.tick(5);
    const first = ring.primary();
    const second = await ring.rotate(60_000);
    const firstRetireAt = ring.find(first.kid)?.retire_at;
    t.mock.timers.tick(5);
    const third = await ring.rotate(120_000);
    assert.equal(
      ring.find(first.kid)?.retire_at,
      firstRetireAt,
      'a second rotation leaves the first retire time alone',
    );
    assert.ok(Date.parse(ring.find(second.kid)?.retire_at ?? '') > Date.parse(firstRetireAt ?? ''));
    assert.deepEqual(
      ring.active().map((k) => [k.kid, k.status]),
      [
        [third.kid, 'primary'],
        [second.kid, 'retiring'],
        [first.kid, 'retiring'],
      ],
    );
    const other = await KeyRing.open(env.store, 'token');
    assert.deepEqual(
      other.active().map((k) => k.kid),
      [third.kid, second.kid, first.kid],
    );
  });

  it('picks up another process’s rotation on reload, at most once per interval on demand', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const mine = await KeyRing.open(env.store, 'webhook');
    const theirs = await KeyRing.open(env.store, 'webhook');
    const rotated = await theirs.rotate();
    assert.equal(mine.find(rotated.kid), undefined, 'not seen before a reload');
    await mine.reloadIfStale(60_000);
    assert.equal(mine.primary().kid, rotated.kid, 'the first on-demand reload reads it');
    const again = await theirs.rotate();
    await mine.reloadIfStale(60_000);
    assert.equal(mine.find(again.kid), undefined, 'a second on-demand reload within the interval does nothing');
    await mine.reload();
    assert.equal(mine.primary().kid, again.kid, 'a scheduled reload always reads');
    const third = await theirs.rotate();
    t.mock.timers.tick(59_999);
    await mine.reloadIfStale(60_000);
    assert.equal(mine.find(third.kid), undefined, 'a millisecond before the interval ends: still nothing');
    t.mock.timers.tick(1);
    await mine.reloadIfStale(60_000);
    assert.equal(mine.primary().kid, third.kid, 'once the interval has passed an on-demand reload reads again');
  });

  it('lists the primary first even when a retiring key was created later (clocks of processes differ)', async () => {
    const ring = await KeyRing.open(env.store, 'webhook');
    const primary = ring.primary();
    // Another process, its clock ahead, wrote a key that is already retiring.
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    await env.store.insertSigningKey({
      kid: 'whk_skewed',
      purpose: 'webhook',
      private_pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      public_pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      status: 'retiring',
      created_at: new Date(Date.now() + 3600_000).toISOString(),
      retire_at: new Date(Date.now() + 7200_000).toISOString(),
    });
    await ring.reload();
    assert.deepEqual(
      ring.active().map((k) => [k.kid, k.status]),
      [
        [primary.kid, 'primary'],
        ['whk_skewed', 'retiring'],
      ],
    );
    assert.equal(ring.primary().kid, primary.kid);
  });

  it('says so when no primary key is left', async () => {
    const ring = await KeyRing.open(env.store, 'webhook');
    await env.store.updateSigningKey(ring.primary().kid, {
      status: 'retiring',
      retire_at: new Date(Date.now() + 60_000).toISOString(),
    });
    await ring.reload();
    assert.equal(ring.active().length, 1);
    assert.throws(() => ring.primary(), { message: 'no primary webhook key' });
  });

  it('parses each key once: reloading keeps the same key objects', async () => {
    const ring = await KeyRing.open(env.store, 'webhook');
    const k = ring.primary();
    await ring.reload();
    assert.equal(ring.primary().privateKey, k.privateKey);
    assert.equal(ring.primary().publicKey, k.publicKey);
  });
});
