import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** How long after a statement the WAL is checkpointed: bounds the WAL to ~this much writing. */
const DELAY_MS = 100;

/**
 * SQLite WAL checkpoints in a thread of their own. SQLite's automatic checkpoint runs inside the
 * commit that crosses 1,000 WAL pages, on the connection's thread — here the event loop — and with
 * `synchronous=NORMAL` it is where the fsyncs happen. Measured on the end-to-end bench (3,300
 * actions, per-statement timer): 123 of 4,794 commits took > 2 ms, 645 ms of the 1,089 ms spent
 * in commits; the other commits averaged 95 µs. So the main connection turns automatic checkpoints
 * off, and a worker thread with its own connection runs `wal_checkpoint(PASSIVE)` (which never
 * blocks writers) ~100 ms after statements were run. The thread starts with the first checkpoint;
 * if it cannot run, the main connection's automatic checkpoints come back.
 */
export class Checkpointer {
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private again = false;
  private failed = false;
  private closed = false;

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly file: string,
    private readonly synchronous: 'NORMAL' | 'FULL',
    private readonly onError: (err: Error) => void,
  ) {
    sqlite.pragma('wal_autocheckpoint = 0');
  }

  /** A statement ran: checkpoint soon. One timer check per statement. */
  touch(): void {
    if (this.timer || this.failed || this.closed) return;
    this.timer = setTimeout(() => this.request(), DELAY_MS);
    this.timer.unref();
  }

  private request(): void {
    this.timer = undefined;
    if (this.closed) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.thread().postMessage('checkpoint');
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./checkpoint-thread.js', import.meta.url), {
      workerData: { file: this.file, synchronous: this.synchronous },
    });
    worker.unref();
    worker.on('message', (msg: { ok: boolean; error?: string }) => {
      this.busy = false;
      if (!msg.ok) this.onError(new Error(`WAL checkpoint failed: ${msg.error}`));
      if (this.again) {
        this.again = false;
        this.touch();
      }
    });
    worker.on('error', (err) => this.fallBack(err));
    this.worker = worker;
    return worker;
  }

  /** The thread is gone: the main connection checkpoints on its own again. */
  private fallBack(err: Error): void {
    this.failed = true;
    this.busy = false;
    this.worker = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.closed) this.sqlite.pragma('wal_autocheckpoint = 1000');
    this.onError(err);
  }

  /**
   * Stops the thread: it closes its connection once a checkpoint it is running ends (the last
   * connection to close checkpoints what is left). Synchronous, as closing the database is.
   */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.worker?.postMessage('close');
    this.worker = undefined;
  }
}
