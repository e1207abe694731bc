import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntityItem, Execution, Flow, FlowAction } from '../domain/types.js';
import { awaitReplay, begin, cancel, createExecution, finish, rerun, runningOther, settle, TERMINAL } from './state.js';

const T0 = '2026-12-01T12:00:00.000Z';
const T1 = '2026-12-01T12:00:01.000Z';
const T2 = '2026-12-01T12:00:02.000Z';
const T3 = '2026-12-01T12:00:03.000Z';

const action = (id: string, extra: Partial<FlowAction> = {}): FlowAction => ({
  id,
  type: 'custom-action',
  config: { app_id: 'app-1', component_id: 'comp-1' },
  ...extra,
});

const flow = (actions: FlowAction[]): Flow => ({
  id: 'flow-1',
  org_id: 'org-1',
  flow_name: 'Credit check',
  enabled: true,
  triggers: [],
  actions,
  version: 7,
  created_at: T0,
  updated_at: T0,
});

const entity: EntityItem = {
  _id: 'ent-1',
  _org: 'org-1',
  _schema: 'contact',
  _title: 'Ada',
  _created_at: T0,
  _updated_at: T0,
};

const opTrigger: Execution['trigger'] = {
  type: 'entity_operation',
  operation: 'createEntity',
  entity_id: 'ent-1',
  occurred_at: T0,
  event_id: 'evt-9',
};

function run(actions: FlowAction[], hot = false, trigger: Execution['trigger'] = opTrigger) {
  return createExecution({ id: 'exec-1', flow: flow(actions), entity, trigger, hot, now: T0 });
}

const statuses = (e: Execution) => e.actions.map((x) => x.execution_status);
const ok = (outputs: Record<string, unknown> = {}) => ({ status: 'success', outputs }) as const;
const failed = (reason = 'boom') =>
  ({ status: 'failed', error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: reason } }) as const;

