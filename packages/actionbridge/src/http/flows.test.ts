/**
 * epilot's flow rules on the real server, driven through `@epilot/automation-client` and
 * `@epilot/entity-client` (answers checked against the automation client's OpenAPI definition), on
 * SQLite and PostgreSQL: trigger filters (`filter_config`), `trigger_conditions`, branching
 * (`conditions`), delayed actions (`schedules`), refusals of what is not supported, retrigger with
 * and without a body, and a component's `wait_for_callback` as its actions' default.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient as automationClient } from '@epilot/automation-client';
import { createClient as entityClient } from '@epilot/entity-client';
import { BACKENDS, type Client, manifest, type Received, until, useTestPlatform } from '../testing/harness.js';
import { type ClientAnswer as Answer, assertAnswer, call, OpenApiChecker, pointed } from '../testing/openapi.js';

const definition = OpenApiChecker.load('automation');

type Execution = {
  id: string;
  status: string;
  execution_status: string;
  conditions?: Array<{ id: string; evaluationResult?: boolean }>;
  actions: Array<{
    id: string;
    execution_status: string;
    scheduled_at?: string;
    reason?: { message: string };
    error_output?: { error_code: string; error_reason: string };
  }>;
};

/** The answer has the status and matches the operation in the automation client's definition. */
function expectAnswer(operationId: string, answer: Answer, status: number): void {
  assert.equal(answer.status, status, `${operationId} answered ${answer.status}: ${JSON.stringify(answer.data)}`);
  assertAnswer(definition, operationId, answer);
}

/** Which action of the flow a request is for: its `config.name`, sent to the app as `action_config`. */
const actionOf = (r: Received) => (JSON.parse(r.body).data.action_config as { name?: string }).name;

