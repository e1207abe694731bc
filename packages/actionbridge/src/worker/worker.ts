import { randomBytes } from 'node:crypto';
import type { EntityEvent } from '../domain/types.js';
import type { AfterCommit } from '../store/group-commit.js';
import { renewLeases } from '../store/queue/heartbeat.js';
import { nextCallbackDeadline } from '../store/queue/nextDue.js';
import { releaseLeases } from '../store/queue/releaseLeases.js';
import type { Store } from '../store/store.js';
import type { Adopted, WorkerContext } from './context.js';
import { Lane } from './lane.js';
import { DeliveryLane } from './lanes/deliveries.js';
import { EventLane } from './lanes/events.js';
import { TimerLane } from './lanes/timers.js';
import { Slots } from './slots.js';

export interface WorkerOptions {
  /** Requests in flight in this process, shared fairly among orgs. @default 128 */
  concurrency: number;
  /** Requests in flight per endpoint origin. @default 16 */
  originConcurrency: number;
  /** Longest a lane sleeps without a wake-up (fallback poll for missed notifications). */
  maxSleepMs: number;
}

/** A new lease owner id per process start. */
export const newWorkerId = () => `w_${randomBytes(6).toString('hex')}`;

/**
 * The engine's worker: an event lane, a delivery lane and a timer lane, each claiming in batches
 * and sleeping until woken or until its next item falls due; a heartbeat that renews the leases of
 * the work in hand; and a bounded drain on stop.
 */
export class Worker {
  private readonly events: EventLane;
  private readonly deliveries: DeliveryLane;
  private readonly lanes: { events: Lane; deliveries: Lane; timers: Lane };
  private heartbeat: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly ctx: Omit<WorkerContext, 'wake' | 'adopt'>,
    opts: WorkerOptions,
  ) {
    const wake = {
      events: () => this.lanes.events.wake(),
      deliveries: () => this.lanes.deliveries.wake(),
      timers: () => this.lanes.timers.wake(),
    };
    const full: WorkerContext = { ...ctx, wake, adopt: (changes, nowMs) => this.deliveries.adopt(changes, nowMs) };
    this.events = new EventLane(full);
    this.deliveries = new DeliveryLane(full, new Slots(opts.concurrency, opts.originConcurrency));
    const timers = new TimerLane(full);
    const { store, log } = ctx;
    this.lanes = {
      events: new Lane(
        'events',
        () => this.events.tick(),
        () => this.events.nextDue(),
        log,
        opts.maxSleepMs,
        () => this.events.requestScan(),
      ),
      deliveries: new Lane(
        'deliveries',
        () => this.deliveries.tick(),
        () => this.deliveries.nextDue(),
        log,
        opts.maxSleepMs,
        () => this.deliveries.requestScan(),
      ),
      timers: new Lane(
        'timers',
        () => timers.tick(),
        () => nextCallbackDeadline(store.q),
        log,
        opts.maxSleepMs,
      ),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const lane of Object.values(this.lanes)) lane.start();
    // Renew leases at a third of their length: two beats can be missed before work is taken over.
    this.heartbeat = setInterval(() => void this.beat(), Math.max(200, Math.floor(this.ctx.leaseMs / 3)));
    this.heartbeat.unref();
  }

  /** A hint that work may be waiting in the store (NOTIFY from another process, an operator action). */
  wake(): void {
    this.events.requestScan();
    this.deliveries.requestScan();
    for (const lane of Object.values(this.lanes)) lane.wake();
  }

  /**
   * Carries entity events out in the API transaction that wrote them (see `EventLane.inline`): what
   * to do once it has committed (send the deliveries taken) or failed. Undefined when stopped: the
   * events then wait in the store.
   */
  async inline(tx: Store, events: readonly EntityEvent[]): Promise<AfterCommit | undefined> {
    if (!this.running) return undefined;
    const held: Adopted[] = [];
    let done: () => void;
    try {
      done = await this.events.inline(tx, events, held);
    } catch (err) {
      for (const a of held) a.abandon();
      throw err;
    }
    return {
      committed: () => {
        for (const a of held) a.launch();
        done();
      },
      failed: () => {
        for (const a of held) a.abandon();
      },
    };
  }

  /** An entity event this process's API committed and did not carry out: the event lane takes it from memory. */
  offerEvent(ev: EntityEvent): void {
    if (!this.running) return;
    this.events.offer(ev);
    this.lanes.events.wake();
  }

  private async beat(): Promise<void> {
    const deliveries = [...this.deliveries.inFlight.keys()];
    const events = [...this.events.inHand];
    if (deliveries.length === 0 && events.length === 0) return;
    try {
      await renewLeases(this.ctx.store.q, this.ctx.owner, Date.now() + this.ctx.leaseMs, { events, deliveries });
    } catch (err) {
      this.ctx.log.warn({ err }, 'lease heartbeat failed');
    }
  }

  /**
   * Stops claiming, lets requests in flight finish for up to `drainMs`, then aborts the rest and
   * hands them back (their attempts are recorded `interrupted`, their deliveries due again at once,
   * for this or another process).
   */
  async stop(drainMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.deliveries.close();
    await Promise.all(Object.values(this.lanes).map((l) => l.stop()));
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.deliveries.idle().then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), drainMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.ctx.log.warn({ in_flight: this.deliveries.inFlight.size }, 'drain deadline reached: handing work back');
      this.deliveries.abortAll();
      await this.deliveries.idle();
    }
    clearInterval(this.heartbeat);
    await releaseLeases(this.ctx.store.q, this.ctx.owner).catch((err: unknown) =>
      this.ctx.log.warn({ err }, 'could not release leases; they lapse on their own'),
    );
  }
}
