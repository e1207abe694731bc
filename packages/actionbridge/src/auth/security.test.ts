import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { it } from 'node:test';
import { SignJWT } from 'jose';
import { KeyRing } from '../keys/keyring.js';
import {
  BACKENDS,
  describeOn,
  installFlow,
  manifest,
  type Receiver,
  type TestPlatform,
  useTestPlatform,
} from '../testing/harness.js';

/** Gets a real app access token by letting a flow deliver to a receiver. */
async function appToken(p: TestPlatform, rx: Receiver, m?: Record<string, unknown>) {
  const org = await p.newOrg();
  const { appId } = await installFlow(org.client, `${rx.url}/t`, m ? { manifest: m } : {});
  const entity = (await org.client.req('POST', '/v1/entity/opportunity', { name: 'Mine', amount: 1 })).body;
  const start = rx.received.length;
  await org.client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 2 });
  await rx.waitFor(start + 1);
  return { org, appId, entity, token: String(rx.received[start]!.headers['x-epilot-token']) };
}

for (const backend of BACKENDS)
  describeOn(backend, `access tokens and grants (${backend})`, () => {
    const env = useTestPlatform({ backend });

    it('lets the app token read and edit what its grants allow', async () => {
      const { org, entity, token } = await appToken(env.p, env.rx);
      const app = org.client.as(token);
      assert.equal((await app.req('GET', `/v1/entity/opportunity/${entity._id}`)).status, 200);
      const patched = await app.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { score: 3 });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.score, 3);
    });

    it('answers 404 for another org’s entity, exactly as for a missing one', async () => {
      const { token, entity } = await appToken(env.p, env.rx);
      const other = await env.p.newOrg('other');
      const theirs = (await other.client.req('POST', '/v1/entity/opportunity', { name: 'Theirs' })).body;
      const app = other.client.as(token);
      const r = await app.req('GET', `/v1/entity/opportunity/${theirs._id}`);
      assert.equal(r.status, 404);
      const missing = await app.req('GET', '/v1/entity/opportunity/00000000-0000-0000-0000-000000000000');
      assert.equal(missing.status, 404);
      assert.equal(
        r.body.error.replace(theirs._id, 'X'),
        missing.body.error.replace('00000000-0000-0000-0000-000000000000', 'X'),
      );
      assert.equal((await app.req('PATCH', `/v1/entity/opportunity/${theirs._id}`, { x: 1 })).status, 404);
      assert.equal((await app.req('DELETE', `/v1/entity/opportunity/${theirs._id}`)).status, 404);
      const search = await app.req('POST', '/v1/entity:search', { q: '*' });
      assert.deepEqual(
        search.body.results.map((e: { _id: string }) => e._id),
        [entity._id],
        'the token finds its own org’s one opportunity, nothing of the other org',
      );
      // An org token is just as blind to other orgs.
      const mine = await env.p.newOrg('third');
      assert.equal((await mine.client.req('GET', `/v1/entity/opportunity/${theirs._id}`)).status, 404);
    });

    it('answers 403 where the grant is missing, and filters search to what it may view', async () => {
      const { org, token, entity } = await appToken(env.p, env.rx);
      const contact = (await org.client.req('POST', '/v1/entity/contact', { name: 'Ann' })).body;
      const app = org.client.as(token);
      const r = await app.req('GET', `/v1/entity/contact/${contact._id}`);
      assert.equal(r.status, 403);
      assert.match(r.body.error, /entity:view/);
      assert.equal((await app.req('POST', '/v1/entity/opportunity', { name: 'new' })).status, 403, 'no entity:create');
      const search = await app.req('POST', '/v1/entity:search', { q: '*' });
      assert.deepEqual(
        search.body.results.map((e: { _id: string }) => e._id),
        [entity._id],
        'the opportunity it may view, not the contact',
      );
      assert.equal((await app.req('GET', '/v1/automation/flows')).status, 403, 'app tokens only reach the entity API');
    });

    it('honours an explicit deny over an allow', async () => {
      const m = manifest(`${env.rx.url}/t`, {
        permissions: [{ action: 'entity:*' }, { action: 'entity:edit', resource: 'opportunity', effect: 'deny' }],
      });
      const { entity, token, org } = await appToken(env.p, env.rx, m);
      const app = org.client.as(token);
      assert.equal((await app.req('GET', `/v1/entity/opportunity/${entity._id}`)).status, 200);
      assert.equal((await app.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { x: 1 })).status, 403);
    });

    it('refuses expired, forged and tampered tokens with 401', async () => {
      const { entity, token, org } = await appToken(env.p, env.rx);
      const ring = await KeyRing.open(env.p.store, 'token');
      const key = ring.primary();
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      const now = Math.floor(Date.now() / 1000);
      const sign = (k: Parameters<SignJWT['sign']>[0], iat: number, exp: number) =>
        new SignJWT({ ...claims, iat, exp }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).sign(k);

      const expired = await sign(key.privateKey, now - 700, now - 100);
      const r1 = await org.client.as(expired).req('GET', `/v1/entity/opportunity/${entity._id}`);
      assert.equal(r1.status, 401);
      assert.match(r1.body.error, /expired/);

      const forged = await sign(generateKeyPairSync('ed25519').privateKey, now, now + 600);
      assert.equal((await org.client.as(forged).req('GET', `/v1/entity/opportunity/${entity._id}`)).status, 401);

      const [h, , s] = token.split('.');
      const widened = Buffer.from(JSON.stringify({ ...claims, org_id: 'org_other' })).toString('base64url');
      assert.equal(
        (await org.client.as(`${h}.${widened}.${s}`).req('GET', `/v1/entity/opportunity/${entity._id}`)).status,
        401,
      );
      assert.equal((await org.client.as('abt_not-a-token').req('GET', '/v1/entity/schemas')).status, 401);
      assert.equal((await org.client.req('GET', '/v1/entity/schemas', undefined, { authorization: '' })).status, 401);
    });

    it('stops honouring a token once the app is uninstalled', async () => {
      const { entity, token, org, appId } = await appToken(env.p, env.rx);
      assert.equal((await org.client.req('DELETE', `/v1/app/${appId}`)).status, 204);
      assert.equal((await org.client.as(token).req('GET', `/v1/entity/opportunity/${entity._id}`)).status, 403);
    });

    it('keeps admin-only routes for the admin', async () => {
      const org = await env.p.newOrg();
      assert.equal((await org.client.req('POST', '/v1/orgs', { name: 'x' })).status, 403);
      assert.equal((await org.client.req('POST', '/v1/keys/rotate')).status, 403);
      const other = await env.p.newOrg();
      assert.equal(
        (await org.client.req('POST', `/v1/orgs/${other.id}/tokens`, { name: 'x', role: 'owner' })).status,
        404,
      );
    });
  });
