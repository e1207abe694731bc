import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client, installFlow, Receiver, type TestPlatform, testPlatform } from '../testing/harness.js';

describe('entity API', () => {
  let p: TestPlatform;
  let org: Client;
  before(async () => {
    p = await testPlatform();
    org = (await p.newOrg()).client;
  });
  after(async () => p.stop());

  it('creates, reads, merges (PATCH), replaces (PUT) and deletes', async () => {
    const created = await org.req('POST', '/v1/entity/contact', { first_name: 'Ada', last_name: 'L', _tags: ['vip'] });
    assert.equal(created.status, 201);
    const e = created.body;
    assert.equal(e._schema, 'contact');
    assert.equal(e._title, 'Ada L');
    assert.deepEqual(e._tags, ['vip']);
    assert.match(e._id, /^[0-9a-f-]{36}$/);
    const got = await org.req('GET', `/v1/entity/contact/${e._id}`);
    assert.deepEqual(got.body, { entity: e, relations: [] });

    const patched = (await org.req('PATCH', `/v1/entity/contact/${e._id}`, { email: 'ada@example.com' })).body;
    assert.equal(patched.first_name, 'Ada');
    assert.equal(patched.email, 'ada@example.com');
    assert.ok(patched._updated_at >= e._updated_at);
    assert.equal(patched._created_at, e._created_at);

    const put = (await org.req('PUT', `/v1/entity/contact/${e._id}`, { first_name: 'Grace' })).body;
    assert.equal(put.first_name, 'Grace');
    assert.equal(put.email, undefined, 'PUT replaces the user attributes');
    assert.equal(put._id, e._id);

    const stale = await org.req('PATCH', `/v1/entity/contact/${e._id}`, { x: 1, _updated_at: e._updated_at });
    assert.equal(stale.status, 409, 'a PATCH carrying an older _updated_at is a conflict');

    assert.equal((await org.req('DELETE', `/v1/entity/contact/${e._id}`)).status, 200);
    assert.equal((await org.req('GET', `/v1/entity/contact/${e._id}`)).status, 404);
  });

  it('searches with _id:, field:value, AND, *, wildcards, size, from and sort', async () => {
    const o = (await p.newOrg()).client;
    const ids: string[] = [];
    for (const [name, amount, status] of [
      ['Alpha', 30, 'open'],
      ['Beta', 10, 'open'],
      ['Gamma', 20, 'won'],
    ] as const) {
      ids.push((await o.req('POST', '/v1/entity/opportunity', { name, amount, status })).body._id);
    }
    await o.req('POST', '/v1/entity/contact', { name: 'Alpha Person', status: 'open' });
    const q = async (body: Record<string, unknown>) => (await o.req('POST', '/v1/entity:search', body)).body;
    assert.equal((await q({ q: `_id:${ids[1]}` })).results[0].name, 'Beta');
    assert.equal((await q({ q: '*' })).hits, 4);
    assert.equal((await q({ q: '_schema:opportunity AND status:open' })).hits, 2);
    assert.deepEqual(
      (await q({ q: '_schema:opportunity', sort: 'amount:asc' })).results.map((e: { name: string }) => e.name),
      ['Beta', 'Gamma', 'Alpha'],
    );
    const page = await q({ q: '_schema:opportunity', sort: 'amount:desc', from: 1, size: 1 });
    assert.equal(page.hits, 3);
    assert.deepEqual(
      page.results.map((e: { name: string }) => e.name),
      ['Gamma'],
    );
    assert.equal((await q({ q: 'name:al*' })).hits, 2, 'case-insensitive wildcard');
    assert.equal((await q({ q: 'name:"Alpha Person"' })).hits, 1, 'quoted value');
    assert.equal((await q({ q: 'amount:20' })).results[0].name, 'Gamma');
  });

  it('upserts on unique_key: creates (201), then patches the same entity (200); dry_run writes nothing', async () => {
    const o = (await p.newOrg()).client;
    const first = await o.req('PATCH', '/v1/entity/contact:upsert', {
      unique_key: ['email'],
      entity: { email: 'a@x.io', n: 1 },
    });
    assert.equal(first.status, 201);
    const second = await o.req('PATCH', '/v1/entity/contact:upsert', {
      unique_key: ['email'],
      entity: { email: 'a@x.io', n: 2 },
    });
    assert.equal(second.status, 200);
    assert.equal(second.body._id, first.body._id);
    assert.equal(second.body.n, 2);

    const dry = await o.req('PATCH', `/v1/entity/contact/${first.body._id}?dry_run=true`, { n: 3 });
    assert.equal(dry.body.n, 3);
    const dryUpsert = await o.req('PATCH', '/v1/entity/contact:upsert?dry_run=true', {
      unique_key: ['email'],
      entity: { email: 'new@x.io' },
    });
    assert.equal(dryUpsert.status, 201);
    const all = (await o.req('POST', '/v1/entity:search', { q: '_schema:contact' })).body;
    assert.equal(all.hits, 1, 'the dry-run upsert created nothing');
    assert.equal(all.results[0].n, 2, 'the dry-run patch changed nothing');
  });

  it('lists schemas: the built-in ones and every slug in use', async () => {
    const o = (await p.newOrg()).client;
    await o.req('POST', '/v1/entity/meter', { name: 'm' });
    const slugs = (await o.req('GET', '/v1/entity/schemas')).body.results.map((s: { slug: string }) => s.slug);
    assert.deepEqual(slugs, ['opportunity', 'contact', 'contract', 'meter']);
    assert.equal((await o.req('GET', '/v1/entity/schemas/meter')).body.slug, 'meter');
  });

  it('emits an event with its diff for every write: created, updated, deleted', async () => {
    const rx = await new Receiver().start();
    try {
      const { client } = await p.newOrg();
      const app = await installFlow(client, `${rx.url}/events`);
      const flow = (await client.req('GET', `/v1/automation/flows/${app.flow.id}`)).body;
      const { id: _i, org_id: _o, created_at: _c, updated_at: _u, version: _v, ...body } = flow;
      body.triggers[0].configuration.operations = ['createEntity', 'updateEntity', 'deleteEntity'];
      assert.equal((await client.req('PUT', `/v1/automation/flows/${flow.id}`, body)).status, 200);
      rx.respond = () => ({ status: 200, body: {} });
      const e = (await client.req('POST', '/v1/entity/opportunity', { name: 'D', a: 1 })).body;
      await client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { a: 2, b: 3 });
      await client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { a: 2 }); // no change: no event
      await client.req('DELETE', `/v1/entity/opportunity/${e._id}`);
      await rx.waitFor(3);
      await new Promise((r) => setTimeout(r, 200));
      const data = rx.received.map((r) => JSON.parse(r.body).data);
      assert.deepEqual(
        data.map((d) => d.trigger_event),
        ['opportunity.created', 'opportunity.updated', 'opportunity.deleted'],
      );
      assert.deepEqual(data[0].trigger.diff.added, { _title: 'D', _tags: [], name: 'D', a: 1 });
      assert.deepEqual(data[1].trigger.diff, { added: { b: 3 }, updated: { a: 2 }, deleted: {} });
      assert.equal(data[2].trigger.diff.deleted.a, 2);
      assert.equal(data[2].entity._id, e._id, 'a deleted entity is sent as it last was');
    } finally {
      await rx.close();
    }
  });
});
