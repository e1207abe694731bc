import { sql } from 'kysely';
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
   * Runs in the shared transaction after its writes, in a savepoint of its own: if it throws, the
   * writes still commit. Returns undefined to leave the items alone.
   */
  inTransaction(tx: Store, emitted: E[]): Promise<AfterCommit | undefined>;
  /** After the commit: the items `inTransaction` did not take (it left them, or threw `err`). */
  leftOver(emitted: E[], err?: unknown): void;
}

interface Pending<E> {
  fn: (tx: Store, emitted: E[]) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/**
 * Group commit for API writes: on SQLite, writes that arrive together (within one turn of the
 * event loop) share one transaction, each inside a savepoint of its own, so a write that fails
 * rolls back alone and the others commit. Every caller's promise settles only after the shared
 * COMMIT, so a 2xx still means the write is durable. Measured on the end-to-end bench (32 writers):
 * a commit costs 95–180 µs of event-loop time (the WAL writes), and one per API write was the
 * largest single cost, ~40 % of all SQL time; SAVEPOINT and RELEASE cost ~1 µs each.
 *
 * PostgreSQL has a pool of connections and commits concurrently (and groups its own WAL flushes):
 * there each write is its own transaction, as before. On both, what the writes emitted goes to the
 * `sink` in the same transaction.
 */
export class GroupCommit<E = never> {
  private queue: Array<Pending<E>> = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly sink?: BatchSink<E>,
  ) {}

  /** Runs `fn` in a transaction (shared with other writes on SQLite); settles after the commit. */
  run<T>(fn: (tx: Store, emitted: E[]) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const item: Pending<E> = { fn, resolve: resolve as (v: unknown) => void, reject };
      if (this.store.dialect !== 'sqlite') {
        void this.flush([item], false);
        return;
      }
      this.queue.push(item);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.next());
      }
    });
  }

  private next(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length) {
      this.scheduled = true;
      setImmediate(() => this.next());
    }
    void this.flush(batch, batch.length > 1);
  }

  private async flush(batch: Array<Pending<E>>, savepoints: boolean): Promise<void> {
    const outcomes: Outcome[] = [];
    const emitted: E[] = [];
    let after: AfterCommit | undefined;
    let sinkError: unknown;
    try {
      await this.store.transaction(async (tx) => {
        for (const item of batch) {
          const out: E[] = [];
          if (!savepoints) {
            outcomes.push({ ok: true, value: await item.fn(tx, out) });
            emitted.push(...out);
            continue;
          }
          await sql`savepoint gc_write`.execute(tx.q.db);
          try {
            const value = await item.fn(tx, out);
            await sql`release gc_write`.execute(tx.q.db);
            outcomes.push({ ok: true, value });
            emitted.push(...out);
          } catch (err) {
            await sql`rollback to gc_write`.execute(tx.q.db);
            await sql`release gc_write`.execute(tx.q.db);
            outcomes.push({ ok: false, err });
          }
        }
        if (!this.sink || emitted.length === 0) return;
        await sql`savepoint gc_sink`.execute(tx.q.db);
        try {
          after = await this.sink.inTransaction(tx, emitted);
          await sql`release gc_sink`.execute(tx.q.db);
        } catch (err) {
          after?.failed();
          after = undefined;
          sinkError = err;
          await sql`rollback to gc_sink`.execute(tx.q.db);
          await sql`release gc_sink`.execute(tx.q.db);
        }
      });
    } catch (err) {
      // The shared commit failed (or the one write, without savepoints): none of the writes happened.
      after?.failed();
      for (const item of batch) item.reject(err);
      return;
    }
    if (after) after.committed();
    else if (this.sink && emitted.length) this.sink.leftOver(emitted, sinkError);
    batch.forEach((item, i) => {
      const o = outcomes[i];
      if (o?.ok) item.resolve(o.value);
      else item.reject(o?.err);
    });
  }
}