for (const backend of BACKENDS)
  describe(`epilot flow rules through the automation client (${backend})`, () => {
    const env = useTestPlatform({ backend });

    /**
     * A fresh org with the two clients, an installed app whose one custom action posts to a path of
     * its own on the receiver, and helpers to create flows and read what happened.
     */
    async function setup(path: string) {
      const org = await env.p.newOrg();
      const automation = automationClient();
      const entities = entityClient();
      for (const c of [automation, entities]) pointed(c, env.p.url, org.token);
      const api: Client = org.client;
      const app = (await api.req('POST', '/v1/apps', manifest(`${env.rx.url}/${path}`))).body as { app_id: string };
      const installed = await api.req('POST', `/v1/app/${app.app_id}`, {
        option_values: [{ component_id: 'act', options: [{ key: 'threshold', value: 1 }] }],
      });
      assert.equal(installed.status, 201, JSON.stringify(installed.body));
      const custom = (name: string, extra: Record<string, unknown> = {}) => ({
        id: name,
        name,
        type: 'custom-action',
        config: { name, app_id: app.app_id, component_id: 'act' },
        ...extra,
      });
      async function createFlow(body: Record<string, unknown>) {
        const created = await call(automation.createFlow(null, { flow_name: path, ...body } as never));
        expectAnswer('createFlow', created, 201);
        return created.data as { id: string; actions: Array<{ id: string }> };
      }
      /** Every event of the org has been processed (its executions exist). */
      const settled = () =>
        until(
          async () => ((await api.req('GET', '/v1/events?status=pending')).body.results as unknown[]).length === 0,
          'events processed',
        );
      const executionsOf = async (entityId: string) => {
        const list = await call(automation.getExecutions({ entity_id: entityId }));
        expectAnswer('getExecutions', list, 200);
        return (list.data as { results: Execution[] }).results;
      };
      const received = () => env.rx.received.filter((r) => r.url === `/${path}`);
      return { org, api, automation, entities, appId: app.app_id, custom, createFlow, settled, executionsOf, received };
    }

    /** Waits for an execution to reach `status`, and returns it as getExecution answers it. */
    async function waitFor(automation: ReturnType<typeof automationClient>, id: string, status: string) {
      return until(async () => {
        const got = await call(automation.getExecution({ execution_id: id }));
        expectAnswer('getExecution', got, 200);
        const exec = got.data as Execution;
        return exec.execution_status === status ? exec : undefined;
      }, `execution ${status}`);
    }

    it('filter_config: fires only when an order’s status changes from open_for_acceptance to placed', async () => {
      env.rx.respond = () => ({ status: 200, body: {} });
      const s = await setup('from-to');
      // epilot's documented example, verbatim: the schema only in payload._schema.
      await s.createFlow({
        triggers: [
          {
            type: 'entity_operation',
            configuration: {
              filter_config: {
                operation: {
                  operation: ['updateEntity'],
                  payload: { _schema: ['order'], status: ['placed'] },
                  diff: { updated: { status: ['open_for_acceptance'] } },
                },
              },
            },
          },
        ],
        actions: [s.custom('Notify')],
      });
      const order = (await s.entities.createEntity({ slug: 'order' }, { status: 'open_for_acceptance' })).data as {
        _id: string;
      };
      const id = order._id;
      for (const status of ['draft', 'placed', 'open_for_acceptance', 'placed', 'shipped']) {
        await s.entities.patchEntity({ slug: 'order', id }, { status });
      }
      // Another schema with the same change never fires the flow.
      const other = (await s.entities.createEntity({ slug: 'contract' }, { status: 'open_for_acceptance' })).data as {
        _id: string;
      };
      await s.entities.patchEntity({ slug: 'contract', id: other._id }, { status: 'placed' });
      await s.settled();
      const runs = await s.executionsOf(id);
      assert.equal(runs.length, 1, 'only open_for_acceptance → placed fires; draft → placed does not');
      await waitFor(s.automation, (runs[0] as Execution).id, 'success');
      assert.equal((await s.executionsOf(other._id)).length, 0);
      assert.equal(s.received().length, 1);
      assert.equal(JSON.parse((s.received()[0] as Received).body).data.entity.status, 'placed');
    });

    it('filter_config on the diff ($or of dotted keys) and the activity; trigger_conditions on the entity', async () => {
      env.rx.respond = () => ({ status: 200, body: {} });
      const s = await setup('diff-or');
      await s.createFlow({
        triggers: [
          {
            type: 'entity_operation',
            configuration: {
              schema: 'contact',
              filter_config: {
                operation: {
                  diff: {
                    $or: [
                      { 'added.email': [{ exists: true }] },
                      { 'updated.email': [{ exists: true }] },
                      { 'deleted.email': [{ exists: true }] },
                    ],
                  },
                },
                activity: { type: [{ 'anything-but': ['EntityDeleted', 'EntitySoftDeleted'] }] },
              },
            },
          },
        ],
        trigger_conditions: [
          { source: 'country', comparison: 'any_of', value: ['DE', 'AT'] },
          { source: 'consent.marketing', comparison: 'not_empty' },
        ],
        actions: [s.custom('Sync')],
      });
      const create = async (attrs: Record<string, unknown>) =>
        ((await s.entities.createEntity({ slug: 'contact' }, attrs)).data as { _id: string })._id;
      const a = await create({ name: 'A', email: 'a@x.io', country: 'DE', consent: { marketing: 'yes' } }); // fires
      const b = await create({ name: 'B', country: 'DE', consent: { marketing: 'yes' } }); // no email
      const c = await create({ name: 'C', email: 'c@x.io', country: 'FR', consent: { marketing: 'yes' } }); // FR
      const d = await create({ name: 'D', email: 'd@x.io', country: 'AT' }); // no consent
      await s.entities.patchEntity({ slug: 'contact', id: b }, { name: 'B2' }); // email untouched
      await s.entities.patchEntity({ slug: 'contact', id: b }, { email: 'b@x.io' }); // added: fires
      await s.entities.patchEntity({ slug: 'contact', id: a }, { email: 'a2@x.io' }); // updated: fires
      await s.entities.deleteEntity({ slug: 'contact', id: a }); // EntitySoftDeleted: filtered out
      await s.settled();
      const counts = await Promise.all([a, b, c, d].map(async (id) => (await s.executionsOf(id)).length));
      assert.deepEqual(counts, [2, 1, 0, 0]);
    });

    it('branching: actions whose condition does not hold are skipped, on the entity and on an earlier action’s outputs', async () => {
      env.rx.respond = (r) => ({ status: 200, body: actionOf(r) === 'Score' ? { score: 720, band: 'A' } : {} });
      const s = await setup('branch');
      const flow = await s.createFlow({
        triggers: [{ type: 'entity_manual', configuration: { schema: 'opportunity' } }],
        conditions: [
          {
            id: 'good',
            statements: [
              {
                source: { origin: 'action', id: 'Score', attribute: 'score' },
                operation: 'greater_than',
                values: ['650'],
              },
              {
                source: { origin: 'trigger', attribute: 'amount', attributeType: 'number' },
                operation: 'less_than',
                values: ['10000'],
              },
            ],
          },
          {
            id: 'bad',
            statements: [
              {
                source: { origin: 'action', id: 'Score', attribute: 'score' },
                operation: 'less_than_or_equals',
                values: ['650'],
              },
            ],
          },
          {
            id: 'vip',
            statements: [{ source: { origin: 'trigger', attribute: 'tags' }, operation: 'any_of', values: ['vip'] }],
          },
        ],
        actions: [
          s.custom('Score'),
          s.custom('Approve', { condition_id: 'good' }),
          s.custom('Reject', { condition_id: 'bad' }),
          s.custom('Welcome', { condition_id: 'vip' }),
          s.custom('Log'),
        ],
      });
      const opp = (await s.entities.createEntity({ slug: 'opportunity' }, { name: 'O', amount: 5000, tags: ['new'] }))
        .data as { _id: string };
      const started = await call(s.automation.startExecution(null, { flow_id: flow.id, entity_id: opp._id }));
      expectAnswer('startExecution', started, 201);
      // Its entity_manual trigger names the schema it is started from by hand.
      const contract = (await s.entities.createEntity({ slug: 'contract' }, { name: 'C' })).data as { _id: string };
      const wrong = await call(s.automation.startExecution(null, { flow_id: flow.id, entity_id: contract._id }));
      assert.equal(wrong.status, 422);
      assert.match((wrong.data as { error: string }).error, /started by hand on opportunity entities/);
      const exec = await waitFor(s.automation, (started.data as Execution).id, 'success');
      assert.deepEqual(
        exec.actions.map((a) => a.execution_status),
        ['success', 'success', 'skipped', 'skipped', 'success'],
      );
      assert.equal(exec.actions[2]?.reason?.message, 'condition bad is not met');
      assert.deepEqual(
        exec.conditions?.map((c) => [c.id, c.evaluationResult]),
        [
          ['good', true],
          ['bad', false],
          ['vip', false],
        ],
      );
      await until(async () => s.received().length === 3, 'three requests');
      assert.deepEqual(s.received().map(actionOf), ['Score', 'Approve', 'Log'], 'skipped actions send nothing');
    });

    it('schedules: a delayed action shows scheduled, is sent when due and not before, then the flow goes on', async () => {
      env.rx.respond = () => ({ status: 200, body: {} });
      const s = await setup('later');
      await s.createFlow({
        triggers: [{ type: 'entity_operation', configuration: { schema: 'contract', operations: ['createEntity'] } }],
        schedules: [
          {
            id: 'reminder',
            numberOfUnits: 1,
            timePeriod: 'minutes',
            timeRelation: 'before',
            source: { id: 'trigger', origin: 'trigger', schema: 'contract', attribute: 'renewal_at' },
          },
        ],
        actions: [s.custom('Remind', { schedule_id: 'reminder' }), s.custom('After')],
      });
      // Due 4 s from now: one minute before renewal_at.
      const due = Date.now() + 4000;
      const contract = (
        await s.entities.createEntity(
          { slug: 'contract' },
          { name: 'C', renewal_at: new Date(due + 60_000).toISOString() },
        )
      ).data as { _id: string };
      await s.settled();
      const [run] = await s.executionsOf(contract._id);
      assert.ok(run);
      assert.equal(run.execution_status, 'scheduled');
      assert.equal(run.status, 'scheduled');
      assert.deepEqual(
        run.actions.map((a) => a.execution_status),
        ['scheduled', 'pending'],
      );
      assert.equal(run.actions[0]?.scheduled_at, new Date(due).toISOString());
      const [delivery] = (await s.api.req('GET', `/v1/deliveries?execution_id=${run.id}`)).body.results;
      assert.equal(delivery.status, 'pending');
      assert.equal(delivery.next_attempt_at, run.actions[0]?.scheduled_at);
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now() - 800)));
      assert.equal(s.received().length, 0, 'nothing is sent before its time');
      const done = await waitFor(s.automation, run.id, 'success');
      const sent = s.received();
      assert.deepEqual(sent.map(actionOf), ['Remind', 'After']);
      const firstAt = Number((sent[0] as Received).headers['webhook-timestamp']) * 1000;
      assert.ok(firstAt >= due - 1000, `sent at ${firstAt}, due at ${due}`);
      assert.deepEqual(
        done.actions.map((a) => a.execution_status),
        ['success', 'success'],
      );
    });

    it('cancelSchedule: the waiting action is never sent, the execution ends cancelled; a retrigger schedules it again', async () => {
      env.rx.respond = () => ({ status: 200, body: {} });
      const s = await setup('cancelled-later');
      const schedule = {
        id: 'tomorrow',
        numberOfUnits: 1,
        timePeriod: 'days',
        timeRelation: 'after',
        source: { id: 'start', origin: 'automation' },
      };
      const flow = await s.createFlow({
        triggers: [{ type: 'entity_manual', configuration: { schema: 'contract' } }],
        schedules: [schedule],
        actions: [s.custom('Remind', { schedule_id: 'tomorrow' }), s.custom('After')],
      });
      const c = (await s.entities.createEntity({ slug: 'contract' }, { name: 'C' })).data as { _id: string };
      const started = await call(s.automation.startExecution(null, { flow_id: flow.id, entity_id: c._id }));
      expectAnswer('startExecution', started, 201);
      const run = started.data as Execution;
      assert.equal(run.execution_status, 'scheduled');
      const due = run.actions[0]?.scheduled_at;
      assert.equal(
        due,
        new Date(Date.parse((run as unknown as { created_at: string }).created_at) + 86_400_000).toISOString(),
      );

      const cancelled = await call(s.automation.cancelSchedule({ execution_id: run.id, schedule_id: 'tomorrow' }));
      expectAnswer('cancelSchedule', cancelled, 200);
      assert.deepEqual(cancelled.data, schedule);
      const after = await waitFor(s.automation, run.id, 'cancelled');
      assert.deepEqual(
        after.actions.map((a) => a.execution_status),
        ['cancelled', 'skipped'],
      );
      assert.equal(after.actions[0]?.reason?.message, 'schedule tomorrow was cancelled');
      const [delivery] = (await s.api.req('GET', `/v1/deliveries?execution_id=${run.id}`)).body.results;
      assert.equal(delivery.status, 'cancelled');
      const again = await call(s.automation.cancelSchedule({ execution_id: run.id, schedule_id: 'tomorrow' }));
      expectAnswer('cancelSchedule', again, 404);
      assert.match(
        (again.data as { error: string }).error,
        /no action of execution .* is waiting for schedule tomorrow/,
      );

      const retried = await call(s.automation.retriggerAction({ execution_id: run.id, action_id: 'Remind' }));
      expectAnswer('retriggerAction', retried, 200);
      const rescheduled = retried.data as Execution;
      assert.equal(rescheduled.execution_status, 'scheduled');
      assert.deepEqual(
        rescheduled.actions.map((a) => a.execution_status),
        ['scheduled', 'pending'],
      );
      assert.equal(rescheduled.actions[0]?.scheduled_at, due, 'counted from the same start');
      assert.equal(s.received().length, 0, 'nothing was sent');
    });

    it('a schedule counted from a date the entity does not have fails its action with INVALID_SCHEDULE_CONFIG', async () => {
      env.rx.respond = () => ({ status: 200, body: {} });
      const s = await setup('bad-date');
      const flow = await s.createFlow({
        triggers: [{ type: 'entity_manual', configuration: { schema: 'contract' } }],
        schedules: [
          {
            id: 'x',
            numberOfUnits: 2,
            timePeriod: 'days',
            timeRelation: 'before',
            source: { id: 't', origin: 'trigger', attribute: 'end_date' },
          },
        ],
        actions: [s.custom('Remind', { schedule_id: 'x' })],
      });
      const c = (await s.entities.createEntity({ slug: 'contract' }, { name: 'C', end_date: 'next spring' })).data as {
        _id: string;
      };
      const started = await call(s.automation.startExecution(null, { flow_id: flow.id, entity_id: c._id }));
      expectAnswer('startExecution', started, 201);
      const exec = started.data as Execution;
      assert.equal(exec.execution_status, 'failed');
      assert.equal(exec.actions[0]?.error_output?.error_code, 'INVALID_SCHEDULE_CONFIG');
      assert.match(exec.actions[0]?.error_output?.error_reason ?? '', /end_date is not a date \("next spring"\)/);
    });

    it('refuses what it does not support with a 400 naming the field', async () => {
      const s = await setup('refused');
      const trigger = { type: 'entity_operation', configuration: { schema: 'opportunity' } };
      const base = { flow_name: 'R', triggers: [trigger], actions: [s.custom('A')] };
      const withTrigger = (configuration: Record<string, unknown>) => ({
        ...base,
        triggers: [{ type: 'entity_operation', configuration: { schema: 'opportunity', ...configuration } }],
      });
      const statement = (extra: Record<string, unknown>) => ({
        ...base,
        conditions: [
          { id: 'c', statements: [{ source: { attribute: 'x' }, operation: 'equals', values: ['1'], ...extra }] },
        ],
      });
      const schedule = (extra: Record<string, unknown>) => ({
        ...base,
        schedules: [
          {
            id: 's',
            numberOfUnits: 1,
            timePeriod: 'days',
            timeRelation: 'after',
            source: { id: 't', origin: 'trigger' },
            ...extra,
          },
        ],
      });
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ ...base, system_flow: true }, /^system_flow is not supported$/],
        [
          { ...base, triggers: [{ type: 'journey_submission', configuration: {} }] },
          /^triggers\[0\]\.type must be one of/,
        ],
        [
          withTrigger({ include_activities: ['CreateEntity'] }),
          /^triggers\[0\]\.configuration\.include_activities is not supported$/,
        ],
        [withTrigger({ ecp_config: {} }), /^triggers\[0\]\.configuration\.ecp_config is not supported$/],
        [
          withTrigger({ filter_config: { operation: { payload: { ip: [{ cidr: '10.0.0.0/8' }] } } } }),
          /^triggers\[0\]\.configuration\.filter_config\.operation\.payload\.ip\[0\]\.cidr: cidr matching is not supported/,
        ],
        [
          withTrigger({ filter_config: { operation: { operation: ['relationsAdded'] } } }),
          /filter_config\.operation\.operation: "relationsAdded" is not an operation/,
        ],
        [
          withTrigger({ filter_config: { activity: { type: ['EntityUpdatedFromPortal'] } } }),
          /filter_config\.activity\.type: "EntityUpdatedFromPortal" never happens on ActionBridge/,
        ],
        [
          withTrigger({ filter_config: { operation: { diff: { changed: { a: ['x'] } } } } }),
          /filter_config\.operation\.diff\.changed: a diff has only added, updated and deleted/,
        ],
        [
          withTrigger({ filter_config: { operation: { payload: { _schema: ['contact'] } } } }),
          /payload\._schema names contact, never triggers\[0\]\.configuration\.schema "opportunity"/,
        ],
        [
          withTrigger({ operations: ['createEntity'], filter_config: { operation: { operation: ['updateEntity'] } } }),
          /has no operation in common with triggers\[0\]\.configuration\.operations/,
        ],
        [
          {
            ...base,
            triggers: [{ type: 'entity_manual', configuration: { schema: 'x', operations: ['createEntity'] } }],
          },
          /^triggers\[0\]\.configuration\.operations is not supported on an entity_manual trigger$/,
        ],
        [
          { ...base, trigger_conditions: [{ source: 'a', comparison: 'exists' }] },
          /^trigger_conditions\[0\]\.comparison must be one of/,
        ],
        [
          { ...base, trigger_conditions: [{ source: 'a', comparison: 'equals' }] },
          /^trigger_conditions\[0\]\.value must be a string or a number$/,
        ],
        [
          { ...base, trigger_conditions: [{ source: 'a', comparison: 'is_empty', value: 'x' }] },
          /value is not used by is_empty/,
        ],
        [
          { ...base, conditions: [{ id: 'c', schedule_id: 's', statements: [] }] },
          /^conditions\[0\]\.schedule_id is not supported$/,
        ],
        [
          { ...base, conditions: [{ id: 'c', evaluation_order: 'BEFORE_SCHEDULE' }] },
          /^conditions\[0\]\.evaluation_order is not supported$/,
        ],
        [statement({ operation: 'entity_exists' }), /^conditions\[0\]\.statements\[0\]\.operation must be one of/],
        [
          statement({ source: { attribute: 'x', originType: 'workflow' } }),
          /statements\[0\]\.source\.originType must be one of entity$/,
        ],
        [
          statement({ source: { attribute: 'x', attributeOperation: 'updated' } }),
          /source\.attributeOperation must be one of all$/,
        ],
        [
          statement({ source: { attribute: 'x', schema: 'contact' } }),
          /source\.schema: "contact" is not the flow's entity/,
        ],
        [statement({ values: [] }), /statements\[0\]\.values must hold at least one value for equals/],
        [schedule({ source: { id: 't', origin: 'action_task' } }), /^schedules\[0\]\.source\.origin must be one of/],
        [schedule({ timeRelation: 'before' }), /^schedules\[0\]\.timeRelation "before" needs source\.attribute/],
        [
          schedule({ timePeriod: 'months', numberOfUnits: 1.5 }),
          /^schedules\[0\]\.numberOfUnits must be a whole number of months$/,
        ],
        [schedule({ numberOfUnits: undefined }), /^schedules\[0\]\.numberOfUnits is required$/],
        [schedule({ scheduleApiId: 'sched-1' }), /^schedules\[0\]\.scheduleApiId is not supported$/],
        [
          { ...base, actions: [s.custom('A', { retry_strategy: 'RETRY_AND_STOP' })] },
          /^actions\[0\]\.retry_strategy is not supported$/,
        ],
      ];
      for (const [body, message] of cases) {
        const r = await s.api.req('POST', '/v1/automation/flows', body);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 160)} → ${r.status} ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, message);
      }
      // References that name nothing are 422, as an app that does not exist.
      const dangling: Array<[Record<string, unknown>, RegExp]> = [
        [
          { ...base, actions: [s.custom('A', { condition_id: 'nope' })] },
          /^actions\[0\]\.condition_id: no condition "nope"/,
        ],
        [
          { ...base, actions: [s.custom('A', { schedule_id: 'nope' })] },
          /^actions\[0\]\.schedule_id: no schedule "nope"/,
        ],
        [
          {
            ...statement({ source: { origin: 'action', id: 'Later', attribute: 'x' } }),
            actions: [s.custom('A', { condition_id: 'c' })],
          },
          /statements\[0\]\.source\.id: "Later" names no action of this flow/,
        ],
      ];
      for (const [body, message] of dangling) {
        const r = await s.api.req('POST', '/v1/automation/flows', body);
        assert.equal(r.status, 422, JSON.stringify(r.body));
        assert.match(r.body.error, message);
      }
      const order = await s.api.req('POST', '/v1/automation/flows', {
        ...statement({ source: { origin: 'action', id: 'B', attribute: 'x' } }),
        actions: [s.custom('A', { condition_id: 'c' }), s.custom('B')],
      });
      assert.equal(order.status, 400);
      assert.match(order.body.error, /source\.id: action "B" does not run before actions\[0\], which uses it/);
      assert.equal((await s.api.req('GET', '/v1/automation/flows')).body.total, 0, 'nothing was stored');
    });

    it('a flow read back and sent again is accepted: read-only fields are the server’s', async () => {
      const s = await setup('roundtrip');
      const created = await s.createFlow({
        triggers: [
          { type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['updateEntity'] } },
        ],
        trigger_conditions: [{ source: 'status', comparison: 'equals', value: 'won' }],
        conditions: [{ id: 'c', statements: [{ source: { attribute: 'amount' }, operation: 'is_not_empty' }] }],
        schedules: [
          {
            id: 's',
            numberOfUnits: 1,
            timePeriod: 'hours',
            timeRelation: 'after',
            source: { id: 't', origin: 'trigger' },
          },
        ],
        actions: [s.custom('A', { condition_id: 'c', schedule_id: 's' })],
      });
      const got = await call(s.automation.getFlow({ flow_id: created.id }));
      expectAnswer('getFlow', got, 200);
      const flow = got.data as Record<string, unknown>;
      const put = await call(
        s.automation.putFlow({ flow_id: created.id }, { ...flow, id: 'other', version: 99, enabled: false } as never),
      );
      expectAnswer('putFlow', put, 200);
      const after = put.data as Record<string, unknown>;
      assert.equal(after.id, created.id);
      assert.equal(after.version, 2);
      assert.deepEqual(after.trigger_conditions, flow.trigger_conditions);
      assert.deepEqual(after.conditions, flow.conditions);
      assert.deepEqual(after.schedules, flow.schedules);
      assert.equal((after.disable_details as { disabled_by: string }).disabled_by, 'user');
    });

    it('retriggerAction with no body (as axios sends it), RETRY_AND_STOP, and an unsupported strategy', async () => {
      let fail = true;
      env.rx.respond = () => (fail ? { status: 400, body: { error: 'no' } } : { status: 200, body: {} });
      const s = await setup('retry');
      const flow = await s.createFlow({
        triggers: [{ type: 'entity_manual', configuration: { schema: 'opportunity' } }],
        actions: [s.custom('First'), s.custom('Second')],
      });
      const opp = (await s.entities.createEntity({ slug: 'opportunity' }, { name: 'O' })).data as { _id: string };
      const run = async () => {
        const started = await call(s.automation.startExecution(null, { flow_id: flow.id, entity_id: opp._id }));
        return waitFor(s.automation, (started.data as Execution).id, 'failed');
      };
      const one = await run();
      fail = false;
      const retried = await call(s.automation.retriggerAction({ execution_id: one.id, action_id: 'First' }));
      expectAnswer('retriggerAction', retried, 200);
      const resumed = await waitFor(s.automation, one.id, 'success');
      assert.deepEqual(
        resumed.actions.map((a) => a.execution_status),
        ['success', 'success'],
      );

      fail = true;
      const two = await run();
      fail = false;
      const stop = await call(
        s.automation.retriggerAction(
          { execution_id: two.id, action_id: 'First' },
          { retry_strategy: 'RETRY_AND_STOP' },
        ),
      );
      expectAnswer('retriggerAction', stop, 200);
      const stopped = await waitFor(s.automation, two.id, 'success');
      assert.deepEqual(
        stopped.actions.map((a) => a.execution_status),
        ['success', 'skipped'],
      );

      const refused = await call(
        s.automation.retriggerAction(
          { execution_id: two.id, action_id: 'First' },
          { retry_strategy: 'RETRY_ALL_PARENT_CONDITION_ACTIONS', condition_id: 'c' },
        ),
      );
      assert.equal(refused.status, 400);
      assert.match((refused.data as { error: string }).error, /condition_id is not supported/);
      const form = await s.api.req('POST', `/v1/automation/executions/${two.id}/First/retrigger`, 'a=1', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      assert.equal(form.status, 415, 'a form body is still refused');
    });

    it('a component’s wait_for_callback (set through the App API) is the default for its actions', async () => {
      env.rx.respond = () => ({ status: 202, body: {} });
      const s = await setup('unused');
      const conf = await s.api.req('POST', '/v1/app-configurations', { name: 'Waits', description: { de: 'Wartet' } });
      assert.equal(conf.status, 201, JSON.stringify(conf.body));
      const appId = conf.body.app_id as string;
      const component = await s.api.req('POST', `/v1/app-configurations/${appId}/versions/0.0.1/components`, {
        id: 'wait',
        component_type: 'CUSTOM_FLOW_ACTION',
        name: { de: 'Warten' },
        configuration: {
          type: 'external_integration',
          wait_for_callback: true,
          external_integration_settings: { url: `${env.rx.url}/waits` },
        },
      });
      assert.equal(component.status, 200, JSON.stringify(component.body));
      assert.equal((await s.api.req('POST', `/v1/app/${appId}`, {})).status, 201);
      const flow = await s.createFlow({
        triggers: [{ type: 'entity_manual', configuration: { schema: 'opportunity' } }],
        actions: [{ name: 'Wait', type: 'custom-action', config: { app_id: appId, component_id: 'wait' } }],
      });
      const opp = (await s.entities.createEntity({ slug: 'opportunity' }, { name: 'O' })).data as { _id: string };
      const started = await call(s.automation.startExecution(null, { flow_id: flow.id, entity_id: opp._id }));
      const exec = await waitFor(s.automation, (started.data as Execution).id, 'paused');
      assert.equal(exec.actions[0]?.execution_status, 'paused');
      const sent = env.rx.received.filter((r) => r.url === '/waits');
      assert.equal(sent.length, 1);
      const data = JSON.parse((sent[0] as Received).body).data;
      assert.match(data.resume_token, /^rt_/);
      assert.equal(data.callback_url, `${env.p.url}/v1/automation/public/executions:resume`);
      const anon = automationClient();
      anon.defaults.baseURL = env.p.url;
      const resumed = await call(anon.resumeExecutionWithToken(null, { resume_token: data.resume_token }));
      expectAnswer('resumeExecutionWithToken', resumed, 200);
      assert.equal((resumed.data as { execution: Execution }).execution.status, 'success');
    });
  });
