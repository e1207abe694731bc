/**
 * epilot's relations on the real server, through `@epilot/entity-client` (every answer of an
 * operation checked against the client's own OpenAPI definition), on SQLite and PostgreSQL:
 * `$relation` attributes written with entities, the Relations API (`getRelations` v1/v2/v3 with
 * `hydrate` and `include_reverse`, `getRelatedEntitiesCount`, `addRelations`, `removeRelations`,
 * `updateRelation`, `deleteRelation`), getEntity's `relations` and `hydrate`, search over relation
 * attributes; other orgs' ids, grants and hostile input.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createClient as entityClient } from '@epilot/entity-client';
import {
  BACKENDS,
  describeOn,
  installFlow,
  type Receiver,
  type TestPlatform,
  useTestPlatform,
} from '../testing/harness.js';
import { type ClientAnswer as Answer, assertAnswer, call, OpenApiChecker, pointed } from '../testing/openapi.js';

const definition = OpenApiChecker.load('entity');

type Entity = { _id: string; _schema: string; _title: string; [k: string]: unknown };

/** The answer has the status and matches the operation in the entity client's definition. */
function expectAnswer(operationId: string, answer: Answer, status: number): void {
  assert.equal(answer.status, status, `${operationId} answered ${answer.status}: ${JSON.stringify(answer.data)}`);
  assertAnswer(definition, operationId, answer);
}

/** A 4xx JSON error whose message matches `message`. */
function expectError(answer: Answer, status: number, message: RegExp): void {
  assert.equal(answer.status, status, JSON.stringify(answer.data));
  assert.equal(answer.data.status, status);
  assert.match(answer.data.error, message);
}

const MISSING = '00000000-0000-4000-8000-000000000000';

/** Gets a real app access token (grants: view and edit opportunities) by letting a flow deliver to a receiver. */
async function appToken(p: TestPlatform, rx: Receiver, org: Awaited<ReturnType<TestPlatform['newOrg']>>) {
  await installFlow(org.client, `${rx.url}/t`);
  const e = (await org.client.req('POST', '/v1/entity/opportunity', { name: 'Trigger' })).body;
  const start = rx.received.length;
  await org.client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 2 });
  await rx.waitFor(start + 1);
  const token = String(rx.received[start]!.headers['x-epilot-token']);
  const client = pointed(entityClient(), p.url, token);
  return client;
}

