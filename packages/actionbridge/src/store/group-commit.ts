import { CompiledQuery } from 'kysely';
import type { Store } from './store.js';

/** Writes per shared transaction, at most. */
const MAX_BATCH = 256;

/** What to do once a transaction has committed, or failed to. */
export interface AfterCommit {
  committed(): void;
  failed(): void;
}

/**
 * Takes what a batch of writes emitted, in their transaction: the engine carries entity events out
 * there, so they commit with the writes that caused them.
 */
export interface BatchSink<E> {
  /**
   * Runs in the shared transaction after its writes, in a savepoint of its own, and stores the
   * items: if it throws, the writes still commit, and {@link keep} stores the items. Returns
   * undefined to leave the items alone (it stored nothing).
   */
  inTransaction(tx: Store, emitted: E[]): Promise<AfterCommit | undefined>;
  /** Stores the items `inTransaction` did not take, in the shared transaction (for later). */
  keep(tx: Store, emitted: E[]): Promise<void>;
  /** After the commit: the items `inTransaction` did not take (it left them, or threw `err`). */
  leftOver(emitted: E[], err?: unknown): void;
}

interface Pending<E> {
  fn: (tx: Store, emitted: E[]) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** A write of a batch without savepoints failed: the batch is rolled back and its writes run alone. */
class BatchFailed extends Error {}

/** Times a write that PostgreSQL rolled back to break a deadlock (or a serialization failure) runs again. */
const MAX_RETRIES = 3;

/** PostgreSQL's `deadlock_detected` and `serialization_failure`: the transaction did nothing and may be run again. */
const retryable = (err: unknown) => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001';
};

/**
 * Group commit for API writes: writes that arrive together (within one turn of the event loop)
 * share one transaction, and every caller's promise settles only after the shared COMMIT, so a 2xx
 * still means the write is durable. What the writes emitted goes to the `sink` in the same
 * transaction.
 *
 * - SQLite: each write runs in a savepoint of its own, so one that fails rolls back alone and the
 *   others commit (SAVEPOINT and RELEASE cost ~1 µs each). Measured on the end-to-end bench (32
 *   writers): a commit costs 95–180 µs of event-loop time (the WAL writes), and one per API write
 *   was the largest single cost, ~40 % of all SQL time.
 * - PostgreSQL: a savepoint is two more round trips per write, so none: a write that fails rolls
 *   the batch back, and each of its writes is run again in a transaction of its own. Measured on
 *   the two-process bench (fsync on): socket writes to the server were 38 % of each process's CPU,
 *   and a write alone costs BEGIN and COMMIT (and a WAL flush) on top of its three inserts. Batches
 *   run concurrently on the pool's connections.
 */
export class GroupCommit<E = never> {
  private queue: Array<Pending<E>> = [];
  private scheduled = false;
  private flushing = 0;
  /**
   * Shared transactions in flight at once. SQLite runs one at a time anyway; on PostgreSQL the
   * writes that arrive while two batches are out form the next one (with one batch per turn of the
   * event loop, batches stayed at one or two writes and cost more statements per write).
   */
  private readonly concurrency: number;

  constructor(
    private readonly store: Store,
    private readonly sink?: BatchSink<E>,
  ) {
    this.concurrency = store.dialect === 'sqlite' ? Number.POSITIVE_INFINITY : 2;
  }

  /** Runs `fn` in a transaction shared with other writes; settles after the commit. */
  run<T>(fn: (tx: Store, emitted: E[]) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private next(): void {
    this.scheduled = false;
    if (this.flushing >= this.concurrency || this.queue.length === 0) return;
    const batch = this.queue.splice(0, MAX_BATCH);
    this.flushing++;
    void this.flush(batch).finally(() => {
      this.flushing--;
      this.schedule();
    });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.flushing >= this.concurrency) return;
    this.scheduled = true;
    setImmediate(() => this.next());
  }

  private async flush(batch: Array<Pending<E>>, tries = 0): Promise<void> {
    const savepoints = batch.length > 1 && this.store.dialect === 'sqlite';
    const outcomes: Outcome[] = [];
    const emitted: E[] = [];
    const done: { after?: AfterCommit; sinkError?: unknown } = {};
    try {
      await this.store.transaction(async (tx) => {
        for (const item of batch) {
          const out: E[] = [];
          if (savepoints) {
            outcomes.push(await this.inSavepoint(tx, () => item.fn(tx, out)));
          } else if (batch.length === 1) {
            outcomes.push({ ok: true, value: await item.fn(tx, out) });
          } else {
            try {
              outcomes.push({ ok: true, value: await item.fn(tx, out) });
            } catch (err) {
              throw new BatchFailed(String(err));
            }
          }
          if (outcomes.at(-1)?.ok) emitted.push(...out);
        }
        if (!this.sink || emitted.length === 0) return;
        const sink = this.sink;
        const ran = await this.inSavepoint(tx, () => sink.inTransaction(tx, emitted));
        if (ran.ok) done.after = ran.value as AfterCommit | undefined;
        else done.sinkError = ran.err;
        if (!done.after) await sink.keep(tx, emitted);
      });
    } catch (err) {
      done.after?.failed();
      if (!savepoints && batch.length > 1) {
        // PostgreSQL: one write failed (BatchFailed), or the shared commit did: nothing happened,
        // and each write runs again on its own (its own answer, its own error).
        await Promise.all(batch.map((item) => this.flush([item])));
        return;
      }
      if (batch.length === 1 && this.store.dialect === 'postgres' && tries < MAX_RETRIES && retryable(err)) {
        // PostgreSQL chose this transaction to break a deadlock (two batches locking the same rows
        // in other orders), or could not serialize it: it did nothing, and runs again.
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (tries + 1)));
        return this.flush(batch, tries + 1);
      }
      // The commit failed (or the one write did): none of the writes happened.
      for (const item of batch) item.reject(err);
      return;
    }
    if (done.after) done.after.committed();
    else if (this.sink && emitted.length) this.sink.leftOver(emitted, done.sinkError);
    batch.forEach((item, i) => {
      const o = outcomes[i];
      if (o?.ok) item.resolve(o.value);
      else item.reject(o?.err);
    });
  }

  /** Runs `fn` in a savepoint: what it returns, or what it threw (rolled back). */
  private async inSavepoint(tx: Store, fn: () => Promise<unknown>): Promise<Outcome> {
    // Plain texts, no template to compile: two of these run for every write.
    const run = (text: string) => tx.q.db.executeQuery(CompiledQuery.raw(text));
    await run('savepoint gc_part');
    try {
      const value = await fn();
      await run('release gc_part');
      return { ok: true, value };
    } catch (err) {
      await run('rollback to gc_part');
      await run('release gc_part');
      return { ok: false, err };
    }
  }
}
