import type { Logger } from 'pino';

/**
 * One lane of the worker: runs `tick` while it reports more work, then sleeps until woken (an
 * in-process signal, or NOTIFY from another process) or until `nextDue` — never spinning. A tick
 * that throws is logged and retried after a pause; it never stops the lane.
 */
export class Lane {
  private stopped = true;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    private readonly tick: () => Promise<boolean>,
    private readonly nextDue: () => Promise<number | undefined>,
    private readonly log: Logger,
    /** Longest sleep: the fallback poll for work another process added without a notification reaching us. */
    private readonly maxSleepMs: number,
    /** Called when the lane wakes because its sleep ended (work came due, or the fallback poll). */
    private readonly onTimer?: () => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) this.wake();
    });
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        while (!this.stopped && (await this.tick()));
      } while (this.again && !this.stopped);
      if (this.stopped) return;
      const due = await this.nextDue();
      this.sleep(due === undefined ? this.maxSleepMs : Math.min(this.maxSleepMs, Math.max(0, due - Date.now())));
    } catch (err) {
      this.log.error({ err, lane: this.name }, 'lane tick failed; retrying in 1 s');
      this.sleep(1000);
    }
  }

  private sleep(ms: number): void {
    if (this.stopped || this.again) return;
    this.timer = setTimeout(() => {
      this.onTimer?.();
      this.wake();
    }, ms);
    this.timer.unref();
  }

  /** Stops waking and waits for a tick in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
