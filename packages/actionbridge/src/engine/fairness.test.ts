import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BACKENDS, type Client, describeOn, installFlow, testPlatform } from '../testing/harness.js';
import { freshDatabase } from '../testing/postgres.js';
import { CliProcess, deliveryLag, Endpoint, NO_HOT_LIMIT, newOrg, sleep, tempDir } from '../testing/resilience.js';

const ORIGIN_LIMIT = 16;

async function entity(client: Client, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await client.req('POST', '/v1/entity/opportunity', { name, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 500));
  return r.body._id as string;
}

/** B's flow delivers once before a measurement starts. */
async function warm(client: Client, entityId: string, rx: Endpoint) {
  const { lagMs } = await deliveryLag(client, entityId, rx, 0, 10_000);
  assert.ok(lagMs < 10_000, 'B’s flow delivers before the measurement');
}

/**
 * The bound a delay is held to: the target (1 s for a delivery, 100 ms for /healthz, as the issue
 * sets them for this 2-core machine) or, on a machine busy with other work, 8× what the same probe
 * takes here with nothing else going on, measured just before, whichever is larger. Unfairness
 * shows as B waiting behind A's whole backlog, far beyond either; a loaded CI machine must not turn
 * a fair engine red.
 */
function bound(targetMs: number, idleMs: number): number {
  return Math.max(targetMs, 8 * idleMs);
}

/** B's delivery lag with nothing else going on: the slowest of three. */
async function idleLag(client: Client, entityId: string, rx: Endpoint, firstMarker: number): Promise<number> {
  let worst = 0;
  for (let i = 0; i < 3; i++) worst = Math.max(worst, (await deliveryLag(client, entityId, rx, firstMarker + i)).lagMs);
  return worst;
}

type Lag = { lagMs: number; writeMs: number };

function slowest(lags: Lag[]): Lag {
  return lags.reduce((m, l) => (l.lagMs > m.lagMs ? l : m), { lagMs: 0, writeMs: 0 });
}

