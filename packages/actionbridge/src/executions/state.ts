/**
 * The execution state machine: pure transitions of an execution (no I/O, no clock: `now` is given).
 * Each transition changes the execution it is given and returns the effects the caller must carry
 * out — start an action (send it), wait for a callback, count a finished execution. Statuses follow
 * epilot's `ExecutionStatus`.
 */
import type { EntityItem, ErrorOutput, Execution, ExecutionAction, ExecutionStatus, Flow } from '../domain/types.js';
import { conditionHolds, scheduledTime } from './conditions.js';

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
            // The write's activity when it had one; else its event, which stands for the activity epilot would record.
            activity_id: trigger.activity_id ?? trigger.event_id ?? '',
            operation_type: trigger.operation ?? 'updateEntity',
          },
    entity_snapshot: entity,
    version: flow.version,
    ...(trigger.activity_id ? { activity_id: trigger.activity_id } : {}),
    ...(flow.conditions ? { conditions: structuredClone(flow.conditions) } : {}),
    ...(flow.schedules ? { schedules: structuredClone(flow.schedules) } : {}),
    trigger,
  };
  if (a.hot) return { exec, effects: [] };
  return { exec, effects: advance(exec, -1, now) };
}

/**
 * Moves on to the first pending action after `after`: an action whose condition does not hold is
 * skipped (with the reason) and the next one is tried; without one left, the execution ends.
 */
function advance(exec: Execution, after: number, now: string): Effect[] {
  for (let i = after + 1; i < exec.actions.length; i++) {
    const action = exec.actions[i] as ExecutionAction;
    if (action.execution_status !== 'pending') continue;
    if (action.condition_id) {
      const condition = exec.conditions?.find((c) => c.id === action.condition_id);
      const held = condition ? conditionHolds(condition, exec) : false;
      if (condition) condition.evaluationResult = held;
      if (!held) {
        action.execution_status = 'skipped';
        action.updated_at = now;
        action.reason = {
          message: condition
            ? `condition ${action.condition_id} is not met`
            : `condition ${action.condition_id} is not defined in the flow`,
          payload: { condition_id: action.condition_id },
        };
        exec.updated_at = now;
        continue;
      }
    }
    return begin(exec, i, now);
  }
  const stopped = exec.actions.some((x) => x.execution_status === 'failed' && !x.allow_failure);
  exec.execution_status = stopped ? 'failed' : 'success';
  exec.updated_at = now;
  return [{ kind: 'finished', status: exec.execution_status }];
}

/**
 * Marks action `index` running; the caller sends it (the `start` effect). A scheduled action gets
 * `scheduled_at` (its delivery waits until then); a schedule that cannot be computed fails it
 * with INVALID_SCHEDULE_CONFIG.
 */
export function begin(exec: Execution, index: number, now: string): Effect[] {
  const action = exec.actions[index] as ExecutionAction;
  exec.execution_status = 'in_progress';
  exec.current_action_id = action.id;
  exec.updated_at = now;
  action.execution_status = 'in_progress';
  action.started_at = now;
  action.updated_at = now;
  delete action.error_output;
  delete action.outputs;
  delete action.reason;
  delete action.scheduled_at;
  if (action.schedule_id) {
    const schedule = exec.schedules?.find((s) => s.id === action.schedule_id);
    const when = schedule
      ? scheduledTime(schedule, exec)
      : { error: `schedule ${action.schedule_id} is not defined in the flow` };
    if ('error' in when) {
      return finish(
        exec,
        index,
        { status: 'failed', error: { error_code: 'INVALID_SCHEDULE_CONFIG', error_reason: when.error } },
        now,
      );
    }
    if (when.at > Date.parse(now)) action.scheduled_at = new Date(when.at).toISOString();
  }
  return [{ kind: 'start', index }];
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
  return advance(exec, index, now);
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

/** An action waiting for its schedule: stored in progress, its delivery due at `scheduled_at`, still ahead. */
export const isScheduled = (a: ExecutionAction, nowMs: number): boolean =>
  a.execution_status === 'in_progress' && a.scheduled_at !== undefined && Date.parse(a.scheduled_at) > nowMs;

/**
 * epilot's cancelSchedule: the actions waiting for schedule `scheduleId` end `cancelled` (with the
 * reason) and, since an action runs only once the one before it has, so does the execution, the
 * rest `skipped` (as when it is cancelled; a retrigger of the action resumes it). Undefined, and
 * nothing changed, when no action waits for that schedule.
 */
export function cancelSchedule(exec: Execution, scheduleId: string, nowMs: number, now: string): Effect[] | undefined {
  const waiting = exec.actions.filter((a) => a.schedule_id === scheduleId && isScheduled(a, nowMs));
  if (waiting.length === 0) return undefined;
  for (const a of waiting) {
    a.reason = { message: `schedule ${scheduleId} was cancelled`, payload: { schedule_id: scheduleId } };
  }
  return cancel(exec, now);
}

/** Another action of the execution that is still running (in flight or waiting for its callback). */
export function runningOther(exec: Execution, index: number): ExecutionAction | undefined {
  return exec.actions.find(
    (x, i) => i !== index && (x.execution_status === 'in_progress' || x.execution_status === 'paused'),
  );
}

/**
 * Runs action `index` again (retrigger): when the execution had stopped, the actions skipped after
 * it become pending again, so they run once it succeeds (epilot's RETRY_AND_RESUME); with
 * `resume: false` (RETRY_AND_STOP) they stay skipped.
 */
export function rerun(exec: Execution, index: number, now: string, resume = true): Effect[] {
  if (resume) reopenLater(exec, index);
  return begin(exec, index, now);
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

/**
 * An execution as the API shows it: epilot's `status` beside `execution_status` (its definition
 * requires both), and an action waiting for its schedule `scheduled` until `scheduled_at` (it is
 * stored as in progress: its delivery is due then); the execution too, while nothing else runs.
 */
export function presentExecution(exec: Execution, nowMs: number): Execution & { status: ExecutionStatus } {
  const actions = exec.actions.map((a) =>
    isScheduled(a, nowMs) ? { ...a, execution_status: 'scheduled' as const } : a,
  );
  const status =
    exec.execution_status === 'in_progress' &&
    actions.some((a) => a.execution_status === 'scheduled') &&
    !actions.some((a) => a.execution_status === 'in_progress' || a.execution_status === 'paused')
      ? 'scheduled'
      : exec.execution_status;
  return { ...exec, execution_status: status, status, actions };
}
