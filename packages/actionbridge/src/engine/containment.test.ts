import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import {
  BACKENDS,
  Client,
  describeOn,
  installFlow,
  manifest,
  type TestPlatform,
  testPlatform,
  until,
} from '../testing/harness.js';
import { freshDatabase } from '../testing/postgres.js';
import { deliveryLag, Endpoint, type RawDb, rawDb, tempDir } from '../testing/resilience.js';

/** Text that looks sealed (`enc:v1:`) but that no key opens. */
const unopenable = () => `enc:v1:${randomBytes(60).toString('base64')}`;

type Where = { dataDir: string } | { databaseUrl: string };

/** Where a platform's data lives, chosen by the test so that it can reach the rows itself. */
async function storage(backend: 'sqlite' | 'postgres'): Promise<{ where: Where; done: () => Promise<void> }> {
  if (backend === 'postgres') {
    const db = await freshDatabase();
    return { where: { databaseUrl: db.url }, done: db.drop };
  }
  const dir = tempDir('ab-contain-');
  return { where: { dataDir: dir.path }, done: async () => dir.done() };
}

async function entity(client: Client, name: string): Promise<string> {
  const r = await client.req('POST', '/v1/entity/opportunity', { name });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body._id as string;
}

/** The finished execution of `flowId` for an entity, the `nth` (1-based, oldest first). */
function finished(client: Client, entityId: string, flowId: string, nth = 1) {
  return until(
    async () => {
      const list = (await client.req('GET', `/v1/automation/executions?entity_id=${entityId}&size=100`)).body
        .results as Array<{ flow_id: string; execution_status: string; actions: any[] }>;
      const mine = list.filter((e) => e.flow_id === flowId).reverse();
      const e = mine[nth - 1];
      return e && !['pending', 'in_progress'].includes(e.execution_status) ? e : undefined;
    },
    `execution ${nth} of flow ${flowId}`,
    10_000,
  );
}

const withSecret = (appValue: unknown) => ({
  option_values: [
    {
      component_id: 'act',
      options: [
        { key: 'threshold', value: 10 },
        { key: 'api_key', value: appValue },
      ],
    },
  ],
});