for (const backend of BACKENDS)
  describeOn(backend, `fairness between orgs (${backend})`, () => {
    it('one org’s hanging endpoint with 200 deliveries does not delay another org (< 1 s), and never holds more than originConcurrency requests', {
      timeout: 60_000,
    }, async () => {
      const hang = await new Endpoint().start();
      hang.answer = () => 'hang';
      const rxB = await new Endpoint().start();
      // Requests hang far longer than the test: no timeout frees a slot meanwhile.
      const p = await testPlatform({
        backend,
        deliveryTimeoutS: 60,
        originConcurrency: ORIGIN_LIMIT,
        concurrency: 128,
        shutdownTimeoutS: 1,
      });
      try {
        const a = await p.newOrg('A');
        const b = await p.newOrg('B');
        await installFlow(a.client, `${hang.url}/hang`, { flow: NO_HOT_LIMIT });
        await installFlow(b.client, `${rxB.url}/b`);
        const ea = await entity(a.client, 'A');
        const eb = await entity(b.client, 'B');

        for (let i = 0; i < 200; i += 20) {
          const writes = [];
          for (let j = i; j < i + 20; j++)
            writes.push(a.client.req('PATCH', `/v1/entity/opportunity/${ea}`, { amount: j + 1 }));
          for (const w of await Promise.all(writes)) assert.equal(w.status, 200, JSON.stringify(w.body));
        }
        await hang.until(() => hang.open >= ORIGIN_LIMIT, `${ORIGIN_LIMIT} requests hanging at A's endpoint`);

        const { lagMs, writeMs } = await deliveryLag(b.client, eb, rxB, 1, 10_000);
        // A's waiting deliveries keep pressing on its origin a while longer before the count is read.
        await sleep(1000);
        const problems = [];
        if (!(lagMs < 1000))
          problems.push(`B's delivery arrived ${lagMs} ms after its write (the write took ${writeMs} ms)`);
        if (hang.maxOpen > ORIGIN_LIMIT)
          problems.push(`A's origin had ${hang.maxOpen} requests open at once (originConcurrency ${ORIGIN_LIMIT})`);
        assert.deepEqual(problems, []);
        assert.equal(hang.open, ORIGIN_LIMIT, 'the origin stays saturated: A’s other deliveries wait their turn');
      } finally {
        await hang.close();
        await p.stop();
        await rxB.close();
      }
    });

    it('a burst of 500 writes in one org does not delay another org’s deliveries (< 1 s, or 8× their idle lag on a busy machine), and the burst’s actions all run', {
      timeout: 90_000,
    }, async () => {
      const rxA = await new Endpoint().start();
      const rxB = await new Endpoint().start();
      const p = await testPlatform({ backend });
      try {
        const a = await p.newOrg('A');
        const b = await p.newOrg('B');
        await installFlow(a.client, `${rxA.url}/a`, { flow: NO_HOT_LIMIT });
        await installFlow(b.client, `${rxB.url}/b`);
        const eb = await entity(b.client, 'B');
        await warm(b.client, eb, rxB);
        const limit = bound(1000, await idleLag(b.client, eb, rxB, 10_000));

        // 25 writers, each writing its own entity 20 times: 500 writes.
        const aEntities = await Promise.all(Array.from({ length: 25 }, (_, k) => entity(a.client, `A${k}`)));
        const statuses: number[] = [];
        let burstDone = false;
        const burst = Promise.all(
          aEntities.map(async (id, k) => {
            for (let j = 0; j < 20; j++)
              statuses.push(
                (await a.client.req('PATCH', `/v1/entity/opportunity/${id}`, { amount: k * 100 + j + 1 })).status,
              );
          }),
        ).then(() => {
          burstDone = true;
        });
        const aIds = () => new Set(rxA.hits.map((h) => h.webhookId)).size;

        // B writes every 100 ms while A's writes go in and while A's backlog drains.
        const lags: Lag[] = [];
        const deadline = Date.now() + 20_000;
        let marker = 1;
        while ((!burstDone || aIds() < 500) && Date.now() < deadline) {
          lags.push(await deliveryLag(b.client, eb, rxB, marker++));
          await sleep(100);
        }
        await burst;
        assert.ok(
          statuses.every((s) => s === 200),
          `every burst write is accepted: ${statuses.filter((s) => s !== 200)}`,
        );
        const worst = slowest(lags);
        assert.ok(
          worst.lagMs < limit,
          `B's slowest delivery arrived ${worst.lagMs} ms after its write (write ${worst.writeMs} ms; bound ${limit} ms); lags: ${lags.map((l) => l.lagMs)}`,
        );
        assert.ok(lags.length >= 3, `B was measured ${lags.length} times during the burst`);
        await rxA.until(() => aIds() >= 500, 'all 500 of A’s actions', 30_000);
      } finally {
        await p.stop();
        await rxA.close();
        await rxB.close();
      }
    });

    // The platform runs as its own process here: a blocked event loop there cannot hide itself by
    // also stopping this process's clocks and probes.
    it('a write flood (128/s for 5 s) and a heavy search in other orgs delay neither B’s deliveries (< 1 s) nor /healthz (< 100 ms), or 8× their idle times on a busy machine', {
      timeout: 120_000,
    }, async () => {
      const rxA = await new Endpoint().start();
      const rxB = await new Endpoint().start();
      const dir = tempDir('ab-flood-');
      const db = backend === 'postgres' ? await freshDatabase() : undefined;
      let proc: CliProcess | undefined;
      try {
        proc = await CliProcess.start({ dataDir: dir.path, databaseUrl: db?.url });
        const url = proc.url;
        const a = await newOrg(proc.admin, 'A');
        const b = await newOrg(proc.admin, 'B');
        const s = await newOrg(proc.admin, 'S');
        await installFlow(a.client, `${rxA.url}/a`, { flow: NO_HOT_LIMIT });
        await installFlow(b.client, `${rxB.url}/b`);
        const eb = await entity(b.client, 'B');
        const aEntities = await Promise.all(Array.from({ length: 8 }, (_, k) => entity(a.client, `A${k}`)));
        await entity(s.client, 'Big', { notes: 'a'.repeat(900_000) });
        await warm(b.client, eb, rxB);
        const lagLimit = bound(1000, await idleLag(b.client, eb, rxB, 10_000));
        let idleHealth = 0;
        for (let i = 0; i < 5; i++) {
          const t = performance.now();
          await fetch(`${url}/healthz`).then((r) => r.text());
          idleHealth = Math.max(idleHealth, performance.now() - t);
        }
        const healthLimit = bound(100, idleHealth);

        const t0 = Date.now();
        const floodEnd = t0 + 5000;
        let stop = false;

        // /healthz, asked every 50 ms (an answer later than 2 s counts as 2 s).
        const health: number[] = [];
        const prober = (async () => {
          while (!stop) {
            const t = performance.now();
            const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
              async (r) => (await r.text()) !== undefined && r.ok,
              () => false,
            );
            health.push(ok ? performance.now() - t : 2000);
            await sleep(50);
          }
        })();

        // B: one write every 250 ms, during the flood and a second after it.
        const lags: Lag[] = [];
        const sampler = (async () => {
          let marker = 1;
          while (!stop) {
            lags.push(await deliveryLag(b.client, eb, rxB, marker++));
            await sleep(250);
          }
        })();

        // S: a 4,000-character wildcard pattern against 900 KB of text; then the longest one allowed.
        const searchResults: Array<{ length: number; status: number; body: string }> = [];
        let searchDone: Promise<void> = Promise.resolve();
        function searches() {
          searchDone = (async () => {
            const search = async (length: number) => {
              const q = `notes:*${'a'.repeat(length - 9)}b*`;
              const r = await fetch(`${url}/v1/entity:search`, {
                method: 'POST',
                headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
                body: JSON.stringify({ q }),
                signal: AbortSignal.timeout(60_000),
              }).then(
                async (res) => ({ length, status: res.status, body: await res.text() }),
                (err: Error) => ({ length, status: 0, body: String(err) }),
              );
              searchResults.push(r);
              return r;
            };
            const heavy = await search(4000);
            if (heavy.status !== 400) return;
            // Over the limit: the longest pattern the answer names (or, failing that, half as long).
            const named = Number(/(\d+)\s*char/.exec(heavy.body)?.[1]);
            let length = named >= 256 && named < 4000 ? named : 2000;
            while ((await search(length)).status === 400 && length > 256) length = Math.floor(length / 2);
          })();
        }

        // A: 16 writes every 125 ms (128/s) for 5 s, not waiting for answers.
        const pending: Array<Promise<{ status: number }>> = [];
        for (let tick = 0; Date.now() < floodEnd; tick++) {
          for (let j = 0; j < 16; j++) {
            const id = aEntities[j % aEntities.length] as string;
            pending.push(a.client.req('PATCH', `/v1/entity/opportunity/${id}`, { amount: tick * 16 + j + 1 }));
          }
          if (tick === 4) void searches(); // S searches half a second in
          await sleep(t0 + (tick + 1) * 125 - Date.now());
        }

        const answers = await Promise.all(pending);
        await searchDone;
        await sleep(1000);
        stop = true;
        await Promise.all([prober, sampler]);

        const worstLag = slowest(lags);
        const worstHealth = Math.max(...health);
        const problems = [];
        if (!(worstLag.lagMs < lagLimit))
          problems.push(
            `B's slowest delivery: ${worstLag.lagMs} ms after its write (write ${worstLag.writeMs} ms, bound ${lagLimit} ms; all: ${lags.map((l) => l.lagMs)})`,
          );
        if (!(worstHealth < healthLimit)) {
          problems.push(`slowest /healthz: ${Math.round(worstHealth)} ms (bound ${Math.round(healthLimit)} ms)`);
        }
        assert.deepEqual(problems, [], `searches: ${searchResults.map((r) => `${r.length} chars → ${r.status}`)}`);

        const [heavy, ...rest] = searchResults;
        assert.ok(heavy && [200, 400].includes(heavy.status), `the 4,000-character search: ${heavy?.status}`);
        const allowed = heavy.status === 200 ? heavy : rest.at(-1);
        assert.equal(allowed?.status, 200, `a long pattern is allowed: ${allowed?.length} chars → ${allowed?.body}`);
        assert.equal(JSON.parse(allowed.body).hits, 0, 'nothing matches (the text has no "b")');
        assert.ok(
          answers.every((r) => r.status === 200),
          `every flood write is accepted: ${answers.filter((r) => r.status !== 200).length} were not`,
        );
        assert.ok(answers.length >= 600, `the flood wrote ${answers.length} times`);
        assert.ok(
          lags.length >= 5 && health.length >= 20,
          `measured ${lags.length} lags, ${health.length} health checks`,
        );
      } finally {
        await proc?.kill9();
        await rxA.close();
        await rxB.close();
        await db?.drop();
        dir.done();
      }
    });
  });
