import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { describe, it } from 'node:test';
import { signedContent, signWebhook } from '@actionbridge/app-sdk';
import { EgressPolicy, parseCidrs } from '../delivery/egress.js';
import {
  BACKENDS,
  type Client,
  describeOn,
  finishedExecution,
  installFlow,
  manifest,
  type Received,
  Receiver,
  testPlatform,
  until,
  useTestPlatform,
} from '../testing/harness.js';

/**
 * A loopback receiver that follows a script, one step per request: a status to answer with, or
 * `'drop'` to read the request and destroy the connection without answering (a real network error).
 */
async function scriptedReceiver(script: Array<number | 'drop'>) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), url: req.url ?? '' });
      const step = script[received.length - 1] ?? 200;
      if (step === 'drop') return req.socket.destroy();
      res.writeHead(step, { 'content-type': 'application/json' });
      res.end(JSON.stringify(step === 200 ? { done: true } : { message: 'busy' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A loopback port nothing listens on (connections to it are refused). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise((r) => s.close(r));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/** The delivery of an execution's (only) action, with its attempts. */
async function deliveryOf(client: Client, executionId: string) {
  const list = (await client.req('GET', `/v1/deliveries?execution_id=${executionId}`)).body;
  assert.equal(list.results.length, 1);
  return (await client.req('GET', `/v1/deliveries/${list.results[0].id}`)).body;
}

for (const backend of BACKENDS)
  describeOn(backend, `delivery of a custom action (${backend})`, () => {
    const env = useTestPlatform({ backend });

    it('sends the SPEC §1 request, signed with the platform key, and records success with outputs', async () => {
      const { client } = await env.p.newOrg();
      const { appId, flow } = await installFlow(client, `${env.rx.url}/hook`);
      env.rx.respond = () => ({ status: 200, body: { score: 700 } });
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal', amount: 5 })).body;
      const start = env.rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 6 });
      const exec = await finishedExecution(client, entity._id);
      assert.equal(exec.execution_status, 'success');
      assert.deepEqual(exec.actions[0].outputs, { score: 700 });
      assert.equal(exec.flow_id, flow.id);

      const r = env.rx.received[start]!;
      assert.equal(r.url, '/hook');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(r.headers['user-agent'] ?? '', /^ActionBridge\//);
      assert.match(String(r.headers['webhook-id']), /^msg_[0-9a-f]{32}$/);
      const ts = Number(r.headers['webhook-timestamp']);
      assert.ok(Math.abs(ts - Date.now() / 1000) < 5);

      const { public_key } = (await env.p.admin.req('GET', '/v1/public/.well-known/public-key')).body;
      const sig = String(r.headers['webhook-signature']).split(' ')[0]!;
      assert.match(sig, /^v1a,/);
      const content = signedContent({ id: String(r.headers['webhook-id']), timestamp: ts, body: r.body });
      assert.ok(verify(null, content, createPublicKey(public_key), Buffer.from(sig.slice(4), 'base64')));

      const body = JSON.parse(r.body);
      assert.equal(body.type, 'external_integration');
      assert.equal(body.data.org_id, entity._org);
      assert.equal(body.data.entity._id, entity._id);
      assert.equal(body.data.entity.amount, 6);
      assert.equal(body.data.execution_id, exec.id);
      assert.equal(body.data.execution_status, 'in_progress');
      assert.equal(body.data.exection_action_id, exec.actions[0].id);
      assert.equal(body.data.execution_action_id, exec.actions[0].id);
      assert.equal(body.data.trigger_event, 'opportunity.updated');
      assert.deepEqual(body.data.trigger.diff, { added: {}, updated: { amount: 6 }, deleted: {} });
      assert.equal(body.data.trigger.operation, 'updateEntity');
      assert.deepEqual(body.data.app_options, { threshold: 10, api_key: 's3cret' });
      assert.equal(body.data.app_config.type, 'external_integration');
      assert.equal(body.data.action_config.app_id, appId);
      assert.ok(!('resume_token' in body.data));

      const token = String(r.headers['x-epilot-token']);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      assert.equal(claims.exp - claims.iat, 600);
      assert.equal(claims.org_id, entity._org);
      assert.equal(claims.app_id, appId);
      assert.deepEqual(claims.assume_roles, [`${entity._org}:app-${appId}`]);
      assert.equal(claims.execution_id, exec.id);
      assert.equal(claims.token_type, 'app');
      assert.equal(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).alg, 'EdDSA');
    });

    it('retries 503 and a network error with the same webhook-id and body, then succeeds', async () => {
      // The second attempt reaches the receiver, which drops the connection without answering.
      const rx = await scriptedReceiver([503, 'drop', 200]);
      try {
        const { client } = await env.p.newOrg();
        await installFlow(client, `${rx.url}/flaky`);
        const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
        await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
        const exec = await finishedExecution(client, entity._id);
        assert.equal(exec.execution_status, 'success');
        assert.deepEqual(exec.actions[0].outputs, { done: true });
        assert.equal(rx.received.length, 3, 'three attempts: 503, dropped connection, 200');
        const [a, b, c] = rx.received;
        assert.match(String(a!.headers['webhook-id']), /^msg_[0-9a-f]{32}$/);
        for (const later of [b!, c!]) {
          assert.equal(later.headers['webhook-id'], a!.headers['webhook-id']);
          assert.equal(later.body, a!.body);
        }
        const d = await deliveryOf(client, exec.id);
        assert.equal(d.status, 'succeeded');
        assert.equal(d.attempt_count, 3);
        assert.deepEqual(
          d.attempts.map((x: { status_code: number | null }) => x.status_code),
          [503, null, 200],
        );
        assert.equal(d.attempts[0].response_body, '{"message":"busy"}');
        assert.equal(d.attempts[0].error, null);
        assert.match(d.attempts[1].error, /^UND_ERR_SOCKET: other side closed$/);
        assert.equal(d.attempts[1].response_body, '');
        assert.equal(d.attempts[2].error, null);
        assert.equal(d.attempts[1].request_headers['x-epilot-token'], '********');
        assert.equal(d.request_body.data.app_options.api_key, '********', 'secrets are masked in read APIs');
        assert.equal(d.request_body.data.app_options.threshold, 10);
      } finally {
        await rx.close();
      }
    });

    it('retries a refused connection through the whole schedule, then fails with the network error', async () => {
      const { client } = await env.p.newOrg();
      await installFlow(client, `http://127.0.0.1:${await closedPort()}/gone`);
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      const exec = await finishedExecution(client, entity._id);
      assert.equal(exec.execution_status, 'failed');
      assert.equal(exec.actions[0].error_output.error_code, 'CUSTOM_ACTION_ERROR');
      assert.match(exec.actions[0].error_output.error_reason, /^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
      const d = await deliveryOf(client, exec.id);
      assert.equal(d.status, 'failed');
      assert.equal(d.attempts.length, 3, 'every attempt of the schedule [0, 0.05, 0.05]');
      for (const x of d.attempts) {
        assert.equal(x.status_code, null);
        assert.match(x.error, /ECONNREFUSED/);
      }
    });

    it('fails for good on a 4xx, with the body’s error_reason, and skips the remaining actions', async () => {
      const { client } = await env.p.newOrg();
      await installFlow(client, `${env.rx.url}/reject`, {
        actions: [
          { name: 'One', type: 'custom-action', config: {} },
          { name: 'Two', type: 'custom-action', config: {} },
        ],
      });
      env.rx.respond = () => ({ status: 422, body: { error_reason: 'customer unknown' } });
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      const start = env.rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      const exec = await finishedExecution(client, entity._id);
      assert.equal(exec.execution_status, 'failed');
      assert.deepEqual(exec.actions[0].error_output, {
        error_code: 'CUSTOM_ACTION_ERROR',
        error_reason: 'customer unknown',
      });
      assert.equal(exec.actions[1].execution_status, 'skipped');
      assert.equal(env.rx.received.length - start, 1, '4xx is not retried');
    });

    it('goes on past a failed action with allow_failure, and gives up after the schedule with HTTP <status>', async () => {
      const { client } = await env.p.newOrg();
      await installFlow(client, `${env.rx.url}/down`, {
        actions: [
          { name: 'One', type: 'custom-action', allow_failure: true, config: {} },
          { name: 'Two', type: 'custom-action', config: {} },
        ],
      });
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      const start = env.rx.received.length;
      env.rx.respond = (_r, n) =>
        n <= start + 3 ? { status: 500, body: 'oops' } : { status: 200, body: { second: true } };
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      const exec = await finishedExecution(client, entity._id);
      assert.equal(exec.execution_status, 'success');
      assert.equal(exec.actions[0].execution_status, 'failed');
      assert.deepEqual(exec.actions[0].error_output, { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'HTTP 500' });
      assert.deepEqual(exec.actions[1].outputs, { second: true });
      assert.equal(env.rx.received.length - start, 4, 'three attempts of the first action, one of the second');
    });

    it('records a timeout as TIMEOUT_ERROR', async () => {
      const slow = await testPlatform({ backend, deliveryTimeoutS: 1, retrySchedule: [0] });
      try {
        const { client } = await slow.newOrg();
        await installFlow(client, `${env.rx.url}/slow`);
        env.rx.respond = () => ({ status: 200, body: {}, delayMs: 1500 });
        const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
        await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
        const exec = await finishedExecution(client, entity._id);
        assert.equal(exec.execution_status, 'failed');
        assert.equal(exec.actions[0].error_output.error_code, 'TIMEOUT_ERROR');
      } finally {
        await slow.stop();
      }
    });

    it('fails with BAD_CONFIG, sending nothing, while required options are missing', async () => {
      const { client } = await env.p.newOrg();
      const { appId } = await installFlow(client, `${env.rx.url}/unconfigured`, { options: false });
      const inst = (await client.req('GET', `/v1/app/${appId}`)).body;
      assert.equal(inst.enabled, false);
      assert.deepEqual(inst.missing_options, ['act.threshold']);
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      const start = env.rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      const exec = await finishedExecution(client, entity._id);
      assert.equal(exec.execution_status, 'failed');
      assert.equal(exec.actions[0].error_output.error_code, 'BAD_CONFIG');
      assert.equal(env.rx.received.length, start);
    });

    it('does not re-trigger its own flow when the app writes back inside the execution', async () => {
      const { client } = await env.p.newOrg();
      await installFlow(client, `${env.rx.url}/writeback`);
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      env.rx.respond = () => ({ status: 200, body: {} });
      const start = env.rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      await env.rx.waitFor(start + 1);
      const token = String(env.rx.received[start]!.headers['x-epilot-token']);
      const wrote = await client.as(token).req('PATCH', `/v1/entity/opportunity/${entity._id}`, { score: 1 });
      assert.equal(wrote.status, 200);
      await finishedExecution(client, entity._id);
      await new Promise((r) => setTimeout(r, 300));
      const list = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body;
      assert.equal(list.total, 1, 'the write-back started no second execution');
      assert.equal(env.rx.received.length, start + 1);
    });

    it('keeps secret options and delivery bodies encrypted at rest', async () => {
      const { client, id } = await env.p.newOrg();
      const { appId } = await installFlow(client, `${env.rx.url}/at-rest`);
      const inst = await env.p.store.getInstallation(id, appId);
      const stored = inst?.option_values[0]?.options.find((o) => o.key === 'api_key')?.value;
      assert.match(String(stored), /^enc:v1:/);
      assert.ok(!JSON.stringify(inst).includes('s3cret'));
      env.rx.respond = () => ({ status: 200, body: {} });
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
      const start = env.rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      const exec = await finishedExecution(client, entity._id);
      assert.equal(
        JSON.parse(env.rx.received[start]!.body).data.app_options.api_key,
        's3cret',
        'the app gets it in clear',
      );
      const [listed] = (await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.results;
      const row = await env.p.store.getDelivery(id, listed.id);
      assert.match(String(row?.request_body), /^enc:v1:/);
      // Re-installing with the masked value keeps the secret.
      await client.req('PATCH', `/v1/app/${appId}`, {
        option_values: [
          {
            component_id: 'act',
            options: [
              { key: 'threshold', value: 10 },
              { key: 'api_key', value: '********' },
            ],
          },
        ],
      });
      const again = await env.p.store.getInstallation(id, appId);
      assert.equal(again?.option_values[0]?.options.find((o) => o.key === 'api_key')?.value, stored);
    });

    it('counts attempts and finished executions in /metrics (Prometheus text)', async () => {
      const scrape = async () => {
        const r = await fetch(`${env.p.url}/metrics`);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
        const text = await r.text();
        // A labelled counter has no line until it is first counted.
        const value = (name: string) => {
          const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text);
          return m ? Number(m[1]) : 0;
        };
        return {
          success: value('actionbridge_delivery_attempts_total{verdict="success"}'),
          retry: value('actionbridge_delivery_attempts_total{verdict="retry"}'),
          fail: value('actionbridge_delivery_attempts_total{verdict="fail"}'),
          execSuccess: value('actionbridge_executions_finished_total{status="success"}'),
          execFailed: value('actionbridge_executions_finished_total{status="failed"}'),
          pending: /^actionbridge_deliveries_pending (\d+)$/m.exec(text)?.[1],
        };
      };
      const before = await scrape();
      const { client } = await env.p.newOrg();
      await installFlow(client, `${env.rx.url}/metered`);
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      // One execution answered 503 then 200; another answered 422.
      const seen = new Set<unknown>();
      env.rx.respond = (r) => {
        if (JSON.parse(r.body).data.entity.amount === 2) return { status: 422, body: {} };
        const first = !seen.has(r.headers['webhook-id']);
        seen.add(r.headers['webhook-id']);
        return first ? { status: 503, body: {} } : { status: 200, body: {} };
      };
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      assert.equal((await finishedExecution(client, entity._id)).execution_status, 'success');
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 2 });
      assert.equal((await finishedExecution(client, entity._id, 2)).execution_status, 'failed');
      const after = await scrape();
      assert.deepEqual(
        {
          success: after.success - before.success,
          retry: after.retry - before.retry,
          fail: after.fail - before.fail,
          execSuccess: after.execSuccess - before.execSuccess,
          execFailed: after.execFailed - before.execFailed,
        },
        { success: 1, retry: 1, fail: 1, execSuccess: 1, execFailed: 1 },
      );
      assert.equal(after.pending, '0', 'nothing left waiting');
    });

    it('starts a flow manually with POST /v1/automation/executions', async () => {
      const { client } = await env.p.newOrg();
      const { flow } = await installFlow(client, `${env.rx.url}/manual`);
      env.rx.respond = () => ({ status: 200, body: { manual: true } });
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'Deal' })).body;
      const started = await client.req('POST', '/v1/automation/executions', {
        entity_id: entity._id,
        flow_id: flow.id,
      });
      assert.equal(started.status, 201);
      assert.equal(started.body.trigger_event.type, 'manual');
      const exec = await until(async () => {
        const e = (await client.req('GET', `/v1/automation/executions/${started.body.id}`)).body;
        return e.execution_status === 'success' ? e : undefined;
      }, 'manual execution');
      assert.deepEqual(exec.actions[0].outputs, { manual: true });
    });
  });

