/**
 * `Idempotency-Key` on entity writes (SPEC §6), on SQLite and PostgreSQL: retries get the stored
 * answer and write nothing again, through `@epilot/entity-client` (answers checked against its
 * OpenAPI definition) and through real `actionbridge start` processes killed with SIGKILL between
 * a write's commit and its answer; the key's rules and refusals; expiry and cleaning on a real store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient as entityClient } from '@epilot/entity-client';
import { connect } from '../db/connect.js';
import type { EntityItem } from '../domain/types.js';
import { makeStore, type Store } from '../store/store.js';
import { BACKENDS, Client, describeOn, useTestPlatform } from '../testing/harness.js';
import { type ClientAnswer as Answer, assertAnswer, call, OpenApiChecker, pointed } from '../testing/openapi.js';
import { freshDatabase } from '../testing/postgres.js';
import { CliProcess, freePort, newOrg, tempDir } from '../testing/resilience.js';
import { newId, newUuid, nowIso } from '../util/ids.js';
import { IDEMPOTENCY_TTL_MS, once } from './idempotency.js';

const definition = OpenApiChecker.load('entity');

async function expectAnswer(operationId: string, p: Promise<any>, status: number): Promise<Answer> {
  const answer = await call(p);
  assert.equal(answer.status, status, `${operationId} answered ${answer.status}: ${JSON.stringify(answer.data)}`);
  assertAnswer(definition, operationId, answer);
  return answer;
}

const key = (k: string) => ({ headers: { 'Idempotency-Key': k } });
const replayed = (a: { headers?: Record<string, unknown> | Headers }) =>
  (a.headers instanceof Headers ? a.headers.get('idempotent-replayed') : a.headers?.['idempotent-replayed']) === 'true';

/** The org's events of one entity, newest first, by operation. */
async function eventsOf(api: Client, entityId: string): Promise<string[]> {
  const list = (await api.req('GET', '/v1/events?size=1000')).body.results as Array<{
    entity_id: string;
    operation: string;
  }>;
  return list.filter((e) => e.entity_id === entityId).map((e) => e.operation);
}

