/**
 * epilot's published clients against the real server: every operation ActionBridge implements is
 * called through `@epilot/entity-client`, `@epilot/automation-client` and `@epilot/sdk`'s `app`
 * client, and every answer is checked against the OpenAPI definition that client ships.
 *
 * An operation whose answers do not match yet is marked `todo` with the reason: it still runs and
 * reports, without failing the suite, so the gap stays visible until it is closed (then the `todo`
 * goes). docs/epilot-compatibility.md lists the same gaps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient as automationClient } from '@epilot/automation-client';
import { createClient as entityClient } from '@epilot/entity-client';
import { createClient as appClient } from '@epilot/sdk/app';
import { type Client, installFlow, manifest, until, useTestPlatform } from '../testing/harness.js';
import { type ClientAnswer as Answer, assertAnswer, call, OpenApiChecker, pointed } from '../testing/openapi.js';

/** The answer has the expected status and matches the operation's schema in the client's definition. */
function expectAnswer(checker: OpenApiChecker, operationId: string, answer: Answer, status: number): void {
  assert.equal(answer.status, status, `${operationId} answered ${answer.status}: ${JSON.stringify(answer.data)}`);
  assertAnswer(checker, operationId, answer);
}

const defs = {
  entity: OpenApiChecker.load('entity'),
  automation: OpenApiChecker.load('automation'),
  app: OpenApiChecker.load('app'),
};

