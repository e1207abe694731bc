/**
 * epilot's entity lifecycle on the real server, through `@epilot/entity-client` (every answer
 * checked against its OpenAPI definition), on SQLite and PostgreSQL: soft delete, the trash in
 * searches, restore, purge, what flows see of each, and hostile requests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient as entityClient } from '@epilot/entity-client';
import { BACKENDS, installFlow, until, useTestPlatform } from '../testing/harness.js';
import { assertAnswer, call, OpenApiChecker, pointed } from '../testing/openapi.js';

const definition = OpenApiChecker.load('entity');

type Entity = { _id: string; _deleted_at?: string; [k: string]: unknown };

/** The answer has the status, matches the operation in the entity client's definition, and is returned. */
async function expectAnswer(operationId: string, p: Promise<{ status: number; data: unknown }>, status: number) {
  const answer = await call(p);
  assert.equal(answer.status, status, `${operationId} answered ${answer.status}: ${JSON.stringify(answer.data)}`);
  assertAnswer(definition, operationId, answer);
  return answer.data as Entity & { error?: string; hits?: number; results?: Entity[] };
}

for (const backend of BACKENDS)
  describe(`entity lifecycle through the entity client (${backend})`, () => {
    const env = useTestPlatform({ backend });

    async function setup() {
      const org = await env.p.newOrg();
      const entities = pointed(entityClient(), env.p.url, org.token);
      const create = async (attrs: Record<string, unknown>, slug = 'contact') =>
        expectAnswer('createEntity', entities.createEntity({ slug }, attrs), 201);
      const search = async (q: string, include_deleted?: 'true' | 'false' | 'only') =>
        expectAnswer(
          'searchEntities',
          entities.searchEntities(null, { q, ...(include_deleted ? { include_deleted } : {}) }),
          200,
        );
      return { org, api: org.client, entities, create, search };
    }

    it('a DELETE soft-deletes: not found by get, only in searches that include deleted ones, restorable as it was', async () => {
      const { entities, create, search } = await setup();
      const tag = `t${Date.now()}`;
      const e = await create({ name: 'Ada', tag });
      const other = await create({ name: 'Bob', tag });
      const deleted = await expectAnswer('deleteEntity', entities.deleteEntity({ slug: 'contact', id: e._id }), 200);
      assert.equal(deleted._id, e._id);
      assert.ok(deleted._deleted_at && !Number.isNaN(Date.parse(deleted._deleted_at)), 'the answer has _deleted_at');
      await expectAnswer('getEntity', entities.getEntity({ slug: 'contact', id: e._id }), 404);

      const names = (r: { results?: Entity[] }) => (r.results ?? []).map((x) => x.name).sort();
      assert.deepEqual(names(await search(`tag:${tag}`)), ['Bob']);
      assert.deepEqual(names(await search(`tag:${tag}`, 'false')), ['Bob']);
      const all = await search(`tag:${tag}`, 'true');
      assert.deepEqual(names(all), ['Ada', 'Bob']);
      assert.equal(all.hits, 2);
      const trash = await search(`tag:${tag}`, 'only');
      assert.deepEqual(names(trash), ['Ada']);
      assert.equal(trash.results?.[0]?._deleted_at, deleted._deleted_at);
      assert.deepEqual(
        names(await search(`_deleted_at:* AND tag:${tag}`, 'true')),
        ['Ada'],
        '_deleted_at is searchable',
      );

      const restored = await expectAnswer('restoreEntity', entities.restoreEntity({ slug: 'contact', id: e._id }), 200);
      assert.deepEqual(restored, e, 'restored exactly as it was, without _deleted_at');
      const got = await expectAnswer('getEntity', entities.getEntity({ slug: 'contact', id: e._id }), 200);
      assert.deepEqual(got.entity, e);
      assert.deepEqual(names(await search(`tag:${tag}`)), ['Ada', 'Bob']);
      assert.deepEqual(names(await search(`tag:${tag}`, 'only')), []);
      const again = await expectAnswer('restoreEntity', entities.restoreEntity({ slug: 'contact', id: e._id }), 400);
      assert.match(String(again.error), /is not deleted/);
      assert.equal(other.name, 'Bob');
    });

    it('purge deletes for good, from the trash too; a soft delete of a deleted entity is a 404', async () => {
      const { entities, create, search } = await setup();
      const tag = `p${Date.now()}`;
      const a = await create({ name: 'A', tag });
      const b = await create({ name: 'B', tag });
      await expectAnswer('deleteEntity', entities.deleteEntity({ slug: 'contact', id: a._id }), 200);
      const twice = await call(entities.deleteEntity({ slug: 'contact', id: a._id }));
      assert.equal(twice.status, 404, 'already in the trash');
      const purged = await expectAnswer(
        'deleteEntity',
        entities.deleteEntity({ slug: 'contact', id: a._id, purge: true }),
        200,
      );
      assert.equal(purged._id, a._id);
      await expectAnswer('deleteEntity', entities.deleteEntity({ slug: 'contact', id: b._id, purge: true }), 200);
      assert.equal((await search(`tag:${tag}`, 'true')).hits, 0);
      await expectAnswer('restoreEntity', entities.restoreEntity({ slug: 'contact', id: a._id }), 404);
      assert.equal((await call(entities.deleteEntity({ slug: 'contact', id: b._id, purge: true }))).status, 404);
    });

    it('a deleted entity cannot be changed until it is restored: PUT, PATCH and an upsert matching it are 405', async () => {
      const { api, entities, create } = await setup();
      const e = await create({ email: 'gone@x.io', n: 1 });
      await expectAnswer('deleteEntity', entities.deleteEntity({ slug: 'contact', id: e._id }), 200);
      const patch = await api.req('PATCH', `/v1/entity/contact/${e._id}`, { n: 2 });
      assert.equal(patch.status, 405, JSON.stringify(patch.body));
      assert.match(patch.body.error, /is deleted: restore it \(PATCH \/v1\/entity\/contact\/.+:restore\)/);
      assert.equal((await api.req('PUT', `/v1/entity/contact/${e._id}`, { n: 2 })).status, 405);
      const upsert = await expectAnswer(
        'upsertEntity',
        entities.upsertEntity({ slug: 'contact' }, { unique_key: ['email'], entity: { email: 'gone@x.io', n: 3 } }),
        405,
      );
      assert.equal(upsert._id, undefined);
      await expectAnswer('restoreEntity', entities.restoreEntity({ slug: 'contact', id: e._id }), 200);
      const patched = await expectAnswer(
        'patchEntity',
        entities.patchEntity({ slug: 'contact', id: e._id }, { n: 2 }),
        200,
      );
      assert.equal(patched.n, 2);
      const up = await expectAnswer(
        'upsertEntity',
        entities.upsertEntity({ slug: 'contact' }, { unique_key: ['email'], entity: { email: 'gone@x.io', n: 3 } }),
        200,
      );
      assert.equal(up._id, e._id);
    });

    it('flows see a soft delete, a restore and a purge: deleteEntity flows run on both deletions', async () => {
      const { api, create } = await setup();
      const rx = env.rx;
      rx.respond = () => ({ status: 200, body: {} });
      const path = `/life-${Date.now()}`;
      const { flow } = await installFlow(api, `${rx.url}${path}`, {
        flow: {
          triggers: [
            {
              type: 'entity_operation',
              configuration: { schema: 'opportunity', operations: ['deleteEntity', 'restoreEntity'] },
            },
          ],
        },
      });
      assert.ok(flow.id);
      const e = await create({ name: 'Deal' }, 'opportunity');
      const mine = () => rx.received.filter((r) => r.url === path).map((r) => JSON.parse(r.body).data);
      await api.req('DELETE', `/v1/entity/opportunity/${e._id}`);
      await until(async () => mine().length >= 1, 'the soft delete delivery');
      await api.req('PATCH', `/v1/entity/opportunity/${e._id}:restore`, {});
      await until(async () => mine().length >= 2, 'the restore delivery');
      await api.req('DELETE', `/v1/entity/opportunity/${e._id}?purge=true`);
      await until(async () => mine().length >= 3, 'the purge delivery');
      const seen = mine().map((d) => [d.trigger_event, d.trigger.operation]);
      assert.deepEqual(seen, [
        ['opportunity.deleted', 'softDeleteEntity'],
        ['opportunity.restored', 'restoreEntity'],
        ['opportunity.deleted', 'deleteEntity'],
      ]);
      const [soft, restore] = mine();
      assert.ok(soft.entity._deleted_at, 'the soft-deleted entity as it is in the trash');
      assert.equal(soft.trigger.diff.deleted.name, 'Deal');
      assert.equal(restore.entity._deleted_at, undefined);
      assert.equal(restore.trigger.diff.added.name, 'Deal');
    });

    it('keeps _owners and _acl as sent: created, read, searched, replaced by PATCH, kept by a PUT without them', async () => {
      const { api, entities, create, search } = await setup();
      const _owners = [{ org_id: '123', user_id: '456' }, { org_id: '789' }];
      const _acl = { view: ['org:456', 'org:789'], edit: ['org:456'], delete: [] };
      const e = await create({ name: 'Shared', _owners, _acl });
      assert.deepEqual(e._owners, _owners);
      assert.deepEqual(e._acl, _acl);
      const got = await expectAnswer('getEntity', entities.getEntity({ slug: 'contact', id: e._id }), 200);
      assert.deepEqual(got.entity, e);
      const found = await search(`_acl.view:"org:789" AND _owners.user_id:456`);
      assert.deepEqual(
        found.results?.map((x) => x._id),
        [e._id],
      );

      const acl2 = { view: ['org:1'], share_level: 'custom' };
      const patched = await expectAnswer(
        'patchEntity',
        entities.patchEntity({ slug: 'contact', id: e._id }, { _acl: acl2 }),
        200,
      );
      assert.deepEqual(patched._acl, acl2, 'a PATCH replaces _acl whole (other keys allowed, as epilot does)');
      assert.deepEqual(patched._owners, _owners);
      const put = await expectAnswer(
        'updateEntity',
        entities.updateEntity({ slug: 'contact', id: e._id }, { name: 'P' }),
        200,
      );
      assert.deepEqual([put._owners, put._acl, put.name], [_owners, acl2, 'P'], 'a PUT without them keeps them');
      const replaced = await expectAnswer(
        'updateEntity',
        entities.updateEntity({ slug: 'contact', id: e._id }, { name: 'Q', _owners: [{ org_id: 'x' }] }),
        200,
      );
      assert.deepEqual(replaced._owners, [{ org_id: 'x' }]);

      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ _owners: {} }, /^_owners must be an array/],
        [{ _owners: null }, /^_owners must be an array/],
        [{ _owners: ['123'] }, /^_owners\[0\]: _owners must be an array/],
        [{ _owners: [{ user_id: '1' }] }, /^_owners\[0\]\.org_id must be a string/],
        [{ _owners: [{ org_id: 5 }] }, /^_owners\[0\]\.org_id must be a string/],
        [{ _owners: [{ org_id: '1', user_id: null }] }, /^_owners\[0\]\.user_id must be a string/],
        [{ _owners: Array.from({ length: 101 }, () => ({ org_id: '1' })) }, /at most 100/],
        [{ _acl: [] }, /^_acl must be an object/],
        [{ _acl: null }, /^_acl must be an object/],
        [{ _acl: { view: 'org:1' } }, /^_acl\.view must be an array/],
        [{ _acl: { edit: [1] } }, /^_acl\.edit must be an array/],
        [{ _acl: { delete: [''] } }, /^_acl\.delete must be an array/],
        [{ _acl: { view: ['x'.repeat(257)] } }, /^_acl\.view must be an array/],
      ];
      for (const [body, message] of bad) {
        for (const [method, path] of [
          ['POST', '/v1/entity/contact'],
          ['PATCH', `/v1/entity/contact/${e._id}`],
        ] as const) {
          const r = await api.req(method, path, body);
          assert.equal(r.status, 400, `${method} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(r.body)}`);
          assert.match(r.body.error, message);
        }
      }
      const upsert = await api.req('PATCH', '/v1/entity/contact:upsert', {
        unique_key: ['name'],
        entity: { name: 'Q', _acl: { view: 'all' } },
      });
      assert.equal(upsert.status, 400);
      assert.match(upsert.body.error, /^_acl\.view must be an array/);
      const unchanged = await expectAnswer('getEntity', entities.getEntity({ slug: 'contact', id: e._id }), 200);
      assert.deepEqual(unchanged.entity, replaced, 'a refused write changes nothing');
    });

    it('refuses hostile requests: another org’s ids, another schema, malformed purge and restore bodies', async () => {
      const { api, entities, create } = await setup();
      const mallory = await setup();
      const e = await create({ name: 'Mine' });
      // deleteEntity documents no 404; another org's entity answers one, as a missing one does (SPEC §3).
      assert.equal((await call(mallory.entities.deleteEntity({ slug: 'contact', id: e._id }))).status, 404);
      assert.equal(
        (await call(mallory.entities.deleteEntity({ slug: 'contact', id: e._id, purge: true }))).status,
        404,
      );
      await expectAnswer('deleteEntity', entities.deleteEntity({ slug: 'contact', id: e._id }), 200);
      await expectAnswer('restoreEntity', mallory.entities.restoreEntity({ slug: 'contact', id: e._id }), 404);
      assert.equal((await mallory.search('*', 'true')).hits, 0, 'the trash of another org is not searchable');
      await expectAnswer('restoreEntity', entities.restoreEntity({ slug: 'opportunity', id: e._id }), 404);
      const bad = await api.req('DELETE', `/v1/entity/contact/${e._id}?purge=yes`);
      assert.equal(bad.status, 400);
      assert.match(bad.body.error, /purge must be boolean/);
      const body = await api.req('PATCH', `/v1/entity/contact/${e._id}:restore`, { _deleted_at: null });
      assert.equal(body.status, 400);
      assert.match(body.body.error, /restoreEntity takes no body \(or \{\}\): "_deleted_at" is not supported/);
      assert.equal((await api.req('PATCH', `/v1/entity/contact/${e._id}:restore`, [1])).status, 400);
      assert.equal((await api.req('PATCH', `/v1/entity/contact/x:restore`)).status, 404);
      const { flow } = await installFlow(api, `${env.rx.url}/never`);
      const start = await api.req('POST', '/v1/automation/executions', { flow_id: flow.id, entity_id: e._id });
      assert.equal(start.status, 404, 'a flow cannot be started by hand on an entity in the trash');
      assert.match(start.body.error, new RegExp(`entity ${e._id} not found`));
      // `_deleted_at` is the server's: a client cannot create an entity in the trash.
      const created = await api.req('POST', '/v1/entity/contact', { name: 'X', _deleted_at: '2020-01-01T00:00:00Z' });
      assert.equal(created.status, 201);
      assert.equal(created.body._deleted_at, undefined, 'a client cannot create an entity in the trash');
      assert.equal((await api.req('GET', `/v1/entity/contact/${created.body._id}`)).status, 200);
    });
  });