describe('createExecution', () => {
  it('copies the flow and entity into a new in-progress execution and starts the first action', () => {
    const { exec, effects } = run([action('a1'), action('a2')]);
    assert.deepEqual(effects, [{ kind: 'start', index: 0 }]);
    assert.equal(exec.id, 'exec-1');
    assert.equal(exec.org_id, 'org-1');
    assert.equal(exec.flow_id, 'flow-1');
    assert.equal(exec.flow_name, 'Credit check');
    assert.equal(exec.entity_id, 'ent-1');
    assert.equal(exec.execution_status, 'in_progress');
    assert.equal(exec.created_at, T0);
    assert.equal(exec.updated_at, T0);
    assert.equal(exec.current_action_id, 'a1');
    assert.equal(exec.version, 7);
    assert.deepEqual(exec.entity_snapshot, entity);
    assert.deepEqual(exec.trigger, opTrigger);
    assert.deepEqual(statuses(exec), ['in_progress', 'pending']);
    assert.deepEqual(
      exec.actions.map((x) => x.flow_action_id),
      ['a1', 'a2'],
    );
    assert.equal(exec.actions[0]?.started_at, T0);
    assert.equal(exec.actions[0]?.updated_at, T0);
    assert.equal(exec.actions[1]?.started_at, undefined);
    assert.deepEqual(exec.actions[1]?.config, { app_id: 'app-1', component_id: 'comp-1' });
  });

  it('records an entity operation trigger as epilot trigger_event with the event as activity', () => {
    const { exec } = run([action('a1')]);
    assert.deepEqual(exec.trigger_event, {
      type: 'entity_operation',
      org_id: 'org-1',
      entity_id: 'ent-1',
      activity_id: 'evt-9',
      operation_type: 'createEntity',
    });
  });

  it('records the activity of the write that triggered it, as epilot’s activity_id', () => {
    const { exec } = run([action('a1')], false, { ...opTrigger, activity_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    assert.equal(exec.activity_id, '01ARZ3NDEKTSV4RRFFQ69G5FAV');
    assert.equal(
      exec.trigger_event.type === 'entity_operation' && exec.trigger_event.activity_id,
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
    );
    assert.equal(run([action('a1')]).exec.activity_id, undefined, 'none without an activity');
  });

  it('defaults an entity operation trigger without event or operation to an empty activity and updateEntity', () => {
    const { exec } = run([action('a1')], false, { type: 'entity_operation', entity_id: 'ent-1', occurred_at: T0 });
    assert.deepEqual(exec.trigger_event, {
      type: 'entity_operation',
      org_id: 'org-1',
      entity_id: 'ent-1',
      activity_id: '',
      operation_type: 'updateEntity',
    });
  });

  it('records a manual trigger as a manual trigger_event', () => {
    const { exec } = run([action('a1')], false, { type: 'manual', entity_id: 'ent-1', occurred_at: T0 });
    assert.deepEqual(exec.trigger_event, { type: 'manual', org_id: 'org-1', entity_id: 'ent-1' });
  });

  it('records a hot run with status hot, every action skipped and nothing to do', () => {
    const { exec, effects } = run([action('a1'), action('a2')], true);
    assert.deepEqual(effects, []);
    assert.equal(exec.execution_status, 'hot');
    assert.deepEqual(statuses(exec), ['skipped', 'skipped']);
    assert.equal(exec.current_action_id, undefined);
    assert.equal(exec.actions[0]?.started_at, undefined);
  });

  it('finishes a flow without actions at once as success', () => {
    const { exec, effects } = run([]);
    assert.deepEqual(effects, [{ kind: 'finished', status: 'success' }]);
    assert.equal(exec.execution_status, 'success');
    assert.deepEqual(exec.actions, []);
  });

  it('records a hot run of a flow without actions as hot, not success', () => {
    const { exec, effects } = run([], true);
    assert.deepEqual(effects, []);
    assert.equal(exec.execution_status, 'hot');
  });
});

describe('TERMINAL', () => {
  it('holds exactly success, failed, cancelled and skipped', () => {
    assert.deepEqual([...TERMINAL].sort(), ['cancelled', 'failed', 'skipped', 'success']);
  });
});

describe('begin', () => {
  it('marks the action running, clears its last outputs and error, and returns a start effect', () => {
    const { exec } = run([action('a1'), action('a2')]);
    const a2 = exec.actions[1] as NonNullable<(typeof exec.actions)[1]>;
    a2.outputs = { old: true };
    a2.error_output = { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'old' };
    exec.execution_status = 'failed';
    assert.deepEqual(begin(exec, 1, T1), [{ kind: 'start', index: 1 }]);
    assert.equal(exec.execution_status, 'in_progress');
    assert.equal(exec.current_action_id, 'a2');
    assert.equal(exec.updated_at, T1);
    assert.equal(a2.execution_status, 'in_progress');
    assert.equal(a2.started_at, T1);
    assert.equal(a2.updated_at, T1);
    assert.equal('outputs' in a2, false);
    assert.equal('error_output' in a2, false);
  });
});

describe('finish', () => {
  it('stores a success, starts the next pending action and keeps the execution running', () => {
    const { exec } = run([action('a1'), action('a2')]);
    exec.actions[0]!.error_output = { error_code: 'TIMEOUT_ERROR', error_reason: 'earlier' };
    assert.deepEqual(finish(exec, 0, ok({ score: 700 }), T1), [{ kind: 'start', index: 1 }]);
    assert.equal(exec.actions[0]?.execution_status, 'success');
    assert.deepEqual(exec.actions[0]?.outputs, { score: 700 });
    assert.equal('error_output' in exec.actions[0]!, false);
    assert.equal(exec.actions[0]?.updated_at, T1);
    assert.equal(exec.execution_status, 'in_progress');
    assert.equal(exec.current_action_id, 'a2');
    assert.equal(exec.updated_at, T1);
    assert.deepEqual(statuses(exec), ['success', 'in_progress']);
  });

  it('ends the execution as success after its last action succeeds', () => {
    const { exec } = run([action('a1')]);
    assert.deepEqual(finish(exec, 0, ok(), T1), [{ kind: 'finished', status: 'success' }]);
    assert.equal(exec.execution_status, 'success');
    assert.equal(exec.updated_at, T1);
  });

  it('stops at a failed action: the execution fails and the pending actions after it are skipped', () => {
    const { exec } = run([action('a1'), action('a2'), action('a3')]);
    assert.deepEqual(finish(exec, 0, failed('declined'), T1), [{ kind: 'finished', status: 'failed' }]);
    assert.equal(exec.execution_status, 'failed');
    assert.equal(exec.updated_at, T1);
    assert.deepEqual(statuses(exec), ['failed', 'skipped', 'skipped']);
    assert.deepEqual(exec.actions[0]?.error_output, { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'declined' });
    assert.equal(exec.actions[0]?.updated_at, T1);
    assert.equal(exec.actions[1]?.updated_at, undefined);
  });

  it('on a failure skips only later actions that have not ended, and leaves earlier ones alone', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2'), action('a3'), action('a4')]);
    exec.actions[0]!.execution_status = 'pending';
    exec.actions[1]!.execution_status = 'in_progress';
    exec.actions[2]!.execution_status = 'success';
    exec.actions[3]!.execution_status = 'cancelled';
    exec.actions[4]!.execution_status = 'pending';
    finish(exec, 1, failed(), T1);
    assert.deepEqual(statuses(exec), ['pending', 'failed', 'success', 'cancelled', 'skipped']);
  });

  it('moves on past a failed action that allows failure, keeping its error', () => {
    const { exec } = run([action('a1', { allow_failure: true }), action('a2')]);
    assert.deepEqual(finish(exec, 0, failed('soft'), T1), [{ kind: 'start', index: 1 }]);
    assert.equal(exec.execution_status, 'in_progress');
    assert.deepEqual(statuses(exec), ['failed', 'in_progress']);
    assert.deepEqual(exec.actions[0]?.error_output, { error_code: 'CUSTOM_ACTION_ERROR', error_reason: 'soft' });
    assert.equal(exec.actions[0]?.outputs, undefined);
  });

  it('ends as success when the only failure allows failure', () => {
    const { exec } = run([action('a1'), action('a2', { allow_failure: true })]);
    finish(exec, 0, ok(), T1);
    assert.deepEqual(finish(exec, 1, failed(), T2), [{ kind: 'finished', status: 'success' }]);
    assert.equal(exec.execution_status, 'success');
    assert.deepEqual(statuses(exec), ['success', 'failed']);
  });

  it('starts the next pending action after the index, skipping ones that already ran', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2'), action('a3')]);
    exec.actions[0]!.execution_status = 'pending';
    exec.actions[1]!.execution_status = 'in_progress';
    exec.actions[2]!.execution_status = 'success';
    exec.actions[3]!.execution_status = 'pending';
    assert.deepEqual(finish(exec, 1, ok(), T1), [{ kind: 'start', index: 3 }]);
    assert.equal(exec.current_action_id, 'a3');
  });

  it('ends a retriggered action as failed when a later action had failed for good', () => {
    // a1 was retriggered after a2 had failed (a2 did not allow failure): a1 succeeding ends the run failed.
    const { exec } = run([action('a1'), action('a2')]);
    exec.actions[1]!.execution_status = 'failed';
    assert.deepEqual(finish(exec, 0, ok(), T1), [{ kind: 'finished', status: 'failed' }]);
    assert.equal(exec.execution_status, 'failed');
  });

  it('ends as success when the later failed action allows failure', () => {
    const { exec } = run([action('a1'), action('a2', { allow_failure: true })]);
    exec.actions[1]!.execution_status = 'failed';
    assert.deepEqual(finish(exec, 0, ok(), T1), [{ kind: 'finished', status: 'success' }]);
    assert.equal(exec.execution_status, 'success');
  });
});

