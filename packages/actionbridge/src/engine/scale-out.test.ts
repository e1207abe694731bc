import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Client, installFlow, Receiver, type TestPlatform, testPlatform, until } from '../testing/harness.js';
import { describeOn, freshDatabase } from '../testing/postgres.js';

// Scale-out needs PostgreSQL: without a test server the suite reports as skipped (CI always has one).
describeOn('postgres', 'scale-out: two platforms share one PostgreSQL database', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let a: TestPlatform;
  let b: TestPlatform;
  let rx: Receiver;
  before(async () => {
    db = await freshDatabase();
    // Processes behind one load balancer share a public URL: it is the access tokens' issuer.
    a = await testPlatform({ databaseUrl: db.url, publicUrl: 'http://actionbridge.test' });
    b = await testPlatform({ databaseUrl: db.url, publicUrl: 'http://actionbridge.test' });
    rx = await new Receiver().start();
  });
  after(async () => {
    await rx.close();
    await a.stop();
    await b.stop();
    await db.drop();
  });

  it('every event runs once and every delivery is sent once, whichever process takes it', async () => {
    const { client, token } = await a.newOrg();
    const viaB = new Client(b.url, token);
    await installFlow(client, `${rx.url}/shared`);
    const entities: { _id: string }[] = [];
    for (let i = 0; i < 10; i++)
      entities.push((await client.req('POST', '/v1/entity/opportunity', { name: `E${i}` })).body);
    rx.respond = () => ({ status: 200, body: { ok: true } });
    const writes = [];
    for (let round = 0; round < 4; round++) {
      for (const [i, e] of entities.entries()) {
        const via = (i + round) % 2 === 0 ? client : viaB;
        writes.push(via.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: round * 100 + i }));
      }
    }
    const answers = await Promise.all(writes);
    assert.deepEqual(
      answers.filter((r) => r.status !== 200).map((r) => [r.status, r.body]),
      [],
      'every write is answered 200',
    );
    await rx.waitFor(40, 20_000);
    const done = await until(async () => {
      let finished = 0;
      for (const e of entities) {
        const list = (await client.req('GET', `/v1/automation/executions?entity_id=${e._id}`)).body;
        finished += list.results.filter((x: { execution_status: string }) => x.execution_status === 'success').length;
      }
      return finished === 40 ? finished : undefined;
    }, '40 successful executions');
    assert.equal(done, 40);
    await new Promise((r) => setTimeout(r, 300));
    const ids = rx.received.map((r) => r.headers['webhook-id']);
    assert.equal(ids.length, 40, 'no delivery was sent twice');
    assert.equal(new Set(ids).size, 40);
  });

  it('a key rotated by one process is honoured by the others', async () => {
    const api = await testPlatform({ databaseUrl: db.url, worker: false, publicUrl: 'http://actionbridge.test' });
    try {
      await b.stop(); // so that `a`, which rotates, is the one that delivers and mints
      const { client, token } = await a.newOrg();
      await installFlow(client, `${rx.url}/rotated`);
      assert.equal((await a.admin.req('POST', '/v1/keys/rotate')).status, 200);
      const e = (await client.req('POST', '/v1/entity/opportunity', { name: 'R' })).body;
      const start = rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 1 });
      await rx.waitFor(start + 1);
      const appToken = String(rx.received.at(-1)!.headers['x-epilot-token']);
      // The API-only process loaded its keys before the rotation; it learns the new one on first sight.
      const r = await new Client(api.url, token).as(appToken).req('GET', `/v1/entity/opportunity/${e._id}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    } finally {
      await api.stop();
    }
  });

  it('an API-only process wakes a worker at once through LISTEN/NOTIFY, not at its next poll', async () => {
    const api = await testPlatform({ databaseUrl: db.url, worker: false });
    const worker = await testPlatform({ databaseUrl: db.url, pollIntervalMs: 10_000 });
    try {
      const { client, token } = await api.newOrg();
      await installFlow(client, `${rx.url}/wake`);
      const e = (await client.req('POST', '/v1/entity/opportunity', { name: 'W' })).body;
      await a.stop();
      await b.stop();
      const start = rx.received.length;
      const t0 = Date.now();
      await new Client(api.url, token).req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 1 });
      await rx.waitFor(start + 1, 5000);
      // The worker polls every 10 s here: only the notification explains a delivery within 2 s.
      assert.ok(Date.now() - t0 < 2000, `delivered after ${Date.now() - t0} ms`);
    } finally {
      await api.stop();
      await worker.stop();
    }
  });
});
