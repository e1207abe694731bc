import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKENDS, Client, describeOn, installFlow, until } from '../testing/harness.js';
import { freshDatabase, TEST_DATABASE_URL } from '../testing/postgres.js';
import { CliProcess, Endpoint, NO_HOT_LIMIT, newOrg, sleep, tempDir } from '../testing/resilience.js';

interface Attempt {
  outcome?: string;
  request_headers: Record<string, string>;
}

/** Every delivery of an org with its attempts, read through the API. */
async function attemptLog(
  client: Client,
): Promise<Array<{ id: string; webhook_id: string; status: string; attempts: Attempt[] }>> {
  const out = [];
  for (let from = 0; ; from += 1000) {
    const page = (await client.req('GET', `/v1/deliveries?size=1000&from=${from}`)).body;
    for (const d of page.results as Array<{ id: string }>)
      out.push((await client.req('GET', `/v1/deliveries/${d.id}`)).body);
    if (from + 1000 >= page.total) return out;
  }
}

describe('takeover on PostgreSQL', {
  skip: TEST_DATABASE_URL ? false : 'needs PostgreSQL: set TEST_DATABASE_URL or install its server binaries',
}, () => {
  it('a kill -9’d process’s in-flight deliveries are sent by the survivor within 10 s, same webhook-id; the cut-off attempts read interrupted', {
    timeout: 60_000,
  }, async () => {
    const db = await freshDatabase();
    // First sight of a message: hold it open. Sent again: answer at once.
    const rx = await new Endpoint().start();
    rx.answer = (_h, seen) => (seen === 1 ? 'hang' : { status: 200, body: { taken_over: true } });
    const dirs = [tempDir('ab-take-'), tempDir('ab-take-')];
    const env = { ACTIONBRIDGE_LEASE_SECONDS: '2', ACTIONBRIDGE_DELIVERY_TIMEOUT: '60' };
    const procs: CliProcess[] = [];
    try {
      const doomed = await CliProcess.start({ dataDir: dirs[0]!.path, databaseUrl: db.url, env });
      procs.push(doomed);
      const org = await newOrg(doomed.admin);
      await installFlow(org.client, `${rx.url}/slow`, { flow: NO_HOT_LIMIT });
      const entities: string[] = [];
      for (let i = 0; i < 4; i++) {
        const e = (await org.client.req('POST', '/v1/entity/opportunity', { name: `E${i}` })).body;
        entities.push(e._id);
        assert.equal((await org.client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 1 })).status, 200);
      }
      await rx.until(() => rx.open === 4, 'four deliveries in flight from the first process');
      const ids = [...new Set(rx.hits.map((h) => h.webhookId))];
      assert.equal(ids.length, 4);

      const survivor = await CliProcess.start({ dataDir: dirs[1]!.path, databaseUrl: db.url, env });
      procs.push(survivor);
      // Longer than a lease: the living owner's heartbeat keeps its work from being taken.
      await sleep(3000);
      assert.equal(rx.hits.length, 4, 'nothing is sent twice while its process lives');

      const killedAt = Date.now();
      await doomed.kill9();
      await rx.until(
        () => ids.every((id) => rx.withId(id).length >= 2),
        'the survivor to send every in-flight delivery again',
        10_000,
      );
      for (const id of ids) {
        const [first, again] = rx.withId(id) as [(typeof rx.hits)[0], (typeof rx.hits)[0]];
        assert.ok(again.at - killedAt <= 10_000);
        assert.equal(again.body, first.body, 'the same message');
      }

      const client = new Client(survivor.url, org.token);
      for (const id of entities)
        await until(async () => {
          const r = (await client.req('GET', `/v1/automation/executions?entity_id=${id}`)).body.results as any[];
          return r[0]?.execution_status === 'success' ? r : undefined;
        }, `the execution of ${id} succeeds`);
      const log = await attemptLog(client);
      assert.equal(log.length, 4);
      for (const d of log) {
        assert.equal(d.status, 'succeeded');
        assert.deepEqual(
          d.attempts.map((a) => a.outcome),
          ['interrupted', 'succeeded'],
          `attempts of ${d.webhook_id}`,
        );
      }
    } finally {
      for (const p of procs) await p.kill9();
      await rx.close();
      await db.drop();
      for (const d of dirs) d.done();
    }
  });
});

