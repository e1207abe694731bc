import { randomBytes } from 'node:crypto';
import { signWebhook } from '@actionbridge/app-sdk';
import type { Logger } from 'pino';
import { hashToken } from '../auth/principal.js';
import type { DeliveryClient, SendResult } from '../delivery/client.js';
import { buildPayload, findComponent } from '../delivery/payload.js';
import { classify, nextDelayMs, retryAfterSeconds } from '../delivery/retry.js';
import { conflict, notFound } from '../domain/errors.js';
import type {
  Delivery,
  EntityEvent,
  EntityItem,
  ErrorOutput,
  Execution,
  ExecutionAction,
  Flow,
} from '../domain/types.js';
import type { AccessTokens } from '../keys/access-tokens.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Metrics } from '../metrics.js';
import type { SecretBox } from '../secrets/box.js';
import type { Store } from '../store/store.js';
import { newId, newUuid, nowIso } from '../util/ids.js';
import { unstorableJson } from '../util/json.js';
import { VERSION } from '../version.js';

export interface EngineOptions {
  /** Retry delays in seconds; its length is the number of attempts. */
  retrySchedule: readonly number[];
  /** Per-attempt request timeout. @default 30000 */
  deliveryTimeoutMs: number;
  /** Fallback poll interval: notifications only shorten the wait. @default 1000 */
  pollIntervalMs?: number;
  /** Deliveries in flight at once in this process. @default 32 */
  concurrency?: number;
  /** How long a `wait_for_callback` action waits for its callback. @default 86400000 (24 h) */
  callbackTimeoutMs?: number;
  /** The platform's public URL, for `callback_url`. */
  publicUrl: () => string;
  /** Encrypts delivery bodies at rest and opens secret options. */
  secrets: SecretBox;
}

/** Headers an app's component may not set: the platform owns them (SPEC §1). */
const RESERVED_HEADERS = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-epilot-token',
  'content-type',
  'content-length',
  'user-agent',
  'host',
  'connection',
  'transfer-encoding',
]);

type Outcome = { status: 'success'; outputs: Record<string, unknown> } | { status: 'failed'; error: ErrorOutput };

const TERMINAL = new Set(['success', 'failed', 'cancelled', 'skipped']);

/**
 * Turns entity events into executions and executions into deliveries, sends due deliveries, and
 * advances executions with each answer. All state lives in the store: a crash at any point loses
 * nothing, and an unfinished attempt is sent again (same `webhook-id`) once its lease runs out.
 */
export class Engine {
  private stopped = true;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private readonly inFlight = new Set<Promise<void>>();
  private loopDone: Promise<void> | undefined;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly callbackTimeoutMs: number;

  constructor(
    private readonly store: Store,
    private readonly webhookKeys: KeyRing,
    private readonly tokens: AccessTokens,
    private readonly client: DeliveryClient,
    private readonly log: Logger,
    private readonly opts: EngineOptions,
    private readonly metrics?: Metrics,
  ) {
    this.pollMs = opts.pollIntervalMs ?? 1000;
    this.concurrency = opts.concurrency ?? 32;
    this.callbackTimeoutMs = opts.callbackTimeoutMs ?? 24 * 3600 * 1000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loopDone = this.loop();
  }

