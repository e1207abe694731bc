import type { EntityEvent, Execution, Flow } from '../../domain/types.js';
import { Catalog, Changes, carryOut } from '../../executions/dispatch.js';
import { countRun, hotLimit } from '../../executions/hot.js';
import { createExecution } from '../../executions/state.js';
import { fires, triggerable } from '../../executions/triggers.js';
import type { EventState } from '../../store/events.js';
import { type ClaimedEvent, claimEvents } from '../../store/queue/claimEvents.js';
import { failEvent, markEventsProcessed } from '../../store/queue/finishEvents.js';
import { nextEventDue } from '../../store/queue/nextDue.js';
import type { CountedFlow, Store } from '../../store/store.js';
import { newUuid } from '../../util/ids.js';
import { type Adopted, countFinished, transact, type WorkerContext, writeChanges } from '../context.js';

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

interface Plan {
  planned: Planned[];
  failed: Array<{ ev: ClaimedEvent; err: unknown }>;
  touched: Map<string, CountedFlow>;
}

/** Events handed over in memory and not yet taken, at most (beyond, they wait for a claim). */
const MAX_OFFERED = 8192;

/**
 * The event lane: takes batches of entity events fairly across orgs, finds the flows each one
 * triggers through the trigger index, creates their executions and first deliveries, and commits
 * the whole batch at once. A failure belongs to its event: it is recorded on it and retried with
 * backoff, and after EVENT_MAX_TRIES the event is dead; the rest of the batch commits.
 *
 * Most events never reach the lane: this process's API writes carry theirs out in their own
 * transaction ({@link inline}). The lane takes the rest. Events such a transaction could not carry
 * out are handed over in memory ({@link offer}): taken round by round across orgs, with no claim
 * query and no read of their rows. Everything else — events of API-only processes, events due again
 * after a backoff, a backlog left by a restart or by more offers than {@link MAX_OFFERED} — is
 * claimed from the store (a scan), when the lane is woken from outside or its timer fires. Every
 * way, the transaction that writes an event's executions marks it processed only if it still is
 * pending, so each event is carried out once even when two processes hold it.
 */
export class EventLane {
  /** Events claimed and not yet committed (their leases are renewed by the heartbeat). */
  readonly inHand = new Set<string>();
  /** When the last claim looked (events whose backoff ends after it are what the lane sleeps until). */
  lastClaimAt = 0;
  /** Events handed over in memory, by org, oldest first. */
  private readonly offered = new Map<string, EntityEvent[]>();
  private offeredCount = 0;
  /** The store may hold events the lane was not handed: claim from it on the next tick. */
  private scanWanted = true;
  /** The cached {@link nextDue}; `null` when it must be read again. */
  private due: number | undefined | null = null;

  constructor(private readonly ctx: WorkerContext) {}

  /** An event this process committed: processed from memory. */
  offer(ev: EntityEvent): void {
    if (this.offeredCount >= MAX_OFFERED) {
      this.scanWanted = true;
      return;
    }
    const list = this.offered.get(ev.org_id);
    if (list) list.push(ev);
    else this.offered.set(ev.org_id, [ev]);
    this.offeredCount++;
  }

  /** Work may wait in the store (a notification, a timer, a restart): the next tick claims from it. */
  requestScan(): void {
    this.scanWanted = true;
    this.due = null;
  }

  /**
   * When the lane next has work in the store (events of other processes' leases, or due again
   * after a backoff), read again only after a claim, a failure or a notification: events handed
   * over in memory do not change it.
   */
  async nextDue(): Promise<number | undefined> {
    if (this.due === null) this.due = await nextEventDue(this.ctx.store.q, this.ctx.owner, this.lastClaimAt);
    return this.due;
  }

  async tick(): Promise<boolean> {
    if (this.offeredCount > 0) {
      await this.process(this.takeOffered());
      return this.offeredCount > 0 || this.scanWanted;
    }
    if (!this.scanWanted) return false;
    this.scanWanted = false;
    this.due = null;
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
    const more = events.length === BATCH || [...perOrg.values()].some((n) => n >= PER_ORG);
    if (more) this.scanWanted = true;
    return more;
  }

  /** A batch of offered events: round by round across orgs (each org's oldest, then its second, …), at most PER_ORG of one org's. */
  private takeOffered(): ClaimedEvent[] {
    const batch: ClaimedEvent[] = [];
    const served: string[] = [];
    for (let round = 0; round < PER_ORG && batch.length < BATCH && this.offeredCount > 0; round++) {
      for (const [org, list] of this.offered) {
        const ev = list.shift();
        if (ev) {
          batch.push({ ...ev, attempts: 0 });
          this.offeredCount--;
          if (round === 0) served.push(org);
        }
        if (list.length === 0) this.offered.delete(org);
        if (batch.length >= BATCH) break;
      }
    }
    // The orgs served go to the back: the next batch starts with the others.
    for (const org of served) {
      const list = this.offered.get(org);
      if (!list) continue;
      this.offered.delete(org);
      this.offered.set(org, list);
    }
    return batch;
  }

  /** Plans a batch's executions, reading flows and installations through `read`. */
  private async planAll(events: ClaimedEvent[], read: Store): Promise<Plan> {
    const keys = new Map(events.map((e) => [`${e.org_id}\u0000${e.schema}`, { org_id: e.org_id, schema: e.schema }]));
    const flows = await read.flowsTriggeredBy([...keys.values()]);
    const causes = await read.flowsOfExecutions(
      events.flatMap((e) => (e.caused_by_execution ? [e.caused_by_execution] : [])),
    );
    const catalog = new Catalog(read);
    const plan: Plan = { planned: [], failed: [], touched: new Map() };
    for (const ev of events) {
      try {
        plan.planned.push(await this.plan(ev, flows, causes, catalog, plan.touched));
      } catch (err) {
        plan.failed.push({ ev, err });
      }
    }
    return plan;
  }

