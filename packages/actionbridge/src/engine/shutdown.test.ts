import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BACKENDS, Client, describeOn, installFlow, until } from '../testing/harness.js';
import { freshDatabase } from '../testing/postgres.js';
import { CliProcess, Endpoint, NO_HOT_LIMIT, newOrg, tempDir } from '../testing/resilience.js';

for (const backend of BACKENDS)
  describeOn(backend, `SIGTERM (${backend})`, () => {
    it('returns within --shutdown-timeout 2 (+1.5 s) with requests hanging and dripping; the work is handed back and sent again with the same webhook-ids', {
      timeout: 60_000,
    }, async () => {
      // First sight of a message: hang, or drip a byte every 100 ms forever. Sent again: 200.
      const rx = await new Endpoint().start();
      rx.answer = (h, seen) =>
        seen > 1 ? { status: 200, body: { again: true } } : h.url === '/drip' ? { dripEveryMs: 100 } : 'hang';
      const dirs = [tempDir('ab-term-'), tempDir('ab-term-')];
      const db = backend === 'postgres' ? await freshDatabase() : undefined;
      // On SQLite both starts share the data folder; on PostgreSQL they share the database.
      const where = (i: number) => ({ dataDir: (dirs[db ? i : 0] as { path: string }).path, databaseUrl: db?.url });
      // Leases far longer than the test: only a hand-back explains a prompt second send.
      const env = { ACTIONBRIDGE_DELIVERY_TIMEOUT: '60', ACTIONBRIDGE_LEASE_SECONDS: '30' };
      const procs: CliProcess[] = [];
      try {
        const first = await CliProcess.start({ ...where(0), env, args: ['--shutdown-timeout', '2'] });
        procs.push(first);
        const org = await newOrg(first.admin);
        await installFlow(org.client, `${rx.url}/hang`, { flow: NO_HOT_LIMIT });
        await installFlow(org.client, `${rx.url}/drip`, { flow: NO_HOT_LIMIT });
        const entities: string[] = [];
        for (const name of ['E1', 'E2']) {
          const e = (await org.client.req('POST', '/v1/entity/opportunity', { name })).body;
          entities.push(e._id);
          assert.equal((await org.client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 1 })).status, 200);
        }
        await rx.until(() => rx.open === 4, 'four requests in flight (two hanging, two dripping)');
        const ids = [...new Set(rx.hits.map((h) => h.webhookId))];
        assert.equal(ids.length, 4);

        const { exitedMs, code } = await first.terminate(15_000);
        assert.ok(exitedMs !== undefined, `still running 15 s after SIGTERM: ${first.stderr.trim()}`);
        assert.ok(exitedMs <= 3500, `exited ${exitedMs} ms after SIGTERM (--shutdown-timeout 2)`);
        assert.equal(code, 0, `a clean exit: ${first.stderr.trim()}`);
        await rx.until(() => rx.open === 0, 'the requests in flight to be cut off', 2000);

        const second = await CliProcess.start({ ...where(1), env });
        procs.push(second);
        await rx.until(
          () => ids.every((id) => rx.withId(id).length >= 2),
          'the handed-back work sent again with the same webhook-ids',
          5000,
        );
        const client = new Client(second.url, org.token);
        for (const id of entities) {
          const list = await until(async () => {
            const r = (await client.req('GET', `/v1/automation/executions?entity_id=${id}`)).body.results as any[];
            return r.length === 2 && r.every((e) => e.execution_status === 'success') ? r : undefined;
          }, `both executions of ${id} succeed`);
          assert.deepEqual(
            list.map((e) => e.actions[0].outputs),
            [{ again: true }, { again: true }],
          );
        }
      } finally {
        for (const p of procs) await p.kill9();
        await rx.close();
        await db?.drop();
        for (const d of dirs) d.done();
      }
    });
  });