  /** Stops claiming work and waits for deliveries in flight to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
  }

  /** A hint that work may be waiting; polling remains the fallback, so a lost wake costs latency only. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      try {
        await this.processEvents();
        await this.expireCallbacks();
        await this.dispatchDeliveries();
      } catch (err) {
        this.log.error({ err }, 'engine tick failed; retrying');
      }
      if (this.woken || this.stopped) continue;
      const due = await this.store.nextDeliveryDue().catch(() => undefined);
      const wait = due === undefined ? this.pollMs : Math.max(0, Math.min(this.pollMs, due - Date.now()));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async processEvents(): Promise<void> {
    for (;;) {
      const events = await this.store.claimEvents(Date.now(), 60_000, 50);
      if (events.length === 0) return;
      for (const ev of events) {
        await this.store.transaction(async (tx) => {
          await this.startFlowsFor(tx, ev);
          await tx.markEventProcessed(ev.id);
        });
      }
    }
  }

  private async startFlowsFor(tx: Store, ev: EntityEvent): Promise<void> {
    // Loop protection: a write made with an app token inside execution E never re-triggers E's flow.
    const cause = ev.caused_by_execution ? await tx.getExecution(ev.org_id, ev.caused_by_execution) : undefined;
    for (const flow of await tx.listTriggerableFlows(ev.org_id)) {
      if (cause?.flow_id === flow.id) continue;
      const hit = flow.triggers.some(
        (t) =>
          t.type === 'entity_operation' &&
          (t.configuration.schema ?? flow.entity_schema) === ev.schema &&
          (!t.configuration.operations?.length || t.configuration.operations.includes(ev.operation)) &&
          (!t.configuration.attributes?.length ||
            t.configuration.attributes.some((a) => a in ev.diff.added || a in ev.diff.updated || a in ev.diff.deleted)),
      );
      if (!hit) continue;
      const trigger: Execution['trigger'] = {
        type: 'entity_operation',
        operation: ev.operation,
        entity_id: ev.entity_id,
        diff: ev.diff,
        occurred_at: ev.occurred_at,
        event_id: ev.id,
      };
      await this.createExecution(tx, flow, ev.entity, trigger, await this.isHot(tx, flow));
    }
  }

  /**
   * Hot-flow protection (SPEC §4): a flow that fires more than its limit (default 100 times in
   * 30 s, or the flow's `max_executions`) is disabled by the system; its runs are then recorded `hot`.
   */
  private async isHot(tx: Store, flow: Flow): Promise<boolean> {
    if (!flow.enabled) return true;
    const { count, windowMs } = hotLimit(flow);
    const since = new Date(Date.now() - windowMs).toISOString();
    if ((await tx.countExecutionsSince(flow.org_id, flow.id, since)) < count) return false;
    const now = nowIso();
    flow.enabled = false;
    flow.disable_details = { disabled_at: now, disabled_by: 'system' };
    flow.updated_at = now;
    await tx.updateFlow(flow);
    this.log.warn({ flow_id: flow.id, org_id: flow.org_id, count, window_ms: windowMs }, 'hot flow disabled');
    return true;
  }