  /** Plans a batch's executions, then writes them in one transaction. */
  private async process(events: ClaimedEvent[]): Promise<void> {
    const { store } = this.ctx;
    const { planned, failed, touched } = await this.planAll(events, store);
    try {
      const written = await transact(this.ctx, (tx, held) => this.write(tx, planned, touched, failed, held));
      this.after(written);
    } catch (batchErr) {
      // One item's rows broke the batch: write each event on its own, so only that one fails.
      this.ctx.log.warn({ err: batchErr, events: events.length }, 'event batch failed; writing events one by one');
      const alone: Array<{ ev: ClaimedEvent; err: unknown }> = [];
      for (const p of planned) {
        try {
          this.after(await transact(this.ctx, (tx, held) => this.write(tx, [p], touched, [], held)));
        } catch (err) {
          alone.push({ ev: p.ev, err });
        }
      }
      for (const f of [...failed, ...alone]) await store.transaction((tx) => this.fail(tx, f.ev, f.err));
    }
  }

  /**
   * Carries out events in the transaction that writes them (the API's): their executions and first
   * deliveries commit with the entity, and the deliveries this process can send go out at once
   * (`held`, launched by the caller after the commit). The events are written here, already
   * processed, in one statement: no claim, no second transaction, no event row read back or
   * rewritten. Measured on the end-to-end bench: the event lane's own batch cost a commit, a claim
   * or hand-over, and a rewrite of each event row; writing each event pending with its write and
   * marking the batch processed here was 15 % of all SQL time. An event whose planning fails is
   * written as failed once (retried by the lane with backoff, like any other). The caller runs this
   * in a savepoint and, if it throws, writes the events pending itself and hands them to the lane.
   */
  async inline(tx: Store, events: readonly EntityEvent[], held: Adopted[]): Promise<() => void> {
    const { planned, failed, touched } = await this.planAll(
      events.map((ev) => ({ ...ev, attempts: 0 })),
      tx,
    );
    await tx.insertEvents([
      ...planned.map((p) => ({ ev: p.ev, state: { status: 'processed' } as const })),
      ...failed.map((f) => ({ ev: f.ev, state: this.failure(f.ev, f.err) })),
    ]);
    // PostgreSQL: the flows' hot counters are written after the commit. In the API's transaction the
    // flow's row lock was held with the entities' until the commit, so every write of a flow waited
    // for the others, and two processes' batches deadlocked (entity, then flow, against flow, then
    // entity). The counters are approximate across processes anyway (see `isHot`).
    const deferFlows = tx.dialect === 'postgres';
    const written = await this.write(tx, planned, touched, [], held, !deferFlows, false);
    return () => {
      this.after(written);
      if (deferFlows && touched.size) {
        this.ctx.store
          .transaction((t) => this.writeFlows(t, touched))
          .catch((err: unknown) => this.ctx.log.warn({ err }, 'recording hot-flow counters failed'));
      }
      // A failed event is due again after its backoff: the lane reads when, and sleeps until then.
      if (failed.length) this.ctx.wake.events();
    };
  }

  /**
   * Writes planned events in the caller's transaction: each one still pending is marked processed
   * and its executions and first deliveries are written (all the batch's in one statement each).
   * `claimed: false`: the events are new, written processed by the caller (see {@link inline}).
   */
  private async write(
    tx: Store,
    planned: Planned[],
    touched: Map<string, CountedFlow>,
    failed: Array<{ ev: ClaimedEvent; err: unknown }>,
    held: Adopted[],
    flows = true,
    claimed = true,
  ): Promise<Planned[]> {
    let mine = planned;
    if (claimed) {
      const taken = await markEventsProcessed(
        tx.q,
        planned.map((p) => p.ev.id),
      );
      mine = planned.filter((p) => taken.has(p.ev.id));
    }
    const changes = new Changes();
    for (const p of mine) changes.absorb(p.changes);
    await tx.insertExecutions(mine.flatMap((p) => p.executions));
    await writeChanges(tx, this.ctx, [], changes, Date.now(), held);
    if (flows) await this.writeFlows(tx, touched);
    for (const f of failed) await this.fail(tx, f.ev, f.err);
    return mine;
  }

  private after(written: Planned[]): void {
    for (const p of written) countFinished(this.ctx, p.changes);
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
          ...(ev.activity_id ? { activity_id: ev.activity_id } : {}),
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

  private async writeFlows(tx: Store, touched: Map<string, CountedFlow>): Promise<void> {
    for (const counted of touched.values()) {
      const flow: Flow = counted.flow;
      if ((counted as CountedFlow & { disabled?: boolean }).disabled) await tx.setFlowData(flow);
      await tx.setHotCounter(flow.org_id, flow.id, counted.hot);
    }
  }

  private async fail(tx: Store, ev: ClaimedEvent, err: unknown): Promise<void> {
    const { attempts, error, retryAtMs } = this.failure(ev, err);
    await failEvent(tx.q, { id: ev.id, attempts, error, retryAtMs });
  }

  /** What a failed try of an event leaves: its count, its error, and when it is tried again (`null`: dead). */
  private failure(ev: ClaimedEvent, err: unknown): EventState & { status: 'failed' } {
    const attempts = ev.attempts + 1;
    const dead = attempts >= EVENT_MAX_TRIES;
    const error = err instanceof Error ? err.message : String(err);
    this.due = null;
    this.ctx.log.error({ err, event_id: ev.id, org_id: ev.org_id, attempts, dead }, 'event processing failed');
    return { status: 'failed', attempts, error, retryAtMs: dead ? null : Date.now() + backoffMs(attempts) };
  }
}
