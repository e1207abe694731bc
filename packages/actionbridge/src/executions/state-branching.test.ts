import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntityItem, Flow, FlowAction } from '../domain/types.js';
import { cancel, cancelSchedule, createExecution, finish, presentExecution, rerun, settle } from './state.js';

const NOW = '2026-05-01T10:00:00.000Z';
const NOW_MS = Date.parse(NOW);

const entity: EntityItem = {
  _id: 'e1',
  _org: 'o',
  _schema: 'opportunity',
  _title: 'E',
  _created_at: NOW,
  _updated_at: NOW,
  status: 'open',
  amount: 50,
  due: '2026-05-01T12:00:00.000Z',
};

const act = (id: string, over: Partial<FlowAction> = {}): FlowAction => ({
  id,
  type: 'custom-action',
  config: { app_id: 'app', component_id: 'c' },
  ...over,
});

function flow(over: Partial<Flow>): Flow {
  return {
    id: 'f',
    org_id: 'o',
    flow_name: 'F',
    enabled: true,
    triggers: [],
    actions: [],
    version: 1,
    created_at: NOW,
    updated_at: NOW,
    ...over,
  };
}

const start = (f: Flow) =>
  createExecution({
    id: 'x',
    flow: f,
    entity,
    trigger: { type: 'entity_operation', operation: 'updateEntity', entity_id: 'e1', occurred_at: NOW },
    hot: false,
    now: NOW,
  });

const ok = { status: 'success', outputs: {} } as const;
const statuses = (e: { actions: Array<{ execution_status: string }> }) => e.actions.map((a) => a.execution_status);

describe('branching: action conditions', () => {
  const conditions = [
    { id: 'big', statements: [{ source: { attribute: 'amount' }, operation: 'greater_than', values: ['100'] }] },
    {
      id: 'small',
      statements: [{ source: { attribute: 'amount' }, operation: 'less_than_or_equals', values: ['100'] }],
    },
    {
      id: 'approved',
      statements: [
        { source: { origin: 'action', id: 'check', attribute: 'approved' }, operation: 'equals', values: ['true'] },
      ],
    },
  ] as Flow['conditions'];

  it('skips the actions whose condition does not hold, with the reason, and runs the branch that holds', () => {
    const { exec, effects } = start(
      flow({ conditions, actions: [act('big1', { condition_id: 'big' }), act('small1', { condition_id: 'small' })] }),
    );
    assert.deepEqual(effects, [{ kind: 'start', index: 1 }]);
    assert.deepEqual(statuses(exec), ['skipped', 'in_progress']);
    assert.deepEqual(exec.actions[0]?.reason, {
      message: 'condition big is not met',
      payload: { condition_id: 'big' },
    });
    assert.equal(exec.conditions?.find((c) => c.id === 'big')?.evaluationResult, false);
    assert.equal(exec.conditions?.find((c) => c.id === 'small')?.evaluationResult, true);
    assert.deepEqual(finish(exec, 1, ok, NOW), [{ kind: 'finished', status: 'success' }]);
    assert.equal(exec.execution_status, 'success');
  });

  it('evaluates a condition when its action is reached: outputs of earlier actions count', () => {
    const { exec } = start(
      flow({ conditions, actions: [act('check'), act('ship', { condition_id: 'approved' }), act('after')] }),
    );
    (exec.actions[0] as { delivery_id?: string }).delivery_id = 'd1';
    const next = settle(exec, 'check', 'd1', { status: 'success', outputs: { approved: false } }, NOW);
    assert.deepEqual(next, [{ kind: 'start', index: 2 }]);
    assert.deepEqual(statuses(exec), ['success', 'skipped', 'in_progress']);
  });

  it('an execution whose every action is skipped succeeds at once', () => {
    const { exec, effects } = start(flow({ conditions, actions: [act('a', { condition_id: 'big' })] }));
    assert.deepEqual(effects, [{ kind: 'finished', status: 'success' }]);
    assert.equal(exec.execution_status, 'success');
  });

  it('a retrigger after a failure leaves condition-skipped actions skipped', () => {
    const { exec } = start(flow({ conditions, actions: [act('a'), act('b', { condition_id: 'big' }), act('c')] }));
    finish(exec, 0, { status: 'failed', error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'no' } }, NOW);
    assert.deepEqual(statuses(exec), ['failed', 'skipped', 'skipped']);
    rerun(exec, 0, NOW);
    assert.deepEqual(finish(exec, 0, ok, NOW), [{ kind: 'start', index: 2 }]);
    assert.deepEqual(statuses(exec), ['success', 'skipped', 'in_progress']);
  });

  it('RETRY_AND_STOP: the actions after the retried one stay skipped', () => {
    const { exec } = start(flow({ actions: [act('a'), act('b')] }));
    finish(exec, 0, { status: 'failed', error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'no' } }, NOW);
    rerun(exec, 0, NOW, false);
    assert.deepEqual(finish(exec, 0, ok, NOW), [{ kind: 'finished', status: 'success' }]);
    assert.deepEqual(statuses(exec), ['success', 'skipped']);
  });
});