describe('epilot clients against the server, answers checked against their OpenAPI definitions', () => {
  const env = useTestPlatform();

  /** A fresh org with the three clients pointed at the server and authorised with the org's token. */
  async function clients() {
    const org = await env.p.newOrg();
    const entities = entityClient();
    const automation = automationClient();
    const app = appClient();
    for (const c of [entities, automation, app]) pointed(c, env.p.url, org.token);
    return { org, api: org.client, entities, automation, app };
  }

  describe('@epilot/entity-client', () => {
    const d = defs.entity;
    const newContact = async (entities: ReturnType<typeof entityClient>) =>
      (await entities.createEntity({ slug: 'contact' }, { first_name: 'Ada', _tags: ['vip'] })).data as {
        _id: string;
        _updated_at: string;
      };

    it('createEntity (201)', async () => {
      const { entities } = await clients();
      const created = await call(entities.createEntity({ slug: 'contact' }, { first_name: 'Ada', _tags: ['vip'] }));
      expectAnswer(d, 'createEntity', created, 201);
    });

    it('getEntity (200, 404)', async () => {
      const { entities } = await clients();
      const { _id: id } = await newContact(entities);
      expectAnswer(d, 'getEntity', await call(entities.getEntity({ slug: 'contact', id })), 200);
      const missing = await call(entities.getEntity({ slug: 'contact', id: '00000000-0000-4000-8000-000000000000' }));
      expectAnswer(d, 'getEntity', missing, 404);
    });

    it('updateEntity (200)', async () => {
      const { entities } = await clients();
      const { _id: id } = await newContact(entities);
      expectAnswer(
        d,
        'updateEntity',
        await call(entities.updateEntity({ slug: 'contact', id }, { first_name: 'B' })),
        200,
      );
    });

    it('patchEntity (200, and 409 for a stale _updated_at)', async () => {
      const { entities } = await clients();
      const e = await newContact(entities);
      const patched = await call(entities.patchEntity({ slug: 'contact', id: e._id }, { amount: 3 }));
      expectAnswer(d, 'patchEntity', patched, 200);
      assert.equal((patched.data as { amount: number }).amount, 3);
      const stale = await call(
        entities.patchEntity({ slug: 'contact', id: e._id }, { amount: 4, _updated_at: e._updated_at }),
      );
      expectAnswer(d, 'patchEntity', stale, 409);
    });

    it('deleteEntity (200: soft delete, then purge)', async () => {
      const { entities } = await clients();
      const { _id: id } = await newContact(entities);
      expectAnswer(d, 'deleteEntity', await call(entities.deleteEntity({ slug: 'contact', id })), 200);
      assert.equal((await call(entities.getEntity({ slug: 'contact', id }))).status, 404);
      expectAnswer(d, 'deleteEntity', await call(entities.deleteEntity({ slug: 'contact', id, purge: true })), 200);
    });

    it('restoreEntity (200, 400 not deleted, 404)', async () => {
      const { entities } = await clients();
      const { _id: id } = await newContact(entities);
      expectAnswer(d, 'restoreEntity', await call(entities.restoreEntity({ slug: 'contact', id })), 400);
      await entities.deleteEntity({ slug: 'contact', id });
      expectAnswer(d, 'restoreEntity', await call(entities.restoreEntity({ slug: 'contact', id })), 200);
      const missing = { slug: 'contact', id: '00000000-0000-4000-8000-000000000000' };
      expectAnswer(d, 'restoreEntity', await call(entities.restoreEntity(missing)), 404);
    });

    it('searchEntities (200)', async () => {
      const { entities } = await clients();
      const { _id: id } = await newContact(entities);
      const found = await call(entities.searchEntities(null, { q: `_id:${id}` }));
      expectAnswer(d, 'searchEntities', found, 200);
      assert.equal((found.data as { hits: number }).hits, 1);
    });

    it('upsertEntity (201 created, 200 updated)', async () => {
      const { entities } = await clients();
      const body = { unique_key: ['email'], entity: { email: 'u@example.com', n: 1 } };
      expectAnswer(d, 'upsertEntity', await call(entities.upsertEntity({ slug: 'contact' }, body)), 201);
      const again = await call(
        entities.upsertEntity({ slug: 'contact' }, { ...body, entity: { ...body.entity, n: 2 } }),
      );
      expectAnswer(d, 'upsertEntity', again, 200);
    });

    /** An opportunity related to a new contact through `contacts` (more in relations.test.ts, on both backends). */
    const related = async (entities: ReturnType<typeof entityClient>) => {
      const contact = (await entities.createEntity({ slug: 'contact' }, { first_name: 'Ada' })).data as { _id: string };
      const deal = (
        await entities.createEntity({ slug: 'opportunity' }, { contacts: { $relation: [{ entity_id: contact._id }] } })
      ).data as { _id: string };
      return { contact: contact._id, deal: deal._id, at: { slug: 'opportunity', id: deal._id } };
    };
    const MISSING = '00000000-0000-4000-8000-000000000000';

    it('getRelations (200 with hydrate and include_reverse, 404)', async () => {
      const { entities } = await clients();
      const { contact, at } = await related(entities);
      const listed = await call(entities.getRelations({ ...at, hydrate: true }));
      expectAnswer(d, 'getRelations', listed, 200);
      assert.deepEqual(
        (listed.data as Array<{ _id: string }>).map((e) => e._id),
        [contact],
      );
      const reverse = await call(entities.getRelations({ slug: 'contact', id: contact, include_reverse: true }));
      expectAnswer(d, 'getRelations', reverse, 200);
      assert.deepEqual(
        (reverse.data as Array<{ reverse: boolean }>).map((r) => r.reverse),
        [true],
      );
      expectAnswer(d, 'getRelations', await call(entities.getRelations({ slug: 'contact', id: MISSING })), 404);
    });

    it('getRelationsV2 and getRelationsV3 (200, 404)', async () => {
      const { entities } = await clients();
      const { contact, at } = await related(entities);
      const v2 = await call(entities.getRelationsV2({ ...at, hydrate: true }));
      expectAnswer(d, 'getRelationsV2', v2, 200);
      assert.equal((v2.data as { hits: number }).hits, 1);
      const v3 = await call(entities.getRelationsV3({ slug: 'contact', id: contact, mode: 'reverse' }));
      expectAnswer(d, 'getRelationsV3', v3, 200);
      assert.equal((v3.data as { hits: number }).hits, 1);
      expectAnswer(d, 'getRelationsV2', await call(entities.getRelationsV2({ slug: 'contact', id: MISSING })), 404);
      expectAnswer(d, 'getRelationsV3', await call(entities.getRelationsV3({ slug: 'contact', id: MISSING })), 404);
    });

    it('getRelatedEntitiesCount (200, 404)', async () => {
      const { entities } = await clients();
      const { at } = await related(entities);
      const counted = await call(entities.getRelatedEntitiesCount(at));
      expectAnswer(d, 'getRelatedEntitiesCount', counted, 200);
      assert.deepEqual(counted.data, { hits: 1 });
      const missing = await call(entities.getRelatedEntitiesCount({ slug: 'contact', id: MISSING }));
      expectAnswer(d, 'getRelatedEntitiesCount', missing, 404);
    });

    it('addRelations (200, 404) and removeRelations (204, 404)', async () => {
      const { entities } = await clients();
      const { at } = await related(entities);
      const other = (await entities.createEntity({ slug: 'contact' }, { first_name: 'Bob' })).data as { _id: string };
      const added = await call(entities.addRelations(at, [{ attribute: 'contacts', entity_id: other._id }]));
      expectAnswer(d, 'addRelations', added, 200);
      expectAnswer(
        d,
        'addRelations',
        await call(entities.addRelations(at, [{ attribute: 'c', entity_id: MISSING }])),
        404,
      );
      const removed = await call(entities.removeRelations(at, [{ attribute: 'contacts', entity_id: other._id }]));
      expectAnswer(d, 'removeRelations', removed, 204);
      const again = await call(entities.removeRelations(at, [{ attribute: 'contacts', entity_id: other._id }]));
      expectAnswer(d, 'removeRelations', again, 404);
    });

    it('updateRelation (200, 404) and deleteRelation (204, 404)', async () => {
      const { entities } = await clients();
      const { contact, at } = await related(entities);
      const one = { ...at, attribute: 'contacts', entity_id: contact };
      const updated = await call(entities.updateRelation(one, { _tags: ['primary'] }));
      expectAnswer(d, 'updateRelation', updated, 200);
      assert.deepEqual((updated.data as { _tags: string[] })._tags, ['primary']);
      expectAnswer(d, 'deleteRelation', await call(entities.deleteRelation(one)), 204);
      expectAnswer(d, 'deleteRelation', await call(entities.deleteRelation(one)), 404);
      expectAnswer(d, 'updateRelation', await call(entities.updateRelation(one, { _tags: [] })), 404);
    });

    it('createActivity (200), getActivity (200, 404), attachActivity (200, 404), getEntityActivityFeed (200, 404)', async () => {
      const { entities } = await clients();
      const { contact, deal } = await related(entities);
      const created = await call(
        entities.createActivity({ entities: [deal] }, { type: 'CompatChecked', title: 'Checked', message: 'ok' }),
      );
      expectAnswer(d, 'createActivity', created, 200);
      const id = (created.data as { _id: string })._id;
      expectAnswer(d, 'getActivity', await call(entities.getActivity({ id })), 200);
      expectAnswer(d, 'getActivity', await call(entities.getActivity({ id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })), 404);
      expectAnswer(d, 'attachActivity', await call(entities.attachActivity({ id, entities: [contact] })), 200);
      const missing = await call(entities.attachActivity({ id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', entities: [contact] }));
      expectAnswer(d, 'attachActivity', missing, 404);
      const feed = await call(entities.getEntityActivityFeed({ slug: 'contact', id: contact }));
      expectAnswer(d, 'getEntityActivityFeed', feed, 200);
      assert.deepEqual(
        (feed.data as { results: Array<{ _id: string }> }).results.map((a) => a._id),
        [id],
      );
      const none = await call(entities.getEntityActivityFeed({ slug: 'contact', id: MISSING }));
      expectAnswer(d, 'getEntityActivityFeed', none, 404);
    });

    it('listSchemas (200)', async () => {
      const { entities } = await clients();
      expectAnswer(d, 'listSchemas', await call(entities.listSchemas()), 200);
    });

    it('getSchema (200, 404)', async () => {
      const { entities } = await clients();
      expectAnswer(d, 'getSchema', await call(entities.getSchema({ slug: 'contact' })), 200);
      expectAnswer(d, 'getSchema', await call(entities.getSchema({ slug: 'nothing-here' })), 404);
    });

    it('putSchema (200) and deleteSchema (200)', async () => {
      const { entities } = await clients();
      const schema = {
        name: 'Meter',
        plural: 'Meters',
        attributes: [{ name: 'reading', label: 'Reading', type: 'number' }],
        capabilities: [],
      } as never;
      expectAnswer(d, 'putSchema', await call(entities.putSchema({ slug: 'meter' }, schema)), 200);
      expectAnswer(d, 'deleteSchema', await call(entities.deleteSchema({ slug: 'meter' })), 200);
    });
  });

  describe('@epilot/automation-client', () => {
    const d = defs.automation;

    type Respond = (typeof env.rx)['respond'];
    const ok: Respond = () => ({ status: 200, body: { ok: true } });

    /** An org with an app answering with `respond`, a flow on opportunities, and an opportunity. */
    async function withFlow(actions?: Array<Record<string, unknown>>, respond: Respond = ok) {
      env.rx.respond = respond;
      const c = await clients();
      const { appId, flow } = await installFlow(c.api, `${env.rx.url}/compat`, actions ? { actions } : {});
      const entity = (await c.entities.createEntity({ slug: 'opportunity' }, { name: 'Flowing' })).data as {
        _id: string;
      };
      return { ...c, appId, flow, entity };
    }

    async function flowBody(api: Client) {
      const app = (await api.req('POST', '/v1/apps', manifest(`${env.rx.url}/compat`))).body as { app_id: string };
      return {
        flow_name: 'Compat flow',
        triggers: [
          { type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['updateEntity'] } },
        ],
        actions: [{ name: 'Act', type: 'custom-action', config: { app_id: app.app_id, component_id: 'act' } }],
      } as never;
    }

    async function startAndWait(automation: ReturnType<typeof automationClient>, flowId: string, entityId: string) {
      const started = await automation.startExecution(null, { flow_id: flowId, entity_id: entityId });
      const id = (started.data as { id: string }).id;
      return { started, id };
    }

    const untilStatus = (automation: ReturnType<typeof automationClient>, id: string, status: string) =>
      until(
        async () => (await automation.getExecution({ execution_id: id })).data.execution_status === status,
        `execution ${status}`,
      );

    it('createFlow (201)', async () => {
      const { automation, api } = await clients();
      expectAnswer(d, 'createFlow', await call(automation.createFlow(null, await flowBody(api))), 201);
    });

    it('getFlow (200, 404)', async () => {
      const { automation, api } = await clients();
      const flowId = ((await automation.createFlow(null, await flowBody(api))).data as { id: string }).id;
      expectAnswer(d, 'getFlow', await call(automation.getFlow({ flow_id: flowId })), 200);
      expectAnswer(d, 'getFlow', await call(automation.getFlow({ flow_id: 'no-such-flow' })), 404);
    });

    it('searchFlows (200)', async () => {
      const { automation, api } = await clients();
      await automation.createFlow(null, await flowBody(api));
      const found = await call(automation.searchFlows({ schema: 'opportunity' }));
      expectAnswer(d, 'searchFlows', found, 200);
      assert.equal((found.data as { total: number }).total, 1);
    });

    it('putFlow (200)', async () => {
      const { automation, api } = await clients();
      const body = await flowBody(api);
      const flowId = ((await automation.createFlow(null, body)).data as { id: string }).id;
      const put = await call(automation.putFlow({ flow_id: flowId }, { ...(body as object), flow_name: 'B' } as never));
      expectAnswer(d, 'putFlow', put, 200);
    });

    it('deleteFlow (200, 404)', async () => {
      const { automation, api } = await clients();
      const flowId = ((await automation.createFlow(null, await flowBody(api))).data as { id: string }).id;
      expectAnswer(d, 'deleteFlow', await call(automation.deleteFlow({ flow_id: flowId })), 200);
      expectAnswer(d, 'getFlow', await call(automation.getFlow({ flow_id: flowId })), 404);
      expectAnswer(d, 'deleteFlow', await call(automation.deleteFlow({ flow_id: flowId })), 404);
    });

    it('startExecution (201)', async () => {
      const { automation, flow, entity } = await withFlow();
      const { started } = await startAndWait(automation, flow.id, entity._id);
      expectAnswer(d, 'startExecution', { status: started.status, data: started.data }, 201);
    });

    it('getExecution (200, 404)', async () => {
      const { automation, flow, entity } = await withFlow();
      const { id } = await startAndWait(automation, flow.id, entity._id);
      await untilStatus(automation, id, 'success');
      expectAnswer(d, 'getExecution', await call(automation.getExecution({ execution_id: id })), 200);
      expectAnswer(d, 'getExecution', await call(automation.getExecution({ execution_id: 'nope' })), 404);
    });

    it('getExecutions (200)', async () => {
      const { automation, flow, entity } = await withFlow();
      const { id } = await startAndWait(automation, flow.id, entity._id);
      await untilStatus(automation, id, 'success');
      expectAnswer(d, 'getExecutions', await call(automation.getExecutions({ entity_id: entity._id })), 200);
    });

    it('cancelExecution (200) of a paused execution', async () => {
      const { automation, flow, entity } = await withFlow(
        [{ name: 'Wait', type: 'custom-action', config: { wait_for_callback: true } }],
        () => ({ status: 202, body: {} }),
      );
      const { id } = await startAndWait(automation, flow.id, entity._id);
      await untilStatus(automation, id, 'paused');
      expectAnswer(d, 'cancelExecution', await call(automation.cancelExecution({ execution_id: id })), 200);
    });

    it('retriggerAction (200) of a failed action, sent without a body', async () => {
      const { automation, flow, entity } = await withFlow(undefined, () => ({ status: 400, body: { error: 'no' } }));
      const { id } = await startAndWait(automation, flow.id, entity._id);
      await untilStatus(automation, id, 'failed');
      env.rx.respond = ok;
      const r = await call(automation.retriggerAction({ execution_id: id, action_id: flow.actions[0]!.id }));
      expectAnswer(d, 'retriggerAction', r, 200);
    });

    it('resumeExecutionWithToken (200; 404 for a used or unknown token, the same answer; 400 once the execution is cancelled)', async () => {
      const waiting = () =>
        withFlow([{ name: 'Wait', type: 'custom-action', config: { wait_for_callback: true } }], () => ({
          status: 202,
          body: {},
        }));
      /** Starts the flow and returns the execution's id once it waits, with the resume token its app received. */
      const paused = async (c: Awaited<ReturnType<typeof waiting>>) => {
        const before = env.rx.received.length;
        const { id } = await startAndWait(c.automation, c.flow.id, c.entity._id);
        await env.rx.waitFor(before + 1);
        const token = JSON.parse(env.rx.received[before]!.body).data.resume_token as string;
        await untilStatus(c.automation, id, 'paused');
        return { id, token };
      };
      const anon = automationClient();
      anon.defaults.baseURL = env.p.url;

      const c = await waiting();
      const { token } = await paused(c);
      const resumed = await call(anon.resumeExecutionWithToken(null, { resume_token: token }));
      expectAnswer(d, 'resumeExecutionWithToken', resumed, 200);
      const used = await call(anon.resumeExecutionWithToken(null, { resume_token: token }));
      expectAnswer(d, 'resumeExecutionWithToken', used, 404);
      const unknown = await call(anon.resumeExecutionWithToken(null, { resume_token: `${token}x` }));
      expectAnswer(d, 'resumeExecutionWithToken', unknown, 404);
      assert.deepEqual(unknown.data, used.data, 'a used token and one that never existed get the same answer');

      const other = await waiting();
      const second = await paused(other);
      await other.automation.cancelExecution({ execution_id: second.id });
      const late = await call(anon.resumeExecutionWithToken(null, { resume_token: second.token }));
      expectAnswer(d, 'resumeExecutionWithToken', late, 400);
      assert.match((late.data as { error: string }).error, /the action is cancelled, not waiting for a callback/);
    });

    it('cancelSchedule (200 with the schedule; 404 for a schedule nothing waits for, or none of the execution)', async () => {
      const c = await withFlow();
      const schedule = {
        id: 'later',
        numberOfUnits: 1,
        timePeriod: 'days',
        timeRelation: 'after',
        source: { id: 'start', origin: 'automation' },
      };
      const flow = (
        await c.automation.createFlow(null, {
          flow_name: 'Later',
          triggers: [{ type: 'entity_manual', configuration: { schema: 'opportunity' } }],
          schedules: [schedule],
          actions: [
            {
              name: 'Later',
              type: 'custom-action',
              schedule_id: 'later',
              config: { app_id: c.appId, component_id: 'act' },
            },
          ],
        } as never)
      ).data as { id: string };
      const { id } = await startAndWait(c.automation, flow.id, c.entity._id);
      await untilStatus(c.automation, id, 'scheduled');
      const cancelled = await call(c.automation.cancelSchedule({ execution_id: id, schedule_id: 'later' }));
      expectAnswer(d, 'cancelSchedule', cancelled, 200);
      assert.deepEqual(cancelled.data, schedule);
      const exec = (await c.automation.getExecution({ execution_id: id })).data;
      assert.equal(exec.execution_status, 'cancelled');
      const again = await call(c.automation.cancelSchedule({ execution_id: id, schedule_id: 'later' }));
      expectAnswer(d, 'cancelSchedule', again, 404);
      const none = await call(c.automation.cancelSchedule({ execution_id: id, schedule_id: 'nope' }));
      expectAnswer(d, 'cancelSchedule', none, 404);
      const noExecution = await call(c.automation.cancelSchedule({ execution_id: 'nope', schedule_id: 'later' }));
      expectAnswer(d, 'cancelSchedule', noExecution, 404);
    });
  });

  describe('@epilot/sdk app client: installations', () => {
    const d = defs.app;

    /** An org with an app imported with `POST /v1/apps` (published version "1"). */
    async function withApp() {
      const c = await clients();
      const created = (await c.api.req('POST', '/v1/apps', manifest(`${env.rx.url}/compat`))).body as {
        app_id: string;
      };
      return { ...c, appId: created.app_id };
    }

    const values = [{ component_id: 'act', options: [{ key: 'threshold', value: 10 }] }];
    type Inst = {
      app_id: string;
      installer_org_id: string;
      owner_org_id: string;
      name: string;
      enabled: boolean;
      installed_version: string;
      components: Array<{ id: string; configuration: { external_integration_settings: Record<string, unknown> } }>;
      option_values: Array<{ component_id: string; options: Array<{ key: string; value: unknown }> }>;
    };

    it('install (201) answers an Installation: installer org, components, installed_version "1"', async () => {
      const { app, appId, org } = await withApp();
      const r = await call(app.install({ appId }, { option_values: values }));
      expectAnswer(d, 'install', r, 201);
      const inst = r.data as Inst;
      assert.equal(inst.app_id, appId);
      assert.equal(inst.installer_org_id, org.id);
      assert.equal(inst.owner_org_id, org.id);
      assert.equal(inst.name, 'Test app');
      assert.equal(inst.installed_version, '1');
      assert.equal(inst.enabled, true);
      assert.deepEqual(
        inst.components.map((c) => c.id),
        ['act'],
      );
      assert.deepEqual(inst.option_values, values);
      const again = await call(app.install({ appId }, { option_values: values }));
      expectAnswer(d, 'install', again, 201);
    });

    it('install with version "1" (a string, as epilot sends it); a number or an unknown version is refused', async () => {
      const { app, appId } = await withApp();
      const r = await call(app.install({ appId }, { version: '1', option_values: values }));
      expectAnswer(d, 'install', r, 201);
      assert.equal((r.data as Inst).installed_version, '1');
      expectAnswer(d, 'install', await call(app.install({ appId }, { version: '7' })), 404);
      expectAnswer(d, 'install', await call(app.install({ appId: 'no-such-app' }, {})), 404);
      const numbered = await call(app.install({ appId }, { version: 1 } as never));
      assert.equal(numbered.status, 400);
      assert.match((numbered.data as { error: string }).error, /version must be string/);
    });

    it('install: secret option values are never returned (********), sealed-looking values are refused', async () => {
      const { app, appId } = await withApp();
      const secret = [{ component_id: 'act', options: [...values[0]!.options, { key: 'api_key', value: 's3cret' }] }];
      const r = await call(app.install({ appId }, { option_values: secret }));
      expectAnswer(d, 'install', r, 201);
      assert.ok(!JSON.stringify(r.data).includes('s3cret'));
      assert.deepEqual((r.data as Inst).option_values[0]?.options, [
        { key: 'threshold', value: 10 },
        { key: 'api_key', value: '********' },
      ]);
      const got = await call(app.getInstallation({ appId }));
      assert.ok(!JSON.stringify(got.data).includes('s3cret'));
      const sealed = [{ component_id: 'act', options: [{ key: 'api_key', value: 'enc:v1:AAAA' }] }];
      const refused = await call(app.install({ appId }, { option_values: sealed }));
      assert.equal(refused.status, 400);
      assert.match((refused.data as { error: string }).error, /enc:v1:/);
    });

    it('getInstallation (200, 404)', async () => {
      const { app, appId } = await withApp();
      await app.install({ appId }, { option_values: values });
      const got = await call(app.getInstallation({ appId }));
      expectAnswer(d, 'getInstallation', got, 200);
      assert.equal((got.data as Inst).installed_version, '1');
      expectAnswer(d, 'getInstallation', await call(app.getInstallation({ appId: 'no-such-app' })), 404);
    });

    it('listInstallations (200) answers {apps, pagination}, filtered by enabled', async () => {
      const { app, appId, api } = await withApp();
      await app.install({ appId }, { option_values: values });
      const other = (await api.req('POST', '/v1/apps', manifest(`${env.rx.url}/compat`))).body.app_id as string;
      await app.install({ appId: other }, {});
      const list = await call(app.listInstallations());
      expectAnswer(d, 'listInstallations', list, 200);
      const data = list.data as { apps: Inst[]; pagination: unknown };
      assert.deepEqual(
        data.apps.map((a) => a.app_id),
        [appId, other],
      );
      assert.deepEqual(data.pagination, { total: 2, page: 1, pageSize: 20 });
      const enabled = await call(app.listInstallations({ enabled: true }));
      expectAnswer(d, 'listInstallations', enabled, 200);
      assert.deepEqual(
        (enabled.data as { apps: Inst[] }).apps.map((a) => a.app_id),
        [appId],
      );
      const paged = (await app.listInstallations({ page: 2, pageSize: 1 })).data as { apps: Inst[] };
      assert.deepEqual(
        paged.apps.map((a) => a.app_id),
        [other],
      );
      const journeys = (await app.listInstallations({ componentType: 'CUSTOM_JOURNEY_BLOCK' })).data;
      assert.deepEqual(journeys.apps, []);
    });

    it('patchInstallation (204, 404)', async () => {
      const { app, appId } = await withApp();
      await app.install({ appId }, {});
      assert.equal(((await app.getInstallation({ appId })).data as Inst).enabled, false);
      const r = await call(app.patchInstallation({ appId }, { option_values: values }));
      expectAnswer(d, 'patchInstallation', r, 204);
      const after = (await app.getInstallation({ appId })).data as Inst;
      assert.equal(after.enabled, true);
      assert.deepEqual(after.option_values, values);
      const missing = await call(app.patchInstallation({ appId: 'no-such-app' }, { option_values: values }));
      expectAnswer(d, 'patchInstallation', missing, 404);
    });

    it('promoteVersion (200 without a body; 400 for a version that does not exist; 404 when not installed)', async () => {
      const { app, appId, api } = await withApp();
      await app.install({ appId }, { option_values: values });
      await api.req('PUT', `/v1/apps/${appId}`, manifest(`${env.rx.url}/compat-2`));
      const promoted = await call(app.promoteVersion({ appId, version: '2' }));
      expectAnswer(d, 'promoteVersion', promoted, 200);
      const inst = promoted.data as Inst;
      assert.equal(inst.installed_version, '2');
      assert.deepEqual(inst.option_values, values, 'the option values move along');
      assert.equal(inst.components[0]?.configuration.external_integration_settings.url, `${env.rx.url}/compat-2`);
      expectAnswer(d, 'promoteVersion', await call(app.promoteVersion({ appId, version: '3' })), 400);
      expectAnswer(d, 'promoteVersion', await call(app.promoteVersion({ appId: 'no-such-app', version: '1' })), 404);
      expectAnswer(d, 'getInstallation', await call(app.getInstallation({ appId })), 200);
    });

    it('another org installs and promotes to published versions only; the owner also to its drafts', async () => {
      const owner = await clients();
      const url = `${env.rx.url}/compat`;
      const appId = (
        (await owner.app.createConfiguration(null, { name: 'Shared', description: { de: 'D' } })).data as {
          app_id: string;
        }
      ).app_id;
      const component = {
        id: 'act',
        component_type: 'CUSTOM_FLOW_ACTION' as const,
        options: [{ key: 'threshold', type: 'number' as const, required: true }],
        configuration: {
          type: 'external_integration' as const,
          external_integration_settings: { url, headers: { 'x-key': 'k' } },
        },
      };
      await owner.app.createComponent({ appId, version: '0.0.1' }, component);
      const other = await clients();
      expectAnswer(d, 'install', await call(other.app.install({ appId }, {})), 404);
      expectAnswer(d, 'install', await call(other.app.install({ appId }, { version: '0.0.1' })), 404);

      const review = { technical_contact: 'd@x.io', marketing_contact: 'm@x.io' };
      await owner.app.createReview({ appId, version: '0.0.1' }, review);
      await owner.app.cloneVersion({ appId, sourceVersion: '0.0.1', targetVersion: '0.0.2' });
      const installed = await call(other.app.install({ appId }, { option_values: values }));
      expectAnswer(d, 'install', installed, 201);
      const inst = installed.data as Inst;
      assert.equal(inst.installed_version, '0.0.1', 'the newest published version, not the draft 0.0.2');
      assert.equal(inst.name, 'Shared');
      assert.equal(inst.owner_org_id, owner.org.id);
      assert.equal(inst.installer_org_id, other.org.id);
      assert.equal(inst.components[0]?.configuration.external_integration_settings.headers, undefined);
      expectAnswer(d, 'install', await call(other.app.install({ appId }, { version: '0.0.2' })), 404);
      const draft = await call(other.app.promoteVersion({ appId, version: '0.0.2' }));
      expectAnswer(d, 'promoteVersion', draft, 400);
      assert.match((draft.data as { error: string }).error, /not published/);
      expectAnswer(
        d,
        'patchInstallation',
        await call(other.app.patchInstallation({ appId }, { version: '0.0.2' })),
        404,
      );
      assert.equal(((await other.app.getInstallation({ appId })).data as Inst).installed_version, '0.0.1');

      const own = await call(owner.app.install({ appId }, { version: '0.0.2', option_values: values }));
      expectAnswer(d, 'install', own, 201);
      assert.equal((own.data as Inst).installed_version, '0.0.2');
      assert.deepEqual((own.data as Inst).components[0]?.configuration.external_integration_settings.headers, {
        'x-key': 'k',
      });
      await owner.app.createReview({ appId, version: '0.0.2' }, review);
      const promoted = await call(other.app.promoteVersion({ appId, version: '0.0.2' }));
      expectAnswer(d, 'promoteVersion', promoted, 200);
      assert.equal((promoted.data as Inst).installed_version, '0.0.2');
    });

    it('uninstall (204, then 404)', async () => {
      const { app, appId } = await withApp();
      await app.install({ appId }, { option_values: values });
      expectAnswer(d, 'uninstall', await call(app.uninstall({ appId })), 204);
      expectAnswer(d, 'uninstall', await call(app.uninstall({ appId })), 404);
    });
  });

  describe('@epilot/sdk app client: app configurations, versions, components', () => {
    const d = defs.app;
    const component = (url: string, id = 'act') => ({
      id,
      component_type: 'CUSTOM_FLOW_ACTION' as const,
      name: { de: 'Prüfen', en: 'Check' },
      options: [{ key: 'threshold', type: 'number' as const, required: true }],
      configuration: {
        type: 'external_integration' as const,
        wait_for_callback: false,
        external_integration_settings: { url, headers: { 'x-key': 'k' } },
      },
    });

    /** An org with a configuration whose draft 0.0.1 has one custom action. */
    async function withConfiguration() {
      const c = await clients();
      const created = await call(
        c.app.createConfiguration(null, { name: 'Compat app', description: { de: 'Prüft', en: 'Checks' } }),
      );
      const appId = (created.data as { app_id: string }).app_id;
      await c.app.createComponent({ appId, version: '0.0.1' }, component('https://x.io/hook'));
      return { ...c, appId, created };
    }
    const publish = (c: Awaited<ReturnType<typeof clients>>, appId: string, version: string) =>
      call(c.app.createReview({ appId, version }, { technical_contact: 'd@x.io', marketing_contact: 'm@x.io' }));

    it('createConfiguration (201)', async () => {
      const { created } = await withConfiguration();
      expectAnswer(d, 'createConfiguration', created, 201);
    });

    it('getConfiguration (200, 404)', async () => {
      const { app, appId } = await withConfiguration();
      const got = await call(app.getConfiguration({ appId }));
      expectAnswer(d, 'getConfiguration', got, 200);
      assert.equal((got.data as { latest_version: string }).latest_version, '0.0.1');
      expectAnswer(d, 'getConfiguration', await call(app.getConfiguration({ appId: 'no-such-app' })), 404);
    });

    it('listConfigurations (200)', async () => {
      const { app, appId } = await withConfiguration();
      const list = await call(app.listConfigurations());
      expectAnswer(d, 'listConfigurations', list, 200);
      assert.deepEqual(
        (list.data as { configurations: Array<{ app_id: string }> }).configurations.map((x) => x.app_id),
        [appId],
      );
    });

    it('patchMetadata (204, 404)', async () => {
      const { app, appId } = await withConfiguration();
      expectAnswer(d, 'patchMetadata', await call(app.patchMetadata({ appId }, { name: 'Renamed' })), 204);
      expectAnswer(d, 'patchMetadata', await call(app.patchMetadata({ appId: 'nope' }, { name: 'x' })), 404);
    });

    it('deleteConfiguration (204, 404)', async () => {
      const { app, appId } = await withConfiguration();
      expectAnswer(d, 'deleteConfiguration', await call(app.deleteConfiguration({ appId })), 204);
      expectAnswer(d, 'deleteConfiguration', await call(app.deleteConfiguration({ appId })), 404);
    });

    it('listVersions (200) and getVersion (200, 404)', async () => {
      const { app, appId } = await withConfiguration();
      expectAnswer(d, 'listVersions', await call(app.listVersions({ appId })), 200);
      expectAnswer(d, 'getVersion', await call(app.getVersion({ appId, version: '0.0.1' })), 200);
      expectAnswer(d, 'getVersion', await call(app.getVersion({ appId, version: '9.9.9' })), 404);
    });

    it('patchVersion (204; 400 once published; 404)', async () => {
      const c = await withConfiguration();
      const { app, appId } = c;
      const grants = [{ action: 'entity:view', resource: 'opportunity' }];
      expectAnswer(d, 'patchVersion', await call(app.patchVersion({ appId, version: '0.0.1' }, { grants })), 204);
      expectAnswer(d, 'patchVersion', await call(app.patchVersion({ appId, version: '9.9.9' }, { grants })), 404);
      await publish(c, appId, '0.0.1');
      const locked = await call(app.patchVersion({ appId, version: '0.0.1' }, { changelog: 'x' }));
      expectAnswer(d, 'patchVersion', locked, 400);
    });

    it('cloneVersion (201 without a body, 400 for an existing target, 404 for a missing source)', async () => {
      const { app, appId } = await withConfiguration();
      const cloned = await call(app.cloneVersion({ appId, sourceVersion: '0.0.1', targetVersion: '0.1.0' }));
      expectAnswer(d, 'cloneVersion', cloned, 201);
      assert.deepEqual(cloned.data, { app_id: appId, version: '0.1.0', status: 'pending' });
      const again = await call(app.cloneVersion({ appId, sourceVersion: '0.0.1', targetVersion: '0.1.0' }, {}));
      expectAnswer(d, 'cloneVersion', again, 400);
      const missing = await call(app.cloneVersion({ appId, sourceVersion: '7.0.0', targetVersion: '7.0.1' }));
      expectAnswer(d, 'cloneVersion', missing, 404);
    });

    it('deleteVersion (204; 400 for the only version; 409 when installed; 404)', async () => {
      const { app, appId } = await withConfiguration();
      expectAnswer(d, 'deleteVersion', await call(app.deleteVersion({ appId, version: '0.0.1' })), 400);
      await app.cloneVersion({ appId, sourceVersion: '0.0.1', targetVersion: '0.0.2' });
      await app.install({ appId }, {});
      expectAnswer(d, 'deleteVersion', await call(app.deleteVersion({ appId, version: '0.0.2' })), 409);
      expectAnswer(d, 'deleteVersion', await call(app.deleteVersion({ appId, version: '0.0.1' })), 204);
      expectAnswer(d, 'deleteVersion', await call(app.deleteVersion({ appId, version: '0.0.1' })), 404);
    });

    it('createComponent (200, 400, 404), patchComponent (204, 400, 404), deleteComponent (204, 404)', async () => {
      const { app, appId } = await withConfiguration();
      const v = { appId, version: '0.0.1' };
      expectAnswer(d, 'createComponent', await call(app.createComponent(v, component('https://x.io/b', 'b'))), 200);
      expectAnswer(d, 'createComponent', await call(app.createComponent(v, component('ftp://x.io', 'c'))), 400);
      const noVersion = { appId, version: '9.9.9' };
      expectAnswer(
        d,
        'createComponent',
        await call(app.createComponent(noVersion, component('https://x.io', 'c'))),
        404,
      );
      const patch = { ...v, componentId: 'b' };
      expectAnswer(d, 'patchComponent', await call(app.patchComponent(patch, component('https://x.io/b2', 'b'))), 204);
      expectAnswer(d, 'patchComponent', await call(app.patchComponent(patch, component('ftp://x.io', 'b'))), 400);
      const gone = { ...v, componentId: 'zz' };
      expectAnswer(d, 'patchComponent', await call(app.patchComponent(gone, component('https://x.io', 'zz'))), 404);
      expectAnswer(d, 'deleteComponent', await call(app.deleteComponent(patch)), 204);
      expectAnswer(d, 'deleteComponent', await call(app.deleteComponent(patch)), 404);
    });

    it('createReview (200) and getReview (200, 404)', async () => {
      const c = await withConfiguration();
      const { app, appId } = c;
      expectAnswer(d, 'getReview', await call(app.getReview({ appId, version: '0.0.1' })), 404);
      expectAnswer(d, 'createReview', await publish(c, appId, '0.0.1'), 200);
      expectAnswer(d, 'getReview', await call(app.getReview({ appId, version: '0.0.1' })), 200);
    });

    it('listPublicConfigurations (200) and getPublicConfiguration (200, 404)', async () => {
      const c = await withConfiguration();
      const { appId } = c;
      const other = await clients();
      expectAnswer(d, 'getPublicConfiguration', await call(other.app.getPublicConfiguration({ appId })), 404);
      await publish(c, appId, '0.0.1');
      expectAnswer(d, 'getPublicConfiguration', await call(other.app.getPublicConfiguration({ appId })), 200);
      expectAnswer(d, 'listPublicConfigurations', await call(other.app.listPublicConfigurations()), 200);
    });
  });

  describe('every operation of the three definitions: implemented, or a 501 naming it that changes nothing', () => {
    type Clients = Awaited<ReturnType<typeof clients>>;
    type Seeded = Clients & { values: Record<string, string> };
    type Operation = ReturnType<OpenApiChecker['operations']>[number];

    /**
     * An org with one of each thing the three APIs keep: an app (readable through the App API too),
     * installed, a flow, an opportunity and the flow's finished execution, and a configuration.
     * `values` are the path parameters sent: the names of those things, `x0` for any other.
     */
    async function seeded(): Promise<Seeded> {
      const c = await clients();
      const { appId, flow } = await installFlow(c.api, `${env.rx.url}/catalogue`);
      const entity = (await c.entities.createEntity({ slug: 'opportunity' }, { name: 'Kept' })).data as {
        _id: string;
      };
      const started = (await c.automation.startExecution(null, { flow_id: flow.id, entity_id: entity._id })).data;
      await until(
        async () =>
          (await c.automation.getExecution({ execution_id: started.id! })).data.execution_status === 'success',
        'the execution',
      );
      await c.app.createConfiguration(null, { name: 'Kept', description: { de: 'Bleibt' } });
      await until(
        async () => ((await c.api.req('GET', '/v1/events?status=pending')).body.results as unknown[]).length === 0,
        'events processed',
      );
      const values = {
        slug: 'opportunity',
        id: entity._id,
        flow_id: flow.id,
        execution_id: started.id!,
        action_id: flow.actions[0]!.id,
        appId,
        version: '1',
        sourceVersion: '1',
        componentId: 'act',
      };
      return { ...c, values };
    }

    /** Everything the org reads back through the three APIs (and its entity events). */
    async function everything(c: Seeded) {
      const appId = c.values.appId!;
      // Status and body only: the headers hold the time of day (`date`), which is not state.
      const reads = [
        c.entities.searchEntities(null, { q: '*:*', size: 1000, sort: '_id' }),
        c.automation.searchFlows({ size: 100 }),
        c.automation.getExecutions({ size: 100 }),
        c.app.listConfigurations(),
        c.app.getConfiguration({ appId }),
        c.app.listVersions({ appId }),
        c.app.listInstallations(),
        c.app.getInstallation({ appId }),
      ].map((r) => call(r as Promise<Answer>).then(({ status, data }) => ({ status, data })));
      const events = c.api.req('GET', '/v1/events?size=1000').then((r) => ({ status: r.status, data: r.body }));
      return Promise.all([...reads, events]);
    }

    /** Calls an operation through its epilot client, path parameters from `values`, `{}` as a body where one goes. */
    function send(c: Seeded, name: keyof typeof defs, op: Operation): Promise<Answer> {
      const client = { entity: c.entities, automation: c.automation, app: c.app }[name] as unknown as Record<
        string,
        (params?: unknown, data?: unknown) => Promise<Answer>
      >;
      const method = client[op.operationId];
      assert.ok(method, `the ${name} client has no ${op.operationId}`);
      const params = Object.fromEntries(
        [...op.path.matchAll(/\{(\w+)\}/g)].map(([, p]) => [p as string, c.values[p as string] ?? 'x0']),
      );
      const body = ['POST', 'PUT', 'PATCH'].includes(op.method) ? {} : undefined;
      return call(method.call(client, params, body));
    }

    for (const name of ['app', 'entity', 'automation'] as const) {
      it(`${name}: every operation of ${defs[name].title}`, async () => {
        const c = await seeded();
        const ops = defs[name].operations();
        const missing = new Set(env.p.server.notImplemented.filter((o) => o.api === name).map((o) => o.operationId));
        // What the server has routes for, as its own OpenAPI document lists them (parameters as `{}`).
        const paths = (await c.api.req('GET', '/openapi.json')).body.paths as Record<string, Record<string, unknown>>;
        const shape = (path: string) => path.replace(/\{[^}]+\}/g, '{}');
        const routed = new Set(
          Object.entries(paths).flatMap(([path, item]) =>
            Object.keys(item).map((m) => `${m.toUpperCase()} ${shape(path)}`),
          ),
        );
        assert.deepEqual(
          ops
            .filter((o) => missing.has(o.operationId) === routed.has(`${o.method} ${shape(o.path)}`))
            .map((o) => o.operationId),
          [],
          'the operations answered 501 are exactly those the server has no route for',
        );

        const before = await everything(c);
        const wrong: string[] = [];
        for (const op of ops.filter((o) => missing.has(o.operationId))) {
          const r = await send(c, name, op);
          const expected = {
            status: 501,
            error: `${op.operationId} (${op.method} ${op.path}) is not implemented by ActionBridge`,
          };
          if (r.status !== 501 || JSON.stringify(r.data) !== JSON.stringify(expected)) {
            wrong.push(`${op.operationId} ${op.method} ${op.path} → ${r.status} ${JSON.stringify(r.data)}`);
          }
        }
        assert.deepEqual(wrong, [], 'operations without a route answer 501 naming them');
        assert.deepEqual(await everything(c), before, 'no operation answered 501 changed anything');

        // The others have routes of their own: a real answer, neither the 501 nor "no route" nor a 500.
        const unreal: string[] = [];
        for (const op of ops.filter((o) => !missing.has(o.operationId))) {
          const r = await send(c, name, op);
          const error = (r.data as { error?: unknown } | undefined)?.error;
          if (r.status >= 500 || (typeof error === 'string' && error.startsWith('no route'))) {
            unreal.push(`${op.operationId} ${op.method} ${op.path} → ${r.status} ${JSON.stringify(r.data)}`);
          }
        }
        assert.deepEqual(unreal, [], 'implemented operations answer from their own routes');
      });
    }
  });
});
