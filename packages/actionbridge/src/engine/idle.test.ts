import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BACKENDS, describeOn, finishedExecution, installFlow, testPlatform } from '../testing/harness.js';
import { Endpoint, sleep } from '../testing/resilience.js';

for (const backend of BACKENDS)
  describeOn(backend, `an idle engine (${backend})`, () => {
    it('with one delivery in flight to a slow endpoint runs at most 5 SQL statements in 2 s and uses under 5 % CPU', {
      timeout: 30_000,
    }, async () => {
      const slow = await new Endpoint().start();
      slow.answer = () => ({ status: 200, body: { slow: true }, afterMs: 6000 });
      const p = await testPlatform({ backend, deliveryTimeoutS: 10 });
      try {
        const { client } = await p.newOrg();
        await installFlow(client, `${slow.url}/slow`);
        const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
        assert.equal((await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 })).status, 200);
        await slow.until(() => slow.hits.length === 1, 'the request at the slow endpoint');
        // The write's and the claim's own statements are done, and so is the start-up's compiling and GC
        // (V8's background threads count in process.cpuUsage()).
        await sleep(1500);

        const s0 = p.statementCount();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await sleep(2000);
        const statements = p.statementCount() - s0;
        const cpu = process.cpuUsage(c0);
        const wallMs = performance.now() - t0;
        assert.equal(slow.open, 1, 'the delivery was in flight throughout');

        const cpuMs = (cpu.user + cpu.system) / 1000;
        const problems = [];
        if (statements > 5) problems.push(`${statements} SQL statements in ${Math.round(wallMs)} ms`);
        if (cpuMs >= 0.05 * wallMs) problems.push(`${cpuMs} ms of CPU in ${Math.round(wallMs)} ms`);
        assert.deepEqual(problems, []);

        const exec = await finishedExecution(client, entity._id);
        assert.equal(exec.execution_status, 'success');
        assert.deepEqual(exec.actions[0].outputs, { slow: true });
      } finally {
        await p.stop();
        await slow.close();
      }
    });
  });
