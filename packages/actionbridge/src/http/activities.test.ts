/**
 * epilot's activities on the real server, through `@epilot/entity-client` and
 * `@epilot/automation-client` (answers checked against the clients' own OpenAPI definitions), on
 * SQLite and PostgreSQL: `createActivity`, `getActivity`, `attachActivity`,
 * `getEntityActivityFeed`, entity writes with `activity_id`, and flows filtering on
 * `activity.type` for custom activity types and relation changes; other orgs, grants, hostile input.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createClient as automationClient } from '@epilot/automation-client';
import { createClient as entityClient } from '@epilot/entity-client';
import {
  BACKENDS,
  describeOn,
  installFlow,
  type Receiver,
  type TestPlatform,
  until,
  useTestPlatform,
} from '../testing/harness.js';
import { type ClientAnswer as Answer, assertAnswer, call, OpenApiChecker, pointed } from '../testing/openapi.js';

const entityApi = OpenApiChecker.load('entity');
const automationApi = OpenApiChecker.load('automation');

type Entity = { _id: string; _schema: string; [k: string]: unknown };

function expectAnswer(operationId: string, answer: Answer, status: number, checker = entityApi): void {
  assert.equal(answer.status, status, `${operationId} answered ${answer.status}: ${JSON.stringify(answer.data)}`);
  assertAnswer(checker, operationId, answer);
}

function expectError(answer: Answer, status: number, message: RegExp): void {
  assert.equal(answer.status, status, JSON.stringify(answer.data));
  assert.equal(answer.data.status, status);
  assert.match(answer.data.error, message);
}

const ULID = /^01[0-9A-HJKMNP-TV-Z]{24}$/;
const UNKNOWN_ACTIVITY = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const MISSING = '00000000-0000-4000-8000-000000000000';

for (const backend of BACKENDS)
  describeOn(backend, `activities through the entity client (${backend})`, () => {
    const env = useTestPlatform({ backend });

    async function setup() {
      const org = await env.p.newOrg();
      const entities = entityClient();
      const automation = automationClient();
      for (const c of [entities, automation]) pointed(c, env.p.url, org.token);
      const create = async (slug: string, body: Record<string, unknown>) =>
        (await entities.createEntity({ slug }, body)).data as Entity;
      const activity = async (type: string, on: string[] = []) => {
        const r = await call(
          entities.createActivity(on.length ? { entities: on } : null, { type, title: `${type} title`, message: 'm' }),
        );
        expectAnswer('createActivity', r, 200);
        return r.data as { _id: string; type: string; timestamp: string };
      };
      return { org, entities, automation, create, activity };
    }

    it('createActivity (200) makes an activity, not an entity; getActivity (200, 404); attachActivity (200, 404)', async () => {
      const { entities, create, activity } = await setup();
      const deal = await create('opportunity', { name: 'Deal' });
      const a = await activity('CreditChecked', [deal._id]);
      assert.match(a._id, ULID);
      assert.equal(a.type, 'CreditChecked');
      assert.ok(Math.abs(Date.parse(a.timestamp) - Date.now()) < 60_000);
      const search = await entities.searchEntities(null, { q: '_schema:activity' });
      assert.equal(search.data.hits, 0, 'POST /v1/entity/activity no longer creates an entity');

      const got = await call(entities.getActivity({ id: a._id }));
      expectAnswer('getActivity', got, 200);
      assert.deepEqual(
        { ...got.data, caller: undefined },
        { ...a, caller: undefined, operations_total: 0, operations: [] },
      );
      assert.equal(got.data.caller.token_type, 'org');
      expectAnswer('getActivity', await call(entities.getActivity({ id: UNKNOWN_ACTIVITY })), 404);
      const bad = await call(entities.getActivity({ id: 'not-an-activity' }));
      expectError(bad, 400, /params\/id must match pattern/);

      const feed = async (id: string) =>
        (
          (await entities.getEntityActivityFeed({ slug: 'opportunity', id })).data.results as Array<{ _id: string }>
        ).map((x) => x._id);
      assert.deepEqual(await feed(deal._id), [a._id]);
      const other = await create('opportunity', { name: 'Other' });
      const attached = await call(entities.attachActivity({ id: a._id, entities: [other._id, deal._id] }));
      expectAnswer('attachActivity', attached, 200);
      assert.equal(attached.data._id, a._id);
      assert.deepEqual(await feed(other._id), [a._id]);
      assert.deepEqual(await feed(deal._id), [a._id], 'attached twice, shown once');
      expectAnswer(
        'attachActivity',
        await call(entities.attachActivity({ id: UNKNOWN_ACTIVITY, entities: [deal._id] })),
        404,
      );
      const unknownEntity = await call(entities.attachActivity({ id: a._id, entities: [MISSING] }));
      expectAnswer('attachActivity', unknownEntity, 404);
      assert.match(unknownEntity.data.error, new RegExp(`entity ${MISSING} not found`));
    });

    it('entity writes with activity_id are the activity’s operations and put it in the entity’s feed', async () => {
      const { entities, create, activity } = await setup();
      const a = await activity('ImportedFromErp');
      const created = await call(entities.createEntity({ slug: 'contact', activity_id: a._id }, { first_name: 'Ada' }));
      expectAnswer('createEntity', created, 201);
      const id = (created.data as Entity)._id;
      const patched = await call(
        entities.patchEntity({ slug: 'contact', id, activity_id: a._id }, { first_name: 'Grace', city: 'X' }),
      );
      expectAnswer('patchEntity', patched, 200);
      await entities.patchEntity({ slug: 'contact', id }, { note: 'no activity' });
      const deal = await create('opportunity', { name: 'D' });
      const related = await call(
        entities.addRelations({ slug: 'opportunity', id: deal._id, activity_id: a._id }, [
          { attribute: 'contacts', entity_id: id },
        ]),
      );
      expectAnswer('addRelations', related, 200);

      const got = await call(entities.getActivity({ id: a._id }));
      expectAnswer('getActivity', got, 200);
      assert.equal(got.data.operations_total, 3);
      const [first, second, third] = got.data.operations;
      assert.deepEqual(
        [first.operation, first.entity, first.activity_id, first.activity_type, first.params],
        ['createEntity', id, a._id, 'ImportedFromErp', { id, slug: 'contact' }],
      );
      assert.equal(first.payload.first_name, 'Ada');
      assert.deepEqual(
        second.diff,
        {
          added: { city: 'X' },
          updated: { first_name: 'Ada' },
          deleted: {},
        },
        'as epilot records it: updated holds the values before the update',
      );
      assert.deepEqual([third.operation, third.entity], ['updateEntity', deal._id]);
      const page = await call(entities.getActivity({ id: a._id, operations_from: 1, operations_size: 1 }));
      expectAnswer('getActivity', page, 200);
      assert.deepEqual(
        [page.data.operations_total, page.data.operations.map((o: { operation: string }) => o.operation)],
        [3, ['updateEntity']],
      );
      const feed = await call(entities.getEntityActivityFeed({ slug: 'contact', id }));
      expectAnswer('getEntityActivityFeed', feed, 200);
      assert.deepEqual([feed.data.total, feed.data.results.map((x: { _id: string }) => x._id)], [1, [a._id]]);

      const deleted = await call(entities.deleteEntity({ slug: 'contact', id, activity_id: a._id }));
      expectAnswer('deleteEntity', deleted, 200);
      assert.equal((await entities.getActivity({ id: a._id })).data.operations_total, 4);

      // An activity that is not there, or another org's, is the same 422; a malformed id a 400.
      const theirs = await (await setup()).activity('Theirs');
      const unknown = await call(entities.createEntity({ slug: 'contact', activity_id: UNKNOWN_ACTIVITY }, {}));
      const foreign = await call(entities.createEntity({ slug: 'contact', activity_id: theirs._id }, {}));
      expectError(unknown, 422, /activity_id .* no such activity/);
      expectError(foreign, 422, /activity_id .* no such activity/);
      assert.equal(unknown.data.error.replace(UNKNOWN_ACTIVITY, 'X'), foreign.data.error.replace(theirs._id, 'X'));
      expectError(
        await call(entities.patchEntity({ slug: 'opportunity', id: deal._id, activity_id: 'x' }, { a: 1 })),
        400,
        /activity_id/,
      );
      expectError(
        await call(
          entities.patchEntity(
            { slug: 'opportunity', id: deal._id, activity_id: a._id, fill_activity: true },
            { a: 1 },
          ),
        ),
        400,
        /fill_activity is not supported/,
      );
      const none = await call(entities.patchEntity({ slug: 'opportunity', id: deal._id, activity_id: '' }, { a: 1 }));
      expectAnswer('patchEntity', none, 200);
      assert.equal(
        (await entities.searchEntities(null, { q: '_schema:contact' })).data.hits,
        0,
        'refused writes stored nothing',
      );
    });

    it('getEntityActivityFeed filters by type and time, pages, and reads related entities’ feeds', async () => {
      const { entities, create, activity } = await setup();
      const ada = await create('contact', { first_name: 'Ada' });
      const deal = await create('opportunity', { name: 'D', contacts: { $relation: [{ entity_id: ada._id }] } });
      const a1 = await activity('Called', [deal._id]);
      const a2 = await activity('Mailed', [deal._id]);
      const a3 = await activity('Called', [ada._id]);
      const at = { slug: 'opportunity', id: deal._id };
      const ids = async (q: Record<string, unknown>) => {
        const r = await call(entities.getEntityActivityFeed({ ...at, ...q }));
        expectAnswer('getEntityActivityFeed', r, 200);
        return [r.data.total, r.data.results.map((x: { _id: string }) => x._id)];
      };
      assert.deepEqual(await ids({}), [2, [a2._id, a1._id]]);
      assert.deepEqual(await ids({ type: ['Called'] }), [1, [a1._id]]);
      assert.deepEqual(await ids({ type: ['Called', 'Mailed'], size: 1 }), [2, [a2._id]]);
      assert.deepEqual(await ids({ from: 1 }), [2, [a1._id]]);
      assert.deepEqual(await ids({ include_relations: true }), [3, [a3._id, a2._id, a1._id]]);
      assert.deepEqual(await ids({ after: a1.timestamp }), a1.timestamp === a2.timestamp ? [0, []] : [1, [a2._id]]);
      assert.deepEqual(await ids({ before: new Date(Date.now() + 60_000).toISOString() }), [2, [a2._id, a1._id]]);
      assert.deepEqual(await ids({ start_date: a1.timestamp, end_date: a2.timestamp }), [2, [a2._id, a1._id]]);
      assert.deepEqual(await ids({ preset_range: 'today' }), [2, [a2._id, a1._id]]);
      assert.deepEqual(await ids({ preset_range: 'last_week' }), [0, []]);
      assert.deepEqual(await ids({ exclude_activity_groups: 'workflow' }), [2, [a2._id, a1._id]]);

      const err = async (q: Record<string, unknown>, message: RegExp) =>
        expectError(await call(entities.getEntityActivityFeed({ ...at, ...q })), 400, message);
      await err({ after: 'yesterday' }, /after must be an ISO date-time/);
      await err({ after: a1.timestamp, start_date: a1.timestamp, end_date: a2.timestamp }, /use one of/);
      await err({ start_date: a1.timestamp }, /start_date and end_date go together/);
      await err({ preset_range: 'forever' }, /preset_range must be equal to one of/);
      await err({ size: 0 }, /size must be >= 1/);
      await err({ size: 1001 }, /size must be <= 1000/);
      await err(
        { type: [Array.from({ length: 101 }, (_, i) => `T${i}`).join(',')] },
        /type may hold at most 100 values/,
      );
      await err({ type: Array.from({ length: 101 }, (_, i) => `T${i}`) }, /type must NOT have more than 100 items/);
      expectAnswer(
        'getEntityActivityFeed',
        await call(entities.getEntityActivityFeed({ slug: 'opportunity', id: MISSING })),
        404,
      );
    });

    it('refuses what it does not support, by name: epilot’s own types, pending activities, bad or oversized bodies', async () => {
      const { org, create } = await setup();
      const api = org.client;
      const deal = await create('opportunity', { name: 'D' });
      const post = (body: unknown, query = '') => api.req('POST', `/v1/entity/activity${query}`, body);
      const err = async (r: ReturnType<typeof post>, status: number, message: RegExp) => {
        const res = await r;
        expectError({ status: res.status, data: res.body }, status, message);
      };
      const ok = { type: 'Mine', title: 't', message: 'm' };
      await err(post({ ...ok, type: 'EntityUpdated' }), 400, /"EntityUpdated" is one of epilot's own activity types/);
      await err(post({ ...ok, type: 'EntityUpdatedFromPortal' }), 400, /epilot's own activity types/);
      await err(post({ ...ok, pending: true }), 400, /pending activities are not supported/);
      await err(post({ type: 'Mine', title: 't' }), 400, /must have required property 'message'/);
      await err(post({ ...ok, extra: 1 }), 400, /must NOT have additional properties/);
      await err(post({ ...ok, type: 'has space' }), 400, /type must match pattern/);
      await err(post({ ...ok, type: 'x'.repeat(129) }), 400, /type must match pattern/);
      await err(post({ ...ok, payload: { big: 'x'.repeat(70_000) } }), 400, /payload must be at most 65536 bytes/);
      await err(post({ ...ok, payload: [] }), 400, /payload must be object/);
      await err(post(ok, '?entities=nope'), 400, /entities: "nope" is not an entity id/);
      const many = Array.from({ length: 101 }, (_, i) => `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`);
      await err(post(ok, `?entities=${many.join(',')}`), 400, /entities may hold at most 100 values/);
      const theirs = await (await setup()).create('opportunity', { name: 'Theirs' });
      const foreign = await post(ok, `?entities=${theirs._id}`);
      const missing = await post(ok, `?entities=${MISSING}`);
      expectError({ status: foreign.status, data: foreign.body }, 404, /not found/);
      assert.equal(foreign.body.error.replace(theirs._id, 'X'), missing.body.error.replace(MISSING, 'X'));
      await err(api.req('POST', `/v1/entity/activity/${UNKNOWN_ACTIVITY}:detach`), 404, /attachActivity/);
      await err(
        api.req('PATCH', '/v1/entity/activity:upsert', { unique_key: ['a'], entity: { a: 1 } }),
        400,
        /not an entity schema/,
      );
      // Nothing was attached by the refused requests.
      assert.equal((await api.req('GET', `/v1/entity/opportunity/${deal._id}/activity`)).body.total, 0);
    });

    it('an app token reads only activities it created or that concern what it may view', async () => {
      const { org, entities, create, activity } = await setup();
      const contact = await create('contact', { first_name: 'Hidden' });
      const onContact = await activity('ContactNote', [contact._id]);
      const app = await appClient(env.p, env.rx, org);
      expectAnswer('getActivity', await call(app.getActivity({ id: onContact._id })), 404);
      const deal = await create('opportunity', { name: 'Visible' });
      const mine = await call(
        app.createActivity({ entities: [deal._id] }, { type: 'AppDid', title: 't', message: 'm' }),
      );
      expectAnswer('createActivity', mine, 200);
      assert.equal(mine.data.caller.token_type, 'app');
      expectAnswer('getActivity', await call(app.getActivity({ id: mine.data._id })), 200);
      const onBoth = await activity('Both', [contact._id, deal._id]);
      await entities.patchEntity({ slug: 'contact', id: contact._id, activity_id: onBoth._id }, { secret: 's3' });
      await entities.patchEntity({ slug: 'opportunity', id: deal._id, activity_id: onBoth._id }, { amount: 1 });
      const seen = await call(app.getActivity({ id: onBoth._id }));
      expectAnswer('getActivity', seen, 200);
      assert.deepEqual(
        [seen.data.operations_total, seen.data.operations.map((o: { entity: string }) => o.entity)],
        [1, [deal._id]],
        'the operation on the contact is left out',
      );
      assert.ok(!JSON.stringify(seen.data).includes('s3'));
      const notMine = await call(
        app.createActivity({ entities: [contact._id] }, { type: 'X', title: 't', message: 'm' }),
      );
      assert.equal(notMine.status, 403);
      assert.match(notMine.data.error, /missing grant entity:edit on contact:/);
    });

    it('a flow filtering activity.type fires for writes made as part of an activity of that type, and for relation changes', async () => {
      const { org, automation, entities, create, activity } = await setup();
      const trigger = (types: string[]) => ({
        type: 'entity_operation',
        configuration: {
          schema: 'opportunity',
          operations: ['updateEntity'],
          filter_config: { activity: { type: types } },
        },
      });
      const { flow } = await installFlow(org.client, `${env.rx.url}/activity-flow`, {
        flow: { triggers: [trigger(['MyCustomActivity'])] },
      });
      const { flow: relFlow } = await installFlow(org.client, `${env.rx.url}/relations-flow`, {
        flow: { triggers: [trigger(['RelationsAdded'])] },
      });
      const got = await call(automation.getFlow({ flow_id: flow.id }));
      expectAnswer('getFlow', got, 200, automationApi);
      const deal = await create('opportunity', { name: 'D' });
      const contact = await create('contact', { first_name: 'C' });
      const custom = await activity('MyCustomActivity');
      const other = await activity('SomethingElse');
      const at = { slug: 'opportunity', id: deal._id };
      await entities.patchEntity(at, { step: 1 });
      await entities.patchEntity({ ...at, activity_id: other._id }, { step: 2 });
      await entities.patchEntity({ ...at, activity_id: custom._id }, { step: 3 });
      await entities.addRelations(at, [{ attribute: 'contacts', entity_id: contact._id }]);
      await until(
        async () => (await org.client.req('GET', '/v1/events?status=pending&size=1')).body.results.length === 0,
        'events processed',
      );
      const runs = async () =>
        ((await automation.getExecutions({ entity_id: deal._id })).data.results ?? []) as Array<{
          id: string;
          flow_id: string;
          entity_snapshot: { step?: number; contacts?: unknown };
        }>;
      const list = await until(async () => {
        const r = await runs();
        return r.length >= 2 ? r : undefined;
      }, 'two executions');
      assert.deepEqual(
        list.map((x) => [x.flow_id, x.entity_snapshot.step]).sort(),
        [
          [flow.id, 3],
          [relFlow.id, 3],
        ].sort(),
        'the custom flow ran only for the write with its activity, the relations flow only for addRelations',
      );
      const relRun = list.find((x) => x.flow_id === relFlow.id);
      assert.ok(relRun?.entity_snapshot.contacts);

      // A filter on a custom type is accepted; on one of epilot's types ActionBridge never emits, refused.
      const refused = await call(
        automation.createFlow(null, {
          ...(got.data as object),
          triggers: [trigger(['EntityUpdatedFromPortal'])],
        } as never),
      );
      expectError(refused, 400, /"EntityUpdatedFromPortal" never happens on ActionBridge/);
    });

    it('an execution started by a write with an activity records its activity_id', async () => {
      const { org, automation, entities, create, activity } = await setup();
      await installFlow(org.client, `${env.rx.url}/activity-id`);
      const deal = await create('opportunity', { name: 'D' });
      const a = await activity('Tracked');
      await entities.patchEntity({ slug: 'opportunity', id: deal._id, activity_id: a._id }, { step: 1 });
      const [run] = await until(async () => {
        const r = (await automation.getExecutions({ entity_id: deal._id })).data.results ?? [];
        return r.length ? r : undefined;
      }, 'an execution');
      const got = await call(automation.getExecution({ execution_id: (run as { id: string }).id }));
      expectAnswer('getExecution', got, 200, automationApi);
      assert.equal(got.data.activity_id, a._id);
      assert.equal(got.data.trigger_event.activity_id, a._id);
    });
  });

/** An entity client with a real app access token (grants: view and edit opportunities), delivered by a flow. */
async function appClient(p: TestPlatform, rx: Receiver, org: Awaited<ReturnType<TestPlatform['newOrg']>>) {
  await installFlow(org.client, `${rx.url}/t`);
  const e = (await org.client.req('POST', '/v1/entity/opportunity', { name: 'Trigger' })).body;
  const start = rx.received.length;
  await org.client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 2 });
  await rx.waitFor(start + 1);
  const client = pointed(entityClient(), p.url, String(rx.received[start]?.headers['x-epilot-token']));
  return client;
}
