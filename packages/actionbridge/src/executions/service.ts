import { hashToken } from '../auth/principal.js';
import { badRequest, conflict, DomainError, notFound, unprocessable } from '../domain/errors.js';
import type { Delivery, EntityItem, Execution, ExecutionAction, Flow, FlowSchedule } from '../domain/types.js';
import type { Metrics } from '../metrics.js';
import type { SecretBox } from '../secrets/box.js';
import type { Store } from '../store/store.js';
import { newUuid, nowIso } from '../util/ids.js';
import { Catalog, Changes, carryOut, type DispatchEnv } from './dispatch.js';
import {
  awaitReplay,
  cancel,
  cancelSchedule,
  createExecution,
  finish,
  rerun,
  runningOther,
  TERMINAL,
} from './state.js';

export interface ExecutionServiceEnv {
  store: Store;
  dispatch: DispatchEnv;
  secrets: SecretBox;
  callbackTimeoutMs: number;
  metrics: Metrics | undefined;
  /** Work was added: wake this process's worker (other processes hear it through NOTIFY). */
  wake: () => void;
}

/**
 * Operator actions on executions — manual start, cancel, retrigger, replay, resume, uninstall —
 * each one transaction through the same state machine and dispatch as the worker's lanes.
 */
export class ExecutionService {
  constructor(private readonly env: ExecutionServiceEnv) {}

  /** Runs `fn` on a locked execution in a transaction and writes its changes; returns what `fn` returns. */
  private async change<T>(
    orgId: string,
    executionId: string,
    fn: (exec: Execution, tx: Store, changes: Changes, catalog: Catalog) => Promise<T>,
  ): Promise<T> {
    const { store } = this.env;
    const { value, changes } = await store.transaction(async (tx) => {
      const exec = await tx.getExecution(orgId, executionId, true);
      if (!exec) throw notFound(`execution ${executionId}`);
      const changes = new Changes();
      const value = await fn(exec, tx, changes, new Catalog(tx));
      await this.write(tx, [exec], changes);
      return { value, changes };
    });
    this.after(changes);
    return value;
  }

  private async write(tx: Store, changed: Execution[], changes: Changes): Promise<void> {
    for (const exec of changed) await tx.updateExecution(exec);
    await tx.insertDeliveries(changes.deliveries);
    await tx.insertResumeTokens(changes.tokens);
  }

  private after(changes: Changes): void {
    for (const status of changes.finished) this.env.metrics?.executions.inc({ status });
    if (changes.deliveries.length) this.env.wake();
  }

  /** `POST /v1/automation/executions`: runs an enabled flow for an entity now. */
  async startManually(orgId: string, flowId: string, entityId: string): Promise<Execution> {
    const { store } = this.env;
    const { exec, changes } = await store.transaction(async (tx) => {
      const flow: Flow | undefined = await tx.getFlow(orgId, flowId);
      if (!flow) throw notFound(`flow ${flowId}`);
      if (!flow.enabled) {
        const by = flow.disable_details?.disabled_by === 'system' ? ' by the system (hot flow)' : '';
        throw conflict(`flow ${flow.id} is disabled${by}: enable it to start executions`);
      }
      const entity: EntityItem | undefined = await tx.getEntity(orgId, entityId);
      // A soft-deleted entity is in the trash: not found, as the entity API reads it.
      if (!entity || entity._deleted_at) throw notFound(`entity ${entityId}`);
      // `entity_manual` triggers name the schemas the flow can be started from by hand.
      const manual = flow.triggers.flatMap((t) =>
        t.type === 'entity_manual' && t.configuration.schema ? [t.configuration.schema] : [],
      );
      if (manual.length && !manual.includes(entity._schema)) {
        throw unprocessable(
          `flow ${flow.id} is started by hand on ${manual.join(', ')} entities (its entity_manual triggers), not on ${entity._schema}`,
        );
      }
      const now = this.env.dispatch.now();
      const { exec, effects } = createExecution({
        id: newUuid(),
        flow,
        entity,
        trigger: { type: 'manual', entity_id: entity._id, occurred_at: now.iso },
        hot: false,
        now: now.iso,
      });
      const changes = new Changes();
      await carryOut(exec, effects, new Catalog(tx), changes, this.env.dispatch);
      await tx.insertExecutions([exec]);
      await this.write(tx, [], changes);
      return { exec, changes };
    });
    this.after(changes);
    return exec;
  }