for (const backend of BACKENDS)
  describeOn(backend, `containment of poisoned items (${backend})`, () => {
    async function setup(opts: Parameters<typeof testPlatform>[0] = {}) {
      const store = await storage(backend);
      const rx = await new Endpoint().start();
      const p = await testPlatform({ ...store.where, ...opts });
      const db = await rawDb(store.where);
      return {
        p,
        rx,
        db,
        async done() {
          await db.close();
          await p.stop();
          await rx.close();
          await store.done();
        },
      };
    }

    it('an option value that looks sealed is refused with 400; planted in the database anyway, its action fails BAD_CONFIG while the org’s other flow and another org run', {
      timeout: 60_000,
    }, async () => {
      const { p, rx, db, done } = await setup();
      try {
        const a = await p.newOrg('A');
        const b = await p.newOrg('B');
        const poisoned = await installFlow(a.client, `${rx.url}/poisoned`);
        const healthy = await installFlow(a.client, `${rx.url}/healthy`);
        await installFlow(b.client, `${rx.url}/b`);

        // The API never stores a value that imitates a sealed secret: not on install, not on a patch.
        const fresh = (await a.client.req('POST', '/v1/apps', manifest(`${rx.url}/other`))).body.app_id;
        const install = await a.client.req('POST', `/v1/app/${fresh}`, withSecret(unopenable()));
        assert.equal(install.status, 400, `install: ${JSON.stringify(install.body)}`);
        const reinstall = await a.client.req('POST', `/v1/app/${poisoned.appId}`, withSecret(unopenable()));
        assert.equal(reinstall.status, 400, `reinstall: ${JSON.stringify(reinstall.body)}`);
        const patch = await a.client.req('PATCH', `/v1/app/${poisoned.appId}`, withSecret('enc:v1:AAAA'));
        assert.equal(patch.status, 400, `patch: ${JSON.stringify(patch.body)}`);

        // Planted straight into the row: a stored secret no key opens.
        const [row] = await db.query<{ option_values: string }>(
          'SELECT option_values FROM installations WHERE org_id = ? AND app_id = ?',
          [a.id, poisoned.appId],
        );
        assert.ok(row, 'the installation row exists');
        const values = JSON.parse(row.option_values) as Array<{ options: Array<{ key: string; value: unknown }> }>;
        const secret = values[0]?.options.find((o) => o.key === 'api_key');
        assert.ok(secret, 'the stored secret option');
        secret.value = unopenable();
        await db.query('UPDATE installations SET option_values = ? WHERE org_id = ? AND app_id = ?', [
          JSON.stringify(values),
          a.id,
          poisoned.appId,
        ]);

        const ea = await entity(a.client, 'A');
        const eb = await entity(b.client, 'B');
        for (let round = 1; round <= 2; round++) {
          const lag = await deliveryLag(b.client, eb, rx, round);
          assert.ok(lag.lagMs < 5000, `B's delivery, round ${round}: ${lag.lagMs} ms`);
          assert.equal((await a.client.req('PATCH', `/v1/entity/opportunity/${ea}`, { amount: round })).status, 200);
          const bad = await finished(a.client, ea, poisoned.flow.id, round);
          assert.equal(bad.execution_status, 'failed');
          assert.equal(bad.actions[0].error_output?.error_code, 'BAD_CONFIG', JSON.stringify(bad.actions[0]));
          const good = await finished(a.client, ea, healthy.flow.id, round);
          assert.equal(good.execution_status, 'success', JSON.stringify(good.actions[0]));
          await rx.hit((h) => h.url === '/healthy' && h.entity?.amount === round, `A's healthy flow, round ${round}`);
        }
        assert.equal(rx.hits.filter((h) => h.url === '/poisoned').length, 0, 'nothing is sent for the poisoned app');
      } finally {
        await done();
      }
    });

    it('a delivery whose stored body cannot be opened fails its action with BAD_CONFIG and is not sent; other deliveries flow', {
      timeout: 60_000,
    }, async () => {
      // The first attempt answers 503; the body is spoilt before the retry 2 s later.
      const { p, rx, db, done } = await setup({ retrySchedule: [0, 2, 2] });
      try {
        rx.answer = (h, seen) => (h.url === '/spoilt' && seen === 1 ? { status: 503, body: {} } : { status: 200 });
        const c = await p.newOrg('C');
        const b = await p.newOrg('B');
        const spoilt = await installFlow(c.client, `${rx.url}/spoilt`);
        await installFlow(b.client, `${rx.url}/b`);
        const ec = await entity(c.client, 'C');
        const eb = await entity(b.client, 'B');
        assert.equal((await c.client.req('PATCH', `/v1/entity/opportunity/${ec}`, { amount: 1 })).status, 200);
        const d = await until(async () => {
          const [x] = (await c.client.req('GET', '/v1/deliveries')).body.results;
          return x?.status === 'pending' && x.last_status_code === 503 ? x : undefined;
        }, 'the first attempt answered 503');
        await db.query('UPDATE deliveries SET request_body = ? WHERE id = ?', [unopenable(), d.id]);

        const lag = await deliveryLag(b.client, eb, rx, 1);
        assert.ok(lag.lagMs < 5000, `B's delivery: ${lag.lagMs} ms`);
        const exec = await finished(c.client, ec, spoilt.flow.id);
        assert.equal(exec.execution_status, 'failed');
        assert.equal(exec.actions[0].error_output?.error_code, 'BAD_CONFIG', JSON.stringify(exec.actions[0]));
        const after = (await c.client.req('GET', '/v1/deliveries')).body.results[0];
        assert.equal(after.status, 'failed', 'the delivery records the failure');
        assert.equal(rx.withId(d.webhook_id).length, 1, 'only the first attempt went out');
        assert.ok((await deliveryLag(b.client, eb, rx, 2)).lagMs < 5000, 'B still flows');
      } finally {
        await done();
      }
    });

    it('an event whose processing throws is retried, then recorded dead (GET /v1/events, metrics); events of other orgs flow', {
      timeout: 90_000,
    }, async () => {
      const store = await storage(backend);
      const rx = await new Endpoint().start();
      let api: TestPlatform | undefined;
      let p: TestPlatform | undefined;
      let db: RawDb | undefined;
      try {
        // An API-only process takes the writes: the events wait unprocessed.
        api = await testPlatform({ ...store.where, worker: false });
        const a = await api.newOrg('A');
        const b = await api.newOrg('B');
        await installFlow(a.client, `${rx.url}/a`);
        await installFlow(b.client, `${rx.url}/b`);
        const ea = await entity(a.client, 'A');
        const eb = await entity(b.client, 'B');
        assert.equal((await a.client.req('PATCH', `/v1/entity/opportunity/${ea}`, { amount: 1 })).status, 200);
        assert.equal((await b.client.req('PATCH', `/v1/entity/opportunity/${eb}`, { amount: 1 })).status, 200);
        await api.stop();

        db = await rawDb(store.where);
        await db.query("UPDATE entity_events SET entity = ? WHERE entity_id = ? AND operation = 'updateEntity'", [
          '{"broken": ',
          ea,
        ]);

        p = await testPlatform({ ...store.where });
        const clientA = new Client(p.url, a.token);
        const clientB = new Client(p.url, b.token);
        // B's event, queued with the poisoned one, and a new one both run.
        await rx.hit((h) => h.url === '/b' && h.entity?.amount === 1, 'B’s queued event', 10_000);
        const lag = await deliveryLag(clientB, eb, rx, 2);
        assert.ok(lag.lagMs < 5000, `B's new event: ${lag.lagMs} ms`);

        const dead = await until(
          async () => {
            const r = await clientA.req('GET', '/v1/events?status=dead');
            return r.status === 200 ? (r.body.results as any[]).find((e) => e.entity_id === ea) : undefined;
          },
          'A’s event to be dead',
          60_000,
        );
        assert.equal(dead.status, 'dead');
        assert.equal(dead.operation, 'updateEntity');
        assert.equal(dead.attempts, 5);
        assert.ok(typeof dead.last_error === 'string' && dead.last_error.length > 0, 'the error is recorded');
        const pending = (await clientA.req('GET', '/v1/events?status=pending')).body.results as any[];
        assert.ok(!pending.some((e) => e.id === dead.id), 'a dead event is no longer pending');
        const deadGauge = /^actionbridge_dead_items\{kind="event"\} 1$/m;
        await until(
          async () => deadGauge.test((await clientA.req('GET', '/metrics')).body as string),
          'the metrics to count the dead event',
          5000,
        );
        assert.equal(rx.hits.filter((h) => h.url === '/a').length, 0);
      } finally {
        await db?.close();
        await api?.stop();
        await p?.stop();
        await rx.close();
        await store.done();
      }
    });
  });
