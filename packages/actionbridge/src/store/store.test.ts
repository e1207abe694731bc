import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { connect } from '../db/connect.js';
import { describeOn, freshDatabase } from '../testing/postgres.js';
import type { Delivery, EntityItem } from '../types.js';
import { newId, newUuid, nowIso } from '../util/ids.js';
import { KyselyStore, type Store } from './store.js';

/**
 * The store conformance suite: every backend runs the same tests. SQLite always; PostgreSQL when
 * `TEST_DATABASE_URL` points at a server, else it reports as skipped.
 */
function conformance(name: 'sqlite' | 'postgres', open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>) {
  describeOn(name, `Store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const orgA = newId('org');
    const orgB = newId('org');

    before(async () => {
      ({ store, cleanup } = await open());
      for (const id of [orgA, orgB]) await store.createOrg({ id, name: id, created_at: nowIso() });
    });
    after(async () => cleanup());

    const entity = (org: string, attrs: Record<string, unknown> = {}): EntityItem => {
      const now = nowIso();
      return {
        _id: newUuid(),
        _org: org,
        _schema: 'opportunity',
        _title: 't',
        _created_at: now,
        _updated_at: now,
        ...attrs,
      };
    };
    const delivery = (org: string, due: number | null): Delivery => ({
      id: newId('dlv'),
      org_id: org,
      execution_id: newUuid(),
      action_id: 'a',
      app_id: 'app',
      component_id: 'c',
      webhook_id: newId('msg'),
      url: 'http://x',
      status: 'pending',
      request_body: '{}',
      attempt_count: 0,
      next_attempt_ms: due,
      last_status_code: null,
      last_error: null,
      created_at: nowIso(),
      updated_at: nowIso(),
    });

    it('keeps orgs apart: another org’s rows read as missing', async () => {
      const e = entity(orgA, { amount: 1 });
      await store.insertEntity(e);
      assert.deepEqual(await store.getEntity(orgA, e._id), e);
      assert.equal(await store.getEntity(orgB, e._id), undefined);
      assert.ok((await store.listEntities(orgB)).every((x) => x._org === orgB));
      const d = delivery(orgA, null);
      await store.insertDelivery(d);
      assert.equal((await store.getDelivery(orgA, d.id))?.webhook_id, d.webhook_id);
      assert.equal(await store.getDelivery(orgB, d.id), undefined);
      assert.equal((await store.listDeliveries(orgB, { from: 0, size: 10 })).total, 0);
    });

    it('rolls a failed transaction back whole', async () => {
      const e = entity(orgA);
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertEntity(e);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.getEntity(orgA, e._id), undefined);
    });

    it('claims due deliveries once, in due order, until the lease runs out', async () => {
      const now = Date.now() + 10_000_000; // far from the other tests' rows
      const late = delivery(orgA, now - 10);
      const early = delivery(orgA, now - 20);
      const future = delivery(orgA, now + 1000);
      for (const d of [late, early, future]) await store.insertDelivery(d);
      const first = await store.claimDueDeliveries(now, 5000, 10);
      assert.deepEqual(
        first
          .filter((d) => [late.id, early.id, future.id].includes(d.id))
          .map((d) => d.id)
          .sort(),
        [early.id, late.id].sort(),
      );
      assert.equal((await store.claimDueDeliveries(now, 5000, 10)).length, 0, 'leased rows are not claimed twice');
      const again = await store.claimDueDeliveries(now + 5001, 5000, 10);
      assert.ok(
        again.some((d) => d.id === early.id),
        'claimable again once the lease ran out',
      );
      await store.updateDelivery(early.id, { status: 'succeeded', next_attempt_ms: null, updated_at: nowIso() });
      await store.releaseLeases();
      const after = await store.claimDueDeliveries(now + 20_000, 5000, 10);
      assert.ok(!after.some((d) => d.id === early.id), 'finished deliveries are never claimed');
      assert.ok(after.some((d) => d.id === late.id));
    });

    it('claims events oldest first and marks them processed', async () => {
      const e = entity(orgB);
      const mk = (op: 'createEntity' | 'updateEntity', at: string) => ({
        id: newUuid(),
        org_id: orgB,
        entity_id: e._id,
        schema: 'opportunity',
        operation: op,
        entity: e,
        diff: { added: {}, updated: {}, deleted: {} },
        caused_by_execution: null,
        occurred_at: at,
      });
      const a = mk('createEntity', '2026-01-01T00:00:00.000Z');
      const b = mk('updateEntity', '2026-01-01T00:00:01.000Z');
      await store.insertEvent(b);
      await store.insertEvent(a);
      const claimed = (await store.claimEvents(Date.now(), 1000, 100)).filter((x) => x.entity_id === e._id);
      assert.deepEqual(
        claimed.map((x) => x.id),
        [a.id, b.id],
      );
      assert.deepEqual(claimed[0]?.entity, e);
      await store.markEventProcessed(a.id);
      await store.releaseLeases();
      const rest = (await store.claimEvents(Date.now(), 1000, 100)).filter((x) => x.entity_id === e._id);
      assert.deepEqual(
        rest.map((x) => x.id),
        [b.id],
      );
    });

    it('versions apps and upserts installations', async () => {
      const now = nowIso();
      const m = { name: 'A', components: [] };
      await store.createApp(
        { id: 'app-1', owner_org_id: orgA, latest_version: 1, created_at: now, updated_at: now },
        m,
      );
      assert.equal(await store.addAppVersion('app-1', { ...m, name: 'A2' }, now), 2);
      assert.equal((await store.getAppVersion('app-1', 2))?.manifest.name, 'A2');
      assert.equal((await store.getApp('app-1'))?.latest_version, 2);
      const inst = {
        org_id: orgB,
        app_id: 'app-1',
        version: 1,
        option_values: [],
        enabled: false,
        signing_secret: null,
        created_at: now,
        updated_at: now,
      };
      await store.putInstallation(inst);
      const changed = { ...inst, version: 2, enabled: true, signing_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' };
      await store.putInstallation(changed);
      assert.deepEqual(await store.getInstallation(orgB, 'app-1'), changed);
      assert.equal(await store.getInstallation(orgA, 'app-1'), undefined);
      assert.equal(await store.deleteInstallation(orgB, 'app-1'), true);
      assert.equal(await store.deleteInstallation(orgB, 'app-1'), false);
    });
  });
}

conformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ab-store-'));
  const conn = await connect({ dataDir: dir });
  const store = new KyselyStore(conn.db, conn.dialect);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

conformance('postgres', async () => {
  const db = await freshDatabase();
  const conn = await connect({ dataDir: '', databaseUrl: db.url });
  const store = new KyselyStore(conn.db, conn.dialect);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});
