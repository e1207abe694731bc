import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  BACKENDS,
  Client,
  describeOn,
  installFlow,
  type Receiver,
  testPlatform,
  until,
  useTestPlatform,
} from '../testing/harness.js';

/** The one answer to a token that is unknown, used or timed out: it never tells which tokens exist or existed. */
const DEAD_TOKEN = { status: 404, error: 'resume token is unknown, already used, or timed out' };

async function pausedExecution(rx: Receiver, client: Client) {
  await installFlow(client, `${rx.url}/cb`, {
    actions: [
      { name: 'Wait', type: 'custom-action', config: { wait_for_callback: true } },
      { name: 'Then', type: 'custom-action', config: {} },
    ],
  });
  const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
  const start = rx.received.length;
  rx.respond = () => ({ status: 202, body: { accepted: true } });
  await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
  await rx.waitFor(start + 1);
  const payload = JSON.parse(rx.received[start]!.body);
  const exec = await until(async () => {
    const list = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body;
    return list.results[0]?.execution_status === 'paused' ? list.results[0] : undefined;
  }, 'paused execution');
  return { payload, exec, entity, start };
}

for (const backend of BACKENDS)
  describeOn(backend, `wait_for_callback (${backend})`, () => {
    const env = useTestPlatform({ backend });

    it('pauses after a 2xx, resumes once with the callback, then runs the next action', async () => {
      const { client } = await env.p.newOrg();
      const { payload, exec, start } = await pausedExecution(env.rx, client);
      assert.match(payload.data.resume_token, /^rt_/);
      assert.equal(payload.data.callback_url, `${env.p.publicUrl}/v1/automation/public/executions:resume`);
      assert.equal(exec.actions[0].execution_status, 'paused');
      assert.equal(exec.actions[1].execution_status, 'pending');

      env.rx.respond = () => ({ status: 200, body: { next: true } });
      const anon = new Client(env.p.url);
      const resumed = await anon.req('POST', '/v1/automation/public/executions:resume', {
        resume_token: payload.data.resume_token,
        outputs: { approved: true },
      });
      assert.equal(resumed.status, 200);
      assert.equal(resumed.body.resumedAction.execution_status, 'success');
      assert.deepEqual(resumed.body.resumedAction.outputs, { accepted: true, approved: true });
      const again = await anon.req('POST', '/v1/automation/public/executions:resume', {
        resume_token: payload.data.resume_token,
      });
      assert.deepEqual(again.body, DEAD_TOKEN, 'a token works once');

      await env.rx.waitFor(start + 2);
      const done = await until(async () => {
        const e = (await client.req('GET', `/v1/automation/executions/${exec.id}`)).body;
        return e.execution_status === 'success' ? e : undefined;
      }, 'execution success');
      assert.deepEqual(done.actions[1].outputs, { next: true });
    });

    it('fails the action with the app’s reason when the callback says failed', async () => {
      const { client } = await env.p.newOrg();
      const { payload, exec } = await pausedExecution(env.rx, client);
      const r = await new Client(env.p.url).req('POST', '/v1/automation/public/executions:resume', {
        resume_token: payload.data.resume_token,
        status: 'failed',
        error_reason: 'manual review rejected',
      });
      assert.equal(r.status, 200);
      const e = (await client.req('GET', `/v1/automation/executions/${exec.id}`)).body;
      assert.equal(e.execution_status, 'failed');
      assert.deepEqual(e.actions[0].error_output, {
        error_code: 'CUSTOM_ACTION_ERROR',
        error_reason: 'manual review rejected',
      });
      assert.equal(e.actions[1].execution_status, 'skipped');
    });

    it('fails with TIMEOUT_ERROR when no callback arrives before the deadline', async () => {
      const quick = await testPlatform({ backend, callbackTimeoutS: 1 });
      try {
        const { client } = await quick.newOrg();
        const { payload, exec } = await pausedExecution(env.rx, client);
        const e = await until(
          async () => {
            const x = (await client.req('GET', `/v1/automation/executions/${exec.id}`)).body;
            return x.execution_status === 'failed' ? x : undefined;
          },
          'timeout',
          5000,
        );
        assert.deepEqual(e.actions[0].error_output, {
          error_code: 'TIMEOUT_ERROR',
          error_reason: 'no callback within 1 s',
        });
        assert.equal(e.actions[1].execution_status, 'skipped');
        const waited = Date.parse(e.actions[0].updated_at) - Date.parse(exec.actions[0].updated_at);
        assert.ok(waited >= 1000 && waited < 4000, `failed ${waited} ms after pausing; the timeout is 1 s`);
        const late = await new Client(quick.url).req('POST', '/v1/automation/public/executions:resume', {
          resume_token: payload.data.resume_token,
        });
        assert.deepEqual(late.body, DEAD_TOKEN);
      } finally {
        await quick.stop();
      }
    });

    it('refuses unknown tokens and malformed bodies', async () => {
      const anon = new Client(env.p.url);
      assert.deepEqual(
        (await anon.req('POST', '/v1/automation/public/executions:resume', { resume_token: 'rt_nope' })).body,
        DEAD_TOKEN,
      );
      assert.equal((await anon.req('POST', '/v1/automation/public/executions:resume', {})).status, 400);
      assert.equal(
        (await anon.req('POST', '/v1/automation/public/executions:resume', { resume_token: 'x', status: 'maybe' }))
          .status,
        400,
      );
    });
  });