describe('settle', () => {
  function sent(actions: FlowAction[]) {
    const r = run(actions);
    r.exec.actions[0]!.delivery_id = 'dlv-1';
    return r.exec;
  }

  it('applies the delivery the action waits on: a success moves the execution on', () => {
    const exec = sent([action('a1'), action('a2')]);
    assert.deepEqual(settle(exec, 'a1', 'dlv-1', ok({ x: 1 }), T1), [{ kind: 'start', index: 1 }]);
    assert.deepEqual(statuses(exec), ['success', 'in_progress']);
    assert.deepEqual(exec.actions[0]?.outputs, { x: 1 });
  });

  it('applies a failure the same way as finish', () => {
    const exec = sent([action('a1'), action('a2')]);
    assert.deepEqual(settle(exec, 'a1', 'dlv-1', failed(), T1), [{ kind: 'finished', status: 'failed' }]);
    assert.deepEqual(statuses(exec), ['failed', 'skipped']);
  });

  it('ignores an answer of another delivery than the one the action waits on', () => {
    const exec = sent([action('a1'), action('a2')]);
    const before = structuredClone(exec);
    assert.deepEqual(settle(exec, 'a1', 'dlv-old', ok(), T1), []);
    assert.deepEqual(exec, before);
  });

  it('ignores an answer for an action that is not running any more', () => {
    const exec = sent([action('a1'), action('a2')]);
    cancel(exec, T1);
    const before = structuredClone(exec);
    assert.deepEqual(settle(exec, 'a1', 'dlv-1', ok(), T2), []);
    assert.deepEqual(exec, before);
  });

  it('ignores an answer for an action the execution does not have', () => {
    const exec = sent([action('a1')]);
    const before = structuredClone(exec);
    assert.deepEqual(settle(exec, 'nope', 'dlv-1', ok(), T1), []);
    assert.deepEqual(exec, before);
  });

  it('pauses a wait_for_callback action on success, keeping its outputs, and waits for the callback', () => {
    const wait = action('a1', { config: { app_id: 'app-1', component_id: 'comp-1', wait_for_callback: true } });
    const exec = sent([wait, action('a2')]);
    assert.deepEqual(settle(exec, 'a1', 'dlv-1', ok({ ticket: 't-1' }), T1), [
      { kind: 'await_callback', action_id: 'a1' },
    ]);
    assert.equal(exec.execution_status, 'paused');
    assert.equal(exec.updated_at, T1);
    assert.deepEqual(statuses(exec), ['paused', 'pending']);
    assert.deepEqual(exec.actions[0]?.outputs, { ticket: 't-1' });
    assert.equal(exec.actions[0]?.updated_at, T1);
  });

  it('fails a wait_for_callback action whose delivery failed, without pausing', () => {
    const wait = action('a1', { config: { app_id: 'app-1', component_id: 'comp-1', wait_for_callback: true } });
    const exec = sent([wait, action('a2')]);
    assert.deepEqual(settle(exec, 'a1', 'dlv-1', failed(), T1), [{ kind: 'finished', status: 'failed' }]);
    assert.equal(exec.execution_status, 'failed');
    assert.deepEqual(statuses(exec), ['failed', 'skipped']);
  });
});

