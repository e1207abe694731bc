import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BACKENDS, describeOn, installFlow, Receiver, testPlatform } from '../testing/harness.js';

/**
 * What one custom action costs the database, end to end (entity write → event → execution →
 * delivery → attempt → execution settled), counted in SQL statements (BEGIN and COMMIT included).
 * Measured last: SQLite 20.1 one at a time and 7.9 with 32 writers at once (batches share commits
 * and statements); PostgreSQL 22.1 and 4.8–6.2 (its batches vary more with timing). The engine
 * before the lanes ran ~27 in 3 transactions. The bounds leave a little room; a change that adds a
 * statement per action fails here.
 */
const BOUNDS = {
  sqlite: { sequential: 22, concurrent: 10 },
  postgres: { sequential: 24, concurrent: 9 },
} as const;

for (const backend of BACKENDS)
  describeOn(backend, `statements per custom action (${backend})`, () => {
    const BOUND = BOUNDS[backend];
    it(`costs at most ${BOUND.sequential} statements one at a time and ${BOUND.concurrent} with 32 writers, however much data is stored`, {
      timeout: 120_000,
    }, async (t) => {
      const rx = await new Receiver().start();
      const p = await testPlatform({ backend });
      try {
        const { client } = await p.newOrg();
        const { flow } = await installFlow(client, `${rx.url}/cost`, {
          flow: {
            triggers: [
              { type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['createEntity'] } },
            ],
            max_executions: { count: 1_000_000, window: 'PT1S' },
          },
        });
        const measure = async (n: number, writers: number) => {
          const start = rx.received.length;
          const s0 = p.statementCount();
          let i = 0;
          await Promise.all(
            Array.from({ length: writers }, async () => {
              while (i < n) {
                i++;
                const r = await client.req('POST', '/v1/entity/opportunity', { name: `e${i}` });
                assert.equal(r.status, 201);
              }
            }),
          );
          await rx.waitFor(start + n, 60_000);
          // The last answers are recorded, then the engine is idle.
          const settled = async () => {
            const r = await client.req('GET', `/v1/deliveries?status=pending&size=1`);
            return r.body.total === 0;
          };
          while (!(await settled())) await new Promise((r) => setTimeout(r, 20));
          await new Promise((r) => setTimeout(r, 200));
          // The polling reads above are three statements each at most; they are not the engine's.
          return (p.statementCount() - s0) / n;
        };
        const sequential = await measure(40, 1);
        const concurrent = await measure(200, 32);
        assert.ok(sequential <= BOUND.sequential, `one at a time: ${sequential.toFixed(1)} statements per action`);
        assert.ok(concurrent <= BOUND.concurrent, `32 writers: ${concurrent.toFixed(1)} statements per action`);

        // More stored data (entities, executions, deliveries) does not change what an action costs.
        await client.req('PUT', `/v1/automation/flows/${flow.id}`, {
          ...(await client.req('GET', `/v1/automation/flows/${flow.id}`)).body,
          enabled: false,
        });
        await Promise.all(
          Array.from({ length: 16 }, async (_, w) => {
            for (let i = 0; i < 60; i++) await client.req('POST', '/v1/entity/opportunity', { name: `bulk${w}-${i}` });
          }),
        );
        await client.req('PUT', `/v1/automation/flows/${flow.id}`, {
          ...(await client.req('GET', `/v1/automation/flows/${flow.id}`)).body,
          enabled: true,
        });
        // The bulk writes' events (no flow runs for them) are processed before the next measure.
        while ((await client.req('GET', '/v1/events?status=pending&size=1')).body.results.length > 0) {
          await new Promise((r) => setTimeout(r, 50));
        }
        const later = await measure(40, 1);
        t.diagnostic(
          `statements per action: ${sequential.toFixed(1)} one at a time, ${concurrent.toFixed(1)} with 32 writers, ${later.toFixed(1)} with more data`,
        );
        // The same bound as on a fresh database: with a cost that grew with the data (a scan, or a
        // backlog read on every claim) this would be several times over it.
        assert.ok(
          later <= BOUND.sequential,
          `with ~1,200 more entities stored: ${later.toFixed(1)} (fresh: ${sequential.toFixed(1)}) statements per action`,
        );
      } finally {
        await p.stop();
        await rx.close();
      }
    });
  });
