import { type Judged, judge, unsendable } from '../../delivery/attempt.js';
import { attemptHeaders, loggedHeaders } from '../../delivery/headers.js';
import type { Delivery, DeliveryAttempt, Execution } from '../../domain/types.js';
import { Catalog, Changes, carryOut } from '../../executions/dispatch.js';
import { settle } from '../../executions/state.js';
import { type ClaimCaps, claimDeliveries } from '../../store/queue/claimDeliveries.js';
import { finishAttempt, finishAttempts } from '../../store/queue/finishAttempts.js';
import { leaseDeliveries } from '../../store/queue/leaseDeliveries.js';
import { nextDeliveryDue } from '../../store/queue/nextDue.js';
import { startAttempts } from '../../store/queue/startAttempts.js';
import type { Store } from '../../store/store.js';
import { newId } from '../../util/ids.js';
import { type Adopted, countFinished, transact, type WorkerContext, writeChanges } from '../context.js';
import type { Slots } from '../slots.js';

function reachedCap(claimed: Delivery[], caps: ClaimCaps): boolean {
  const byOrg = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  for (const d of claimed) {
    byOrg.set(d.org_id, (byOrg.get(d.org_id) ?? 0) + 1);
    byOrigin.set(d.origin, (byOrigin.get(d.origin) ?? 0) + 1);
  }
  for (const [org, n] of byOrg) if (n >= (caps.orgFree.get(org) ?? caps.orgCap)) return true;
  for (const [origin, n] of byOrigin) if (n >= (caps.originFree.get(origin) ?? caps.originCap)) return true;
  return false;
}

/** An org or origin already at its cap: its due work waits for one of its requests to end. */
function anyFull(caps: ClaimCaps): boolean {
  for (const n of caps.orgFree.values()) if (n <= 0) return true;
  for (const n of caps.originFree.values()) if (n <= 0) return true;
  return false;
}

/** New deliveries kept in memory while their org or origin is full, at most (beyond, they wait for a claim). */
const MAX_PARKED = 4096;

/**
 * While a backlog waits in the store on its caps, claims are spaced at least this far apart, so
 * that each takes every slot freed meanwhile. Measured on a 12,000-write run at one endpoint (more
 * than MAX_PARKED waiting): a claim per freed slot made 18,000 claims of ~0.4 ms, and the engine
 * fell from ~1,700 to ~600 deliveries/s.
 */
const BACKLOG_CLAIM_GAP_MS = 5;

interface InFlight {
  d: Delivery;
  attemptId: string;
  abort: AbortController;
}

interface Prepared {
  d: Delivery;
  attempt: DeliveryAttempt;
  body?: string;
  headers?: Record<string, string>;
  /** Why it cannot be sent. */
  error?: string;
}

interface Done {
  d: Delivery;
  attemptId: string;
  judged: Judged;
  /** Cut off by shutdown before its answer: handed back, due again at once. */
  handedBack?: boolean;
}

/**
 * The delivery lane, in three phases (as Svix's worker): take due deliveries within the free slots
 * and record their attempts as started; send each one with no transaction open; buffer the answers
 * and record a batch of them with their executions' transitions (one transaction). Sends run
 * concurrently up to the process's slots, fairly per org and per origin.
 *
 * Deliveries are taken three ways. New ones are adopted in the transaction that creates them
 * ({@link adopt}) when their org and origin have a free slot, else parked in memory and taken, as
 * slots free, in the transaction that records the answers that freed them ({@link takeParked}).
 * Everything else (retries coming due, replays, other processes' work, a restart's backlog) is
 * claimed from the store when the lane is told the store may hold some ({@link requestScan}).
 */