describe('egress policy', () => {
  it('refuses internal addresses unless allowed, as BAD_CONFIG without retries', async () => {
    const rx = await new Receiver().start();
    const strict = await testPlatform({ egressAllow: [] });
    try {
      const { client } = await strict.newOrg();
      const port = new URL(rx.url).port;
      const hosts = [
        '127.0.0.1',
        'localhost',
        '[::1]',
        '[::ffff:127.0.0.1]',
        '[64:ff9b::127.0.0.1]',
        '[2002:7f00:1::1]',
      ];
      for (const host of hosts) {
        await installFlow(client, `http://${host}:${port}/internal`);
      }
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      const list = await until(async () => {
        const r = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body;
        return r.total === hosts.length &&
          r.results.every((e: { execution_status: string }) => e.execution_status === 'failed')
          ? r.results
          : undefined;
      }, `${hosts.length} refused executions`);
      for (const e of list) {
        assert.equal(e.actions[0].error_output.error_code, 'BAD_CONFIG');
        assert.match(
          e.actions[0].error_output.error_reason,
          /internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW/,
        );
      }
      assert.equal(rx.received.length, 0, 'nothing reached the internal receiver');
      const d = (await client.req('GET', '/v1/deliveries')).body.results;
      assert.deepEqual(
        d.map((x: { attempt_count: number; status: string }) => [x.attempt_count, x.status]),
        hosts.map(() => [1, 'failed']),
      );
    } finally {
      await strict.stop();
      await rx.close();
    }
  });

  it('parses ACTIONBRIDGE_EGRESS_ALLOW and names a bad entry', () => {
    assert.deepEqual(parseCidrs('10.0.0.0/8, 127.0.0.1,fd00::/8'), ['10.0.0.0/8', '127.0.0.1/32', 'fd00::/8']);
    assert.throws(() => parseCidrs('10.0.0.0/33'), /"10.0.0.0\/33" is not a CIDR/);
    assert.throws(() => parseCidrs('example.com'), /not a CIDR/);
    const policy = new EgressPolicy(['10.1.0.0/16']);
    assert.equal(policy.deny('10.1.2.3'), undefined);
    assert.match(policy.deny('10.2.0.1') ?? '', /internal/);
    assert.match(policy.deny('169.254.169.254') ?? '', /internal/);
    assert.match(policy.deny('::ffff:127.0.0.1') ?? '', /internal/);
    assert.equal(policy.deny('93.184.216.34'), undefined);
  });
});