describe('schedules: delayed actions', () => {
  const schedules: Flow['schedules'] = [
    {
      id: 'later',
      numberOfUnits: 30,
      timePeriod: 'minutes',
      timeRelation: 'after',
      source: { id: 't', origin: 'trigger' },
    },
    {
      id: 'before-due',
      numberOfUnits: 1,
      timePeriod: 'hours',
      timeRelation: 'before',
      source: { id: 't', origin: 'trigger', attribute: 'due' },
    },
    {
      id: 'broken',
      numberOfUnits: 1,
      timePeriod: 'days',
      timeRelation: 'before',
      source: { id: 't', origin: 'trigger', attribute: 'status' },
    },
    {
      id: 'past',
      numberOfUnits: 0,
      timePeriod: 'minutes',
      timeRelation: 'after',
      source: { id: 't', origin: 'trigger' },
    },
  ];

  it('a scheduled action is started with scheduled_at; it shows scheduled until then, in progress after', () => {
    const { exec, effects } = start(flow({ schedules, actions: [act('a', { schedule_id: 'later' }), act('b')] }));
    assert.deepEqual(effects, [{ kind: 'start', index: 0 }]);
    assert.equal(exec.actions[0]?.scheduled_at, '2026-05-01T10:30:00.000Z');
    const shown = presentExecution(exec, NOW_MS);
    assert.equal(shown.execution_status, 'scheduled');
    assert.equal(shown.status, 'scheduled');
    assert.deepEqual(statuses(shown), ['scheduled', 'pending']);
    assert.equal(exec.execution_status, 'in_progress', 'stored as in progress: its delivery is due later');
    const due = presentExecution(exec, Date.parse('2026-05-01T10:30:00.001Z'));
    assert.deepEqual(
      [due.execution_status, due.status, ...statuses(due)],
      ['in_progress', 'in_progress', 'in_progress', 'pending'],
    );
  });

  it('counts back from a date of the entity; a time already past is not scheduled', () => {
    const { exec } = start(flow({ schedules, actions: [act('a', { schedule_id: 'before-due' })] }));
    assert.equal(exec.actions[0]?.scheduled_at, '2026-05-01T11:00:00.000Z');
    const past = start(flow({ schedules, actions: [act('a', { schedule_id: 'past' })] })).exec;
    assert.equal(past.actions[0]?.scheduled_at, undefined);
    assert.equal(presentExecution(past, NOW_MS).execution_status, 'in_progress');
  });

  it('a schedule that cannot be computed fails the action with INVALID_SCHEDULE_CONFIG', () => {
    const { exec, effects } = start(
      flow({ schedules, actions: [act('a', { schedule_id: 'broken', allow_failure: true }), act('b')] }),
    );
    assert.deepEqual(effects, [{ kind: 'start', index: 1 }]);
    assert.equal(exec.actions[0]?.execution_status, 'failed');
    assert.equal(exec.actions[0]?.error_output?.error_code, 'INVALID_SCHEDULE_CONFIG');
    assert.match(exec.actions[0]?.error_output?.error_reason ?? '', /status is not a date/);
  });

  it('cancelling a scheduled execution cancels the waiting action', () => {
    const { exec } = start(flow({ schedules, actions: [act('a', { schedule_id: 'later' }), act('b')] }));
    cancel(exec, NOW);
    assert.deepEqual(statuses(presentExecution(exec, NOW_MS)), ['cancelled', 'skipped']);
  });

  it('cancelSchedule: the action waiting for that schedule ends cancelled with the reason, the execution too', () => {
    const { exec } = start(flow({ schedules, actions: [act('a', { schedule_id: 'later' }), act('b')] }));
    const effects = cancelSchedule(exec, 'later', NOW_MS, NOW);
    assert.deepEqual(effects, [{ kind: 'finished', status: 'cancelled' }]);
    assert.deepEqual(statuses(exec), ['cancelled', 'skipped']);
    assert.equal(exec.execution_status, 'cancelled');
    assert.deepEqual(exec.actions[0]?.reason, {
      message: 'schedule later was cancelled',
      payload: { schedule_id: 'later' },
    });
  });

  it('cancelSchedule changes nothing when no action waits for that schedule: another one, or already due', () => {
    const { exec } = start(flow({ schedules, actions: [act('a', { schedule_id: 'later' }), act('b')] }));
    const before = structuredClone(exec);
    assert.equal(cancelSchedule(exec, 'before-due', NOW_MS, NOW), undefined, 'no action uses it');
    const due = Date.parse('2026-05-01T10:30:00.001Z');
    assert.equal(cancelSchedule(exec, 'later', due, NOW), undefined, 'its time has come: it is being sent');
    const past = start(flow({ schedules, actions: [act('a', { schedule_id: 'past' })] })).exec;
    assert.equal(cancelSchedule(past, 'past', NOW_MS, NOW), undefined, 'never waited');
    assert.deepEqual(exec, before);
  });

  it('every execution shows epilot’s status beside execution_status', () => {
    const { exec } = start(flow({ actions: [act('a')] }));
    const shown = presentExecution(exec, NOW_MS);
    assert.equal(shown.status, 'in_progress');
    finish(exec, 0, ok, NOW);
    assert.equal(presentExecution(exec, NOW_MS).status, 'success');
  });
});