  /** Cancels an execution: its waiting action ends `cancelled`, the rest `skipped`, pending deliveries stop. */
  cancel(orgId: string, executionId: string): Promise<Execution> {
    return this.change(orgId, executionId, async (exec, tx, changes) => {
      if (TERMINAL.has(exec.execution_status)) throw conflict(`execution is already ${exec.execution_status}`);
      const now = nowIso();
      changes.finished.push(...cancel(exec, now).flatMap((e) => (e.kind === 'finished' ? [e.status] : [])));
      await tx.cancelPendingDeliveries(orgId, { execution_id: executionId }, now);
      return exec;
    });
  }

  /**
   * `DELETE /v1/automation/executions/{id}/schedules/{schedule_id}` (epilot's cancelSchedule): the
   * action waiting for the schedule is not sent, and the execution ends `cancelled` (see
   * `cancelSchedule` in state.ts). Answers the schedule. A schedule nothing waits for (not reached
   * yet, already due, or cancelled) is a 404, the only error epilot documents besides 403.
   */
  cancelSchedule(orgId: string, executionId: string, scheduleId: string): Promise<FlowSchedule> {
    return this.change(orgId, executionId, async (exec, tx, changes) => {
      const schedule = exec.schedules?.find((s) => s.id === scheduleId);
      if (!schedule) throw notFound(`schedule ${scheduleId} of execution ${executionId}`);
      const now = nowIso();
      const effects = cancelSchedule(exec, scheduleId, Date.parse(now), now);
      if (!effects) {
        throw new DomainError(
          'not_found',
          `no action of execution ${executionId} is waiting for schedule ${scheduleId}`,
        );
      }
      changes.finished.push(...effects.flatMap((e) => (e.kind === 'finished' ? [e.status] : [])));
      await tx.cancelPendingDeliveries(orgId, { execution_id: executionId }, now);
      return schedule;
    });
  }

  /**
   * Runs a failed (or stuck) action again: a new delivery with a new `webhook-id`, built from the
   * execution's snapshot; the actions skipped after it run again once it succeeds, unless `resume`
   * is false (epilot's RETRY_AND_STOP).
   */
  retrigger(orgId: string, executionId: string, actionId: string, resume = true): Promise<Execution> {
    return this.change(orgId, executionId, async (exec, tx, changes, catalog) => {
      const index = exec.actions.findIndex((a) => a.id === actionId);
      const action = exec.actions[index];
      if (!action) throw notFound(`action ${actionId} of execution ${executionId}`);
      if (!['failed', 'in_progress', 'cancelled'].includes(action.execution_status)) {
        throw conflict(
          `action is ${action.execution_status}: only failed, stuck or cancelled actions can be retriggered`,
        );
      }
      const busy = runningOther(exec, index);
      if (busy)
        throw conflict(`action ${busy.id} of this execution is ${busy.execution_status}: retrigger once it ends`);
      const now = nowIso();
      await tx.cancelPendingDeliveries(orgId, { execution_id: executionId, action_id: actionId }, now);
      await tx.revokeResumeTokens(orgId, executionId, actionId);
      await carryOut(exec, rerun(exec, index, now, resume), catalog, changes, this.env.dispatch);
      return exec;
    });
  }

  /**
   * Re-sends a delivery's message: the same delivery, the same `webhook-id` (receivers dedupe on
   * it), a fresh timestamp and signatures, and a new series of tries. If its action has not
   * succeeded, the action waits on it again; a resume token it carries works once more.
   */
  async replay(orgId: string, deliveryId: string): Promise<Delivery> {
    const { store } = this.env;
    const replayed = await store.transaction(async (tx) => {
      const original = await tx.getDelivery(orgId, deliveryId);
      if (!original) throw notFound(`delivery ${deliveryId}`);
      if (original.status === 'pending') throw conflict(`delivery ${deliveryId} is still being delivered`);
      const exec = await tx.getExecution(orgId, original.execution_id, true);
      const index = exec?.actions.findIndex((a) => a.id === original.action_id) ?? -1;
      const action: ExecutionAction | undefined = exec?.actions[index];
      const d = await tx.reopenDelivery(orgId, deliveryId, Date.now(), nowIso());
      if (!d) throw conflict(`delivery ${deliveryId} is still being delivered`);
      if (
        exec &&
        action &&
        ['failed', 'in_progress', 'cancelled'].includes(action.execution_status) &&
        !runningOther(exec, index)
      ) {
        const sent = (JSON.parse(this.env.secrets.open(d.request_body)) as { data?: { resume_token?: string } }).data
          ?.resume_token;
        if (sent) {
          await tx.revokeResumeTokens(orgId, exec.id, action.id);
          await tx.reopenResumeToken(hashToken(sent));
        }
        awaitReplay(exec, index, d.id, nowIso());
        await tx.updateExecution(exec);
      }
      return d;
    });
    this.env.wake();
    return replayed;
  }

