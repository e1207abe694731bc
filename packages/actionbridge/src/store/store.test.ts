import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { connect } from '../db/connect.js';
import type { Delivery, EntityItem } from '../domain/types.js';
import { describeOn, freshDatabase } from '../testing/postgres.js';
import { newId, newUuid, nowIso } from '../util/ids.js';
import type { ClaimCaps } from './queue/claimDeliveries.js';
import { claimDeliveries } from './queue/claimDeliveries.js';
import { claimEvents } from './queue/claimEvents.js';
import { failEvent, markEventsProcessed } from './queue/finishEvents.js';
import { renewLeases } from './queue/heartbeat.js';
import { nextDeliveryDue } from './queue/nextDue.js';
import { releaseLeases } from './queue/releaseLeases.js';
import { startAttempts } from './queue/startAttempts.js';
import { makeStore, type Store } from './store.js';

const caps = (limit: number): ClaimCaps => ({
  limit,
  orgCap: limit,
  originCap: limit,
  orgFree: new Map(),
  originFree: new Map(),
});

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
      tries: 0,
      origin: 'http://x',
      headers: {},
      timeout_ms: null,
      retry_schedule: null,
      signing_secret: null,
      mint_token: false,
    });

    it('keeps orgs apart: another org’s rows read as missing', async () => {
      const e = entity(orgA, { amount: 1 });
      await store.insertEntity(e);
      assert.deepEqual(await store.getEntity(orgA, e._id), e);
      assert.equal(await store.getEntity(orgB, e._id), undefined);
      assert.ok((await store.listEntities(orgB)).every((x) => x._org === orgB));
      const d = delivery(orgA, null);
      await store.insertDeliveries([d]);
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
      await store.insertDeliveries([late, early, future]);
      const claim = (at: number, owner = 'w1', extra: Partial<ClaimCaps> = {}) =>
        claimDeliveries(store.q, { now: at, leaseMs: 5000, owner, ...caps(10), ...extra });
      const first = await claim(now);
      assert.deepEqual(
        first.filter((d) => [late.id, early.id, future.id].includes(d.id)).map((d) => d.id),
        [early.id, late.id],
      );
      assert.equal(first.find((d) => d.id === early.id)?.attempt_count, 1, 'the claim counts the attempt');
      assert.equal((await claim(now, 'w2')).length, 0, 'leased rows are not claimed twice');
      await renewLeases(store.q, 'w1', now + 9000, { events: [], deliveries: [early.id] });
      const again = await claim(now + 5001, 'w2');
      assert.deepEqual(
        again.filter((d) => d.id !== future.id).map((d) => d.id),
        [late.id],
        'a lease renewed by its owner holds; the lapsed one is taken over',
      );
      await releaseLeases(store.q, 'w1');
      const released = await claim(now + 5001, 'w3');
      assert.deepEqual(
        released.filter((d) => d.id !== future.id).map((d) => d.id),
        [early.id],
        'a released lease is claimable at once',
      );
    });

    it('claims deliveries fairly: per-org rounds, and never past an org or origin cap', async () => {
      const now = Date.now() + 20_000_000;
      const orgC = newId('org');
      const orgD = newId('org');
      for (const id of [orgC, orgD]) await store.createOrg({ id, name: id, created_at: nowIso() });
      const flood = Array.from({ length: 30 }, (_, i) => ({
        ...delivery(orgC, now - 1000 + i),
        origin: 'http://slow',
      }));
      const lone = { ...delivery(orgD, now), origin: 'http://fast' };
      await store.insertDeliveries([...flood, lone]);
      const got = await claimDeliveries(store.q, {
        now,
        leaseMs: 5000,
        owner: 'w1',
        ...caps(8),
        originCap: 3,
      });
      const mine = got.filter((d) => d.org_id === orgC || d.org_id === orgD);
      assert.ok(
        mine.some((d) => d.id === lone.id),
        'the other org is served in the same claim',
      );
      assert.equal(mine.filter((d) => d.origin === 'http://slow').length, 3, 'at most the origin cap');
      const more = await claimDeliveries(store.q, {
        now,
        leaseMs: 5000,
        owner: 'w1',
        ...caps(8),
        originFree: new Map([['http://slow', 0]]),
      });
      assert.equal(more.filter((d) => d.origin === 'http://slow').length, 0, 'a full origin gets nothing');
      const orgFull = await claimDeliveries(store.q, {
        now,
        leaseMs: 5000,
        owner: 'w1',
        ...caps(8),
        orgFree: new Map([[orgC, 0]]),
      });
      assert.equal(orgFull.filter((d) => d.org_id === orgC).length, 0, 'a full org gets nothing');
    });

    it('says when the next delivery falls due, counting other processes’ leases in', async () => {
      const base = Date.now() + 30_000_000;
      const orgE = newId('org');
      await store.createOrg({ id: orgE, name: orgE, created_at: nowIso() });
      // Only this test's rows are in the future range it asks about.
      const d = { ...delivery(orgE, base + 500) };
      await store.insertDeliveries([d]);
      const due = await nextDeliveryDue(store.q, 'me', base);
      assert.ok(due !== undefined && due <= base + 500);
    });

    it('claims events fairly across orgs, oldest first within one, and marks them processed or failed', async () => {
      const e = entity(orgB);
      const mk = (org: string, op: 'createEntity' | 'updateEntity', at: string) => ({
        id: newUuid(),
        org_id: org,
        entity_id: e._id,
        schema: 'opportunity',
        operation: op,
        entity: e,
        diff: { added: {}, updated: {}, deleted: {} },
        caused_by_execution: null,
        occurred_at: at,
      });
      const a = mk(orgB, 'createEntity', '2026-01-01T00:00:00.000Z');
      const b = mk(orgB, 'updateEntity', '2026-01-01T00:00:01.000Z');
      await store.insertEvent(b);
      await store.insertEvent(a);
      // A flood in org A that is older than B's events: one claim with a per-org cap still reaches B.
      for (let i = 0; i < 5; i++) await store.insertEvent(mk(orgA, 'updateEntity', `2025-01-01T00:00:0${i}.000Z`));
      const claimed = await claimEvents(store.q, { now: Date.now(), leaseMs: 1000, owner: 'w1', limit: 4, perOrg: 2 });
      assert.deepEqual(
        claimed.filter((x) => x.org_id === orgB).map((x) => x.id),
        [a.id, b.id],
        'org B gets its share despite org A’s older flood, in its own order',
      );
      assert.equal(claimed.filter((x) => x.org_id === orgA).length, 2);
      assert.deepEqual(claimed.find((x) => x.id === a.id)?.entity, e);
      await markEventsProcessed(store.q, [a.id]);
      await failEvent(store.q, { id: b.id, attempts: 5, error: 'boom', retryAtMs: null });
      const dead = await store.listEvents(orgB, { status: 'dead', from: 0, size: 10 });
      assert.deepEqual(
        dead.map((x) => [x.id, x.attempts, x.last_error]),
        [[b.id, 5, 'boom']],
      );
      assert.equal((await store.listEvents(orgB, { status: 'processed', from: 0, size: 10 }))[0]?.id, a.id);
      await releaseLeases(store.q);
      const rest = await claimEvents(store.q, { now: Date.now(), leaseMs: 1000, owner: 'w1', limit: 100, perOrg: 100 });
      assert.equal(rest.filter((x) => x.org_id === orgB).length, 0, 'processed and dead events are never claimed');
    });

    it('records attempts before they are sent, and marks cut-off ones interrupted when taken over', async () => {
      const d = delivery(orgA, Date.now());
      await store.insertDeliveries([d]);
      const attempt = {
        id: newId('att'),
        delivery_id: d.id,
        attempt: 1,
        started_at: nowIso(),
        duration_ms: 0,
        request_headers: { 'webhook-id': d.webhook_id },
        status_code: null,
        response_headers: {},
        response_body: '',
        error: null,
        outcome: 'in_flight' as const,
      };
      await startAttempts(store.q, [attempt], []);
      assert.equal((await store.listAttempts(d.id))[0]?.outcome, 'in_flight');
      await startAttempts(store.q, [{ ...attempt, id: newId('att'), attempt: 2 }], [d.id]);
      assert.deepEqual(
        (await store.listAttempts(d.id)).map((a) => [a.attempt, a.outcome]),
        [
          [1, 'interrupted'],
          [2, 'in_flight'],
        ],
      );
    });

    it('versions apps and upserts installations', async () => {
      const now = nowIso();
      const m = { name: 'A', components: [] };
      await store.transaction((tx) =>
        tx.createApp({ id: 'app-1', owner_org_id: orgA, latest_version: 1, created_at: now, updated_at: now }, m),
      );
      assert.equal(await store.transaction((tx) => tx.addAppVersion('app-1', { ...m, name: 'A2' }, now)), 2);
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
  const store = makeStore(conn.db, conn.dialect);
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
  const store = makeStore(conn.db, conn.dialect);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});
