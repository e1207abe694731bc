/**
 * Deduplication on `webhook-id`. The platform delivers at least once: a retry of one delivery
 * carries the same `webhook-id`, so a receiver that must not act twice remembers the ids it handled.
 */

/** Where an id stands: unseen (`new`, now claimed), being handled (`processing`), or handled (`done`). */
export type DedupeState = 'new' | 'processing' | 'done';

/**
 * Storage for seen `webhook-id`s. Implement it over Redis, a database table, etc. to share it
 * between processes (see the README for a Redis recipe); {@link MemoryDedupeStore} is the default.
 */
export interface DedupeStore {
  /**
   * Atomically claims `id`. When it is unseen (or expired), record it as `processing` for
   * `ttlSeconds` and return `'new'`; otherwise return its current state without changing it.
   */
  claim(id: string, ttlSeconds: number): DedupeState | Promise<DedupeState>;
  /**
   * Records `id` as `done` for `ttlSeconds`, with the handler's `result` (a JSON value) so that a
   * duplicate can be answered exactly as the first delivery was.
   */
  complete(id: string, ttlSeconds: number, result?: unknown): void | Promise<void>;
  /**
   * The result recorded with a `done` id. Optional: without it, duplicates are answered
   * `{"duplicate": true}` instead of the first answer.
   */
  result?(id: string): unknown | Promise<unknown>;
  /** Forgets `id` (handling failed, so the platform's retry should run it again). */
  release(id: string): void | Promise<void>;
}

/** Options of {@link MemoryDedupeStore}. */
export interface MemoryDedupeStoreOptions {
  /**
   * At most this many ids are kept; the least recently used are dropped first.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * The clock, in milliseconds. For tests.
   * @default Date.now
   */
  now?: () => number;
}

/** A bounded in-memory LRU with per-entry expiry. Per process: use a shared store when you scale out. */
export class MemoryDedupeStore implements DedupeStore {
  readonly maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { state: 'processing' | 'done'; expiresAt: number; result?: unknown }>();

  constructor(options: MemoryDedupeStoreOptions = {}) {
    const max = options.maxEntries ?? 10_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError(`maxEntries must be a positive integer, got ${String(options.maxEntries)}`);
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new TypeError('now must be a function returning milliseconds');
    }
    this.maxEntries = max;
    this.#now = options.now ?? Date.now;
  }

  /** How many ids are held (expired ones included until touched or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  claim(id: string, ttlSeconds: number): DedupeState {
    const now = this.#now();
    const entry = this.#entries.get(id);
    if (entry && entry.expiresAt > now) {
      this.#entries.delete(id);
      this.#entries.set(id, entry);
      return entry.state;
    }
    this.#set(id, 'processing', now + ttlSeconds * 1000);
    return 'new';
  }

  complete(id: string, ttlSeconds: number, result?: unknown): void {
    this.#set(id, 'done', this.#now() + ttlSeconds * 1000, result);
  }

  result(id: string): unknown {
    const entry = this.#entries.get(id);
    return entry && entry.state === 'done' && entry.expiresAt > this.#now() ? entry.result : undefined;
  }

  release(id: string): void {
    this.#entries.delete(id);
  }

  #set(id: string, state: 'processing' | 'done', expiresAt: number, result?: unknown): void {
    this.#entries.delete(id);
    this.#entries.set(id, result === undefined ? { state, expiresAt } : { state, expiresAt, result });
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }
}

/** Options of {@link createDeduplicator}. */
export interface DeduplicatorOptions {
  /**
   * Where seen ids are kept.
   * @default new MemoryDedupeStore()
   */
  store?: DedupeStore;
  /**
   * How long a handled id is remembered, in seconds. Cover the platform's whole retry schedule.
   * @default 86400
   */
  ttlSeconds?: number;
  /**
   * How long a claim of an id being handled lasts, in seconds, in case the process dies mid-way.
   * @default 300
   */
  processingTtlSeconds?: number;
}

/** The outcome of {@link Deduplicator.run}. */
export type DedupeResult<T> =
  | { duplicate: false; value: T }
  | { duplicate: true; state: 'processing' }
  /** `value`: what the first run returned, when the store keeps results. */
  | { duplicate: true; state: 'done'; value?: T };

/** Runs work at most once per `webhook-id`. */
export interface Deduplicator {
  /**
   * Runs `work` unless `id` was handled or is being handled. When `work` throws, the id is
   * released (so a retry runs it again) and the error propagates.
   */
  run<T>(id: string, work: () => T | Promise<T>): Promise<DedupeResult<T>>;
  /** The store in use. */
  readonly store: DedupeStore;
}

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number of seconds, got ${String(value)}`);
  }
  return value;
}

/**
 * Creates a {@link Deduplicator}. The framework adapters use one when given `dedupe`: a duplicate
 * of a handled delivery is answered 200 with the first answer (so the action's outputs stay the
 * same when the platform resends after losing the answer), one still being handled 425 (so the
 * platform retries later).
 */
export function createDeduplicator(options: DeduplicatorOptions = {}): Deduplicator {
  if (options === null || typeof options !== 'object') throw new TypeError('dedupe options must be an object');
  const store = options.store ?? new MemoryDedupeStore();
  if (
    typeof store.claim !== 'function' ||
    typeof store.complete !== 'function' ||
    typeof store.release !== 'function'
  ) {
    throw new TypeError('dedupe store must implement claim, complete and release');
  }
  const ttl = positive(options.ttlSeconds, 'ttlSeconds', 86_400);
  const processingTtl = positive(options.processingTtlSeconds, 'processingTtlSeconds', 300);
  return {
    store,
    async run<T>(id: string, work: () => T | Promise<T>): Promise<DedupeResult<T>> {
      if (typeof id !== 'string' || id === '') throw new TypeError('dedupe id must be a non-empty string');
      const state = await store.claim(id, processingTtl);
      if (state === 'processing') return { duplicate: true, state };
      if (state === 'done') {
        const first = (await store.result?.(id)) as T | undefined;
        return first === undefined ? { duplicate: true, state } : { duplicate: true, state, value: first };
      }
      let value: T;
      try {
        value = await work();
      } catch (error) {
        await store.release(id);
        throw error;
      }
      await store.complete(id, ttl, value);
      return { duplicate: false, value };
    },
  };
}
