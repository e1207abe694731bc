import type { KeyObject } from 'node:crypto';
import { parsePublicKey, toWhpk } from './keys.js';

/** A trusted Ed25519 public key, parsed once. */
export interface TrustedKey {
  /** The parsed key; verification never parses a PEM again. */
  readonly key: KeyObject;
  /** Identity of the key: its `whpk_…` form. */
  readonly id: string;
  /** The key id from a `public-keys` document, when there is one. */
  readonly kid?: string | undefined;
}

/** Makes a {@link TrustedKey} from an already parsed public key. */
export function trustedKey(key: KeyObject, kid?: string): TrustedKey {
  return { key, id: toWhpk(key), kid };
}

/**
 * Reads the keys from a key document in either shape the platform serves:
 * `GET …/.well-known/public-key` → `{"algorithm":"ed25519","public_key":"-----BEGIN PUBLIC KEY-----…"}`, or
 * `GET …/.well-known/public-keys` → `{"keys":[{kid, public_key, whpk, status, …}]}`.
 *
 * Entries that cannot be parsed, are not Ed25519, or have a status other than `primary`/`retiring`
 * (when a status is given) are skipped. Throws a TypeError when no usable key remains.
 */
export function parseKeyDocument(doc: unknown): TrustedKey[] {
  if (doc === null || typeof doc !== 'object') throw new TypeError('key document is not a JSON object');
  const record = doc as { keys?: unknown };
  const entries: unknown[] = Array.isArray(record.keys) ? record.keys : [doc];
  const out: TrustedKey[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry === null || typeof entry !== 'object') continue;
    const e = entry as { algorithm?: unknown; public_key?: unknown; whpk?: unknown; status?: unknown; kid?: unknown };
    if (typeof e.algorithm === 'string' && e.algorithm.toLowerCase() !== 'ed25519') continue;
    if (typeof e.status === 'string' && e.status !== 'primary' && e.status !== 'retiring') continue;
    const text = typeof e.whpk === 'string' ? e.whpk : typeof e.public_key === 'string' ? e.public_key : undefined;
    if (text === undefined) continue;
    try {
      const key = trustedKey(parsePublicKey(text), typeof e.kid === 'string' ? e.kid : undefined);
      if (seen.has(key.id)) continue;
      seen.add(key.id);
      out.push(key);
    } catch {
      // an unusable entry is skipped; the others still count
    }
  }
  if (out.length === 0) throw new TypeError('key document holds no usable Ed25519 public key');
  return out;
}

/** Timing settings of a {@link KeySource}, in milliseconds. */
export interface KeySourceSettings {
  /** Minimum time between two refetches caused by signatures that no cached key verifies. */
  refreshIntervalMs: number;
  /** After this long a fetched key set is refetched in the background; it stays in use meanwhile. */
  maxAgeMs: number;
  /** Timeout of one fetch. */
  timeoutMs: number;
}

/** The keys a {@link KeySource} has, and whether this call waited for a fetch to get them. */
export interface KeySnapshot {
  /** The key set, or `undefined` when none could be fetched yet. */
  keys: readonly TrustedKey[] | undefined;
  /** True when the set was fetched during this call: refetching straight away would be pointless. */
  fresh: boolean;
}

const monotonic = (): number => performance.now();

/**
 * The platform's public keys, fetched from a URL and cached as `KeyObject`s.
 *
 * - The first use fetches and waits. Later uses never wait for the cache to age: a set older than
 *   `maxAgeMs` is served while a background fetch replaces it (a failed fetch keeps the old set).
 * - {@link KeySource.refreshOnMiss} refetches when a signature verifies with no cached key (a key
 *   rotation), at most once per `refreshIntervalMs`, so junk signatures cannot make the SDK hammer
 *   the URL. Callers that miss while that refetch runs share it.
 * - After a failed fetch with nothing cached, the next attempt waits min(5 s, `refreshIntervalMs`).
 */
export class KeySource {
  readonly url: string;
  readonly settings: KeySourceSettings;
  #keys: TrustedKey[] | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #lastMissRefresh = Number.NEGATIVE_INFINITY;
  #inflight: Promise<TrustedKey[] | undefined> | undefined;
  #missRefresh: Promise<TrustedKey[] | undefined> | undefined;
  #lastError: unknown;
  #fetches = 0;

  constructor(url: string, settings: KeySourceSettings) {
    this.url = url;
    this.settings = settings;
  }

  /** How many fetches this source has started (for diagnostics and tests). */
  get fetchCount(): number {
    return this.#fetches;
  }

  /** Why the last fetch failed, if it did; cleared by a successful fetch. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** The cached keys; fetched (and awaited) only when nothing is cached yet. */
  async current(): Promise<KeySnapshot> {
    const now = monotonic();
    if (this.#keys) {
      if (now - this.#loadedAt >= this.settings.maxAgeMs && !this.#inflight) void this.#load();
      return { keys: this.#keys, fresh: false };
    }
    if (!this.#inflight && now - this.#lastAttempt < Math.min(5000, this.settings.refreshIntervalMs)) {
      return { keys: undefined, fresh: false };
    }
    return { keys: await this.#load(), fresh: true };
  }

  /**
   * Refetches after a signature verified with no cached key, unless such a refetch already ran in the
   * last `refreshIntervalMs`; a caller arriving while it runs waits for it. Returns the new set, or
   * `undefined` when nothing was refetched.
   */
  async refreshOnMiss(): Promise<readonly TrustedKey[] | undefined> {
    if (this.#missRefresh) return this.#missRefresh;
    const now = monotonic();
    if (now - this.#lastMissRefresh < this.settings.refreshIntervalMs) return undefined;
    this.#lastMissRefresh = now;
    const refresh = this.#load();
    this.#missRefresh = refresh;
    try {
      return await refresh;
    } finally {
      this.#missRefresh = undefined;
    }
  }

  #load(): Promise<TrustedKey[] | undefined> {
    if (this.#inflight) return this.#inflight;
    this.#lastAttempt = monotonic();
    this.#fetches++;
    const inflight = this.#fetchKeys().then(
      (keys) => {
        this.#keys = keys;
        this.#loadedAt = monotonic();
        this.#lastError = undefined;
        return keys;
      },
      (error: unknown) => {
        this.#lastError = error;
        return this.#keys;
      },
    );
    this.#inflight = inflight;
    void inflight.finally(() => {
      if (this.#inflight === inflight) this.#inflight = undefined;
    });
    return inflight;
  }

  async #fetchKeys(): Promise<TrustedKey[]> {
    const response = await fetch(this.url, {
      headers: { accept: 'application/json' },
      redirect: 'error', // a redirect could hand key selection to another host
      signal: AbortSignal.timeout(this.settings.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`GET ${this.url} answered ${response.status}`);
    }
    return parseKeyDocument(await response.json());
  }
}
