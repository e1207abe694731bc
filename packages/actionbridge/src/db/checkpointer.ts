import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** How long after a statement the WAL is checkpointed: bounds the WAL to ~this much writing. */
const DELAY_MS = 100;
/** The WAL size at which the checkpoint thread starts (SQLite checkpoints at 1,000 pages of 4 KiB). */
const START_AT_BYTES = 1000 * 4096;

function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * SQLite WAL checkpoints in a thread of their own. SQLite's automatic checkpoint runs inside the
 * commit that crosses 1,000 WAL pages, on the connection's thread — here the event loop — and with
 * `synchronous=NORMAL` it is where the fsyncs happen. Measured on the end-to-end bench (3,300
 * actions, per-statement timer): 123 of 4,794 commits took > 2 ms, 645 ms of the 1,089 ms spent
 * in commits; the other commits averaged 95 µs. So the main connection turns automatic checkpoints
 * off, and a worker thread with its own connection runs `wal_checkpoint(PASSIVE)` (which never
 * blocks writers) ~100 ms after statements were run. The thread starts once the WAL is as long as
 * SQLite would let it grow; if it cannot run, the main connection's automatic checkpoints come back.
 */
export class Checkpointer {
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private again = false;
  private failed = false;
  private closed = false;
  /** The thread sets it to 1 once its connection is closed (see {@link close}). */
  private readonly closedFlag = new Int32Array(new SharedArrayBuffer(4));

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
    // The thread (a V8 isolate of its own, ~10 MB) starts only once the WAL has grown as far as
    // SQLite's own automatic checkpoint lets it (1,000 pages): a quiet process never needs it.
    if (!this.worker && walBytes(this.file) < START_AT_BYTES) return;
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
      workerData: { file: this.file, synchronous: this.synchronous, closed: this.closedFlag },
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
   * Stops the thread, and waits (at most 5 s) until its connection is closed — after a checkpoint it
   * is running — so that nothing touches the database files once the main connection closes them.
   * Synchronous, as closing the database is: it blocks only at shutdown.
   */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    worker.postMessage('close');
    Atomics.wait(this.closedFlag, 0, 0, 5000);
  }
}
