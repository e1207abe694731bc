/**
 * The execution state machine: pure transitions of an execution (no I/O, no clock: `now` is given).
 * Each transition changes the execution it is given and returns the effects the caller must carry
 * out — start an action (send it), wait for a callback, count a finished execution. Statuses follow
 * epilot's `ExecutionStatus`.
 */
import type { EntityItem, ErrorOutput, Execution, ExecutionAction, Flow } from '../domain/types.js';

export type Outcome =
  | { status: 'success'; outputs: Record<string, unknown> }
  | { status: 'failed'; error: ErrorOutput };

export type Effect =
  | { kind: 'start'; index: number }
  | { kind: 'await_callback'; action_id: string }
  | { kind: 'finished'; status: Execution['execution_status'] };

export const TERMINAL: ReadonlySet<string> = new Set(['success', 'failed', 'cancelled', 'skipped']);

/** A new execution of `flow` for `entity`; a hot run is recorded with every action skipped. */
export function createExecution(a: {
  id: string;
  flow: Flow;
  entity: EntityItem;
  trigger: Execution['trigger'];
  hot: boolean;
  now: string;
}): { exec: Execution; effects: Effect[] } {
  const { flow, entity, trigger, now } = a;
  const exec: Execution = {
    id: a.id,
    org_id: flow.org_id,
    flow_id: flow.id,
    flow_name: flow.flow_name,
    entity_id: entity._id,
    execution_status: a.hot ? 'hot' : 'in_progress',
    created_at: now,
    updated_at: now,
    actions: flow.actions.map((x) => ({
      ...x,
      flow_action_id: x.id,
      execution_status: a.hot ? 'skipped' : 'pending',
    })),
    trigger_event:
      trigger.type === 'manual'
        ? { type: 'manual', org_id: flow.org_id, entity_id: entity._id }
        : {
            type: 'entity_operation',
            org_id: flow.org_id,
            entity_id: entity._id,
            activity_id: trigger.event_id ?? '',
            operation_type: trigger.operation ?? 'updateEntity',
          },
    entity_snapshot: entity,
    version: flow.version,
    trigger,
  };
  if (a.hot) return { exec, effects: [] };
  if (exec.actions.length === 0) {
    exec.execution_status = 'success';
    return { exec, effects: [{ kind: 'finished', status: 'success' }] };
  }
  return { exec, effects: [begin(exec, 0, now)] };
}

/** Marks action `index` running; the caller sends it (the `start` effect). */
export function begin(exec: Execution, index: number, now: string): Effect {
  const action = exec.actions[index] as ExecutionAction;
  exec.execution_status = 'in_progress';
  exec.current_action_id = action.id;
  exec.updated_at = now;
  action.execution_status = 'in_progress';
  action.started_at = now;
  action.updated_at = now;
  delete action.error_output;
  delete action.outputs;
  return { kind: 'start', index };
}

/** Ends action `index` with `outcome` and moves on: the next pending action, or the end. */
export function finish(exec: Execution, index: number, outcome: Outcome, now: string): Effect[] {
  const action = exec.actions[index] as ExecutionAction;
  action.execution_status = outcome.status;
  action.updated_at = now;
  exec.updated_at = now;
  if (outcome.status === 'success') {
    action.outputs = outcome.outputs;
    delete action.error_output;
  } else {
    action.error_output = outcome.error;
  }
  if (outcome.status === 'failed' && !action.allow_failure) {
    exec.execution_status = 'failed';
    for (const rest of exec.actions.slice(index + 1)) {
      if (!TERMINAL.has(rest.execution_status)) rest.execution_status = 'skipped';
    }
    return [{ kind: 'finished', status: 'failed' }];
  }
  // The next action still to run (a retriggered action may have later ones that already ran).
  const next = exec.actions.findIndex((x, i) => i > index && x.execution_status === 'pending');
  if (next !== -1) return [begin(exec, next, now)];
  const stopped = exec.actions.some((x) => x.execution_status === 'failed' && !x.allow_failure);
  exec.execution_status = stopped ? 'failed' : 'success';
  return [{ kind: 'finished', status: exec.execution_status }];
}

/**
 * A delivery's final answer. Applies only while the action still waits on that very delivery (an
 * execution cancelled or an action retriggered meanwhile ignores it). A success of a
 * `wait_for_callback` action pauses it until the callback or the deadline.
 */
export function settle(exec: Execution, actionId: string, deliveryId: string, outcome: Outcome, now: string): Effect[] {
  const index = exec.actions.findIndex((x) => x.id === actionId);
  const action = exec.actions[index];
  if (!action || action.delivery_id !== deliveryId || action.execution_status !== 'in_progress') return [];
  if (outcome.status === 'success' && action.config.wait_for_callback) {
    action.execution_status = 'paused';
    action.outputs = outcome.outputs;
    action.updated_at = now;
    exec.execution_status = 'paused';
    exec.updated_at = now;
    return [{ kind: 'await_callback', action_id: action.id }];
  }
  return finish(exec, index, outcome, now);
}

/** Cancels a running execution: its running action ends `cancelled`, the pending ones `skipped`. */
export function cancel(exec: Execution, now: string): Effect[] {
  for (const x of exec.actions) {
    if (x.execution_status === 'in_progress' || x.execution_status === 'paused') {
      x.execution_status = 'cancelled';
      x.updated_at = now;
    } else if (x.execution_status === 'pending') {
      x.execution_status = 'skipped';
    }
  }
  exec.execution_status = 'cancelled';
  exec.updated_at = now;
  return [{ kind: 'finished', status: 'cancelled' }];
}

/** Another action of the execution that is still running (in flight or waiting for its callback). */
export function runningOther(exec: Execution, index: number): ExecutionAction | undefined {
  return exec.actions.find(
    (x, i) => i !== index && (x.execution_status === 'in_progress' || x.execution_status === 'paused'),
  );
}

/**
 * Runs action `index` again (retrigger): when the execution had stopped, the actions skipped after
 * it become pending again, so they run once it succeeds.
 */
export function rerun(exec: Execution, index: number, now: string): Effect[] {
  reopenLater(exec, index);
  return [begin(exec, index, now)];
}

/** A replay re-sends action `index`'s delivery: the action waits on it again. */
export function awaitReplay(exec: Execution, index: number, deliveryId: string, now: string): void {
  reopenLater(exec, index);
  const action = exec.actions[index] as ExecutionAction;
  action.execution_status = 'in_progress';
  action.delivery_id = deliveryId;
  action.updated_at = now;
  delete action.error_output;
  exec.execution_status = 'in_progress';
  exec.current_action_id = action.id;
  exec.updated_at = now;
}

function reopenLater(exec: Execution, index: number): void {
  if (exec.execution_status === 'failed' || exec.execution_status === 'cancelled') {
    for (const rest of exec.actions.slice(index + 1))
      if (rest.execution_status === 'skipped') rest.execution_status = 'pending';
  }
}
