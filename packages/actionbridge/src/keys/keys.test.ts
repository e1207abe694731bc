import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { parsePublicKey, signedContent } from '@actionbridge/app-sdk';
import { finishedExecution, installFlow, testPlatform, useTestPlatform } from '../testing/harness.js';

describe('platform keys', () => {
  const env = useTestPlatform();

  it('serves the primary key in epilot’s format, every active key, and the JWKS', async () => {
    const one = (await env.p.admin.req('GET', '/v1/public/.well-known/public-key')).body;
    assert.equal(one.algorithm, 'ed25519');
    assert.equal(one.issuer, env.p.publicUrl);
    assert.equal(createPublicKey(one.public_key).asymmetricKeyType, 'ed25519');
    const all = (await env.p.admin.req('GET', '/v1/public/.well-known/public-keys')).body;
    assert.equal(all.keys.length, 1);
    assert.equal(all.keys[0].status, 'primary');
    assert.equal(all.keys[0].public_key, one.public_key);
    assert.equal(parsePublicKey(all.keys[0].whpk).export({ format: 'pem', type: 'spki' }).toString(), one.public_key);
    const jwks = (await env.p.admin.req('GET', '/v1/access-tokens/.well-known/jwks.json')).body;
    assert.equal(jwks.keys[0].kty, 'OKP');
    assert.equal(jwks.keys[0].crv, 'Ed25519');
    assert.equal(jwks.keys[0].alg, 'EdDSA');
    assert.ok(!('d' in jwks.keys[0]), 'no private part');
  });

  it('keeps keys across restarts of the same data folder', async () => {
    const before = (await env.p.admin.req('GET', '/v1/public/.well-known/public-key')).body.public_key;
    const again = await testPlatform({ dataDir: env.p.dataDir });
    try {
      const after = (await again.admin.req('GET', '/v1/public/.well-known/public-key')).body.public_key;
      assert.equal(after, before);
    } finally {
      await again.close();
    }
  });

  it('rotates: the new key is primary, the old one keeps signing next to it', async () => {
    const old = (await env.p.admin.req('GET', '/v1/public/.well-known/public-key')).body.public_key;
    const r = await env.p.admin.req('POST', '/v1/keys/rotate');
    assert.equal(r.status, 200);
    const all = (await env.p.admin.req('GET', '/v1/public/.well-known/public-keys')).body.keys;
    assert.deepEqual(
      all.map((k: { status: string }) => k.status),
      ['primary', 'retiring'],
    );
    assert.equal(all[1].public_key, old);
    assert.ok(Date.parse(all[1].retire_at) > Date.now());

    const { client } = await env.p.newOrg();
    await installFlow(client, `${env.rx.url}/rot`);
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    const start = env.rx.received.length;
    await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
    await finishedExecution(client, entity._id);
    const req = env.rx.received[start]!;
    const sigs = String(req.headers['webhook-signature']).split(' ');
    assert.equal(sigs.length, 2);
    const content = signedContent({
      id: String(req.headers['webhook-id']),
      timestamp: Number(req.headers['webhook-timestamp']),
      body: req.body,
    });
    for (const [i, key] of all.entries()) {
      const sig = Buffer.from(sigs[i]!.slice(4), 'base64');
      assert.ok(
        verify(null, content, createPublicKey(key.public_key), sig),
        `signature ${i} verifies with ${key.status}`,
      );
    }
    // The access token, signed with the rotated token key, is accepted.
    const token = String(req.headers['x-epilot-token']);
    assert.equal((await client.as(token).req('GET', `/v1/entity/opportunity/${entity._id}`)).status, 200);
  });
});
