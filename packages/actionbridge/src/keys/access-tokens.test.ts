import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { DomainError } from '../domain/errors.js';
import { useKeyStore } from '../testing/key-store.js';
import { ACCESS_TOKEN_TTL_S, AccessTokens } from './access-tokens.js';
import { KeyRing } from './keyring.js';

const ISSUER = 'https://ab.example.com';
const ctx = { org_id: 'org_1', app_id: 'app_1', execution_id: 'exe_1' };

/** Asserts that `p` rejects with an `unauthorized` (401) DomainError whose message matches. */
async function rejects401(p: Promise<unknown>, message: RegExp | string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DomainError, `a DomainError, got ${String(e)}`);
    assert.equal(e.kind, 'unauthorized');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('AccessTokens (x-epilot-token)', () => {
  const env = useKeyStore();

  async function setup() {
    const ring = await KeyRing.open(env.store, 'token');
    return { ring, tokens: new AccessTokens(ring, () => ISSUER) };
  }

  /** A token signed with `key`, claims and header as given (for the checks a minted token never fails). */
  function forge(key: KeyObject, claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ token_type: 'app', ...ctx, ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', ...header })
      .setIssuer(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti('5f0c8d0e-0000-4000-8000-000000000000')
      .sign(key);
  }

  it('mints an EdDSA JWT with SPEC §1’s claims, valid for exactly 600 s', async () => {
    const { ring, tokens } = await setup();
    const token = await tokens.mint(ctx);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'EdDSA', kid: ring.primary().kid, typ: 'JWT' });
    const claims = decodeJwt(token);
    assert.equal(ACCESS_TOKEN_TTL_S, 600);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 600);
    assert.ok(Math.abs((claims.iat ?? 0) - Date.now() / 1000) < 5);
    assert.match(String(claims.jti), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const { exp: _e, iat: _i, jti: _j, ...rest } = claims;
    assert.deepEqual(rest, {
      token_type: 'app',
      org_id: 'org_1',
      app_id: 'app_1',
      assume_roles: ['org_1:app-app_1'],
      execution_id: 'exe_1',
      iss: ISSUER,
    });
    assert.notEqual(decodeJwt(await tokens.mint(ctx)).jti, claims.jti, 'every token has its own jti');
    const verified = await tokens.verify(token);
    assert.deepEqual(verified, claims);
  });

  it('refuses a token whose payload was changed', async () => {
    const { tokens } = await setup();
    const [h, p, s] = (await tokens.mint(ctx)).split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    const other = Buffer.from(JSON.stringify({ ...claims, org_id: 'org_2' })).toString('base64url');
    await rejects401(
      tokens.verify(`${h}.${other}.${s}`),
      'invalid access token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
  });

  it('refuses a token from another issuer', async () => {
    const { ring, tokens } = await setup();
    const elsewhere = new AccessTokens(ring, () => 'https://other.example.com');
    await rejects401(elsewhere.verify(await tokens.mint(ctx)), 'invalid access token: ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('refuses an expired token, saying so', async () => {
    const { ring, tokens } = await setup();
    const k = ring.primary();
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ token_type: 'app', ...ctx })
      .setProtectedHeader({ alg: 'EdDSA', kid: k.kid })
      .setIssuer(ISSUER)
      .setIssuedAt(now - 700)
      .setExpirationTime(now - 100)
      .setJti('5f0c8d0e-0000-4000-8000-000000000000')
      .sign(k.privateKey);
    await rejects401(tokens.verify(expired), 'access token expired');
  });

  it('requires kid, a known key, and a signature by that key', async () => {
    const { ring, tokens } = await setup();
    const k = ring.primary();
    await rejects401(tokens.verify(await forge(k.privateKey, {})), 'access token has no kid');
    await rejects401(
      tokens.verify(await forge(k.privateKey, {}, { kid: 'atk_nope' })),
      'access token signed by an unknown key',
    );
    const { privateKey: stranger } = generateKeyPairSync('ed25519');
    await rejects401(
      tokens.verify(await forge(stranger, {}, { kid: k.kid })),
      'invalid access token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
    assert.ok(
      await tokens.verify(await forge(k.privateKey, {}, { kid: k.kid })),
      'the same token, properly signed, passes',
    );
  });

  it('requires exp, iat and jti', async () => {
    const { ring, tokens } = await setup();
    const k = ring.primary();
    const base = () =>
      new SignJWT({ token_type: 'app', ...ctx }).setProtectedHeader({ alg: 'EdDSA', kid: k.kid }).setIssuer(ISSUER);
    const now = Math.floor(Date.now() / 1000);
    for (const token of [
      await base().setIssuedAt(now).setJti('j').sign(k.privateKey),
      await base()
        .setExpirationTime(now + 60)
        .setJti('j')
        .sign(k.privateKey),
      await base()
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(k.privateKey),
    ])
      await rejects401(tokens.verify(token), 'invalid access token: ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('accepts only app tokens: token_type app, string org_id and app_id', async () => {
    const { ring, tokens } = await setup();
    const k = ring.primary().privateKey;
    const kid = ring.primary().kid;
    for (const claims of [
      { token_type: 'user' },
      { token_type: undefined },
      { org_id: 7 },
      { org_id: undefined },
      { app_id: ['a'] },
      { app_id: undefined },
    ])
      await rejects401(tokens.verify(await forge(k, claims, { kid })), 'access token is not an app token');
  });

  it('accepts a token signed by a retiring key until its retire time', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { ring, tokens } = await setup();
    const early = await tokens.mint(ctx);
    await ring.rotate(60_000);
    t.mock.timers.tick(59_999);
    assert.equal((await tokens.verify(early)).org_id, 'org_1', 'still valid while its key is retiring');
    assert.equal(decodeProtectedHeader(await tokens.mint(ctx)).kid, ring.primary().kid, 'new tokens use the new key');
    assert.equal((await tokens.jwks()).keys.length, 2);
    t.mock.timers.tick(1);
    await rejects401(tokens.verify(early), 'access token signed by an unknown key');
    assert.deepEqual(
      (await tokens.jwks()).keys.map((k) => k.kid),
      [ring.primary().kid],
    );
  });

  it('finds a key another process rotated in, on first sight of its kid, and only then reads the keys', async () => {
    const { ring, tokens } = await setup();
    const mine = await tokens.mint(ctx);
    const theirs = await KeyRing.open(env.store, 'token');
    const rotated = await theirs.rotate();
    await tokens.verify(mine);
    assert.equal(ring.find(rotated.kid), undefined, 'a token of a known key is checked without reading the keys');
    const token = await new AccessTokens(theirs, () => ISSUER).mint(ctx);
    assert.equal((await tokens.verify(token)).app_id, 'app_1');
    assert.ok(ring.find(rotated.kid));
  });

  it('publishes the public halves as a JWKS, never the private part', async () => {
    const { ring, tokens } = await setup();
    const { keys } = await tokens.jwks();
    assert.equal(keys.length, 1);
    const [k] = keys;
    assert.deepEqual(Object.keys(k ?? {}).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.equal(k?.kid, ring.primary().kid);
    assert.equal(k?.kty, 'OKP');
    assert.equal(k?.crv, 'Ed25519');
    assert.equal(k?.alg, 'EdDSA');
    assert.equal(k?.use, 'sig');
    assert.equal(k?.x, ring.primary().publicKey.export({ format: 'jwk' }).x);
  });
});