for (const backend of BACKENDS)
  describe(`Idempotency-Key on entity writes (${backend})`, () => {
    const env = useTestPlatform({ backend });

    async function setup() {
      const org = await env.p.newOrg();
      const entities = pointed(entityClient(), env.p.url, org.token);
      return { org, api: org.client, entities };
    }

    it('a retried create returns the first answer and creates nothing more; other keys and orgs are independent', async () => {
      const { api, entities } = await setup();
      const k = newUuid();
      const body = { name: `Once ${k}`, amount: 1 };
      const first = await expectAnswer(
        'createEntity',
        entities.createEntity({ slug: 'opportunity' }, body, key(k)),
        201,
      );
      assert.equal(replayed(first), false);
      const again = await expectAnswer(
        'createEntity',
        entities.createEntity({ slug: 'opportunity' }, body, key(k)),
        201,
      );
      assert.deepEqual(again.data, first.data, 'the stored answer, byte for byte the same entity');
      assert.equal(replayed(again), true, 'marked as replayed');
      const quoted = await api.req('POST', '/v1/entity/opportunity', body, { 'idempotency-key': `"${k}"` });
      assert.deepEqual(
        [quoted.status, quoted.body._id],
        [201, first.data._id],
        'a structured-field string is the same key',
      );
      const hits = (await api.req('POST', '/v1/entity:search', { q: `name:"Once ${k}"` })).body.hits;
      assert.equal(hits, 1, 'one entity');
      assert.deepEqual(await eventsOf(api, first.data._id), ['createEntity'], 'one event: flows run once');

      const other = await api.req('POST', '/v1/entity/opportunity', body, { 'idempotency-key': newUuid() });
      assert.notEqual(other.body._id, first.data._id, 'another key is another request');
      const elsewhere = await setup();
      const theirs = await elsewhere.api.req('POST', '/v1/entity/opportunity', body, { 'idempotency-key': k });
      assert.equal(theirs.status, 201);
      assert.notEqual(theirs.body._id, first.data._id, 'keys are per org');
    });

    it('the same key with another body, path or caller is a 409 naming the first request', async () => {
      const { org, api, entities } = await setup();
      const k = newUuid();
      const first = await entities.createEntity({ slug: 'contact' }, { name: 'A' }, key(k));
      // createEntity documents no 409 (its 422 is an entity validation result): checked for the message.
      const changed = await call(entities.createEntity({ slug: 'contact' }, { name: 'B' }, key(k)));
      assert.equal(changed.status, 409);
      assert.match(
        changed.data.error,
        new RegExp(`Idempotency-Key "${k}" was already used for another request \\(POST /v1/entity/contact`),
      );
      const path = entities.patchEntity({ slug: 'contact', id: first.data._id }, { name: 'A' }, key(k));
      await expectAnswer('patchEntity', path, 409);
      const token = (await env.p.admin.req('POST', `/v1/orgs/${org.id}/tokens`, { name: 'second', role: 'owner' })).body
        .token;
      const caller = await api.as(token).req('POST', '/v1/entity/contact', { name: 'A' }, { 'idempotency-key': k });
      assert.equal(caller.status, 409, 'another token of the org cannot read the answer by reusing the key');
      const hits = (await api.req('POST', '/v1/entity:search', { q: '_schema:contact' })).body.hits;
      assert.equal(hits, 1, 'nothing was written by the refused requests');
    });

    it('retried patch, put, upsert, delete, purge and restore answer as the first time and change nothing again', async () => {
      const { api, entities } = await setup();
      const e = (await entities.createEntity({ slug: 'contact' }, { name: 'E', status: 'new' })).data as EntityItem;
      const id = e._id;

      // A retry arriving after someone else's change returns the first answer and leaves that change alone.
      const patch = () => entities.patchEntity({ slug: 'contact', id }, { status: 'patched' }, key(`${id}-patch`));
      const patched = await expectAnswer('patchEntity', patch(), 200);
      await entities.patchEntity({ slug: 'contact', id }, { status: 'theirs' });
      const patchedAgain = await expectAnswer('patchEntity', patch(), 200);
      assert.deepEqual(patchedAgain.data, patched.data);
      assert.equal(replayed(patchedAgain), true);
      const put = () => entities.updateEntity({ slug: 'contact', id }, { name: 'E', status: 'put' }, key(`${id}-put`));
      const putFirst = await expectAnswer('updateEntity', put(), 200);
      await entities.patchEntity({ slug: 'contact', id }, { status: 'theirs again' });
      assert.deepEqual((await expectAnswer('updateEntity', put(), 200)).data, putFirst.data);
      const now = (await entities.getEntity({ slug: 'contact', id })).data.entity as EntityItem;
      assert.equal(now.status, 'theirs again', 'the retries wrote nothing');

      const upsertBody = { unique_key: ['email'], entity: { email: `${id}@x.io` } };
      const upsert = () => entities.upsertEntity({ slug: 'contact' }, upsertBody, key(`${id}-upsert`));
      const created = await expectAnswer('upsertEntity', upsert(), 201);
      const createdAgain = await expectAnswer('upsertEntity', upsert(), 201);
      assert.deepEqual(createdAgain.data, created.data, 'still "created": the stored answer, not an update');

      const del = () => entities.deleteEntity({ slug: 'contact', id }, null, key(`${id}-delete`));
      const deleted = await expectAnswer('deleteEntity', del(), 200);
      const deletedAgain = await expectAnswer('deleteEntity', del(), 200);
      assert.deepEqual(deletedAgain.data, deleted.data, 'not a 404: the first answer');
      const restore = () => entities.restoreEntity({ slug: 'contact', id }, undefined, key(`${id}-restore`));
      await expectAnswer('restoreEntity', restore(), 200);
      assert.equal((await expectAnswer('restoreEntity', restore(), 200)).data._deleted_at, undefined, 'not a 400');
      const purge = () => entities.deleteEntity({ slug: 'contact', id, purge: true }, null, key(`${id}-purge`));
      await expectAnswer('deleteEntity', purge(), 200);
      assert.equal((await call(purge())).status, 200, 'not a 404');
      assert.deepEqual(
        (await eventsOf(api, id)).sort(),
        [
          'createEntity',
          'deleteEntity',
          'restoreEntity',
          'softDeleteEntity',
          'updateEntity',
          'updateEntity',
          'updateEntity',
          'updateEntity',
        ],
        'one event per first request (and per change of someone else)',
      );
    });

    it('a failed write stores nothing: its retry runs again', async () => {
      const { api } = await setup();
      const k = newUuid();
      const bad = () => api.req('POST', '/v1/entity/contact', { _tags: 'x' }, { 'idempotency-key': k });
      assert.equal((await bad()).status, 400);
      assert.equal((await bad()).status, 400, 'checked again, not answered from a store');
      const e = (await api.req('POST', '/v1/entity/contact', { name: 'E' })).body;
      // Failing inside the write's transaction: a stale _updated_at (409), a missing entity (404).
      const stale = () =>
        api.req(
          'PATCH',
          `/v1/entity/contact/${e._id}`,
          { n: 1, _updated_at: '2000-01-01T00:00:00Z' },
          { 'idempotency-key': k },
        );
      assert.equal((await stale()).status, 409);
      assert.equal((await stale()).status, 409);
      const missing = `/v1/entity/contact/${newUuid()}`;
      assert.equal((await api.req('PATCH', missing, { a: 1 }, { 'idempotency-key': k })).status, 404);
      const fixed = await api.req('POST', '/v1/entity/contact', { name: 'fixed' }, { 'idempotency-key': k });
      assert.equal(fixed.status, 201, 'the key holds no answer yet: the corrected request runs');
      assert.equal(replayed(fixed), false);
    });

    it('concurrent requests with one key create one entity and all get its answer', async () => {
      const { api } = await setup();
      const k = newUuid();
      const answers = await Promise.all(
        Array.from({ length: 12 }, () =>
          api.req('POST', '/v1/entity/contact', { name: `Race ${k}` }, { 'idempotency-key': k }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(12).fill(201),
      );
      assert.equal(new Set(answers.map((a) => a.body._id)).size, 1);
      assert.equal(answers.filter((a) => !replayed(a)).length, 1, 'one wrote, the others were answered from it');
      assert.equal((await api.req('POST', '/v1/entity:search', { q: `name:"Race ${k}"` })).body.hits, 1);
    });

    it('refuses malformed keys, a key on a dry run, and a key where writes do not take one', async () => {
      const { api } = await setup();
      const e = (await api.req('POST', '/v1/entity/contact', { name: 'K' })).body;
      const post = (k: string) => api.req('POST', '/v1/entity/contact', { name: 'K' }, { 'idempotency-key': k });
      for (const k of ['', 'has space', 'x'.repeat(256), '"unterminated', 'in"side', 'é']) {
        const r = await post(k);
        assert.equal(r.status, 400, JSON.stringify(k));
        assert.match(r.body.error, /^Idempotency-Key must be 1–255 visible ASCII characters/);
      }
      assert.equal((await post('x'.repeat(255))).status, 201, '255 characters are fine');
      const huge = await post('x'.repeat(20_000));
      assert.equal(huge.status, 431, 'a header too large for the server is refused before any route');
      assert.match(huge.body.error, /Header Fields Too Large/);
      const dry = await api.req(
        'PATCH',
        `/v1/entity/contact/${e._id}?dry_run=true`,
        { n: 1 },
        { 'idempotency-key': 'd1' },
      );
      assert.equal(dry.status, 400);
      assert.match(dry.body.error, /cannot be used with dry_run=true/);
      const flow = await api.req('POST', '/v1/automation/flows', { flow_name: 'x' }, { 'idempotency-key': 'f1' });
      assert.equal(flow.status, 400);
      assert.match(
        flow.body.error,
        /^Idempotency-Key is not supported on POST \/v1\/automation\/flows: entity writes take it/,
      );
      const search = await api.req('POST', '/v1/entity:search', { q: '*' }, { 'idempotency-key': 's1' });
      assert.equal(search.status, 400);
      const read = await api.req('GET', `/v1/entity/contact/${e._id}`, undefined, { 'idempotency-key': 'r1' });
      assert.equal(read.status, 200, 'reads are idempotent anyway: they may carry the header');
      const hits = (await api.req('POST', '/v1/entity:search', { q: 'name:k' })).body.hits;
      assert.equal(hits, 2, 'only the valid 255-character request wrote');
    });
  });

/** A real store on `backend`, for what the API cannot reach within a test (time). */
function storeOn(backend: 'sqlite' | 'postgres') {
  const env = {} as { store: Store; done: () => Promise<void> };
  before(async () => {
    if (backend === 'postgres') {
      const db = await freshDatabase();
      const conn = await connect({ dataDir: '', databaseUrl: db.url });
      env.store = makeStore(conn.db, conn.dialect);
      env.done = async () => {
        await env.store.close();
        await db.drop();
      };
    } else {
      const dir = tempDir('ab-idem-');
      const conn = await connect({ dataDir: dir.path });
      env.store = makeStore(conn.db, conn.dialect);
      env.done = async () => {
        await env.store.close();
        dir.done();
      };
    }
  });
  after(async () => env.done());
  return env;
}

for (const backend of BACKENDS)
  describeOn(backend, `idempotency keys expire and are cleaned as keys are written (${backend})`, () => {
    const env = storeOn(backend);
    const org = newId('org');
    const entity = (): EntityItem => ({
      _id: newUuid(),
      _org: org,
      _schema: 'contact',
      _title: 't',
      _created_at: nowIso(),
      _updated_at: nowIso(),
    });

    it(`a key answers for ${IDEMPOTENCY_TTL_MS / 3_600_000} h, then runs its write again; writes delete expired keys`, async () => {
      const { store } = env;
      await store.createOrg({ id: org, name: org, created_at: nowIso() });
      const idem = { key: 'k', fingerprint: 'f', request: 'POST /v1/entity/contact' };
      let writes = 0;
      const write = (tx: Store) => async () => {
        writes++;
        const e = entity();
        await tx.insertEntity(e);
        return { status: 201 as const, body: e };
      };
      const t0 = Date.now();
      const first = await store.transaction((tx) => once(tx, org, idem, write(tx), t0));
      const retry = await store.transaction((tx) => once(tx, org, idem, write(tx), t0 + IDEMPOTENCY_TTL_MS - 1));
      assert.deepEqual([retry.body, retry.replayed, writes], [first.body, true, 1]);
      const late = await store.transaction((tx) => once(tx, org, idem, write(tx), t0 + IDEMPOTENCY_TTL_MS));
      assert.deepEqual([late.replayed, writes], [false, 2], 'expired: the write runs again');
      assert.notEqual(late.body._id, first.body._id);

      // Keys written long ago are deleted by later keyed writes, a few per write.
      const old = t0 - 2 * IDEMPOTENCY_TTL_MS;
      for (let i = 0; i < 6; i++) {
        await store.transaction((tx) => once(tx, org, { ...idem, key: `old-${i}` }, write(tx), old + i));
      }
      const count = async () =>
        Number(
          (
            await store.q.db
              .selectFrom('idempotency_keys')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('expires_ms', '<=', t0)
              .executeTakeFirstOrThrow()
          ).n,
        );
      assert.equal(await count(), 6);
      await store.transaction((tx) => once(tx, org, { ...idem, key: 'new-1' }, write(tx), t0));
      assert.equal(await count(), 2, 'one keyed write cleaned four expired keys');
      await store.transaction((tx) => once(tx, org, { ...idem, key: 'new-2' }, write(tx), t0));
      assert.equal(await count(), 0);
    });
  });

for (const backend of BACKENDS)
  describeOn(backend, `a client retrying after the server died between commit and answer (${backend})`, () => {
    it('gets the committed answer back and no second entity (kill -9 right after the commit)', {
      timeout: 90_000,
    }, async () => {
      const dir = tempDir('ab-idem-kill-');
      const db = backend === 'postgres' ? await freshDatabase() : undefined;
      const k = newUuid();
      let proc: CliProcess | undefined;
      try {
        const where = { dataDir: dir.path, databaseUrl: db?.url, port: await freePort() };
        // The fault point (http/idempotency.ts): this process SIGKILLs itself after committing the write of key k.
        proc = await CliProcess.start({ ...where, env: { ACTIONBRIDGE_TEST_KILL_AFTER_COMMIT: k } });
        const org = await newOrg(proc.admin);
        const body = { name: `Survivor ${k}`, amount: 42 };
        const lost = await org.client.req('POST', '/v1/entity/opportunity', body, { 'idempotency-key': k }).then(
          (r) => `answered ${r.status}`,
          (err: Error) => `lost: ${err.message}`,
        );
        assert.match(lost, /^lost:/, 'the answer never arrived');
        assert.deepEqual(await proc.exited, { code: null, signal: 'SIGKILL' });

        proc = await CliProcess.start(where); // the same database and port, without the fault point
        const base = new Client(proc.url, org.token);
        const retry = await base.req('POST', '/v1/entity/opportunity', body, { 'idempotency-key': k });
        assert.equal(retry.status, 201, JSON.stringify(retry.body));
        assert.equal(retry.headers.get('idempotent-replayed'), 'true', 'the stored answer');
        assert.equal(retry.body.name, body.name);
        const found = (await base.req('POST', '/v1/entity:search', { q: `name:"Survivor ${k}"` })).body;
        assert.equal(found.hits, 1, 'one entity, not two');
        assert.equal(found.results[0]._id, retry.body._id);
        assert.deepEqual(await eventsOf(base, retry.body._id), ['createEntity']);
      } finally {
        await proc?.kill9();
        await db?.drop();
        dir.done();
      }
    });
  });