  /** Creates an execution of `flow` for `entity` and starts its first action. */
  async createExecution(
    tx: Store,
    flow: Flow,
    entity: EntityItem,
    trigger: Execution['trigger'],
    hot = false,
  ): Promise<Execution> {
    const now = nowIso();
    const exec: Execution = {
      id: newUuid(),
      org_id: flow.org_id,
      flow_id: flow.id,
      flow_name: flow.flow_name,
      entity_id: entity._id,
      execution_status: 'in_progress',
      created_at: now,
      updated_at: now,
      actions: flow.actions.map((a) => ({ ...a, flow_action_id: a.id, execution_status: 'pending' })),
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
    if (hot) {
      exec.execution_status = 'hot';
      for (const a of exec.actions) a.execution_status = 'skipped';
      await tx.insertExecution(exec);
      return exec;
    }
    await tx.insertExecution(exec);
    if (exec.actions.length === 0) exec.execution_status = 'success';
    else await this.startAction(tx, exec, 0);
    await tx.updateExecution(exec);
    this.wake();
    return exec;
  }

  /** Starts action `idx`: a delivery for a custom action, or an immediate BAD_CONFIG failure. */
  private async startAction(tx: Store, exec: Execution, idx: number): Promise<void> {
    const action = exec.actions[idx] as ExecutionAction;
    const now = nowIso();
    exec.execution_status = 'in_progress';
    action.execution_status = 'in_progress';
    action.started_at = now;
    action.updated_at = now;
    exec.current_action_id = action.id;
    const badConfig = (reason: string) =>
      this.finishAction(tx, exec, idx, { status: 'failed', error: { error_code: 'BAD_CONFIG', error_reason: reason } });

    const { app_id, component_id } = action.config;
    const inst = await tx.getInstallation(exec.org_id, app_id);
    if (!inst) return badConfig(`app ${app_id} is not installed in this org`);
    const version = await tx.getAppVersion(app_id, inst.version);
    const component = version && findComponent(version.manifest, component_id);
    if (!component?.configuration.external_integration_settings?.url) {
      return badConfig(`app ${app_id} v${inst.version} has no custom action component ${component_id}`);
    }
    if (!inst.enabled) return badConfig(`installation of app ${app_id} is disabled: required options are not all set`);

    let callback: { resume_token: string; callback_url: string } | undefined;
    if (action.config.wait_for_callback) {
      const token = `rt_${randomBytes(32).toString('base64url')}`;
      await tx.insertResumeToken({
        token_hash: hashToken(token),
        org_id: exec.org_id,
        execution_id: exec.id,
        action_id: action.id,
        deadline_ms: null,
        used: 0,
      });
      callback = {
        resume_token: token,
        callback_url: `${this.opts.publicUrl()}/v1/automation/public/executions:resume`,
      };
    }

    const delivery: Delivery = {
      ...unsent(now),
      org_id: exec.org_id,
      execution_id: exec.id,
      action_id: action.id,
      app_id,
      component_id,
      url: component.configuration.external_integration_settings.url,
      // Sealed at rest: the body carries the installation's secret options.
      request_body: this.opts.secrets.seal(
        buildPayload({
          execution: exec,
          action,
          component,
          installation: inst,
          box: this.opts.secrets,
          ...(callback ? { callback } : {}),
        }),
      ),
    };
    await tx.insertDelivery(delivery);
    action.delivery_id = delivery.id;
  }

  /** Records an action's end and moves the execution on: next action, success, or failure. */
  private async finishAction(tx: Store, exec: Execution, idx: number, outcome: Outcome): Promise<void> {
    const action = exec.actions[idx] as ExecutionAction;
    const now = nowIso();
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
      this.metrics?.executions.inc({ status: 'failed' });
      for (const rest of exec.actions.slice(idx + 1)) {
        if (!TERMINAL.has(rest.execution_status)) rest.execution_status = 'skipped';
      }
      return;
    }
    // The next action still to run (a retriggered action may have later ones that already ran).
    const next = exec.actions.findIndex((a, i) => i > idx && a.execution_status === 'pending');
    if (next !== -1) return this.startAction(tx, exec, next);
    const stopped = exec.actions.some((a) => a.execution_status === 'failed' && !a.allow_failure);
    exec.execution_status = stopped ? 'failed' : 'success';
    this.metrics?.executions.inc({ status: exec.execution_status });
  }

  /**
   * Uninstalls an app from an org. Its pending deliveries stop at once (their bodies hold the
   * installation's secret options) and their actions fail with BAD_CONFIG.
   */
  async uninstall(orgId: string, appId: string): Promise<boolean> {
    return this.store.transaction(async (tx) => {
      if (!(await tx.deleteInstallation(orgId, appId))) return false;
      const now = nowIso();
      const pending = await tx.listDeliveries(orgId, { app_id: appId, status: 'pending', from: 0, size: 10_000 });
      for (const d of pending.results) {
        if (!(await tx.updateDelivery(d.id, { status: 'cancelled', next_attempt_ms: null, updated_at: now }, true)))
          continue;
        await this.settle(tx, d, {
          status: 'failed',
          error: { error_code: 'BAD_CONFIG', error_reason: `app ${appId} was uninstalled` },
        });
      }
      return true;
    });
  }