for (const backend of BACKENDS)
  describeOn(backend, `kill -9 during a write burst (${backend})`, () => {
    it('loses nothing: every acknowledged write’s action arrives (a resend keeps its webhook-id) and every request the app saw is in the attempt log', {
      timeout: 90_000,
    }, async () => {
      const rx = await new Endpoint().start();
      rx.answer = () => ({ status: 200, body: { ok: true }, afterMs: 150 });
      const dirs = [tempDir('ab-burst-'), tempDir('ab-burst-')];
      const db = backend === 'postgres' ? await freshDatabase() : undefined;
      // On SQLite the restart uses the same data folder; on PostgreSQL the same database.
      const where = (i: number) => ({ dataDir: dirs[db ? i : 0]!.path, databaseUrl: db?.url });
      const env = { ACTIONBRIDGE_LEASE_SECONDS: '2' };
      const procs: CliProcess[] = [];
      try {
        const first = await CliProcess.start({ ...where(0), env });
        procs.push(first);
        const org = await newOrg(first.admin);
        await installFlow(org.client, `${rx.url}/burst`, { flow: NO_HOT_LIMIT });
        const entities: string[] = [];
        for (let k = 0; k < 10; k++)
          entities.push((await org.client.req('POST', '/v1/entity/opportunity', { name: `E${k}` })).body._id);

        // Ten writers, each on its own entity; each write's amount names it. They write until the
        // kill cuts them off (at most 1,000 writes).
        const acked: Array<{ entity: string; amount: number }> = [];
        const writers = entities.map(async (id, k) => {
          for (let j = 1; j <= 100; j++) {
            const amount = k * 1000 + j;
            try {
              const r = await org.client.req('PATCH', `/v1/entity/opportunity/${id}`, { amount });
              if (r.status !== 200) return;
              acked.push({ entity: id, amount });
            } catch {
              return; // the process is gone
            }
            await sleep(10);
          }
        });
        // Killed mid-burst, with deliveries in flight (or, failing that, once 150 writes wait).
        await until(
          async () => acked.length >= 150 || (acked.length >= 60 && rx.open >= 1),
          '60 acknowledged writes and a delivery in flight',
          20_000,
        );
        await first.kill9();
        await Promise.all(writers);
        assert.ok(acked.length < 1000, 'the kill cut the burst short');

        const second = await CliProcess.start({ ...where(1), env });
        procs.push(second);
        const client = new Client(second.url, org.token);
        const arrived = (w: { entity: string; amount: number }) =>
          rx.hits.filter((h) => h.entity?._id === w.entity && h.entity.amount === w.amount);
        await rx.until(
          () => acked.every((w) => arrived(w).length > 0),
          `the actions of all ${acked.length} acknowledged writes`,
          30_000,
        );
        for (const w of acked) {
          const ids = new Set(arrived(w).map((h) => h.webhookId));
          assert.equal(ids.size, 1, `write ${w.amount} was sent as one message (webhook-ids: ${[...ids]})`);
        }

        await until(
          async () => {
            const pending = (await client.req('GET', '/v1/deliveries?status=pending')).body.total;
            return pending === 0 && rx.open === 0;
          },
          'every delivery to settle',
          20_000,
        );
        const log = await attemptLog(client);
        const attempts = log.flatMap((d) => d.attempts);
        assert.ok(
          attempts.length >= rx.hits.length,
          `${attempts.length} attempts recorded, ${rx.hits.length} requests received`,
        );
        const recorded = new Set(
          attempts.map((a) => `${a.request_headers['webhook-id']} ${a.request_headers['webhook-timestamp']}`),
        );
        const missing = rx.hits.map((h) => `${h.webhookId} ${h.webhookTimestamp}`).filter((key) => !recorded.has(key));
        assert.deepEqual(missing, [], 'every request the app received has its attempt');
        assert.deepEqual(
          attempts.filter((a) => a.outcome === 'in_flight' || a.outcome === undefined),
          [],
          'every attempt has an outcome once the work has settled',
        );
      } finally {
        for (const p of procs) await p.kill9();
        await rx.close();
        await db?.drop();
        for (const d of dirs) d.done();
      }
    });
  });