describe('cancel', () => {
  it('cancels the running and paused actions, skips the pending ones and leaves ended ones as they were', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2'), action('a3'), action('a4')]);
    exec.actions[0]!.execution_status = 'success';
    exec.actions[0]!.updated_at = T0;
    exec.actions[1]!.execution_status = 'in_progress';
    exec.actions[2]!.execution_status = 'paused';
    exec.actions[3]!.execution_status = 'pending';
    exec.actions[4]!.execution_status = 'failed';
    assert.deepEqual(cancel(exec, T1), [{ kind: 'finished', status: 'cancelled' }]);
    assert.equal(exec.execution_status, 'cancelled');
    assert.equal(exec.updated_at, T1);
    assert.deepEqual(statuses(exec), ['success', 'cancelled', 'cancelled', 'skipped', 'failed']);
    assert.deepEqual(
      exec.actions.map((x) => x.updated_at),
      [T0, T1, T1, undefined, undefined],
    );
  });
});

describe('runningOther', () => {
  it('finds another action that is in flight or paused, never the one asked about', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2')]);
    // a0 is in_progress after createExecution.
    assert.equal(runningOther(exec, 0), undefined);
    assert.equal(runningOther(exec, 1)?.id, 'a0');
    exec.actions[0]!.execution_status = 'success';
    assert.equal(runningOther(exec, 1), undefined);
    exec.actions[2]!.execution_status = 'paused';
    assert.equal(runningOther(exec, 1)?.id, 'a2');
    assert.equal(runningOther(exec, 2), undefined);
  });

  it('does not count pending, skipped, failed or cancelled actions as running', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2'), action('a3'), action('a4')]);
    exec.actions[0]!.execution_status = 'pending';
    exec.actions[1]!.execution_status = 'skipped';
    exec.actions[2]!.execution_status = 'failed';
    exec.actions[3]!.execution_status = 'cancelled';
    exec.actions[4]!.execution_status = 'success';
    for (let i = 0; i < 5; i++) assert.equal(runningOther(exec, i), undefined, `index ${i}`);
  });
});

