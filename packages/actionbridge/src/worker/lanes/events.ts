import type { Execution, Flow } from '../../domain/types.js';
import { Catalog, Changes, carryOut } from '../../executions/dispatch.js';
import { countRun, hotLimit } from '../../executions/hot.js';
import { createExecution } from '../../executions/state.js';
import { fires, triggerable } from '../../executions/triggers.js';
import { type ClaimedEvent, claimEvents } from '../../store/queue/claimEvents.js';
import { failEvent, markEventsProcessed } from '../../store/queue/finishEvents.js';
import type { CountedFlow, Store } from '../../store/store.js';
import { newUuid } from '../../util/ids.js';
import { countFinished, type WorkerContext, writeChanges } from '../context.js';

/** Events per claim, and at most this many of one org's per claim (fair rounds across orgs). */
const BATCH = 64;
const PER_ORG = 16;
/** An event whose processing fails is tried this many times, with backoff, then marked dead. */
export const EVENT_MAX_TRIES = 5;
const backoffMs = (tries: number) => Math.min(60_000, 1000 * 2 ** (tries - 1));

interface Planned {
  ev: ClaimedEvent;
  executions: Execution[];
  changes: Changes;
}

/**
 * The event lane: claims a batch of entity events fairly across orgs, finds the flows each one
 * triggers through the trigger index, creates their executions and first deliveries, and commits
 * the whole batch at once. A failure belongs to its event: it is recorded on it and retried with
 * backoff, and after EVENT_MAX_TRIES the event is dead; the rest of the batch commits.
 */
export class EventLane {
  /** Events claimed and not yet committed (their leases are renewed by the heartbeat). */
  readonly inHand = new Set<string>();
  /** When the last claim looked (events whose backoff ends after it are what the lane sleeps until). */
  lastClaimAt = 0;

  constructor(private readonly ctx: WorkerContext) {}

  async tick(): Promise<boolean> {
    const { store, owner, leaseMs } = this.ctx;
    this.lastClaimAt = Date.now();
    const events = await claimEvents(store.q, { now: this.lastClaimAt, leaseMs, owner, limit: BATCH, perOrg: PER_ORG });
    if (events.length === 0) return false;
    for (const ev of events) this.inHand.add(ev.id);
    try {
      await this.process(events);
    } finally {
      for (const ev of events) this.inHand.delete(ev.id);
    }
    // More may wait when the batch was full, or when an org used its whole share of it.
    const perOrg = new Map<string, number>();
    for (const ev of events) perOrg.set(ev.org_id, (perOrg.get(ev.org_id) ?? 0) + 1);
    return events.length === BATCH || [...perOrg.values()].some((n) => n >= PER_ORG);
  }

  private async process(events: ClaimedEvent[]): Promise<void> {
    const { store } = this.ctx;
    const keys = new Map(events.map((e) => [`${e.org_id}\u0000${e.schema}`, { org_id: e.org_id, schema: e.schema }]));
    const flows = await store.flowsTriggeredBy([...keys.values()]);
    const causes = await store.flowsOfExecutions(
      events.flatMap((e) => (e.caused_by_execution ? [e.caused_by_execution] : [])),
    );
    const catalog = new Catalog(store);
    const touched = new Map<string, CountedFlow>();
    const planned: Planned[] = [];
    const failed: Array<{ ev: ClaimedEvent; err: unknown }> = [];
    for (const ev of events) {
      try {
        planned.push(await this.plan(ev, flows, causes, catalog, touched));
      } catch (err) {
        failed.push({ ev, err });
      }
    }
    try {
      await store.transaction(async (tx) => {
        for (const p of planned) await this.write(tx, p);
        await this.writeFlows(tx, touched);
        await markEventsProcessed(
          tx.q,
          planned.map((p) => p.ev.id),
        );
        for (const f of failed) await this.fail(tx, f.ev, f.err);
      });
    } catch (batchErr) {
      // One item's rows broke the batch: write each event on its own, so only that one fails.
      this.ctx.log.warn({ err: batchErr, events: events.length }, 'event batch failed; writing events one by one');
      for (const p of planned) {
        try {
          await store.transaction(async (tx) => {
            await this.write(tx, p);
            await this.writeFlows(tx, touched);
            await markEventsProcessed(tx.q, [p.ev.id]);
          });
        } catch (err) {
          failed.push({ ev: p.ev, err });
          p.changes.finished.length = 0;
        }
      }
      for (const f of failed) await store.transaction((tx) => this.fail(tx, f.ev, f.err));
    }
    let sent = false;
    for (const p of planned) {
      countFinished(this.ctx, p.changes);
      if (p.changes.deliveries.length) sent = true;
    }
    if (sent) this.ctx.wake.deliveries();
  }

