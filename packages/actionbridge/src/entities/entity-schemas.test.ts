/**
 * epilot's entity schemas on the real server, through `@epilot/entity-client` (every answer checked
 * against its OpenAPI definition), on SQLite and PostgreSQL: the built-in schemas and their
 * attributes, an org's own schemas and their versions, what apps read with their access token,
 * and refusals naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient as entityClient } from '@epilot/entity-client';
import { BACKENDS, Client, installFlow, useTestPlatform } from '../testing/harness.js';
import { assertAnswer, call, OpenApiChecker, pointed } from '../testing/openapi.js';

const definition = OpenApiChecker.load('entity');

async function expectAnswer(operationId: string, p: Promise<any>, status: number): Promise<any> {
  const answer = await call(p);
  assert.equal(answer.status, status, `${operationId} answered ${answer.status}: ${JSON.stringify(answer.data)}`);
  assertAnswer(definition, operationId, answer);
  return answer.data;
}

const meter = (extra: Record<string, unknown> = {}) => ({
  name: 'Meter',
  plural: 'Meters',
  description: 'An electricity meter',
  attributes: [
    { name: 'meter_number', label: 'Meter number', type: 'string', required: true },
    { name: 'reading', label: 'Reading', type: 'number' },
    {
      name: 'tariff',
      label: 'Tariff',
      type: 'currency',
      currency: [{ code: 'EUR', description: 'Euro', symbol: '€' }],
    },
    { name: 'kind', label: 'Kind', type: 'select', options: [{ value: 'power', title: 'Power' }, 'gas'] },
  ],
  capabilities: [{ name: 'notes', title: 'Notes' }],
  group_settings: [{ id: 'g1', label: 'Details', expanded: true, order: 1 }],
  ...extra,
});

for (const backend of BACKENDS)
  describe(`entity schemas through the entity client (${backend})`, () => {
    const env = useTestPlatform({ backend });

    async function setup() {
      const org = await env.p.newOrg();
      const entities = pointed(entityClient(), env.p.url, org.token);
      return { org, api: org.client, entities };
    }

    it('built-in schemas come with attributes; a slug in use reads as a schema without them; others are 404', async () => {
      const { api, entities } = await setup();
      await api.req('POST', '/v1/entity/meter', { name: 'm' });
      const list = await expectAnswer('listSchemas', entities.listSchemas(), 200);
      assert.deepEqual(
        list.results.map((s: { slug: string }) => s.slug),
        ['opportunity', 'contact', 'contract', 'meter'],
      );
      const contact = await expectAnswer('getSchema', entities.getSchema({ slug: 'contact' }), 200);
      const names = contact.attributes.map((a: { name: string }) => a.name);
      for (const n of ['first_name', 'last_name', 'email', 'phone', 'address']) assert.ok(names.includes(n), n);
      const opportunity = await expectAnswer('getSchema', entities.getSchema({ slug: 'opportunity' }), 200);
      assert.deepEqual(
        opportunity.attributes
          .find((a: { name: string }) => a.name === 'status')
          .options.map((o: { value: string }) => o.value),
        ['open', 'in_progress', 'won', 'lost'],
      );
      const contract = await expectAnswer('getSchema', entities.getSchema({ slug: 'contract' }), 200);
      assert.equal(contract.attributes.find((a: { name: string }) => a.name === 'customer').type, 'relation');
      const used = await expectAnswer('getSchema', entities.getSchema({ slug: 'meter' }), 200);
      assert.deepEqual([used.attributes, used.capabilities], [[], []]);
      await expectAnswer('getSchema', entities.getSchema({ slug: 'never-used' }), 404);
      const filtered = await expectAnswer('listSchemas', entities.listSchemas({ include: ['contact', 'meter'] }), 200);
      assert.deepEqual(
        filtered.results.map((s: { slug: string }) => s.slug),
        ['contact', 'meter'],
      );
      const commas = await api.req('GET', '/v1/entity/schemas?exclude=contact,meter');
      assert.deepEqual(
        commas.body.results.map((s: { slug: string }) => s.slug),
        ['opportunity', 'contract'],
      );
    });

    it('putSchema creates and versions an org’s schema; getSchema by id; deleteSchema brings the built-in back', async () => {
      const { entities } = await setup();
      const first = await expectAnswer('putSchema', entities.putSchema({ slug: 'meter' }, meter() as never), 200);
      assert.equal(first.slug, 'meter');
      assert.equal(first.version, 1);
      assert.match(first.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(first.attributes, meter().attributes, 'attributes stored as sent');
      assert.deepEqual(first.group_settings, meter().group_settings);
      assert.deepEqual(await expectAnswer('getSchema', entities.getSchema({ slug: 'meter' }), 200), first);
      const list = await expectAnswer('listSchemas', entities.listSchemas(), 200);
      assert.deepEqual(
        list.results.find((s: { slug: string }) => s.slug === 'meter'),
        first,
      );

      // Read back and sent again: the server's fields (id, version, times) are the server's.
      const second = await expectAnswer(
        'putSchema',
        entities.putSchema({ slug: 'meter' }, { ...first, version: 99, plural: 'Meter devices' }),
        200,
      );
      assert.deepEqual([second.version, second.plural, second.created_at], [2, 'Meter devices', first.created_at]);
      assert.notEqual(second.id, first.id);
      await expectAnswer('getSchema', entities.getSchema({ slug: 'meter', id: second.id }), 200);
      const old = await expectAnswer('getSchema', entities.getSchema({ slug: 'meter', id: first.id }), 404);
      assert.match(old.error, /only the current version is kept/);
      await expectAnswer('getSchema', entities.getSchema({ slug: 'meter', latest: true }), 200);

      const own = await expectAnswer(
        'putSchema',
        entities.putSchema({ slug: 'contact' }, meter({ name: 'Person', plural: 'People' }) as never),
        200,
      );
      assert.equal(own.version, 2, 'the next version after the built-in one');
      assert.equal((await expectAnswer('getSchema', entities.getSchema({ slug: 'contact' }), 200)).name, 'Person');
      await expectAnswer('deleteSchema', entities.deleteSchema({ slug: 'contact' }), 200);
      const back = await expectAnswer('getSchema', entities.getSchema({ slug: 'contact' }), 200);
      assert.deepEqual([back.name, back.version], ['Contact', 1]);
      const builtin = await call(entities.deleteSchema({ slug: 'contact' }));
      assert.equal(builtin.status, 404);
      assert.match(builtin.data.error, /built-in schema has no stored definition/);
      await expectAnswer('deleteSchema', entities.deleteSchema({ slug: 'meter' }), 200);
      await expectAnswer('getSchema', entities.getSchema({ slug: 'meter' }), 404);
    });

    it('unpublished schemas are listed only when asked for', async () => {
      const { api, entities } = await setup();
      await expectAnswer(
        'putSchema',
        entities.putSchema({ slug: 'draft-thing' }, meter({ published: false }) as never),
        200,
      );
      const slugs = async (q = '') =>
        (await api.req('GET', `/v1/entity/schemas${q}`)).body.results.map((s: { slug: string }) => s.slug);
      assert.ok(!(await slugs()).includes('draft-thing'));
      assert.ok((await slugs('?unpublished=true')).includes('draft-thing'));
      await expectAnswer('getSchema', entities.getSchema({ slug: 'draft-thing' }), 200);
    });

    it('apps read schemas with their access token and cannot change them', async () => {
      const { api } = await setup();
      env.rx.respond = () => ({ status: 200, body: {} });
      const path = `/schemas-${Date.now()}`;
      await installFlow(api, `${env.rx.url}${path}`);
      const e = (await api.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      const before = env.rx.received.length;
      await api.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 5 });
      await env.rx.waitFor(before + 1);
      const hit = env.rx.received.filter((r) => r.url === path).at(-1);
      const app = new Client(env.p.url, String(hit?.headers['x-epilot-token']));
      const read = await app.req('GET', '/v1/entity/schemas/opportunity');
      assert.equal(read.status, 200);
      assert.ok(read.body.attributes.length > 0);
      assert.equal((await app.req('GET', '/v1/entity/schemas')).status, 200);
      const write = await app.req('PUT', '/v1/entity/schemas/opportunity', meter());
      assert.equal(write.status, 403);
      assert.equal((await app.req('DELETE', '/v1/entity/schemas/opportunity')).status, 403);
    });

    it('refuses malformed schemas naming the field, and never shows one org’s schemas to another', async () => {
      const { api } = await setup();
      const put = (body: unknown, slug = 'meter', q = '') => api.req('PUT', `/v1/entity/schemas/${slug}${q}`, body);
      const attribute = (a: Record<string, unknown>) => meter({ attributes: [a] });
      const cases: Array<[unknown, RegExp, string?, string?]> = [
        [{ ...meter(), capabilities: undefined }, /must have required property 'capabilities'/],
        [{ name: 'M', plural: 'Ms', capabilities: [] }, /must have required property 'attributes'/],
        [attribute({ name: 'a', type: 'string' }), /body\/attributes\/0 must have required property 'label'/],
        [
          attribute({ name: 'a', label: 'A', type: 'hologram' }),
          /body\/attributes\/0\/type must be one of string, link/,
        ],
        [
          attribute({ name: 'a', label: 'A', type: 'currency' }),
          /body\/attributes\/0 must have required property 'currency'/,
        ],
        [
          attribute({ name: 'a', label: 'A', type: 'consent' }),
          /body\/attributes\/0 must have required property 'topic'/,
        ],
        [
          attribute({ name: '', label: 'A', type: 'string' }),
          /body\/attributes\/0\/name must NOT have fewer than 1 characters/,
        ],
        [meter({ attributes: 'x' }), /body\/attributes must be array/],
        [
          meter({
            attributes: Array.from({ length: 1001 }, (_, i) => ({ name: `a${i}`, label: 'A', type: 'string' })),
          }),
          /body\/attributes must NOT have more than 1000 items/,
        ],
        [
          meter({ attributes: [meter().attributes[0], meter().attributes[0]] }),
          /attributes\[1\]\.name "meter_number" is used by an earlier attribute/,
        ],
        [meter({ capabilities: [{ title: 'x' }] }), /body\/capabilities\/0 must have required property 'name'/],
        [meter({ title_template: '{{name}}' }), /^title_template is not supported/],
        [meter({ explicit_search_mappings: {} }), /^explicit_search_mappings is not supported/],
        [meter({ feature_flag: 'FF_X' }), /^feature_flag is not supported/],
        [meter({ enable_setting: ['x'] }), /^enable_setting is not supported/],
        [meter({ draft: true }), /^draft is deprecated/],
        [meter(), /^draft is deprecated/, 'meter', '?draft=true'],
        [meter({ slug: 'other' }), /slug "other" does not match the path's schema "meter"/],
        [meter(), /invalid entity schema slug "Bad_Slug"/, 'Bad_Slug'],
        [[meter()], /body must be object/],
      ];
      for (const [body, message, slug, q] of cases) {
        const r = await put(body, slug, q);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 100)}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, message);
      }
      assert.equal((await api.req('GET', '/v1/entity/schemas/meter')).status, 404, 'nothing was stored');
      const bad = await api.req('GET', '/v1/entity/schemas?unpublished=maybe');
      assert.equal(bad.status, 400);
      const key = await api.req('PUT', '/v1/entity/schemas/meter', meter(), { 'idempotency-key': 'k' });
      assert.equal(key.status, 400, 'schema writes take no Idempotency-Key (a PUT is idempotent already)');

      assert.equal((await put(meter())).status, 200);
      const mallory = await setup();
      assert.equal((await mallory.api.req('GET', '/v1/entity/schemas/meter')).status, 404);
      const theirs = (await mallory.api.req('GET', '/v1/entity/schemas')).body.results.map(
        (s: { slug: string }) => s.slug,
      );
      assert.ok(!theirs.includes('meter'));
      assert.equal((await mallory.api.req('DELETE', '/v1/entity/schemas/meter')).status, 404);
      assert.equal((await api.req('GET', '/v1/entity/schemas/meter')).status, 200, 'still there');
    });
  });
