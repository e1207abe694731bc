import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, finishedExecution, installFlow, testPlatform, until, useTestPlatform } from '../testing/harness.js';

describe('operating executions: retrigger, cancel, replay', () => {
  const env = useTestPlatform();

  async function failedRun(client: Client) {
    await installFlow(client, `${env.rx.url}/ops`, {
      actions: [
        { name: 'One', type: 'custom-action', config: {} },
        { name: 'Two', type: 'custom-action', config: {} },
      ],
    });
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    env.rx.respond = () => ({ status: 400, body: { message: 'bad data' } });
    await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
    const exec = await finishedExecution(client, entity._id);
    assert.equal(exec.execution_status, 'failed');
    assert.equal(exec.actions[1].execution_status, 'skipped');
    return { exec, entity };
  }

  const waitStatus = (client: Client, id: string, status: string) =>
    until(async () => {
      const e = (await client.req('GET', `/v1/automation/executions/${id}`)).body;
      return e.execution_status === status ? e : undefined;
    }, `execution ${status}`);

  it('retriggers a failed action with a new webhook-id, then runs the skipped ones', async () => {
    const { client } = await env.p.newOrg();
    const { exec } = await failedRun(client);
    const before = env.rx.received.length;
    const firstId = env.rx.received[before - 1]!.headers['webhook-id'];
    env.rx.respond = () => ({ status: 200, body: { fixed: true } });
    const r = await client.req('POST', `/v1/automation/executions/${exec.id}/${exec.actions[0].id}/retrigger`);
    assert.equal(r.status, 200);
    const done = await waitStatus(client, exec.id, 'success');
    assert.deepEqual(
      done.actions.map((a: { execution_status: string }) => a.execution_status),
      ['success', 'success'],
    );
    assert.notEqual(env.rx.received[before]!.headers['webhook-id'], firstId);
    const again = await client.req('POST', `/v1/automation/executions/${exec.id}/${exec.actions[0].id}/retrigger`);
    assert.equal(again.status, 409);
    assert.equal((await client.req('POST', `/v1/automation/executions/${exec.id}/nope/retrigger`)).status, 404);
    const stranger = await env.p.newOrg();
    assert.equal(
      (await stranger.client.req('POST', `/v1/automation/executions/${exec.id}/${exec.actions[0].id}/retrigger`))
        .status,
      404,
    );
  });

  it('replays a delivery as the same message (same webhook-id and bytes, fresh signature); a failed action waits on it', async () => {
    const { client } = await env.p.newOrg();
    const { exec } = await failedRun(client);
    const [d] = (await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.results;
    const sent = () => env.rx.received.filter((x) => x.headers['webhook-id'] === d.webhook_id);
    const original = sent().at(-1)!;
    const before = (await client.req('GET', `/v1/deliveries/${d.id}`)).body.attempts.length;
    env.rx.respond = () => ({ status: 200, body: { replayed: true } });
    await new Promise((r) => setTimeout(r, 1100)); // a later second, so the fresh timestamp differs
    const r = await client.req('POST', `/v1/deliveries/${d.id}/replay`);
    assert.equal(r.status, 202);
    assert.equal(r.body.id, d.id, 'the same delivery');
    assert.equal(r.body.webhook_id, d.webhook_id, 'the same webhook-id: receivers dedupe on it');
    const done = await waitStatus(client, exec.id, 'success');
    assert.deepEqual(done.actions[0].outputs, { replayed: true });
    const replayedReq = sent().at(-1)!;
    assert.notEqual(replayedReq, original, 'the replay reached the app');
    assert.equal(replayedReq.body, original.body, 'the same bytes');
    assert.notEqual(
      replayedReq.headers['webhook-timestamp'],
      original.headers['webhook-timestamp'],
      'a fresh timestamp',
    );
    assert.notEqual(replayedReq.headers['webhook-signature'], original.headers['webhook-signature'], 'signed anew');
    const after = (await client.req('GET', `/v1/deliveries/${d.id}`)).body;
    assert.equal(after.status, 'succeeded');
    assert.equal(after.attempts.length, before + 1, 'the replay’s attempt is appended to the same delivery');
    assert.equal(after.attempts.at(-1).outcome, 'succeeded');

    // Replaying a delivery whose action succeeded sends it again but leaves the execution alone.
    const count = (await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.total;
    const seen = env.rx.received.length;
    const ok = await client.req('POST', `/v1/deliveries/${d.id}/replay`);
    assert.equal(ok.status, 202);
    await env.rx.waitFor(seen + 1);
    await until(async () => {
      const x = (await client.req('GET', `/v1/deliveries/${d.id}`)).body;
      return x.status === 'succeeded' && x.attempts.length === before + 2;
    }, 'replay delivered');
    assert.equal((await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.total, count);
    assert.equal((await client.req('GET', `/v1/automation/executions/${exec.id}`)).body.execution_status, 'success');
    assert.equal((await client.req('POST', '/v1/deliveries/nope/replay')).status, 404);
  });

  it('cancels a paused execution: the action is cancelled, the rest skipped, the callback refused', async () => {
    const { client } = await env.p.newOrg();
    await installFlow(client, `${env.rx.url}/cancel`, {
      actions: [
        { name: 'Wait', type: 'custom-action', config: { wait_for_callback: true } },
        { name: 'Then', type: 'custom-action', config: {} },
      ],
    });
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    const start = env.rx.received.length;
    env.rx.respond = () => ({ status: 202, body: {} });
    await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
    await env.rx.waitFor(start + 1);
    const token = JSON.parse(env.rx.received[start]!.body).data.resume_token;
    const paused = await until(async () => {
      const list = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body;
      return list.results[0]?.execution_status === 'paused' ? list.results[0] : undefined;
    }, 'paused');
    const r = await client.req('DELETE', `/v1/automation/executions/${paused.id}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.execution_status, 'cancelled');
    assert.deepEqual(
      r.body.actions.map((a: { execution_status: string }) => a.execution_status),
      ['cancelled', 'skipped'],
    );
    const resume = await new Client(env.p.url).req('POST', '/v1/automation/public/executions:resume', {
      resume_token: token,
    });
    // epilot's "execution could not be resumed".
    assert.equal(resume.status, 400);
    assert.match(resume.body.error, /the action is cancelled, not waiting for a callback/);
    assert.equal((await client.req('DELETE', `/v1/automation/executions/${paused.id}`)).status, 409);
    assert.equal((await client.req('DELETE', '/v1/automation/executions/nope')).status, 404);
  });

  it('refuses to retrigger while another action of the execution is running', async () => {
    const { client } = await env.p.newOrg();
    await installFlow(client, `${env.rx.url}/busy`, {
      actions: [
        { name: 'One', type: 'custom-action', allow_failure: true, config: {} },
        { name: 'Two', type: 'custom-action', config: { wait_for_callback: true } },
      ],
    });
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    env.rx.respond = (r) =>
      r.url === '/busy' && !JSON.parse(r.body).data.resume_token
        ? { status: 400, body: {} }
        : { status: 202, body: {} };
    await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
    const paused = await until(async () => {
      const list = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body;
      return list.results[0]?.execution_status === 'paused' ? list.results[0] : undefined;
    }, 'paused');
    assert.equal(paused.actions[0].execution_status, 'failed');
    const r = await client.req('POST', `/v1/automation/executions/${paused.id}/${paused.actions[0].id}/retrigger`);
    assert.equal(r.status, 409);
    assert.match(r.body.error, /paused: retrigger once it ends/);
  });

  it('replays a callback action: the resent token works once more', async () => {
    const { client } = await env.p.newOrg();
    await installFlow(client, `${env.rx.url}/replay-cb`, {
      actions: [{ name: 'Wait', type: 'custom-action', config: { wait_for_callback: true } }],
    });
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    const start = env.rx.received.length;
    env.rx.respond = () => ({ status: 202, body: {} });
    await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
    await env.rx.waitFor(start + 1);
    const token = JSON.parse(env.rx.received[start]!.body).data.resume_token;
    const anon = new Client(env.p.url);
    const exec = await waitStatus(
      client,
      (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body.results[0].id,
      'paused',
    );
    assert.equal(
      (await anon.req('POST', '/v1/automation/public/executions:resume', { resume_token: token, status: 'failed' }))
        .status,
      200,
    );
    await waitStatus(client, exec.id, 'failed');
    const [d] = (await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.results;
    assert.equal((await client.req('POST', `/v1/deliveries/${d.id}/replay`)).status, 202);
    await waitStatus(client, exec.id, 'paused');
    const again = await anon.req('POST', '/v1/automation/public/executions:resume', { resume_token: token });
    assert.equal(again.status, 200);
    assert.equal((await waitStatus(client, exec.id, 'success')).actions[0].execution_status, 'success');
    assert.equal(
      (await anon.req('POST', '/v1/automation/public/executions:resume', { resume_token: token })).status,
      404,
      'used again',
    );
  });

  it('uninstalling stops the app’s pending deliveries and fails their actions', async () => {
    const slow = await testPlatform({ retrySchedule: [0, 5, 5] });
    try {
      const { client } = await slow.newOrg();
      const { appId } = await installFlow(client, `${env.rx.url}/uninstalled`);
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
      const start = env.rx.received.length;
      env.rx.respond = () => ({ status: 503, body: {} });
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      await env.rx.waitFor(start + 1);
      await until(async () => {
        const [d] = (await client.req('GET', '/v1/deliveries')).body.results;
        return d?.attempt_count === 1;
      }, 'first attempt recorded');
      assert.equal((await client.req('DELETE', `/v1/app/${appId}`)).status, 204);
      const exec = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body.results[0];
      assert.equal(exec.execution_status, 'failed');
      assert.deepEqual(exec.actions[0].error_output, {
        error_code: 'BAD_CONFIG',
        error_reason: `app ${appId} was uninstalled`,
      });
      assert.equal((await client.req('GET', '/v1/deliveries')).body.results[0].status, 'cancelled');
    } finally {
      await slow.stop();
    }
  });

  it('refuses to start a disabled flow by hand', async () => {
    const { client } = await env.p.newOrg();
    const { flow } = await installFlow(client, `${env.rx.url}/disabled`);
    const full = (await client.req('GET', `/v1/automation/flows/${flow.id}`)).body;
    const { id: _id, org_id: _o, created_at: _c, updated_at: _u, version: _v, ...body } = full;
    assert.equal((await client.req('PUT', `/v1/automation/flows/${flow.id}`, { ...body, enabled: false })).status, 200);
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    const r = await client.req('POST', '/v1/automation/executions', { entity_id: entity._id, flow_id: flow.id });
    assert.equal(r.status, 409);
    assert.match(r.body.error, /disabled/);
  });

  it('cancelling stops pending retries', async () => {
    const slow = await testPlatform({ retrySchedule: [0, 0.5, 0.5] });
    try {
      const { client } = await slow.newOrg();
      await installFlow(client, `${env.rx.url}/retrying`);
      const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
      const start = env.rx.received.length;
      env.rx.respond = () => ({ status: 503, body: {} });
      await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: 1 });
      await env.rx.waitFor(start + 1);
      const exec = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body.results[0];
      assert.equal((await client.req('DELETE', `/v1/automation/executions/${exec.id}`)).status, 200);
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(env.rx.received.length, start + 1, 'no retry after the cancel');
      const [d] = (await client.req('GET', `/v1/deliveries?execution_id=${exec.id}`)).body.results;
      assert.equal(d.status, 'cancelled');
    } finally {
      await slow.stop();
    }
  });
});

describe('hot flow protection', () => {
  const env = useTestPlatform();

  it('disables a flow that fires over its limit; its further runs are recorded hot', async () => {
    const { client } = await env.p.newOrg();
    const { flow } = await installFlow(client, `${env.rx.url}/hot`, {
      flow: { flow_name: 'Hot', max_executions: { count: 3, window: 'P0DT30S' } },
    });
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    for (let i = 1; i <= 5; i++) await client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: i });
    const list = await until(async () => {
      const r = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}`)).body;
      return r.total === 5 && r.results.every((e: { execution_status: string }) => e.execution_status !== 'in_progress')
        ? r.results
        : undefined;
    }, 'five finished executions');
    const statuses = list.map((e: { execution_status: string }) => e.execution_status).reverse();
    assert.deepEqual(statuses, ['success', 'success', 'success', 'hot', 'hot']);
    const f = (await client.req('GET', `/v1/automation/flows/${flow.id}`)).body;
    assert.equal(f.enabled, false);
    assert.equal(f.disable_details.disabled_by, 'system');
    assert.equal((await client.req('GET', '/v1/deliveries')).body.total, 3, 'hot runs send nothing');
  });
});