export class DeliveryLane {
  readonly inFlight = new Map<string, InFlight>();
  private done: Done[] = [];
  /**
   * When the last claim looked: work due by then and left unclaimed waits on a cap (a freed slot
   * wakes the lane); work falling due after it is what the lane sleeps until.
   */
  lastClaimAt = 0;
  /** Due work waits in the store on a cap or on the free slots: a freed slot calls for a claim. */
  private starved = false;
  /** The last claim left work in the store that did not fit (see BACKLOG_CLAIM_GAP_MS), and when it ran. */
  private backlogged = false;
  private claimedAt = 0;
  private gapTimer: NodeJS.Timeout | undefined;
  /** The store may hold work the lane was not handed: claim from it on the next tick. */
  private scanWanted = true;
  /** The cached {@link nextDue}; `null` when it must be read again. */
  private due: number | undefined | null = null;
  /**
   * New deliveries created here while their org or origin was full, by (org, origin), oldest first:
   * taken, as slots free, in the transaction that records the answers that freed them.
   */
  private readonly parked = new Map<string, Array<{ d: Delivery; body: string | undefined }>>();
  private parkedCount = 0;
  private flushing: Promise<void> | undefined;
  /** Shutting down: new deliveries are left to the store (another process, or the next start). */
  private closing = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly slots: Slots,
  ) {}

  /** Work may wait in the store (a notification, a timer, a restart): the next tick claims from it. */
  requestScan(): void {
    this.scanWanted = true;
    this.due = null;
  }

  /**
   * When the lane next has work in the store (see `nextDeliveryDue`), read again only after the
   * lane looked at the store or was told it changed: between those, fresh work is handed over in
   * memory and the retries this process schedules are noted here. (Measured: the query cost
   * 125–375 µs, and ran after every burst of answers.)
   */
  async nextDue(): Promise<number | undefined> {
    if (this.due === null) this.due = await nextDeliveryDue(this.ctx.store.q, this.ctx.owner, this.lastClaimAt);
    return this.due;
  }

  /** Work this process left in the store falls due at `ms`. */
  private noteDue(ms: number): void {
    if (this.due !== null) this.due = this.due === undefined ? ms : Math.min(this.due, ms);
  }

  async tick(): Promise<boolean> {
    if (!this.scanWanted) return false;
    // From the last claim itself: `lastClaimAt` also moves when new work is parked.
    const sinceClaim = Date.now() - this.claimedAt;
    if (this.backlogged && sinceClaim < BACKLOG_CLAIM_GAP_MS) {
      // The scan stays wanted: the lane is woken once the gap has passed.
      this.gapTimer ??= setTimeout(() => {
        this.gapTimer = undefined;
        this.ctx.wake.deliveries();
      }, BACKLOG_CLAIM_GAP_MS - sinceClaim);
      this.gapTimer.unref();
      return false;
    }
    this.scanWanted = false;
    this.due = null;
    const caps = this.slots.caps();
    if (caps.limit <= 0) {
      this.lastClaimAt = Date.now();
      this.starved = true;
      return false;
    }
    const { store, owner, leaseMs } = this.ctx;
    const nowMs = Date.now();
    this.lastClaimAt = nowMs;
    // The claim is its own statement (most claims find nothing: no transaction for them); the
    // attempts are written before any request leaves. A crash in between sends nothing: the lease
    // lapses and the delivery is claimed again.
    this.claimedAt = nowMs;
    const claimed = await claimDeliveries(store.q, { now: nowMs, leaseMs, owner, ...caps });
    this.starved = claimed.length === caps.limit || reachedCap(claimed, caps) || anyFull(caps);
    this.backlogged = this.starved;
    if (claimed.length === 0) return false;
    const prepared: Prepared[] = [];
    for (const d of claimed) {
      this.slots.take(d.org_id, d.origin);
      prepared.push(await this.prepare(d, undefined, nowMs));
    }
    try {
      await store.transaction((tx) =>
        startAttempts(
          tx.q,
          prepared.map((p) => p.attempt),
          claimed.filter((d) => d.attempt_count > 1).map((d) => d.id),
        ),
      );
    } catch (err) {
      // Nothing was sent: the slots go back, and the leases lapse so the deliveries are claimed again.
      for (const p of prepared) this.slots.release(p.d.org_id, p.d.origin);
      throw err;
    }
    for (const p of prepared) this.launch(p);
    // Claim again at once only when this claim filled the free slots or an org's or origin's share
    // of them; what waits on a full origin or org is claimed when one of its slots frees (`starved`
    // makes that wake the lane). Returning `starved` here instead spun while an origin was full.
    const more = claimed.length === caps.limit || reachedCap(claimed, caps);
    if (more) this.scanWanted = true;
    return more;
  }

  /**
   * An attempt about to be made, its slot already taken: its log row (`in_flight`) and the signed
   * request. A body or secret that cannot be opened makes an unsendable attempt: its action fails
   * (`BAD_CONFIG`), never the batch.
   */
  private async prepare(d: Delivery, clearBody: string | undefined, nowMs: number): Promise<Prepared> {
    const attempt: DeliveryAttempt = {
      id: newId('att', 12),
      delivery_id: d.id,
      attempt: d.attempt_count,
      started_at: new Date(nowMs).toISOString(),
      duration_ms: 0,
      request_headers: {},
      status_code: null,
      response_headers: {},
      response_body: '',
      error: null,
      outcome: 'in_flight',
    };
    try {
      const body = clearBody ?? this.ctx.signer.secrets.open(d.request_body);
      const headers = await attemptHeaders(d, body, this.ctx.signer, nowMs);
      attempt.request_headers = loggedHeaders(headers);
      return { d, attempt, body, headers };
    } catch (err) {
      return { d, attempt, error: `the delivery cannot be signed: ${(err as Error).message}` };
    }
  }

  /**
   * New deliveries handed over in the transaction that creates them: those due now whose org and
   * origin have a free slot are leased to this process and their first attempts signed; the
   * transaction records them, and they are sent as soon as it commits. The rest wait in the store
   * for a claim. Measured on the end-to-end bench: the claim query cost 400–800 µs a claim, and its
   * attempt transaction a commit of its own.
   */
  async adopt(changes: Changes, nowMs: number): Promise<Adopted> {
    const untilMs = nowMs + this.ctx.leaseMs;
    const picked: Prepared[] = [];
    let left = false;
    for (const d of changes.deliveries) {
      if (this.closing || d.next_attempt_ms === null || d.next_attempt_ms > nowMs) {
        left = true;
        if (d.next_attempt_ms !== null) this.noteDue(d.next_attempt_ms);
        continue;
      }
      if (!this.slots.tryTake(d.org_id, d.origin)) {
        this.park(d, changes.bodies.get(d.id), nowMs);
        continue;
      }
      d.attempt_count += 1;
      picked.push(await this.prepare(d, changes.bodies.get(d.id), nowMs));
    }
    const lane = this;
    return {
      ids: new Set(picked.map((p) => p.d.id)),
      untilMs,
      attempts: picked.map((p) => p.attempt),
      launch() {
        for (const p of picked) lane.launch(p);
        // What was left waits for its time (or for another process, when shutting down): the
        // lane sleeps until it is due.
        if (left) lane.ctx.wake.deliveries();
      },
      abandon() {
        for (const p of picked) {
          p.d.attempt_count -= 1;
          lane.slots.release(p.d.org_id, p.d.origin);
        }
      },
    };
  }

  /** A new delivery that is due while its org or origin is full: kept in memory (bounded), else left to a claim. */
  private park(d: Delivery, body: string | undefined, nowMs: number): void {
    // What was due by now and is not taken waits on a cap: the lane need not wake for it.
    this.lastClaimAt = Math.max(this.lastClaimAt, nowMs);
    if (this.parkedCount >= MAX_PARKED) {
      this.starved = true;
      return;
    }
    const key = `${d.org_id}\u0000${d.origin}`;
    const list = this.parked.get(key);
    if (list) list.push({ d, body });
    else this.parked.set(key, [{ d, body }]);
    this.parkedCount++;
  }

  /**
   * Parked deliveries that fit the slots freed meanwhile, pair by pair: leased to this process in
   * the caller's transaction (unless another process or a claim took them), their attempts started;
   * sent once it commits.
   */
  private async takeParked(tx: Store, nowMs: number, held: Adopted[]): Promise<void> {
    if (this.parkedCount === 0 || this.closing) return;
    const picked: Array<{ d: Delivery; body: string | undefined }> = [];
    const served: string[] = [];
    for (const [key, list] of this.parked) {
      let took = false;
      for (let next = list[0]; next && this.slots.tryTake(next.d.org_id, next.d.origin); next = list[0]) {
        picked.push(next);
        list.shift();
        this.parkedCount--;
        took = true;
      }
      if (list.length === 0) this.parked.delete(key);
      else if (took) served.push(key);
    }
    // Pairs served go to the back: the next freed slots go to the others first.
    for (const key of served) {
      const list = this.parked.get(key);
      if (!list) continue;
      this.parked.delete(key);
      this.parked.set(key, list);
    }
    if (picked.length === 0) return;
    const untilMs = nowMs + this.ctx.leaseMs;
    const leased = await leaseDeliveries(
      tx.q,
      picked.map((p) => p.d.id),
      { now: nowMs, untilMs, owner: this.ctx.owner },
    );
    const prepared: Prepared[] = [];
    for (const p of picked) {
      if (!leased.has(p.d.id)) {
        this.slots.release(p.d.org_id, p.d.origin);
        continue;
      }
      p.d.attempt_count += 1;
      prepared.push(await this.prepare(p.d, p.body, nowMs));
    }
    await startAttempts(
      tx.q,
      prepared.map((p) => p.attempt),
      [],
    );
    const lane = this;
    held.push({
      ids: leased,
      untilMs,
      attempts: prepared.map((p) => p.attempt),
      launch() {
        for (const p of prepared) lane.launch(p);
      },
      abandon() {
        // Not recorded: they are pending in the store, for a claim.
        for (const p of prepared) {
          p.d.attempt_count -= 1;
          lane.slots.release(p.d.org_id, p.d.origin);
        }
        lane.scanWanted = true;
        lane.ctx.wake.deliveries();
      },
    });
  }

  /** Sends a prepared attempt (its slot taken), with no transaction open; its answer is buffered. */
  private launch(p: Prepared): void {
    const { d, attempt } = p;
    if (p.error !== undefined || p.body === undefined || p.headers === undefined) {
      this.slots.release(d.org_id, d.origin);
      this.complete({ d, attemptId: attempt.id, judged: unsendable(d, p.error ?? 'unsendable') });
      return;
    }
    const abort = new AbortController();
    this.inFlight.set(d.id, { d, attemptId: attempt.id, abort });
    const timeoutMs = d.timeout_ms ?? this.ctx.deliveryTimeoutMs;
    void this.ctx.client.send(d.url, p.headers, p.body, timeoutMs, abort.signal).then((result) => {
      this.inFlight.delete(d.id);
      this.slots.release(d.org_id, d.origin);
      const { metrics, log } = this.ctx;
      if (abort.signal.aborted) {
        this.complete({ d, attemptId: attempt.id, judged: judge(d, result, [], Date.now()), handedBack: true });
      } else {
        const judged = judge(d, result, d.retry_schedule ?? this.ctx.retrySchedule, Date.now());
        metrics?.attempts.inc({ verdict: judged.verdict });
        metrics?.attemptSeconds.observe(result.durationMs / 1000);
        // Successes are in the attempt log; the process log keeps what needs attention.
        log[judged.verdict === 'success' ? 'debug' : 'info'](
          {
            delivery_id: d.id,
            webhook_id: d.webhook_id,
            attempt: d.attempt_count,
            status: judged.result.status_code ?? undefined,
            error: judged.result.error ?? undefined,
            verdict: judged.verdict,
            ms: result.durationMs,
          },
          'delivery attempt',
        );
        this.complete({ d, attemptId: attempt.id, judged });
      }
      // A slot is free: parked work takes it when this answer is recorded; work held back in the
      // store by a cap may now be claimed.
      if (this.starved) {
        this.starved = false;
        this.scanWanted = true;
        this.ctx.wake.deliveries();
      }
    });
  }

  private complete(done: Done): void {
    this.done.push(done);
    this.kick();
  }

  /** Records buffered answers: answers that arrive while a batch is being written form the next batch. */
  private kick(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.done.length) {
        const batch = this.done;
        this.done = [];
        await this.flush(batch);
      }
    })().finally(() => {
      this.flushing = undefined;
      if (this.done.length) this.kick();
    });
  }

  /** Records a batch of answers, and what they mean for their executions, in one transaction. */
  private async flush(batch: Done[]): Promise<void> {
    const { store, log } = this.ctx;
    try {
      const changes = await transact(this.ctx, (tx, held) => this.record(tx, batch, held));
      this.after(changes, batch);
    } catch (batchErr) {
      log.warn({ err: batchErr, count: batch.length }, 'recording a batch of attempts failed; recording one by one');
      for (const one of batch) {
        try {
          this.after(await transact(this.ctx, (tx, held) => this.record(tx, [one], held)), [one]);
        } catch (err) {
          // This item alone cannot be recorded with its execution (e.g. a corrupt execution row):
          // record its attempt and end its delivery, so nothing stays leased or in limbo.
          log.error({ err, delivery_id: one.d.id }, 'recording an attempt failed; ending its delivery');
          await store
            .transaction(async (tx) => {
              await finishAttempt(
                tx.q,
                this.ctx.owner,
                {
                  ...one.judged.result,
                  attempt_id: one.attemptId,
                  error: `internal error recording this attempt: ${(err as Error).message}`,
                  delivery: { status: 'failed', tries: one.d.tries + 1, next_attempt_ms: null },
                },
                new Date().toISOString(),
              );
            })
            .catch((e: unknown) =>
              log.error({ err: e, delivery_id: one.d.id }, 'cannot record the attempt; its lease will lapse'),
            );
        }
      }
    }
  }

  private async record(tx: Store, batch: Done[], held: Adopted[]): Promise<Changes> {
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const results = batch.map((one) => {
      const result = one.handedBack
        ? {
            ...one.judged.result,
            outcome: 'interrupted' as const,
            error: 'cut off by shutdown: handed back, to be sent again',
            delivery: { status: 'pending' as const, tries: one.d.tries, next_attempt_ms: nowMs, handed_back: true },
          }
        : one.judged.result;
      return { ...result, attempt_id: one.attemptId };
    });
    const moved = await finishAttempts(tx.q, this.ctx.owner, results, now);
    const finals = batch.filter((one) => moved.has(one.d.id) && !one.handedBack && one.judged.outcome);
    const changes = new Changes();
    // The slots these answers freed go to parked work first, in this same commit.
    await this.takeParked(tx, nowMs, held);
    if (finals.length === 0) return changes;
    const execs = await tx.lockExecutions(finals.map((f) => f.d.execution_id));
    const changed = new Set<Execution>();
    const catalog = new Catalog(tx);
    for (const f of finals) {
      const exec = execs.get(f.d.execution_id);
      if (!exec || !f.judged.outcome) continue;
      const effects = settle(exec, f.d.action_id, f.d.id, f.judged.outcome, now);
      if (effects.length === 0) continue; // the action no longer waits on this delivery
      changed.add(exec);
      await carryOut(exec, effects, catalog, changes, this.ctx.dispatch);
    }
    await writeChanges(tx, this.ctx, changed, changes, nowMs, held);
    return changes;
  }

  private after(changes: Changes, batch: Done[]): void {
    countFinished(this.ctx, changes);
    // Retries due later and handed-back work: the lane claims or re-reads when to wake. (New
    // deliveries it did not take at once wake it when their transaction commits.)
    let wake = false;
    for (const one of batch) {
      const next = one.judged.result.delivery;
      if (one.handedBack) {
        this.requestScan();
        wake = true;
      } else if (next.status === 'pending' && next.next_attempt_ms !== null) {
        this.noteDue(next.next_attempt_ms);
        wake = true;
      }
    }
    if (wake) this.ctx.wake.deliveries();
    if (changes.deadlines.length) this.ctx.wake.timers();
  }

  /** Shutdown begins: no new delivery is taken at creation any more. */
  close(): void {
    this.closing = true;
  }

  /** Aborts every request still in flight: their attempts are handed back (shutdown). */
  abortAll(): void {
    for (const f of this.inFlight.values()) f.abort.abort();
  }

  /** Resolves once no request is in flight and every answer is recorded. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.flushing || this.done.length) {
      await (this.flushing ?? new Promise((r) => setTimeout(r, 10)));
    }
  }
}
