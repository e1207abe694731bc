import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { BACKENDS, type Client, installFlow, Receiver, type TestPlatform, testPlatform } from '../testing/harness.js';

/** Validates a body against a schema of epilot's entity API (the OpenAPI document its client ships). */
function epilotSchema(name: string) {
  const file = createRequire(import.meta.url).resolve('@epilot/entity-client/dist/openapi.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addFormat('date-time', (v: string) => /^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(Date.parse(v)));
  ajv.addSchema({ $id: 'entity-api', components: doc.components });
  const validate = ajv.compile({ $ref: `entity-api#/components/schemas/${name}` });
  return (body: unknown) => {
    const ok = validate(body);
    assert.ok(ok, `${name}: ${ajv.errorsText(validate.errors)}`);
  };
}

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

  it("searches with epilot's Lucene syntax: OR, NOT, -term, groups, ranges, _exists_, phrases, wildcards", async () => {
    const o = (await p.newOrg()).client;
    const make = async (slug: string, body: Record<string, unknown>) =>
      (await o.req('POST', `/v1/entity/${slug}`, body)).body;
    await make('opportunity', {
      name: 'Alpha',
      amount: 30,
      status: 'open',
      email: [{ email: 'a@x.io' }],
      closed_at: '2026-02-01',
    });
    await make('opportunity', { name: 'Beta', amount: 10, status: 'open' });
    await make('opportunity', { name: 'Gamma Ray', amount: 20, status: 'won', note: 'needs follow-up' });
    await make('opportunity', { name: 'Delta', status: 'lost' });
    await make('contact', { name: 'Alpha Person', status: 'open' });
    const names = async (q: string) => {
      const r = await o.req('POST', '/v1/entity:search', { q, size: 100 });
      assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
      const list = r.body.results.map((e: { name: string }) => e.name).sort();
      assert.equal(r.body.hits, list.length, `${q}: hits counts the results`);
      return list;
    };
    assert.deepEqual(await names('status:open OR status:won'), ['Alpha', 'Alpha Person', 'Beta', 'Gamma Ray']);
    assert.deepEqual(await names('_schema:opportunity AND NOT status:open'), ['Delta', 'Gamma Ray']);
    assert.deepEqual(await names('_schema:opportunity -status:open'), ['Delta', 'Gamma Ray']);
    assert.deepEqual(await names('NOT _schema:opportunity'), ['Alpha Person']);
    assert.deepEqual(await names('_schema:opportunity AND (status:won OR amount:10)'), ['Beta', 'Gamma Ray']);
    assert.deepEqual(await names('status:(won OR lost)'), ['Delta', 'Gamma Ray']);
    assert.deepEqual(await names('amount:[10 TO 20]'), ['Beta', 'Gamma Ray']);
    assert.deepEqual(await names('amount:{10 TO 30]'), ['Alpha', 'Gamma Ray']);
    assert.deepEqual(await names('amount:>=20'), ['Alpha', 'Gamma Ray']);
    assert.deepEqual(await names('amount:<20'), ['Beta']);
    assert.deepEqual(await names('closed_at:[2026-01-01 TO 2026-12-31]'), ['Alpha']);
    assert.deepEqual(await names('_exists_:amount'), ['Alpha', 'Beta', 'Gamma Ray']);
    assert.deepEqual(await names('_schema:opportunity AND NOT _exists_:amount'), ['Delta']);
    assert.deepEqual(await names('email.email:"a@x.io"'), ['Alpha'], 'a list of objects');
    assert.deepEqual(await names('name:"gamma ray"'), ['Gamma Ray'], 'a phrase is the whole value, any case');
    assert.deepEqual(await names('"follow-up"'), ['Gamma Ray'], 'a bare phrase is found inside values');
    assert.deepEqual(await names('ray'), ['Gamma Ray']);
    assert.deepEqual(await names('name:*ta'), ['Beta', 'Delta']);
    assert.deepEqual(await names('name:?eta'), ['Beta']);
    assert.deepEqual(await names('name:al*'), ['Alpha', 'Alpha Person']);
    assert.deepEqual(await names('name:*pha*'), ['Alpha', 'Alpha Person']);
    assert.deepEqual(await names('name.keyword:Beta'), ['Beta'], "Elasticsearch's .keyword is the value itself");
    assert.deepEqual(await names('+status:open +_schema:contact'), ['Alpha Person']);
    assert.deepEqual(await names('status:open && !name:beta'), ['Alpha', 'Alpha Person']);
    assert.equal((await names(`_created_at:[2000-01-01 TO *]`)).length, 5);
    assert.equal((await names(`_created_at:${new Date().toISOString().slice(0, 10)}`)).length, 5, 'a date is a day');
    assert.deepEqual(await names('status:open AND nothing:here'), []);
  });

  it('returns only the named fields, sorts by a list of fields, clamps size at 1000', async () => {
    const o = (await p.newOrg()).client;
    for (const [name, status, amount] of [
      ['A', 'open', 1],
      ['B', 'won', 2],
      ['C', 'open', 3],
    ] as const) {
      await o.req('POST', '/v1/entity/opportunity', { name, status, amount, address: { city: 'Köln', zip: '50667' } });
    }
    const r = await o.req('POST', '/v1/entity:search', {
      q: '_schema:opportunity',
      sort: ['status:asc', 'amount:desc'],
      fields: ['name', 'address.city'],
      size: 5000,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.results.map((e: { name: string }) => e.name),
      ['C', 'A', 'B'],
    );
    assert.deepEqual(Object.keys(r.body.results[0]).sort(), ['_id', '_org', '_schema', 'address', 'name']);
    assert.deepEqual(r.body.results[0].address, { city: 'Köln' });
    const without = await o.req('POST', '/v1/entity:search', { q: 'name:a', fields: ['!address', '!_tags'] });
    assert.equal(without.body.results[0].name, 'A');
    assert.equal(without.body.results[0].address, undefined);
    assert.equal(without.body.results[0]._tags, undefined);
    assert.equal(typeof without.body.results[0]._created_at, 'string', 'only the excluded fields go');
    const page = await o.req('POST', '/v1/entity:search', { q: '*', sort: 'name:desc', from: 1, size: 1 });
    assert.deepEqual([page.body.hits, page.body.results[0].name], [3, 'B']);
  });

  it("answers search and upsert in the shapes of epilot's entity API (EntitySearchResults, EntityItem)", async () => {
    const o = (await p.newOrg()).client;
    const created = await o.req('PATCH', '/v1/entity/contact:upsert', {
      unique_key: ['email'],
      entity: { email: 'shape@x.io', first_name: 'Sha', _tags: ['t'] },
    });
    assert.equal(created.status, 201);
    epilotSchema('EntityItem')(created.body);
    const search = await o.req('POST', '/v1/entity:search', { q: 'email:"shape@x.io"' });
    assert.equal(search.body.hits, 1);
    epilotSchema('EntitySearchResults')(search.body);
    epilotSchema('EntitySearchResults')((await o.req('POST', '/v1/entity:search', { q: 'nothing:matches' })).body);
  });

  for (const backend of BACKENDS) {
    it(`upserts one entity when many upserts of a new key race (${backend})`, async () => {
      const q = backend === 'sqlite' ? p : await testPlatform({ backend });
      try {
        const o = (await q.newOrg()).client;
        const answers = await Promise.all(
          Array.from({ length: 8 }, (_, n) =>
            o.req('PATCH', '/v1/entity/contact:upsert', {
              unique_key: ['email.0.email'],
              entity: { email: [{ email: 'race@x.io' }], n },
            }),
          ),
        );
        assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201]);
        assert.equal(new Set(answers.map((a) => a.body._id)).size, 1, 'every answer is the same entity');
        const found = await o.req('POST', '/v1/entity:search', { q: 'email.email:"race@x.io"' });
        assert.equal(found.body.hits, 1);
        const strict = await o.req('PATCH', '/v1/entity/contact:upsert?strict=true', {
          unique_key: ['email.0.email'],
          entity: { email: [{ email: 'race@x.io' }], n: 9 },
        });
        assert.equal(strict.status, 200, 'one match is no conflict, even strict');
      } finally {
        if (q !== p) await q.stop();
      }
    });
  }

  for (const backend of BACKENDS) {
    it(`delays other requests (GET /healthz) by less than 100 ms while hostile searches run (${backend})`, async (t) => {
      const q = backend === 'sqlite' ? p : await testPlatform({ backend });
      try {
        const o = (await q.newOrg()).client;
        // ~900 KB: 1,000 distinct 880-character strings (the index keeps each one's first 256).
        const blob = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(4, '0')}${'a'.repeat(876)}`);
        const big = await o.req('POST', '/v1/entity/opportunity', { name: 'big', blob });
        assert.equal(big.status, 201, JSON.stringify(big.body).slice(0, 200));
        const tooLong = await o.req('POST', '/v1/entity:search', { q: `blob:${'*a'.repeat(2000)}` });
        assert.equal(tooLong.status, 400);
        assert.match(tooLong.body.error, /at most 256 characters/);

        const hostile = [
          `blob:*${'a?'.repeat(126)}b*`,
          `*${'a?'.repeat(126)}b*`,
          `blob:${'*a'.repeat(127)}*b`,
          `${'a'.repeat(250)}b`,
        ];
        // GET /healthz, again and again, until `until` settles: its latencies.
        const probe = async (until: Promise<unknown>) => {
          let done = false;
          void until.finally(() => {
            done = true;
          });
          const times: number[] = [];
          while (!done) {
            const t = performance.now();
            await (await fetch(`${q.url}/healthz`)).text();
            times.push(performance.now() - t);
            await new Promise((res) => setTimeout(res, 5));
          }
          return times.sort((x, y) => x - y);
        };
        // A loaded CI box stalls any process now and then: a round whose worst is an OS stall does
        // not count against the search, a search that holds the loop fails every round.
        const rounds: string[] = [];
        let passed = false;
        for (let round = 0; round < 3 && !passed; round++) {
          // What /healthz takes on this machine right now.
          const idle = await probe(new Promise((res) => setTimeout(res, 300)));
          const usual = idle[Math.floor(idle.length * 0.9)] as number;
          const started = performance.now();
          const searches = Promise.all(
            hostile.flatMap((query) => [1, 2, 3].map(() => o.req('POST', '/v1/entity:search', { q: query }))),
          );
          const during = await probe(searches);
          const took = performance.now() - started;
          for (const a of await searches) {
            assert.deepEqual([a.status, a.body.hits], [200, 0], JSON.stringify(a.body));
          }
          const worst = during.at(-1) as number;
          rounds.push(`${worst.toFixed(0)} ms during ${took.toFixed(0)} ms of searches (${usual.toFixed(0)} ms idle)`);
          passed = worst - usual < 100;
        }
        t.diagnostic(`GET /healthz took ${rounds.join('; ')}`);
        assert.ok(passed, `GET /healthz took ${rounds.join('; ')}`);
      } finally {
        if (q !== p) await q.stop();
      }
    });
  }

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

  it("refuses epilot's own path words as schema slugs (activity, schemas, taxonomies, view, views), on every route", async () => {
    const o = (await p.newOrg()).client;
    const refused = [
      await o.req('POST', '/v1/entity/schemas', { name: 's' }),
      await o.req('POST', '/v1/entity/views', { name: 'v' }),
      await o.req('PATCH', '/v1/entity/activity:upsert', { unique_key: ['k'], entity: { k: 1 } }),
      await o.req('PATCH', '/v1/entity/taxonomies:upsert', { unique_key: ['k'], entity: { k: 1 } }),
      await o.req('GET', '/v1/entity/views/v1'),
      await o.req('PUT', '/v1/entity/activity/a1', { name: 'a' }),
      await o.req('GET', '/v1/entity/schemas/view'),
    ];
    for (const r of refused) {
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(
        r.body.error,
        /^"(schemas|views|activity|taxonomies|view)" is not an entity schema slug: epilot's entity API uses \/v1\/entity\/\1 for other operations$/,
      );
    }
    const made = await o.req('POST', '/v1/entity:search', { q: '*:*' });
    assert.equal(made.body.hits, 0, 'nothing was created');
    assert.equal((await o.req('POST', '/v1/entity/viewing', { name: 'v' })).status, 201, 'other slugs are fine');
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
