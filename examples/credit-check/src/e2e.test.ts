import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { signWebhook } from '@actionbridge/app-sdk';
import { createClient as automationClient } from '@epilot/automation-client';
import { createClient as entityClient } from '@epilot/entity-client';
import SQLite from 'better-sqlite3';
import { Api } from './api.js';
import { setUpCreditCheck, waitForExecution } from './setup.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function waitHealthy(url: string, proc: ChildProcess, log: () => string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}):\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not healthy:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(args: string[], env: Record<string, string>) {
  const proc = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, log: () => out };
}

describe('the whole story with real processes: platform, example app, epilot clients', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ab-e2e-'));
  const adminToken = 'e2e-admin-token-0123456789abcdef';
  let platform: ReturnType<typeof run>;
  let app: ReturnType<typeof run>;
  let apiUrl = '';
  let appUrl = '';

  before(async () => {
    const [port, appPort] = [await freePort(), await freePort()];
    apiUrl = `http://localhost:${port}`;
    appUrl = `http://localhost:${appPort}`;
    platform = run(['packages/actionbridge/bin/actionbridge.js', 'start'], {
      PORT: String(port),
      ACTIONBRIDGE_DATA_DIR: dataDir,
      ACTIONBRIDGE_ADMIN_TOKEN: adminToken,
      ACTIONBRIDGE_RETRY_SCHEDULE: '0,0.2,0.2',
      ACTIONBRIDGE_EGRESS_ALLOW: '127.0.0.0/8,::1',
      LOG_LEVEL: 'warn',
    });
    app = run(['examples/credit-check/dist/main.js'], {
      PORT: String(appPort),
      ACTIONBRIDGE_API_URL: apiUrl,
    });
    await waitHealthy(`${apiUrl}/healthz`, platform.proc, platform.log);
    await waitHealthy(`${appUrl}/healthz`, app.proc, app.log);
  });

  after(() => {
    platform?.proc.kill('SIGTERM');
    app?.proc.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('an entity change sends a signed custom action; the app verifies it and writes back', async () => {
    const admin = new Api(apiUrl, adminToken);
    const ids = await setUpCreditCheck(admin, appUrl);
    const org = admin.as(ids.org_token);
    const entity = await org.ok<{ _id: string }>('POST', '/v1/entity/opportunity', { name: 'Roof', income: 100000 });
    const before = new Date().toISOString();
    await org.ok('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 20000, debts: 5000 });
    const exec = await waitForExecution(org, entity._id, before);
    assert.equal(exec.execution_status, 'success', JSON.stringify(exec));
    const outputs = (exec.actions as { outputs: Record<string, unknown> }[])[0]!.outputs;
    assert.equal(outputs.credit_score, 750);
    assert.equal(outputs.credit_decision, 'approved');

    const { entity: updated } = await org.ok<{ entity: Record<string, unknown> }>(
      'GET',
      `/v1/entity/opportunity/${entity._id}`,
    );
    assert.equal(updated.credit_score, 750, 'the app wrote back through @epilot/entity-client with x-epilot-token');
    assert.equal(updated.credit_decision, 'approved');
    assert.equal(typeof updated.credit_checked_at, 'string');

    const list = await org.ok<{ results: { id: string; status: string }[] }>(
      'GET',
      `/v1/deliveries?execution_id=${exec.id}`,
    );
    assert.equal(list.results[0]?.status, 'succeeded');
    const executions = await org.ok<{ total: number }>('GET', `/v1/automation/executions?entity_id=${entity._id}`);
    assert.equal(executions.total, 1, 'the write-back did not trigger the flow again');
  });

  it('the example app refuses tampered, stale and foreign-signed requests with 401', async () => {
    // Sign as the platform does, with its own key from its database: the app must accept this one.
    const db = new SQLite(join(dataDir, 'actionbridge.sqlite'), { readonly: true });
    const row = db
      .prepare("select private_pem from signing_keys where purpose = 'webhook' and status = 'primary'")
      .get() as {
      private_pem: string;
    };
    db.close();
    const key = createPrivateKey(row.private_pem);
    const body = JSON.stringify({
      type: 'external_integration',
      timestamp: new Date().toISOString(),
      data: {
        org_id: 'org_x',
        entity: { _id: 'e1', _schema: 'opportunity', _org: 'org_x', _title: 'x' },
        app_options: {},
      },
    });
    const post = (headers: Record<string, string>, payload = body) =>
      fetch(`${appUrl}/credit-check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: payload,
      });
    const signed = (id: string, ts: number, k = key) => ({
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signWebhook({ id, timestamp: ts, body }, { ed25519: [k] }),
    });
    const now = Math.floor(Date.now() / 1000);

    // Valid signature, but no access token: the app accepts the signature and answers 422 for the missing token.
    const ok = await post(signed('msg_valid', now));
    assert.equal(ok.status, 422);
    assert.deepEqual(await ok.json(), {
      error_reason: 'no x-epilot-token: the app needs entity:edit to write back',
    });

    const tamperedBody = await post(signed('msg_a', now), body.replace('org_x', 'org_y'));
    assert.equal(tamperedBody.status, 401);
    const h = signed('msg_b', now);
    const sig = h['webhook-signature'];
    const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    assert.equal((await post({ ...h, 'webhook-signature': flipped })).status, 401);
    const stale = await post(signed('msg_c', now - 301));
    assert.equal(stale.status, 401);
    assert.match(JSON.stringify(await stale.json()), /timestamp/);
    const { privateKey: foreign } = await import('node:crypto').then((c) => c.generateKeyPairSync('ed25519'));
    assert.equal((await post(signed('msg_d', now, foreign))).status, 401);
    assert.equal((await post({})).status, 401);
  });

  it('epilot’s published clients work against the server', async () => {
    const admin = new Api(apiUrl, adminToken);
    const ids = await setUpCreditCheck(admin, appUrl, 'Client Org');
    const entities = entityClient();
    entities.defaults.baseURL = apiUrl;
    entities.defaults.headers.common.authorization = `Bearer ${ids.org_token}`;
    const created = await entities.createEntity({ slug: 'opportunity' }, { name: 'Via client', income: 50000 });
    assert.equal(created.status, 201);
    const id = created.data._id;
    const got = await entities.getEntity({ slug: 'opportunity', id });
    assert.equal(got.data.entity?._id, id);
    const search = await entities.searchEntities(null, { q: `_id:${id}` });
    assert.equal(search.data.hits, 1);

    const automation = automationClient();
    automation.defaults.baseURL = apiUrl;
    automation.defaults.headers.common.authorization = `Bearer ${ids.org_token}`;
    const flows = await automation.searchFlows({ schema: 'opportunity' });
    assert.equal(flows.data.total, 1);
    const before = new Date().toISOString();
    await entities.patchEntity({ slug: 'opportunity', id }, { amount: 1000 });
    await waitForExecution(admin.as(ids.org_token), id, before);
    const execs = await automation.getExecutions({ entity_id: id });
    assert.equal(execs.data.results[0]?.execution_status, 'success');
    const one = await automation.getExecution({ execution_id: execs.data.results[0]!.id });
    assert.equal(one.data.flow_id, ids.flow_id);

    // Another org's token sees nothing of this org: the client gets a 404.
    const other = new Api(apiUrl, adminToken);
    const otherIds = await setUpCreditCheck(other, appUrl, 'Other Org');
    entities.defaults.headers.common.authorization = `Bearer ${otherIds.org_token}`;
    await assert.rejects(entities.getEntity({ slug: 'opportunity', id }), (err: { response?: { status: number } }) => {
      assert.equal(err.response?.status, 404);
      return true;
    });
  });
});
