import { type Judged, judge, unsendable } from '../../delivery/attempt.js';
import { attemptHeaders, loggedHeaders } from '../../delivery/headers.js';
import type { Delivery, DeliveryAttempt, Execution } from '../../domain/types.js';
import { Catalog, Changes, carryOut } from '../../executions/dispatch.js';
import { settle } from '../../executions/state.js';
import { type ClaimCaps, claimDeliveries } from '../../store/queue/claimDeliveries.js';
import { finishAttempt, finishAttempts } from '../../store/queue/finishAttempts.js';
import { startAttempts } from '../../store/queue/startAttempts.js';
import type { Store } from '../../store/store.js';
import { newId } from '../../util/ids.js';
import { countFinished, type WorkerContext, writeChanges } from '../context.js';
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

interface InFlight {
  d: Delivery;
  attemptId: string;
  abort: AbortController;
}

interface Done {
  d: Delivery;
  attemptId: string;
  judged: Judged;
  /** Cut off by shutdown before its answer: handed back, due again at once. */
  handedBack?: boolean;
}

/**
 * The delivery lane, in three phases (as Svix's worker): claim due deliveries within the free slots
 * and record their attempts as started (one transaction); send each one with no transaction open;
 * buffer the answers and record a batch of them with their executions' transitions (one
 * transaction). Sends run concurrently up to the process's slots, fairly per org and per origin.
 */
export class DeliveryLane {
  readonly inFlight = new Map<string, InFlight>();
  private done: Done[] = [];
  /**
   * When the last claim looked: work due by then and left unclaimed waits on a cap (a freed slot
   * wakes the lane); work falling due after it is what the lane sleeps until.
   */
  lastClaimAt = 0;
  /** The last claim stopped at a cap or at the free slots: a freed slot may let more through. */
  private starved = false;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly slots: Slots,
  ) {}

  async tick(): Promise<boolean> {
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
    const claimed = await claimDeliveries(store.q, { now: nowMs, leaseMs, owner, ...caps });
    this.starved = claimed.length === caps.limit || reachedCap(claimed, caps) || anyFull(caps);
    if (claimed.length === 0) return false;
    const started = await store.transaction(async (tx) => {
      const prepared: Array<{
        d: Delivery;
        attempt: DeliveryAttempt;
        body?: string;
        headers?: Record<string, string>;
        error?: string;
      }> = [];
      for (const d of claimed) {
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
          const body = this.ctx.signer.secrets.open(d.request_body);
          const headers = await attemptHeaders(d, body, this.ctx.signer, nowMs);
          attempt.request_headers = loggedHeaders(headers);
          prepared.push({ d, attempt, body, headers });
        } catch (err) {
          // Poison: a body or secret that cannot be opened fails its action, never the batch.
          prepared.push({ d, attempt, error: `the delivery cannot be signed: ${(err as Error).message}` });
        }
      }
      await startAttempts(
        tx.q,
        prepared.map((p) => p.attempt),
        claimed.filter((d) => d.attempt_count > 1).map((d) => d.id),
      );
      return prepared;
    });
    for (const p of started) {
      if (p.error !== undefined || p.body === undefined || p.headers === undefined) {
        this.complete({ d: p.d, attemptId: p.attempt.id, judged: unsendable(p.d, p.error ?? 'unsendable') });
        continue;
      }
      this.send(p.d, p.attempt.id, p.body, p.headers);
    }
    // Claim again at once only when this claim filled the free slots or an org's or origin's share
    // of them; what waits on a full origin or org is claimed when one of its slots frees (`starved`
    // makes that wake the lane). Returning `starved` here instead spun while an origin was full.
    return claimed.length === caps.limit || reachedCap(claimed, caps);
  }

  private send(d: Delivery, attemptId: string, body: string, headers: Record<string, string>): void {
    const abort = new AbortController();
    this.inFlight.set(d.id, { d, attemptId, abort });
    this.slots.take(d.org_id, d.origin);
    const timeoutMs = d.timeout_ms ?? this.ctx.deliveryTimeoutMs;
    void this.ctx.client.send(d.url, headers, body, timeoutMs, abort.signal).then((result) => {
      this.inFlight.delete(d.id);
      this.slots.release(d.org_id, d.origin);
      const { metrics, log } = this.ctx;
      if (abort.signal.aborted) {
        this.complete({ d, attemptId, judged: judge(d, result, [], Date.now()), handedBack: true });
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
        this.complete({ d, attemptId, judged });
      }
      // A slot is free: work held back by a cap may now be claimed.
      if (this.starved) this.ctx.wake.deliveries();
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
      const changes = await store.transaction((tx) => this.record(tx, batch));
      this.after(changes, batch);
    } catch (batchErr) {
      log.warn({ err: batchErr, count: batch.length }, 'recording a batch of attempts failed; recording one by one');
      for (const one of batch) {
        try {
          this.after(await store.transaction((tx) => this.record(tx, [one])), [one]);
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

  private async record(tx: Store, batch: Done[]): Promise<Changes> {
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
    await writeChanges(tx, this.ctx, changed, changes, nowMs);
    return changes;
  }

  private after(changes: Changes, batch: Done[]): void {
    countFinished(this.ctx, changes);
    // New deliveries, retries due later and handed-back work: the lane claims or re-reads when to wake.
    if (changes.deliveries.length || batch.some((d) => d.handedBack || d.judged.result.delivery.status === 'pending')) {
      this.ctx.wake.deliveries();
    }
    if (changes.deadlines.length) this.ctx.wake.timers();
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
