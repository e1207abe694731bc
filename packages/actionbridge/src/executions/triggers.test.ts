import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntityEvent, Flow, FlowTrigger } from '../domain/types.js';
import { activityTypeCanHappen, fires, triggerKeys } from './triggers.js';

const NOW = '2026-05-01T10:00:00.000Z';

function flow(triggers: FlowTrigger[], over: Partial<Flow> = {}): Flow {
  return {
    id: 'f',
    org_id: 'o',
    flow_name: 'F',
    enabled: true,
    triggers,
    actions: [],
    version: 1,
    created_at: NOW,
    updated_at: NOW,
    ...over,
  };
}

function event(over: Partial<EntityEvent> = {}): EntityEvent {
  return {
    id: 'ev',
    org_id: 'o',
    entity_id: 'e1',
    schema: 'order',
    operation: 'updateEntity',
    entity: {
      _id: 'e1',
      _org: 'o',
      _schema: 'order',
      _title: 'O',
      _created_at: NOW,
      _updated_at: NOW,
      status: 'placed',
      total: 120,
    },
    diff: { added: {}, updated: { status: 'placed' }, deleted: {} },
    previous: { status: 'open_for_acceptance' },
    caused_by_execution: null,
    occurred_at: NOW,
    ...over,
  };
}

const op = (configuration: FlowTrigger['configuration']): FlowTrigger => ({ type: 'entity_operation', configuration });

describe('triggers: the trigger index and fires()', () => {
  it('indexes the schema a filter names in payload._schema and the operations it lists', () => {
    const f = flow([
      op({
        filter_config: {
          operation: { operation: ['updateEntity', 'createEntity'], payload: { _schema: ['contact'] } },
        },
      }),
      op({
        schema: 'order',
        operations: ['updateEntity', 'deleteEntity'],
        filter_config: { operation: { operation: ['updateEntity'] } },
      }),
      op({ schema: 'meter', filter_config: { operation: { operation: [{ 'anything-but': 'deleteEntity' }] } } }),
      { type: 'entity_manual', configuration: { schema: 'ignored' } },
    ]);
    assert.deepEqual(triggerKeys(f), [
      { schema: 'contact', operation: 'updateEntity' },
      { schema: 'contact', operation: 'createEntity' },
      { schema: 'order', operation: 'updateEntity' },
      { schema: 'meter', operation: '*' },
    ]);
  });

  it('epilot’s "changes from open_for_acceptance to placed": diff.updated holds the value before the update', () => {
    const f = flow([
      op({
        filter_config: {
          operation: {
            operation: ['updateEntity'],
            payload: { _schema: ['order'], status: ['placed'] },
            diff: { updated: { status: ['open_for_acceptance'] } },
          },
        },
      }),
    ]);
    assert.ok(fires(f, event()));
    assert.ok(!fires(f, event({ previous: { status: 'draft' } })), 'from another state');
    assert.ok(!fires(f, event({ operation: 'createEntity' })), 'another operation');
    assert.ok(!fires(f, event({ schema: 'contact' })), 'another schema');
  });

  it('filters on the activity type and the changed attributes', () => {
    const updated = flow([op({ schema: 'order', filter_config: { activity: { type: ['EntityUpdated'] } } })]);
    assert.ok(fires(updated, event()));
    assert.ok(!fires(updated, event({ operation: 'deleteEntity' })));
    const changed = flow([
      op({
        schema: 'order',
        filter_config: {
          operation: {
            diff: { $or: [{ 'added.total': [{ exists: true }] }, { 'updated.total': [{ exists: true }] }] },
          },
        },
      }),
    ]);
    assert.ok(!fires(changed, event()));
    assert.ok(
      fires(changed, event({ diff: { added: {}, updated: { total: 120 }, deleted: {} }, previous: { total: 100 } })),
    );
  });

  it('filters on the write’s activity type: a custom one, a relation change’s, or the operation’s', () => {
    const custom = flow([op({ schema: 'order', filter_config: { activity: { type: ['MyCustomActivity'] } } })]);
    assert.ok(fires(custom, event({ activity_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', activity_type: 'MyCustomActivity' })));
    assert.ok(!fires(custom, event()), 'a write without the activity');
    assert.ok(!fires(custom, event({ activity_type: 'Other' })));
    const updated = flow([op({ schema: 'order', filter_config: { activity: { type: ['EntityUpdated'] } } })]);
    assert.ok(
      !fires(updated, event({ activity_type: 'MyCustomActivity' })),
      'the activity’s type replaces the operation’s',
    );
    const relations = flow([op({ schema: 'order', filter_config: { activity: { type: [{ prefix: 'Relations' }] } } })]);
    assert.ok(fires(relations, event({ activity_type: 'RelationsAdded' })));
    assert.ok(!fires(relations, event()));
  });

  it('knows which activity types can happen: emitted ones and custom ones, never epilot’s others', () => {
    const emitted = ['EntityCreated', 'EntityUpdated', 'EntityDeleted', 'EntitySoftDeleted', 'EntityRestored'];
    for (const t of [...emitted, 'RelationsAdded', 'RelationsRemoved', 'Mine']) {
      assert.ok(activityTypeCanHappen(t), t);
    }
    for (const t of ['EntityUpdatedFromPortal', 'RelationsDeleted', 'CreateMeterReading']) {
      assert.ok(!activityTypeCanHappen(t), t);
    }
  });

  it('soft delete, purge and restore: deleteEntity listens to both deletions, the others to their own', () => {
    const on = (operations: FlowTrigger['configuration']['operations']) => flow([op({ schema: 'order', operations })]);
    const soft = event({ operation: 'softDeleteEntity' });
    const purge = event({ operation: 'deleteEntity' });
    const restore = event({ operation: 'restoreEntity' });
    assert.deepEqual(
      [soft, purge, restore].map((e) => fires(on(['deleteEntity']), e)),
      [true, true, false],
    );
    assert.deepEqual(
      [soft, purge, restore].map((e) => fires(on(['softDeleteEntity']), e)),
      [true, false, false],
    );
    assert.deepEqual(
      [soft, purge, restore].map((e) => fires(on(['restoreEntity']), e)),
      [false, false, true],
    );
    assert.ok(!fires(on(['updateEntity', 'createEntity']), soft));
    // A filter matches the event's own operation and activity.
    const purgeOnly = flow([op({ schema: 'order', filter_config: { operation: { operation: ['deleteEntity'] } } })]);
    assert.deepEqual(
      [soft, purge].map((e) => fires(purgeOnly, e)),
      [false, true],
    );
    const trashed = flow([op({ schema: 'order', filter_config: { activity: { type: ['EntitySoftDeleted'] } } })]);
    assert.deepEqual(
      [soft, purge, restore].map((e) => fires(trashed, e)),
      [true, false, false],
    );
    const restored = flow([op({ schema: 'order', filter_config: { activity: { type: ['EntityRestored'] } } })]);
    assert.ok(fires(restored, restore));
  });

  it('trigger_conditions must all hold too', () => {
    const f = flow([op({ schema: 'order' })], {
      trigger_conditions: [
        { source: 'status', comparison: 'equals', value: 'placed' },
        { source: 'total', comparison: 'not_empty' },
      ],
    });
    assert.ok(fires(f, event()));
    assert.ok(!fires(f, event({ entity: { ...event().entity, status: 'open' } })));
  });
});