describe('rerun', () => {
  it('after a failure runs the action again and reopens the actions skipped after it', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2'), action('a3')]);
    finish(exec, 0, ok(), T1);
    finish(exec, 1, failed(), T2);
    exec.actions[3]!.execution_status = 'success'; // ran before: stays
    assert.deepEqual(statuses(exec), ['success', 'failed', 'skipped', 'success']);
    assert.deepEqual(rerun(exec, 1, T3), [{ kind: 'start', index: 1 }]);
    assert.equal(exec.execution_status, 'in_progress');
    assert.equal(exec.current_action_id, 'a1');
    assert.deepEqual(statuses(exec), ['success', 'in_progress', 'pending', 'success']);
    assert.equal('error_output' in exec.actions[1]!, false);
    // and the reopened action runs once it succeeds
    assert.deepEqual(finish(exec, 1, ok(), T3), [{ kind: 'start', index: 2 }]);
  });

  it('after a cancel reopens the skipped actions after it, but not the ones before it', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2')]);
    exec.actions[0]!.execution_status = 'skipped';
    exec.actions[1]!.execution_status = 'in_progress';
    cancel(exec, T1);
    assert.deepEqual(statuses(exec), ['skipped', 'cancelled', 'skipped']);
    rerun(exec, 1, T2);
    assert.deepEqual(statuses(exec), ['skipped', 'in_progress', 'pending']);
  });

  it('in a successful execution leaves skipped actions skipped', () => {
    const { exec } = run([action('a0'), action('a1')]);
    finish(exec, 0, ok(), T1);
    finish(exec, 1, ok(), T1);
    exec.actions[1]!.execution_status = 'skipped';
    rerun(exec, 0, T2);
    assert.deepEqual(statuses(exec), ['in_progress', 'skipped']);
  });
});

describe('awaitReplay', () => {
  it('makes the action wait on the replayed delivery and reopens the actions skipped after it', () => {
    const { exec } = run([action('a0'), action('a1'), action('a2')]);
    exec.actions[0]!.delivery_id = 'dlv-1';
    exec.actions[0]!.started_at = T0;
    finish(exec, 0, failed('bad'), T1);
    awaitReplay(exec, 0, 'dlv-2', T2);
    assert.equal(exec.execution_status, 'in_progress');
    assert.equal(exec.current_action_id, 'a0');
    assert.equal(exec.updated_at, T2);
    const a0 = exec.actions[0]!;
    assert.equal(a0.execution_status, 'in_progress');
    assert.equal(a0.delivery_id, 'dlv-2');
    assert.equal(a0.updated_at, T2);
    assert.equal(a0.started_at, T0, 'a replay is the same run: started_at stays');
    assert.equal('error_output' in a0, false);
    assert.deepEqual(statuses(exec), ['in_progress', 'pending', 'pending']);
    // the new delivery's answer applies, the old one's does not
    assert.deepEqual(settle(exec, 'a0', 'dlv-1', ok(), T3), []);
    assert.deepEqual(settle(exec, 'a0', 'dlv-2', ok(), T3), [{ kind: 'start', index: 1 }]);
  });

  it('in a successful execution keeps the later skipped actions skipped', () => {
    const { exec } = run([action('a0'), action('a1')]);
    exec.actions[1]!.execution_status = 'skipped';
    exec.actions[0]!.execution_status = 'success';
    exec.execution_status = 'success';
    awaitReplay(exec, 0, 'dlv-2', T2);
    assert.deepEqual(statuses(exec), ['in_progress', 'skipped']);
  });
});