  /**
   * `POST /v1/automation/public/executions:resume`: ends a waiting action with the app's result
   * (success unless it says `failed`). A token works once. A token that is unknown, used or timed
   * out is a 404, the same answer for each, so the answer never tells which tokens exist or
   * existed; a live token whose action no longer waits (its execution was cancelled) is a 400,
   * epilot's "execution could not be resumed".
   */
  async resume(body: {
    resume_token: string;
    status?: 'success' | 'failed';
    outputs?: Record<string, unknown>;
    error_reason?: string;
  }): Promise<{ execution: Execution; resumedAction: ExecutionAction }> {
    const { store } = this.env;
    const { value, changes } = await store.transaction(async (tx) => {
      const token = await tx.useResumeToken(hashToken(body.resume_token), Date.now());
      if (!token) throw new DomainError('not_found', 'resume token is unknown, already used, or timed out');
      const exec = await tx.getExecution(token.org_id, token.execution_id, true);
      const index = exec ? exec.actions.findIndex((a) => a.id === token.action_id) : -1;
      const action = exec?.actions[index];
      if (!exec || !action) throw notFound('execution of this resume token');
      if (action.execution_status !== 'paused' && action.execution_status !== 'in_progress') {
        throw badRequest(`the action is ${action.execution_status}, not waiting for a callback`);
      }
      // The callback may beat the app's own answer: that answer then finds the action settled.
      if (action.execution_status === 'in_progress' && action.delivery_id) {
        await tx.markDeliverySucceeded(action.delivery_id, nowIso());
      }
      const changes = new Changes();
      const effects = finish(
        exec,
        index,
        body.status === 'failed'
          ? {
              status: 'failed',
              error: {
                error_code: 'CUSTOM_ACTION_ERROR',
                error_reason: body.error_reason ?? 'the app reported failure',
              },
            }
          : { status: 'success', outputs: { ...(action.outputs ?? {}), ...(body.outputs ?? {}) } },
        nowIso(),
      );
      await carryOut(exec, effects, new Catalog(tx), changes, this.env.dispatch);
      await this.write(tx, [exec], changes);
      return { value: { execution: exec, resumedAction: exec.actions[index] as ExecutionAction }, changes };
    });
    this.after(changes);
    return value;
  }

  /**
   * Uninstalls an app from an org. Its pending deliveries stop at once (their bodies hold the
   * installation's secret options) and their actions fail with BAD_CONFIG.
   */
  async uninstall(orgId: string, appId: string): Promise<boolean> {
    const { store } = this.env;
    const result = await store.transaction(async (tx) => {
      const changes = new Changes();
      if (!(await tx.deleteInstallation(orgId, appId))) return { ok: false, changes };
      const now = nowIso();
      const stopped = await tx.cancelPendingDeliveries(orgId, { app_id: appId }, now);
      const execs = await tx.lockExecutions(stopped.map((d) => d.execution_id));
      const catalog = new Catalog(tx);
      for (const d of stopped) {
        const exec = execs.get(d.execution_id);
        const index = exec?.actions.findIndex((a) => a.id === d.action_id) ?? -1;
        const action = exec?.actions[index];
        if (!exec || !action || action.delivery_id !== d.id || action.execution_status !== 'in_progress') continue;
        const effects = finish(
          exec,
          index,
          { status: 'failed', error: { error_code: 'BAD_CONFIG', error_reason: `app ${appId} was uninstalled` } },
          now,
        );
        await carryOut(exec, effects, catalog, changes, this.env.dispatch);
      }
      await this.write(tx, [...execs.values()], changes);
      return { ok: true, changes };
    });
    this.after(result.changes);
    return result.ok;
  }
}