for (const backend of BACKENDS)
  describeOn(backend, `delivery details (${backend})`, () => {
    const env = useTestPlatform({ backend });

    async function run(settings: Record<string, unknown>, respond: Receiver['respond']) {
      const { client } = await env.p.newOrg();
      const m = manifest(`${env.rx.url}/details`) as any;
      Object.assign(m.components[0].configuration.external_integration_settings, settings);
      await installFlow(client, '', { manifest: m });
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
      env.rx.respond = respond;
      const start = env.rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      const exec = await finishedExecution(client, entity._id);
      return { exec, requests: env.rx.received.slice(start), client };
    }

    it('adds the component’s headers but never lets them override the platform’s', async () => {
      const { exec, requests } = await run(
        { headers: { 'x-api-version': '2', 'Webhook-Id': 'msg_evil', 'user-agent': 'spoof', 'X-Epilot-Token': 'x' } },
        () => ({ status: 200, body: {} }),
      );
      assert.equal(exec.execution_status, 'success');
      const h = requests[0]!.headers;
      assert.equal(h['x-api-version'], '2');
      assert.match(String(h['webhook-id']), /^msg_[0-9a-f]{32}$/);
      assert.match(String(h['user-agent']), /^ActionBridge\//);
      const token = String(h['x-epilot-token']);
      assert.match(token, /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/, 'the platform’s own JWT');
      assert.equal(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).token_type, 'app');
    });

    it('adds a v1 HMAC signature when the installation has a whsec_ secret, and never shows it', async () => {
      const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
      const { client } = await env.p.newOrg();
      const { appId } = await installFlow(client, `${env.rx.url}/hmac`);
      const bad = await client.req('PATCH', `/v1/app/${appId}`, { signing_secret: 'whsec_c2hvcnQ=' });
      assert.equal(bad.status, 422);
      const set = await client.req('PATCH', `/v1/app/${appId}`, { signing_secret: secret });
      assert.equal(set.status, 204);
      const shown = (await client.req('GET', `/v1/app/${appId}`)).body;
      assert.equal(shown.has_signing_secret, true);
      assert.ok(!JSON.stringify(shown).includes('MfKQ9r8'));
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
      env.rx.respond = () => ({ status: 200, body: {} });
      const start = env.rx.received.length;
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      await env.rx.waitFor(start + 1);
      const r = env.rx.received[start]!;
      const parts = String(r.headers['webhook-signature']).split(' ');
      assert.match(parts[0]!, /^v1a,/);
      const expected = signWebhook(
        { id: String(r.headers['webhook-id']), timestamp: Number(r.headers['webhook-timestamp']), body: r.body },
        { hmac: [secret] },
      );
      assert.equal(parts.at(-1), expected);
      assert.equal((await client.req('PATCH', `/v1/app/${appId}`, { signing_secret: null })).status, 204);
      assert.equal((await client.req('GET', `/v1/app/${appId}`)).body.has_signing_secret, false);
    });

    it('does not follow redirects: a 3xx fails for good', async () => {
      const { exec, requests } = await run({}, () => ({ status: 302, headers: { location: 'http://127.0.0.1:1/' } }));
      assert.equal(exec.execution_status, 'failed');
      assert.deepEqual(exec.actions[0].error_output, { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'HTTP 302' });
      assert.equal(requests.length, 1);
    });

    it('honours a component’s own retry schedule', async () => {
      const { exec, requests } = await run({ retry_schedule: [0, 0.01] }, () => ({ status: 503, body: {} }));
      assert.equal(exec.execution_status, 'failed');
      assert.equal(requests.length, 2, 'two attempts, as the component asks');
    });

    it('honours Retry-After', async () => {
      const seen = new Set<unknown>();
      const { exec, client } = await run({ retry_schedule: [0, 0] }, (r) => {
        const first = !seen.has(r.headers['webhook-id']);
        seen.add(r.headers['webhook-id']);
        return first
          ? { status: 429, body: {}, headers: { 'retry-after': '1' } }
          : { status: 200, body: { later: true } };
      });
      assert.equal(exec.execution_status, 'success');
      const [d] = (await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.results;
      const { attempts } = (await client.req('GET', `/v1/deliveries/${d.id}`)).body;
      const gap = Date.parse(attempts[1].started_at) - Date.parse(attempts[0].started_at);
      assert.ok(gap >= 900, `second attempt ${gap} ms after the first, Retry-After asked 1 s`);
    });

    it('retries 408, 425, 429, 500, 502, 503 and 504, with the same webhook-id', async () => {
      for (const status of [408, 425, 429, 500, 502, 503, 504]) {
        const seen = new Set<unknown>();
        const { exec, requests, client } = await run({}, (r) => {
          const first = !seen.has(r.headers['webhook-id']);
          seen.add(r.headers['webhook-id']);
          return first ? { status, body: {} } : { status: 200, body: { after: status } };
        });
        assert.equal(exec.execution_status, 'success', `${status} is retried`);
        assert.deepEqual(exec.actions[0].outputs, { after: status });
        assert.equal(requests.length, 2, `${status}: two attempts`);
        assert.equal(requests[1]!.headers['webhook-id'], requests[0]!.headers['webhook-id']);
        const d = await deliveryOf(client, exec.id);
        assert.deepEqual(
          d.attempts.map((x: { status_code: number }) => x.status_code),
          [status, 200],
        );
      }
    });

    it('does not retry other statuses: 400, 401, 403, 404, 409, 410, 501', async () => {
      for (const status of [400, 401, 403, 404, 409, 410, 501]) {
        const { exec, requests } = await run({}, () => ({ status, body: {} }));
        assert.equal(exec.execution_status, 'failed');
        assert.deepEqual(exec.actions[0].error_output, {
          error_code: 'CUSTOM_ACTION_ERROR',
          error_reason: `HTTP ${status}`,
        });
        assert.equal(requests.length, 1, `${status} is not retried`);
      }
    });

    /** Starts `n` executions whose first attempt gets `answer`; returns their deliveries once each waits for a retry. */
    async function waitingDeliveries(settings: Record<string, unknown>, n: number, answer: Receiver['respond']) {
      const { client } = await env.p.newOrg();
      const m = manifest(`${env.rx.url}/waiting`) as any;
      Object.assign(m.components[0].configuration.external_integration_settings, settings);
      await installFlow(client, '', { manifest: m });
      env.rx.respond = answer;
      for (let i = 0; i < n; i++) {
        const entity = (await client.req('POST', '/v1/entity/opportunity', { name: `E${i}` })).body;
        await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: i });
      }
      const list = await until(async () => {
        const r = (await client.req('GET', '/v1/deliveries?status=pending')).body;
        // `tries`: the first attempt's answer is recorded (`attempt_count` already counts one in flight).
        return r.results.length === n && r.results.every((d: { tries: number }) => d.tries === 1)
          ? r.results
          : undefined;
      }, `${n} deliveries waiting for their second attempt`);
      return Promise.all(
        list.map(async (d: { id: string }) => {
          const full = (await client.req('GET', `/v1/deliveries/${d.id}`)).body;
          // From the first attempt's start to the second attempt's due time.
          return { full, waitMs: Date.parse(full.next_attempt_at) - Date.parse(full.attempts[0].started_at) };
        }),
      );
    }

    it('caps Retry-After at one hour, given in seconds or as a date', async () => {
      const waiting = await waitingDeliveries({ retry_schedule: [0, 0] }, 2, (r) => {
        const name = JSON.parse(r.body).data.entity.name;
        const later = name === 'E0' ? '7200' : new Date(Date.now() + 3 * 3600_000).toUTCString();
        return { status: 503, body: {}, headers: { 'retry-after': later } };
      });
      for (const { full, waitMs } of waiting) {
        assert.match(full.attempts[0].response_headers['retry-after'], /^(7200|\w{3}, .* GMT)$/);
        assert.ok(waitMs >= 3600_000 && waitMs < 3605_000, `next attempt ${waitMs / 1000} s later, capped at 3600 s`);
      }
    });

    it('spreads retries with ±20 % jitter around the schedule', async () => {
      // A 1000 s retry delay: ±20 % is 800–1200 s. Six deliveries in lockstep would all wait 1000 s.
      const waiting = await waitingDeliveries({ retry_schedule: [0, 1000] }, 6, () => ({ status: 503, body: {} }));
      const waits = waiting.map((w) => w.waitMs);
      for (const ms of waits) assert.ok(ms >= 800_000 && ms <= 1_205_000, `waits ${ms / 1000} s`);
      const spread = Math.max(...waits) - Math.min(...waits);
      assert.ok(spread > 20_000, `waits ${waits.map((w) => Math.round(w / 1000)).join(', ')} s are not spread out`);
    });

    it('records hostile answers (deep JSON, NUL bytes) and keeps no outputs from them', async () => {
      const deep = `${'['.repeat(6000)}${']'.repeat(6000)}`;
      const a = await run({}, () => ({ status: 200, body: deep }));
      assert.equal(a.exec.execution_status, 'success');
      assert.deepEqual(a.exec.actions[0].outputs, {});
      const b = await run({}, () => ({ status: 200, body: '{"x":"a\\u0000b","y":"\u0000"}' }));
      assert.equal(b.exec.execution_status, 'success');
      assert.deepEqual(b.exec.actions[0].outputs, {});
      const [d] = (await b.client.req('GET', `/v1/deliveries?execution_id=${b.exec.id}`)).body.results;
      const { attempts } = (await b.client.req('GET', `/v1/deliveries/${d.id}`)).body;
      assert.equal(attempts[0].status_code, 200);
      assert.ok(!attempts[0].response_body.includes('\u0000'));
    });

    it('keeps no outputs from an answer over 64 KiB, and caps what it records', async () => {
      const big = { blob: 'x'.repeat(70 * 1024) };
      const { exec, client } = await run({}, () => ({ status: 200, body: big }));
      assert.equal(exec.execution_status, 'success');
      assert.deepEqual(exec.actions[0].outputs, {});
      const [d] = (await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.results;
      const { attempts } = (await client.req('GET', `/v1/deliveries/${d.id}`)).body;
      assert.equal(Buffer.byteLength(attempts[0].response_body), 64 * 1024);
    });
  });