  private async plan(
    ev: ClaimedEvent,
    flows: CountedFlow[],
    causes: Map<string, string>,
    catalog: Catalog,
    touched: Map<string, CountedFlow>,
  ): Promise<Planned> {
    if (ev.unreadable) throw new Error(ev.unreadable);
    const out: Planned = { ev, executions: [], changes: new Changes() };
    // Loop protection: a write made with an app token inside execution E never re-triggers E's flow.
    const causeFlow = ev.caused_by_execution ? causes.get(ev.caused_by_execution) : undefined;
    for (const counted of flows) {
      const { flow } = counted;
      if (flow.org_id !== ev.org_id || flow.id === causeFlow || !triggerable(flow) || !fires(flow, ev)) continue;
      const now = this.ctx.dispatch.now();
      const hot = this.isHot(counted, now.ms, now.iso);
      touched.set(flow.id, counted);
      const { exec, effects } = createExecution({
        id: newUuid(),
        flow,
        entity: ev.entity,
        trigger: {
          type: 'entity_operation',
          operation: ev.operation,
          entity_id: ev.entity_id,
          diff: ev.diff,
          occurred_at: ev.occurred_at,
          event_id: ev.id,
        },
        hot,
        now: now.iso,
      });
      await carryOut(exec, effects, catalog, out.changes, this.ctx.dispatch);
      out.executions.push(exec);
    }
    return out;
  }

  /**
   * Hot-flow protection (SPEC §4): a flow that fires more than its limit (default 100 times in
   * 30 s, or its `max_executions`) is disabled by the system; its runs are then recorded `hot`.
   * O(1) per event: a counter on the flow, not a count of its executions.
   */
  private isHot(counted: CountedFlow, nowMs: number, nowIso: string): boolean {
    const { flow } = counted;
    if (!flow.enabled) return true;
    const limit = hotLimit(flow);
    const { counter, hot } = countRun(counted.hot, limit, nowMs);
    counted.hot = counter;
    if (!hot) return false;
    flow.enabled = false;
    flow.disable_details = { disabled_at: nowIso, disabled_by: 'system' };
    flow.updated_at = nowIso;
    (counted as CountedFlow & { disabled?: boolean }).disabled = true;
    this.ctx.log.warn(
      { flow_id: flow.id, org_id: flow.org_id, count: limit.count, window_ms: limit.windowMs },
      'hot flow disabled',
    );
    return true;
  }

  private async write(tx: Store, p: Planned): Promise<void> {
    await tx.insertExecutions(p.executions);
    await writeChanges(tx, this.ctx, [], p.changes, Date.now());
  }

  private async writeFlows(tx: Store, touched: Map<string, CountedFlow>): Promise<void> {
    for (const counted of touched.values()) {
      const flow: Flow = counted.flow;
      if ((counted as CountedFlow & { disabled?: boolean }).disabled) await tx.setFlowData(flow);
      await tx.setHotCounter(flow.org_id, flow.id, counted.hot);
    }
  }

  private async fail(tx: Store, ev: ClaimedEvent, err: unknown): Promise<void> {
    const attempts = ev.attempts + 1;
    const dead = attempts >= EVENT_MAX_TRIES;
    const error = err instanceof Error ? err.message : String(err);
    this.ctx.log.error({ err, event_id: ev.id, org_id: ev.org_id, attempts, dead }, 'event processing failed');
    await failEvent(tx.q, { id: ev.id, attempts, error, retryAtMs: dead ? null : Date.now() + backoffMs(attempts) });
  }
}