for (const backend of BACKENDS)
  describeOn(backend, `relations through the entity client (${backend})`, () => {
    const env = useTestPlatform({ backend });

    async function setup() {
      const org = await env.p.newOrg();
      const entities = pointed(entityClient(), env.p.url, org.token);
      const create = async (slug: string, body: Record<string, unknown>) => {
        const r = await call(entities.createEntity({ slug }, body));
        expectAnswer('createEntity', r, 201);
        return r.data as Entity;
      };
      return { org, entities, create };
    }

    it('a $relation attribute written with an entity: getRelations lists it, getEntity fills relations and hydrates in place', async () => {
      const { entities, create } = await setup();
      const ada = await create('contact', { first_name: 'Ada', email: 'ada@x.io' });
      const bob = await create('contact', { first_name: 'Bob' });
      const deal = await create('opportunity', {
        name: 'Deal',
        contacts: { $relation: [{ entity_id: ada._id, _tags: ['primary'] }, { entity_id: bob._id }] },
      });

      const listed = await call(entities.getRelations({ slug: 'opportunity', id: deal._id }));
      expectAnswer('getRelations', listed, 200);
      assert.deepEqual(listed.data, [
        { entity_id: ada._id, attribute: 'contacts', _tags: ['primary'], _schema: 'contact' },
        { entity_id: bob._id, attribute: 'contacts', _schema: 'contact' },
      ]);

      const got = await call(entities.getEntity({ slug: 'opportunity', id: deal._id }));
      expectAnswer('getEntity', got, 200);
      assert.deepEqual(got.data.entity, deal, 'without hydrate the entity is as stored');
      assert.deepEqual(
        got.data.relations.map((e: Entity) => [e._id, e.first_name]),
        [
          [ada._id, 'Ada'],
          [bob._id, 'Bob'],
        ],
      );

      const hydrated = await call(entities.getEntity({ slug: 'opportunity', id: deal._id, hydrate: true }));
      expectAnswer('getEntity', hydrated, 200);
      assert.deepEqual(hydrated.data.entity.contacts, [
        { $relation: { entity_id: ada._id, _tags: ['primary'] }, ...ada },
        { $relation: { entity_id: bob._id }, ...bob },
      ]);
      assert.equal(hydrated.data.entity.name, 'Deal');

      const full = await call(entities.getRelations({ slug: 'opportunity', id: deal._id, hydrate: true }));
      expectAnswer('getRelations', full, 200);
      assert.deepEqual(full.data[0], {
        ...ada,
        attribute: 'contacts',
        entity_id: ada._id,
        $relation: { entity_id: ada._id, attribute: 'contacts', _tags: ['primary'], _schema: 'contact' },
      });
    });

    it('include_reverse lists the entities pointing at this one; a contact sees its deals', async () => {
      const { entities, create } = await setup();
      const ada = await create('contact', { first_name: 'Ada' });
      const d1 = await create('opportunity', { name: 'D1', contacts: { $relation: [{ entity_id: ada._id }] } });
      const d2 = await create('opportunity', {
        name: 'D2',
        owner: { $relation: [{ entity_id: ada._id, _tags: ['x'] }] },
      });
      const direct = await call(entities.getRelations({ slug: 'contact', id: ada._id }));
      expectAnswer('getRelations', direct, 200);
      assert.deepEqual(direct.data, [], 'the contact itself points at nothing');
      const both = await call(entities.getRelations({ slug: 'contact', id: ada._id, include_reverse: true }));
      expectAnswer('getRelations', both, 200);
      const expected = [
        { entity_id: d1._id, attribute: 'contacts', _schema: 'opportunity', reverse: true },
        { entity_id: d2._id, attribute: 'owner', _tags: ['x'], _schema: 'opportunity', reverse: true },
      ].sort((a, b) => a.entity_id.localeCompare(b.entity_id));
      assert.deepEqual(both.data, expected);
      const hydrated = await call(
        entities.getRelations({ slug: 'contact', id: ada._id, include_reverse: true, hydrate: true }),
      );
      expectAnswer('getRelations', hydrated, 200);
      assert.deepEqual(hydrated.data.map((e: Entity) => e.name).sort(), ['D1', 'D2']);

      const v3 = await call(entities.getRelationsV3({ slug: 'contact', id: ada._id, mode: 'reverse', size: 1 }));
      expectAnswer('getRelationsV3', v3, 200);
      assert.equal(v3.data.hits, 2);
      assert.deepEqual(v3.data.relations, [expected[0]]);
      const v3next = await call(entities.getRelationsV3({ slug: 'contact', id: ada._id, mode: 'reverse', from: 1 }));
      assert.deepEqual(v3next.data.relations, [expected[1]]);
      const v2 = await call(
        entities.getRelationsV2({
          slug: 'contact',
          id: ada._id,
          include_reverse: true,
          hydrate: true,
          fields: ['name'],
        }),
      );
      expectAnswer('getRelationsV2', v2, 200);
      assert.equal(v2.data.hits, 2);
      assert.deepEqual(v2.data.relations.map((r: Record<string, unknown>) => r.name).sort(), ['D1', 'D2']);
      assert.ok(
        v2.data.relations.every((r: Record<string, unknown>) => r.amount === undefined && r._title === undefined),
        'fields projects the hydrated entities',
      );
      const counted = await call(entities.getRelatedEntitiesCount({ slug: 'contact', id: ada._id }));
      expectAnswer('getRelatedEntitiesCount', counted, 200);
      assert.deepEqual(counted.data, { hits: 2 });
      const excluded = await call(
        entities.getRelatedEntitiesCount({ slug: 'contact', id: ada._id, exclude_schemas: ['opportunity'] }),
      );
      assert.deepEqual(excluded.data, { hits: 0 });
      const onlyContacts = await call(
        entities.getRelationsV3({ slug: 'contact', id: ada._id, mode: 'both', include_schemas: ['contact'] }),
      );
      assert.deepEqual(onlyContacts.data, { hits: 0, relations: [] });
    });

    it('addRelations (200), updateRelation (200), deleteRelation (204), removeRelations (204), each 404 for what is not there', async () => {
      const { entities, create } = await setup();
      const ada = await create('contact', { first_name: 'Ada' });
      const bob = await create('contact', { first_name: 'Bob' });
      const deal = await create('opportunity', { name: 'Deal' });
      const at = { slug: 'opportunity', id: deal._id };

      const added = await call(
        entities.addRelations(at, [
          { attribute: 'contacts', entity_id: ada._id, _tags: ['primary'] },
          { attribute: 'contacts', entity_id: bob._id },
        ]),
      );
      expectAnswer('addRelations', added, 200);
      assert.deepEqual(added.data, {
        attribute: 'contacts',
        entity_id: ada._id,
        _tags: ['primary'],
        _schema: 'contact',
      });
      const stored = (await entities.getEntity(at)).data.entity as Entity;
      assert.deepEqual(stored.contacts, {
        $relation: [{ entity_id: ada._id, _tags: ['primary'] }, { entity_id: bob._id }],
      });
      // Adding it again keeps one item and takes the new tags.
      expectAnswer(
        'addRelations',
        await call(entities.addRelations(at, [{ attribute: 'contacts', entity_id: bob._id, _tags: ['billing'] }])),
        200,
      );
      const list = async () => (await entities.getRelations(at)).data.map((r: any) => [r.entity_id, r._tags]);
      assert.deepEqual(await list(), [
        [ada._id, ['primary']],
        [bob._id, ['billing']],
      ]);
      const missing = await call(entities.addRelations(at, [{ attribute: 'contacts', entity_id: MISSING }]));
      expectAnswer('addRelations', missing, 404);
      assert.match(missing.data.error, new RegExp(`entity ${MISSING} not found`));
      const noSource = await call(
        entities.addRelations({ slug: 'opportunity', id: MISSING }, [{ attribute: 'contacts', entity_id: ada._id }]),
      );
      expectAnswer('addRelations', noSource, 404);

      const updated = await call(
        entities.updateRelation({ ...at, attribute: 'contacts', entity_id: ada._id }, { _tags: ['ceo'] }),
      );
      expectAnswer('updateRelation', updated, 200);
      assert.deepEqual(updated.data, { entity_id: ada._id, attribute: 'contacts', _tags: ['ceo'], _schema: 'contact' });
      assert.deepEqual((await list())[0], [ada._id, ['ceo']]);
      expectAnswer(
        'updateRelation',
        await call(entities.updateRelation({ ...at, attribute: 'contacts', entity_id: MISSING }, { _tags: [] })),
        404,
      );

      expectAnswer(
        'deleteRelation',
        await call(entities.deleteRelation({ ...at, attribute: 'contacts', entity_id: ada._id })),
        204,
      );
      assert.deepEqual(await list(), [[bob._id, ['billing']]]);
      const again = await call(entities.deleteRelation({ ...at, attribute: 'contacts', entity_id: ada._id }));
      expectAnswer('deleteRelation', again, 404);
      assert.match(again.data.error, /relation contacts → .* not found/);

      const notThere = await call(
        entities.removeRelations(at, [
          { attribute: 'contacts', entity_id: bob._id },
          { attribute: 'contacts', entity_id: ada._id },
        ]),
      );
      expectAnswer('removeRelations', notThere, 404);
      assert.deepEqual(await list(), [[bob._id, ['billing']]], 'nothing is removed when one item is not there');
      expectAnswer(
        'removeRelations',
        await call(entities.removeRelations(at, [{ attribute: 'contacts', entity_id: bob._id }])),
        204,
      );
      assert.deepEqual(await list(), []);
      assert.deepEqual(((await entities.getEntity(at)).data.entity as Entity).contacts, { $relation: [] });
    });

    it('relations follow the entity: a PATCH of other attributes keeps them, a PUT without them and a delete drop them', async () => {
      const { entities, create } = await setup();
      const ada = await create('contact', { first_name: 'Ada' });
      const deal = await create('opportunity', { name: 'Deal', contacts: { $relation: [{ entity_id: ada._id }] } });
      const at = { slug: 'opportunity', id: deal._id };
      const reverse = async () =>
        (await entities.getRelations({ slug: 'contact', id: ada._id, include_reverse: true })).data.length;
      await entities.patchEntity(at, { amount: 3 });
      assert.equal((await entities.getRelations(at)).data.length, 1);
      assert.equal(await reverse(), 1);
      await entities.updateEntity(at, { name: 'Deal 2' });
      assert.deepEqual((await entities.getRelations(at)).data, []);
      assert.equal(await reverse(), 0, 'the reverse side follows');
      await entities.patchEntity(at, { contacts: { $relation: [{ entity_id: ada._id }] } });
      assert.equal(await reverse(), 1);
      await entities.deleteEntity(at);
      assert.equal(await reverse(), 0);
      // A related entity that was deleted reads as missing: listed nowhere, hydrated nowhere.
      const bob = await create('contact', { first_name: 'Bob' });
      const d2 = await create('opportunity', { contacts: { $relation: [{ entity_id: bob._id }] } });
      await entities.deleteEntity({ slug: 'contact', id: bob._id });
      const at2 = { slug: 'opportunity', id: d2._id };
      assert.deepEqual((await entities.getRelations({ ...at2, hydrate: true })).data, []);
      const got = (await entities.getEntity({ ...at2, hydrate: true })).data;
      assert.deepEqual(got.relations, []);
      assert.deepEqual(got.entity?.contacts, [{ $relation: { entity_id: bob._id } }]);
      // The dangling item does not stop other changes of the entity.
      const patched = await call(entities.patchEntity(at2, { name: 'Still fine' }));
      expectAnswer('patchEntity', patched, 200);
      // Deleting is a soft delete: restored from the trash, the contact is related again.
      await entities.restoreEntity({ slug: 'contact', id: bob._id });
      assert.equal((await entities.getRelations(at2)).data.length, 1);
      assert.equal((await entities.getEntity(at2)).data.relations?.length, 1);
    });

    it('search finds entities by a relation: <attribute>.$relation.entity_id', async () => {
      const { entities, create } = await setup();
      const ada = await create('contact', { first_name: 'Ada' });
      const deal = await create('opportunity', { contacts: { $relation: [{ entity_id: ada._id, _tags: ['VIP'] }] } });
      await create('opportunity', { name: 'unrelated' });
      const found = await call(entities.searchEntities(null, { q: `contacts.$relation.entity_id:${ada._id}` }));
      expectAnswer('searchEntities', found, 200);
      assert.deepEqual(
        found.data.results.map((e: Entity) => e._id),
        [deal._id],
      );
      const byTag = await call(entities.searchEntities(null, { q: 'contacts.$relation._tags:vip' }));
      assert.deepEqual(
        byTag.data.results.map((e: Entity) => e._id),
        [deal._id],
      );
      // Relations added later through the Relations API are found too.
      const bob = await create('contact', { first_name: 'Bob' });
      await entities.addRelations({ slug: 'opportunity', id: deal._id }, [
        { attribute: 'contacts', entity_id: bob._id },
      ]);
      const later = await call(entities.searchEntities(null, { q: `contacts.$relation.entity_id:${bob._id}` }));
      assert.deepEqual(
        later.data.results.map((e: Entity) => e._id),
        [deal._id],
      );
    });

    it('another org’s entity id is exactly a missing one: refused when related, never listed or hydrated', async () => {
      const mine = await setup();
      const theirs = await setup();
      const their = await theirs.create('contact', { first_name: 'Secret', email: 'secret@other.io' });
      const deal = await mine.create('opportunity', { name: 'Mine' });
      const at = { slug: 'opportunity', id: deal._id };

      const viaAdd = await call(mine.entities.addRelations(at, [{ attribute: 'contacts', entity_id: their._id }]));
      const viaAddMissing = await call(mine.entities.addRelations(at, [{ attribute: 'contacts', entity_id: MISSING }]));
      expectAnswer('addRelations', viaAdd, 404);
      assert.equal(viaAdd.data.error.replace(their._id, 'X'), viaAddMissing.data.error.replace(MISSING, 'X'));

      const viaWrite = await call(
        mine.entities.patchEntity(at, { contacts: { $relation: [{ entity_id: their._id }] } }),
      );
      const viaWriteMissing = await call(
        mine.entities.patchEntity(at, { contacts: { $relation: [{ entity_id: MISSING }] } }),
      );
      // 422, a status epilot documents for entity writes (its body there is a schema validation's; ours names the relation).
      expectError(viaWrite, 422, new RegExp(`^contacts: related entity ${their._id} not found$`));
      assert.equal(viaWrite.data.error.replace(their._id, 'X'), viaWriteMissing.data.error.replace(MISSING, 'X'));
      const created = await call(
        mine.entities.createEntity({ slug: 'opportunity' }, { c: { $relation: [{ entity_id: their._id }] } }),
      );
      expectError(created, 422, /^c: related entity .* not found$/);

      // Their entity's relations are not reachable through my org, and mine do not point into theirs.
      expectAnswer('getRelations', await call(mine.entities.getRelations({ slug: 'contact', id: their._id })), 404);
      const reverse = await call(
        theirs.entities.getRelations({ slug: 'contact', id: their._id, include_reverse: true }),
      );
      assert.deepEqual(reverse.data, []);

      // Even a relation row planted in the store across orgs (data no API write can make) is never shown.
      const planted = { ...deal, contacts: { $relation: [{ entity_id: their._id }] } };
      await env.p.store.transaction(async (tx) => {
        await tx.replaceEntity(planted as never);
        await tx.setEntityRelations(mine.org.id, deal._id, [{ attribute: 'contacts', entity_id: their._id }]);
      });
      const listed = await call(mine.entities.getRelations({ ...at, hydrate: true }));
      expectAnswer('getRelations', listed, 200);
      assert.deepEqual(listed.data, []);
      const got = (await mine.entities.getEntity({ ...at, hydrate: true })).data;
      assert.deepEqual(got.relations, []);
      assert.deepEqual(got.entity?.contacts, [{ $relation: { entity_id: their._id } }]);
      assert.ok(!JSON.stringify(got).includes('secret@other.io'));
      assert.deepEqual((await mine.entities.getRelatedEntitiesCount(at)).data, { hits: 0 });
      assert.deepEqual(
        (await theirs.entities.getRelations({ slug: 'contact', id: their._id, include_reverse: true })).data,
        [],
        'their contact does not see my deal pointing at it',
      );
    });

    it('grants: an app token for opportunities never sees a hydrated contact, and cannot relate one', async () => {
      const { org, entities, create } = await setup();
      const contact = await create('contact', { first_name: 'Hidden', email: 'hidden@x.io' });
      const other = await create('opportunity', { name: 'Visible' });
      const deal = await create('opportunity', {
        name: 'Deal',
        contacts: { $relation: [{ entity_id: contact._id }] },
        related: { $relation: [{ entity_id: other._id }] },
      });
      await entities.patchEntity(
        { slug: 'contact', id: contact._id },
        { deals: { $relation: [{ entity_id: deal._id }] } },
      );
      const app = await appToken(env.p, env.rx, org);
      const at = { slug: 'opportunity', id: deal._id };

      const listed = await call(app.getRelations({ ...at, hydrate: true, include_reverse: true }));
      expectAnswer('getRelations', listed, 200);
      assert.deepEqual(
        listed.data.map((r: Entity) => [r._id, r.attribute]),
        [[other._id, 'related']],
        'the contact (direct) and its reverse relation are left out',
      );
      const got = await call(app.getEntity({ ...at, hydrate: true }));
      expectAnswer('getEntity', got, 200);
      assert.deepEqual(
        got.data.relations.map((e: Entity) => e._id),
        [other._id],
      );
      assert.deepEqual(got.data.entity.contacts, [{ $relation: { entity_id: contact._id } }]);
      assert.ok(!JSON.stringify(got.data).includes('hidden@x.io'));
      assert.deepEqual((await app.getRelatedEntitiesCount(at)).data, { hits: 1 });
      assert.equal((await call(app.getRelations({ slug: 'contact', id: contact._id }))).status, 403);

      const relate = await call(app.addRelations(at, [{ attribute: 'more', entity_id: contact._id }]));
      assert.equal(relate.status, 403, JSON.stringify(relate.data));
      assert.match(relate.data.error, /missing grant entity:view on contact:/);
      const write = await call(app.patchEntity(at, { more: { $relation: [{ entity_id: contact._id }] } }));
      assert.equal(write.status, 403);
      // The relation it cannot see stays when the app changes the entity's other relations.
      expectAnswer(
        'addRelations',
        await call(app.addRelations(at, [{ attribute: 'related', entity_id: deal._id }])),
        200,
      );
      assert.deepEqual(((await entities.getEntity(at)).data.entity as Entity).contacts, {
        $relation: [{ entity_id: contact._id }],
      });
    });

    it('hostile input: malformed bodies, tampered ids, huge lists, nested or unsupported relation shapes', async () => {
      const { org, entities, create } = await setup();
      const api = org.client;
      const ada = await create('contact', { first_name: 'Ada' });
      const deal = await create('opportunity', { name: 'Deal' });
      const rel = `/v1/entity/opportunity/${deal._id}/relations`;
      const err = async (r: Promise<{ status: number; body: any }>, status: number, message: RegExp) => {
        const res = await r;
        expectError({ status: res.status, data: res.body }, status, message);
      };
      await err(api.req('POST', rel, { attribute: 'x', entity_id: ada._id }), 400, /body must be array/);
      await err(api.req('POST', rel, []), 400, /body must NOT have fewer than 1 items/);
      await err(api.req('POST', rel, [{ attribute: 'x' }]), 400, /entity_id/);
      await err(api.req('POST', rel, [{ attribute: 'x', entity_id: `${ada._id}x` }]), 400, /entity_id must match/);
      await err(api.req('POST', rel, [{ attribute: 'x', entity_id: ada._id.toUpperCase() }]), 400, /entity_id/);
      await err(api.req('POST', rel, [{ attribute: '_id', entity_id: ada._id }]), 400, /attribute must match/);
      await err(api.req('POST', rel, [{ attribute: 'x', entity_id: ada._id, evil: 1 }]), 400, /additional/);
      await err(api.req('POST', rel, [{ attribute: 'x', entity_id: ada._id, reverse: true }]), 400, /reverse/);
      await err(api.req('POST', rel, [{ attribute: 'x', entity_id: ada._id, org_id: 'org_other' }]), 400, /org_id/);
      await err(
        api.req('POST', rel, [{ attribute: 'name', entity_id: ada._id }]),
        422,
        /name of .* is not a relation attribute/,
      );
      const huge = Array.from({ length: 1001 }, () => ({ attribute: 'x', entity_id: ada._id }));
      await err(api.req('POST', rel, huge), 400, /must NOT have more than 1000 items/);
      await err(api.req('DELETE', rel, huge), 400, /must NOT have more than 1000 items/);
      await err(api.req('GET', `${rel}?size=1001`), 400, /size must be <= 1000/);
      await err(api.req('GET', `${rel}?size=0`), 400, /size must be >= 1/);
      await err(api.req('GET', `${rel}?from=-1`), 400, /from must be >= 0/);
      const many = Array.from({ length: 101 }, (_, i) => `s${i}`).join(',');
      await err(api.req('GET', `${rel}?include_schemas=${many}`), 400, /include_schemas may hold at most 100/);
      await err(api.req('GET', `/v2/entity/opportunity/${deal._id}/relations?query=x`), 400, /query is not supported/);
      await err(
        api.req('GET', `/v3/entity/opportunity/${deal._id}/relations?include_deleted=only`),
        400,
        /include_deleted is not supported/,
      );
      await err(api.req('PUT', `${rel}/contacts/${ada._id}`, { _tags: 'x' }), 400, /_tags must be array/);
      await err(api.req('PUT', `${rel}/contacts/${ada._id}`, { other: 1 }), 400, /additional/);
      await err(api.req('DELETE', `${rel}/contacts/not-an-id`), 400, /entity_id must match/);
      await err(api.req('GET', `/v1/entity/opportunity/${MISSING}/relations`), 404, /not found/);

      // Entity writes: the $relation shape is checked, 400 naming the field; a wrong _schema of an existing entity is a 422.
      const write = (body: Record<string, unknown>) => api.req('POST', '/v1/entity/opportunity', body);
      await err(write({ c: { $relation: 'x' } }), 400, /^c\.\$relation must be an array/);
      await err(
        write({ c: { $relation: [{ entity_id: 'x' }] } }),
        400,
        /c\.\$relation\[0\]\.entity_id must be an entity id/,
      );
      await err(
        write({ c: { $relation: [{ entity_id: ada._id, role: 'x' }] } }),
        400,
        /\$relation\[0\]\.role is not supported/,
      );
      await err(
        write({ c: { $relation: [{ entity_id: ada._id, _tags: [1] }] } }),
        400,
        /_tags must be an array of strings/,
      );
      await err(
        write({ c: { $relation: [{ entity_id: ada._id }, { entity_id: ada._id }] } }),
        400,
        /c\.\$relation\[1\]: entity .* is listed twice/,
      );
      await err(write({ c: { $relation: [], other: 1 } }), 400, /c\.other: a relation attribute holds only \$relation/);
      await err(write({ c: { $relation_ref: [] } }), 400, /\$relation_ref is not supported/);
      await err(write({ list: [{ $relation: [] }] }), 400, /list\[0\]\.\$relation: relations are only supported/);
      await err(write({ _x: { $relation: [] } }), 400, /system field/);
      await err(
        write({ c: { $relation: [{ entity_id: ada._id, _schema: 'opportunity' }] } }),
        422,
        /is a contact, not a opportunity/,
      );
      const tooMany = Array.from({ length: 1001 }, (_, i) => ({
        entity_id: `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`,
      }));
      await err(write({ c: { $relation: tooMany } }), 400, /at most 1000 relations/);
      // Nothing of the refused writes was stored.
      assert.equal((await entities.searchEntities(null, { q: '_schema:opportunity' })).data.hits, 1);
    });
  });
