import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, finishedExecution, installFlow, Receiver, until } from '../testing/harness.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/actionbridge.js');

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function startProcess(port: number, dataDir: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [bin, 'start'], {
    env: {
      ...process.env,
      PORT: String(port),
      ACTIONBRIDGE_DATA_DIR: dataDir,
      ACTIONBRIDGE_ADMIN_TOKEN: 'durability-admin-token-123456',
      ACTIONBRIDGE_RETRY_SCHEDULE: '0,0.1,0.1',
      ACTIONBRIDGE_EGRESS_ALLOW: '127.0.0.0/8',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  try {
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`actionbridge exited with ${proc.exitCode}`);
        return fetch(`http://localhost:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      'platform start',
      30_000,
    );
  } catch (err) {
    proc.kill('SIGKILL'); // a process that never became healthy must not outlive the test
    throw err;
  }
  return proc;
}

describe('durability', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ab-durable-'));
  const rx = new Receiver();
  let proc: ChildProcess | undefined;
  after(async () => {
    proc?.kill('SIGKILL');
    await rx.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a kill -9 during a delivery loses nothing: after restart it is sent again with the same webhook-id', async () => {
    await rx.start();
    const port = await freePort();
    proc = await startProcess(port, dataDir);
    const base = `http://localhost:${port}`;
    const admin = new Client(base, 'durability-admin-token-123456');
    const org = (await admin.req('POST', '/v1/orgs', { name: 'o' })).body;
    const token = (await admin.req('POST', `/v1/orgs/${org.id}/tokens`, { name: 't', role: 'owner' })).body.token;
    const client = admin.as(token);
    await installFlow(client, `${rx.url}/hang`);
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;

    // The app holds the first request open; the platform dies while waiting for the answer.
    rx.respond = (_r, n) =>
      n === 1 ? { status: 200, body: {}, delayMs: 60_000 } : { status: 200, body: { second: true } };
    await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
    await rx.waitFor(1);
    proc.kill('SIGKILL');
    await new Promise((r) => proc?.once('exit', r));

    proc = await startProcess(port, dataDir);
    await rx.waitFor(2);
    assert.equal(rx.received[1]!.headers['webhook-id'], rx.received[0]!.headers['webhook-id']);
    assert.equal(rx.received[1]!.body, rx.received[0]!.body);
    const exec = await finishedExecution(client, entity._id);
    assert.equal(exec.execution_status, 'success');
    assert.deepEqual(exec.actions[0].outputs, { second: true });
  });

  it('an event accepted just before a kill -9 still runs its flow after restart', async () => {
    const port = await freePort();
    proc?.kill('SIGKILL');
    proc = await startProcess(port, dataDir);
    const base = `http://localhost:${port}`;
    const admin = new Client(base, 'durability-admin-token-123456');
    const org = (await admin.req('POST', '/v1/orgs', { name: 'o2' })).body;
    const token = (await admin.req('POST', `/v1/orgs/${org.id}/tokens`, { name: 't', role: 'owner' })).body.token;
    const client = admin.as(token);
    await installFlow(client, `${rx.url}/after-restart`);
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    rx.respond = () => ({ status: 200, body: { ok: 1 } });
    const before = rx.received.length;
    const writes = [];
    for (let i = 0; i < 20; i++)
      writes.push(client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: i + 1 }));
    const answered = (await Promise.all(writes)).filter((r) => r.status === 200).length;
    proc.kill('SIGKILL');
    await new Promise((r) => proc?.once('exit', r));
    proc = await startProcess(port, dataDir);
    // Every acknowledged write produced an execution that finished.
    const done = await until(
      async () => {
        const list = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}&size=100`)).body;
        const finished = list.results.filter((e: { execution_status: string }) => e.execution_status === 'success');
        return finished.length >= answered ? finished : undefined;
      },
      'all executions',
      20_000,
    );
    assert.equal(done.length, answered);
    assert.ok(rx.received.length - before >= answered);
  });
});