describe('hot flow protection by default', () => {
  const env = useTestPlatform();

  it('disables a flow without max_executions on its 101st run within 30 s; that run and later ones are hot', async () => {
    const { client } = await env.p.newOrg();
    // No options set: each run fails at once with BAD_CONFIG, so the test sends nothing and stays fast.
    const { flow } = await installFlow(client, `${env.rx.url}/hot-default`, { options: false });
    assert.equal((await client.req('GET', `/v1/automation/flows/${flow.id}`)).body.max_executions, undefined);
    const entity = (await client.req('POST', '/v1/entity/opportunity', { name: 'E' })).body;
    const fired = 103;
    for (let i = 0; i < fired; i += 10) {
      const batch = Array.from({ length: Math.min(10, fired - i) }, (_, j) =>
        client.req('PATCH', `/v1/entity/opportunity/${entity._id}`, { amount: i + j }),
      );
      for (const r of await Promise.all(batch)) assert.equal(r.status, 200);
    }
    const list: Array<{ execution_status: string; created_at: string }> = await until(
      async () => {
        const r = (await client.req('GET', `/v1/automation/executions?entity_id=${entity._id}&size=200`)).body;
        return r.total === fired ? r.results : undefined;
      },
      `${fired} executions`,
      20_000,
    );
    const hot = list.filter((e) => e.execution_status === 'hot');
    const ran = list.filter((e) => e.execution_status !== 'hot');
    assert.equal(ran.length, 100, 'the first 100 runs go ahead');
    assert.ok(
      ran.every((e) => e.execution_status === 'failed'),
      'and fail at once: no options are set',
    );
    assert.equal(hot.length, 3, 'the 101st and later are hot');
    const lastRan = Math.max(...ran.map((e) => Date.parse(e.created_at)));
    assert.ok(
      hot.every((e) => Date.parse(e.created_at) >= lastRan),
      'the hot runs came after the others',
    );
    const f = (await client.req('GET', `/v1/automation/flows/${flow.id}`)).body;
    assert.equal(f.enabled, false);
    assert.equal(f.disable_details.disabled_by, 'system');
  });
});

describe('trigger filters', () => {
  const env = useTestPlatform();

  it('fires only when one of the trigger’s attributes changed', async () => {
    const { client } = await env.p.newOrg();
    await installFlow(client, `${env.rx.url}/filtered`, {
      flow: {
        flow_name: 'On status change',
        triggers: [
          {
            type: 'entity_operation',
            configuration: { schema: 'opportunity', operations: ['updateEntity'], attributes: ['status'] },
          },
        ],
      },
    });
    const e = (await client.req('POST', '/v1/entity/opportunity', { name: 'F', status: 'open' })).body;
    env.rx.respond = () => ({ status: 200, body: {} });
    await client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 5 });
    await client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { status: 'won' });
    const list = await until(async () => {
      const r = (await client.req('GET', `/v1/automation/executions?entity_id=${e._id}`)).body;
      return r.total >= 1 && r.results[0].execution_status === 'success' ? r : undefined;
    }, 'one execution');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await client.req('GET', `/v1/automation/executions?entity_id=${e._id}`)).body.total, 1);
    assert.deepEqual(JSON.parse(env.rx.received[0]!.body).data.trigger.diff.updated, { status: 'won' });
    assert.equal(list.total, 1);
  });
});