  /** Cancels an execution: its waiting action ends `cancelled`, the rest `skipped`, pending deliveries stop. */
  async cancel(orgId: string, executionId: string): Promise<Execution> {
    return this.store.transaction(async (tx) => {
      const exec = await tx.getExecution(orgId, executionId, true);
      if (!exec) throw notFound(`execution ${executionId}`);
      if (TERMINAL.has(exec.execution_status)) throw conflict(`execution is already ${exec.execution_status}`);
      const now = nowIso();
      for (const a of exec.actions) {
        if (a.execution_status === 'in_progress' || a.execution_status === 'paused') {
          a.execution_status = 'cancelled';
          a.updated_at = now;
        } else if (a.execution_status === 'pending') {
          a.execution_status = 'skipped';
        }
      }
      exec.execution_status = 'cancelled';
      exec.updated_at = now;
      this.metrics?.executions.inc({ status: 'cancelled' });
      await tx.cancelPendingDeliveries(orgId, executionId, now);
      await tx.updateExecution(exec);
      return exec;
    });
  }

  /**
   * Runs a failed (or stuck) action again: a new delivery with a new `webhook-id`, built from the
   * execution's snapshot; the actions skipped after it run again once it succeeds.
   */
  async retrigger(orgId: string, executionId: string, actionId: string): Promise<Execution> {
    const exec = await this.store.transaction(async (tx) => {
      const exec = await tx.getExecution(orgId, executionId, true);
      if (!exec) throw notFound(`execution ${executionId}`);
      const idx = exec.actions.findIndex((a) => a.id === actionId);
      const action = exec.actions[idx];
      if (!action) throw notFound(`action ${actionId} of execution ${executionId}`);
      if (!['failed', 'in_progress', 'cancelled'].includes(action.execution_status)) {
        throw conflict(
          `action is ${action.execution_status}: only failed, stuck or cancelled actions can be retriggered`,
        );
      }
      const busy = runningOther(exec, idx);
      if (busy)
        throw conflict(`action ${busy.id} of this execution is ${busy.execution_status}: retrigger once it ends`);
      const now = nowIso();
      await tx.cancelPendingDeliveries(orgId, executionId, now, actionId);
      if (exec.execution_status === 'failed' || exec.execution_status === 'cancelled') {
        for (const rest of exec.actions.slice(idx + 1))
          if (rest.execution_status === 'skipped') rest.execution_status = 'pending';
      }
      delete action.error_output;
      delete action.outputs;
      exec.updated_at = now;
      await this.startAction(tx, exec, idx);
      await tx.updateExecution(exec);
      return exec;
    });
    this.wake();
    return exec;
  }

  /**
   * Sends a delivery's exact request again as a new delivery (new `webhook-id`). If its action has
   * not succeeded, the action waits on the replay; otherwise the replay is recorded on its own.
   */
  async replay(orgId: string, deliveryId: string): Promise<Delivery> {
    const replayed = await this.store.transaction(async (tx) => {
      const original = await tx.getDelivery(orgId, deliveryId);
      if (!original) throw notFound(`delivery ${deliveryId}`);
      const now = nowIso();
      const copy: Delivery = {
        ...original,
        ...unsent(now),
      };
      await tx.insertDelivery(copy);
      const exec = await tx.getExecution(orgId, original.execution_id, true);
      const idx = exec?.actions.findIndex((a) => a.id === original.action_id) ?? -1;
      const action = exec?.actions[idx];
      if (
        exec &&
        action &&
        ['failed', 'in_progress', 'cancelled'].includes(action.execution_status) &&
        !runningOther(exec, idx)
      ) {
        // The replayed body carries a resume token: let that one work (once) again, and only it.
        const body = this.opts.secrets.open(copy.request_body);
        const sent = (JSON.parse(body) as { data?: { resume_token?: string } }).data?.resume_token;
        if (sent) {
          await tx.revokeResumeTokens(orgId, exec.id, action.id);
          await tx.reopenResumeToken(hashToken(sent));
        }
        await tx.cancelPendingDeliveries(orgId, exec.id, now, action.id, copy.id);
        if (exec.execution_status === 'failed' || exec.execution_status === 'cancelled') {
          for (const rest of exec.actions.slice(idx + 1))
            if (rest.execution_status === 'skipped') rest.execution_status = 'pending';
        }
        action.execution_status = 'in_progress';
        action.delivery_id = copy.id;
        action.updated_at = now;
        delete action.error_output;
        exec.execution_status = 'in_progress';
        exec.current_action_id = action.id;
        exec.updated_at = now;
        await tx.updateExecution(exec);
      }
      return copy;
    });
    this.wake();
    return replayed;
  }

  private async dispatchDeliveries(): Promise<void> {
    while (!this.stopped && this.inFlight.size < this.concurrency) {
      const free = this.concurrency - this.inFlight.size;
      // The lease outlives the request timeout, so no other worker sends it while we wait.
      const batch = await this.store.claimDueDeliveries(Date.now(), this.opts.deliveryTimeoutMs + 30_000, free);
      if (batch.length === 0) return;
      for (const d of batch) {
        const p = this.attempt(d)
          .catch((err) => this.log.error({ err, delivery_id: d.id }, 'delivery attempt could not be recorded'))
          .finally(() => {
            this.inFlight.delete(p);
            this.wake();
          });
        this.inFlight.add(p);
      }
    }
  }

  /** Signs and sends one attempt of a delivery, then records it and its consequences in one transaction. */
  private async attempt(d: Delivery): Promise<void> {
    const body = this.opts.secrets.open(d.request_body);
    const attemptNo = d.attempt_count + 1;
    const startedAt = nowIso();
    const timestamp = Math.floor(Date.now() / 1000);
    const inst = await this.store.getInstallation(d.org_id, d.app_id);
    const version = inst && (await this.store.getAppVersion(d.app_id, inst.version));
    const component = version && findComponent(version.manifest, d.component_id);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(component?.configuration.external_integration_settings?.headers ?? {})) {
      if (!RESERVED_HEADERS.has(k.toLowerCase()) && typeof v === 'string') headers[k] = v;
    }
    Object.assign(headers, {
      'content-type': 'application/json',
      'user-agent': `ActionBridge/${VERSION}`,
      'webhook-id': d.webhook_id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(
        { id: d.webhook_id, timestamp, body },
        {
          ed25519: this.webhookKeys.active().map((k) => k.privateKey),
          hmac: inst?.signing_secret ? [inst.signing_secret] : [],
        },
      ),
    });
    if (version?.manifest.permissions?.length) {
      headers['x-epilot-token'] = await this.tokens.mint({
        org_id: d.org_id,
        app_id: d.app_id,
        execution_id: d.execution_id,
      });
    }

    // Per-component settings (ActionBridge extension of the manifest) win over the platform's.
    const settings = component?.configuration.external_integration_settings;
    const timeoutMs = settings?.timeout_seconds ? settings.timeout_seconds * 1000 : this.opts.deliveryTimeoutMs;
    const schedule = settings?.retry_schedule ?? this.opts.retrySchedule;
    if (timeoutMs > this.opts.deliveryTimeoutMs) {
      // The claim's lease covered the default timeout: stretch it so no other worker sends meanwhile.
      await this.store.updateDelivery(d.id, { updated_at: nowIso(), locked_until_ms: Date.now() + timeoutMs + 30_000 });
    }
    const result = await this.client.send(d.url, headers, body, timeoutMs);
    const verdict = classify(result);
    this.metrics?.attempts.inc({ verdict });
    this.metrics?.attemptSeconds.observe(result.durationMs / 1000);
    const log = this.log.child({ delivery_id: d.id, webhook_id: d.webhook_id, attempt: attemptNo });
    log.info(
      {
        status: result.kind === 'response' ? result.status : undefined,
        error: result.kind === 'error' ? result.error : undefined,
        verdict,
        ms: result.durationMs,
      },
      'delivery attempt',
    );

    await this.store.transaction(async (tx) => {
      await tx.insertAttempt({
        id: newId('att', 12),
        delivery_id: d.id,
        attempt: attemptNo,
        started_at: startedAt,
        duration_ms: result.durationMs,
        request_headers: headers['x-epilot-token'] ? { ...headers, 'x-epilot-token': '********' } : headers,
        status_code: result.kind === 'response' ? result.status : null,
        response_headers: result.kind === 'response' ? result.headers : {},
        response_body: result.kind === 'response' ? result.body : '',
        error: result.kind === 'error' ? result.error : null,
      });
      const now = nowIso();
      const common = {
        attempt_count: attemptNo,
        last_status_code: result.kind === 'response' ? result.status : null,
        last_error: result.kind === 'error' ? result.error : null,
        updated_at: now,
        locked_until_ms: 0,
      };
      const delay =
        verdict === 'retry'
          ? nextDelayMs(
              schedule,
              attemptNo,
              result.kind === 'response' ? retryAfterSeconds(result.headers['retry-after']) : undefined,
            )
          : undefined;
      if (delay !== undefined) {
        await tx.updateDelivery(d.id, { ...common, status: 'pending', next_attempt_ms: Date.now() + delay }, true);
        return;
      }
      const final = {
        ...common,
        status: verdict === 'success' ? 'succeeded' : 'failed',
        next_attempt_ms: null,
      } as const;
      // A delivery cancelled while this attempt was in flight stays cancelled; the attempt is still recorded.
      if (!(await tx.updateDelivery(d.id, final, true))) return;
      await this.settle(
        tx,
        d,
        verdict === 'success' ? { status: 'success', outputs: outputsOf(result) } : failureOf(result),
      );
    });
  }

  /** Applies a delivery's final outcome to its execution, unless the execution moved on (e.g. was cancelled). */
  private async settle(tx: Store, d: Delivery, outcome: Outcome): Promise<void> {
    const exec = await tx.getExecution(d.org_id, d.execution_id, true);
    if (!exec) return;
    const idx = exec.actions.findIndex((a) => a.id === d.action_id);
    const action = exec.actions[idx];
    if (!action || action.delivery_id !== d.id || action.execution_status !== 'in_progress') return;
    if (outcome.status === 'success' && action.config.wait_for_callback) {
      // Accepted: the action waits for its callback (or its deadline).
      const now = nowIso();
      action.execution_status = 'paused';
      action.outputs = outcome.outputs;
      action.updated_at = now;
      exec.execution_status = 'paused';
      exec.updated_at = now;
      await tx.setResumeDeadline(exec.org_id, exec.id, action.id, Date.now() + this.callbackTimeoutMs);
    } else {
      await this.finishAction(tx, exec, idx, outcome);
    }
    await tx.updateExecution(exec);
  }

  /**
   * `POST /v1/automation/public/executions:resume`: ends a waiting action with the app's result
   * (success unless it says `failed`). A token works once.
   */
  async resume(body: {
    resume_token: string;
    status?: 'success' | 'failed';
    outputs?: Record<string, unknown>;
    error_reason?: string;
  }): Promise<{ execution: Execution; resumedAction: ExecutionAction }> {
    const result = await this.store.transaction(async (tx) => {
      const token = await tx.useResumeToken(hashToken(body.resume_token), Date.now());
      if (!token) throw conflict('resume token is unknown, already used, or timed out');
      const exec = await tx.getExecution(token.org_id, token.execution_id, true);
      const idx = exec ? exec.actions.findIndex((a) => a.id === token.action_id) : -1;
      const action = exec?.actions[idx];
      if (!exec || !action) throw notFound('execution of this resume token');
      if (action.execution_status !== 'paused' && action.execution_status !== 'in_progress') {
        throw conflict(`the action is ${action.execution_status}, not waiting for a callback`);
      }
      if (action.execution_status === 'in_progress') {
        // The callback beat the app's own answer: that answer will find the action settled.
        await tx.updateDelivery(action.delivery_id ?? '', {
          status: 'succeeded',
          next_attempt_ms: null,
          updated_at: nowIso(),
        });
      }
      await this.finishAction(
        tx,
        exec,
        idx,
        body.status === 'failed'
          ? {
              status: 'failed',
              error: {
                error_code: 'CUSTOM_ACTION_ERROR',
                error_reason: body.error_reason ?? 'the app reported failure',
              },
            }
          : { status: 'success', outputs: { ...(action.outputs ?? {}), ...(body.outputs ?? {}) } },
      );
      await tx.updateExecution(exec);
      return { execution: exec, resumedAction: exec.actions[idx] as ExecutionAction };
    });
    this.wake();
    return result;
  }

  /** Fails waiting actions whose callback deadline has passed. */
  private async expireCallbacks(): Promise<void> {
    const due = await this.store.dueResumeTokens(Date.now(), 100);
    for (const t of due) {
      // Marking the token and failing its action commit together: a crash leaves neither half done.
      await this.store.transaction(async (tx) => {
        if (!(await tx.useResumeToken(t.token_hash))) return; // resumed meanwhile
        const exec = await tx.getExecution(t.org_id, t.execution_id, true);
        const idx = exec?.actions.findIndex((a) => a.id === t.action_id) ?? -1;
        if (exec?.actions[idx]?.execution_status !== 'paused' || !exec) return;
        await this.finishAction(tx, exec, idx, {
          status: 'failed',
          error: {
            error_code: 'TIMEOUT_ERROR',
            error_reason: `no callback within ${Math.round(this.callbackTimeoutMs / 1000)} s`,
          },
        });
        await tx.updateExecution(exec);
      });
    }
  }
}

/** The identity and bookkeeping of a delivery not attempted yet: a new `webhook-id`, due now. */
function unsent(now: string) {
  return {
    id: newId('dlv', 12),
    webhook_id: newId('msg'),
    status: 'pending' as const,
    attempt_count: 0,
    next_attempt_ms: Date.now(),
    last_status_code: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}

/** Another action of the execution that is still running (in flight or waiting for its callback). */
function runningOther(exec: Execution, idx: number): ExecutionAction | undefined {
  return exec.actions.find(
    (a, i) => i !== idx && (a.execution_status === 'in_progress' || a.execution_status === 'paused'),
  );
}

/** A flow's hot limit: its `max_executions` ({count, window: ISO 8601 duration}) or 100 in 30 s. */
export function hotLimit(flow: Flow): { count: number; windowMs: number } {
  const max = flow.max_executions as { count?: unknown; window?: unknown } | undefined;
  const count = typeof max?.count === 'number' && max.count >= 1 ? max.count : 100;
  const m =
    typeof max?.window === 'string'
      ? /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(max.window)
      : null;
  const [d, h, min, sec] = [m?.[1], m?.[2], m?.[3], m?.[4]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  const windowMs = (((d * 24 + h) * 60 + min) * 60 + sec) * 1000;
  return { count, windowMs: windowMs > 0 ? windowMs : 30_000 };
}

function outputsOf(result: SendResult): Record<string, unknown> {
  if (result.kind !== 'response' || result.truncated || !result.body) return {};
  try {
    const parsed: unknown = JSON.parse(result.body);
    // Too deep or holding NUL: the app's answer cannot be stored as outputs (its raw text is kept).
    if (unstorableJson(parsed)) return {};
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    // A 2xx with a body that is not JSON still succeeds; it just has no outputs.
    return {};
  }
}

function failureOf(result: SendResult): Outcome {
  if (result.kind === 'error') {
    const code = result.denied ? 'BAD_CONFIG' : result.timeout ? 'TIMEOUT_ERROR' : 'CUSTOM_ACTION_ERROR';
    return { status: 'failed', error: { error_code: code, error_reason: result.error } };
  }
  let reason = `HTTP ${result.status}`;
  try {
    const body = JSON.parse(result.body) as Record<string, unknown>;
    const nested = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>).message : undefined);
    const r = [body.error_reason, body.message, body.error, nested(body.error)].find((x) => typeof x === 'string' && x);
    if (typeof r === 'string') reason = r.slice(0, 2000).replaceAll('\u0000', '\uFFFD');
  } catch {
    // not JSON: the status says it all
  }
  return { status: 'failed', error: { error_code: 'CUSTOM_ACTION_ERROR', error_reason: reason } };
}
