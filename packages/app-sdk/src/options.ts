import { KeyObject } from 'node:crypto';
import { KeySource, type TrustedKey, trustedKey } from './key-source.js';
import { parseHmacSecret, parsePublicKey } from './keys.js';

/** A public key as accepted in options: SPKI PEM, `whpk_…`, or a `KeyObject`. */
export type PublicKeyInput = string | KeyObject;

/** Environment variable with the platform's public key(s): SPKI PEM or `whpk_…` (several allowed). */
export const ENV_PUBLIC_KEY = 'ACTIONBRIDGE_PUBLIC_KEY';
/** Environment variable with the URL of the platform's `public-key` or `public-keys` document. */
export const ENV_PUBLIC_KEY_URL = 'ACTIONBRIDGE_PUBLIC_KEY_URL';

/**
 * How webhooks are verified. Every field is optional; with none of `publicKey`, `publicKeyUrl`
 * the keys come from the environment (`ACTIONBRIDGE_PUBLIC_KEY`, `ACTIONBRIDGE_PUBLIC_KEY_URL`).
 *
 * Parsed keys and fetched key sets are cached per process (by key text and URL), so passing the
 * options on every call costs a few property reads. `createVerifier` validates them once, up front.
 * Invalid options throw a TypeError naming the option.
 */
export interface VerifyOptions {
  /**
   * Trusted Ed25519 public key(s) for `v1a` signatures: SPKI PEM, `whpk_…`, or `KeyObject`, or an
   * array of them (several keys are trusted at once, e.g. during a rotation). A string may hold
   * several PEM blocks or several `whpk_` keys separated by whitespace or commas.
   * Parsed once and cached.
   * @default process.env.ACTIONBRIDGE_PUBLIC_KEY, unless `publicKeyUrl` is given
   */
  publicKey?: PublicKeyInput | readonly PublicKeyInput[] | undefined;
  /**
   * URL of the platform's key document, either `…/.well-known/public-key` (one PEM) or
   * `…/.well-known/public-keys` (every active key). Fetched on first use with global `fetch`, cached,
   * and fetched again when a signature verifies with no known key (rate-limited) to follow a rotation.
   * Keys from here are trusted in addition to `publicKey`.
   * @default process.env.ACTIONBRIDGE_PUBLIC_KEY_URL, unless `publicKey` is given
   */
  publicKeyUrl?: string | URL | undefined;
  /**
   * `whsec_…` secret(s) for `v1` (HMAC-SHA256) signatures, for installations that have one.
   * Compared in constant time.
   * @default no secret: `v1` signatures are ignored
   */
  secret?: string | readonly string[] | undefined;
  /**
   * How far `webhook-timestamp` may be from now, in seconds, either way.
   * @default 300
   */
  toleranceSeconds?: number | undefined;
  /**
   * The current time for the timestamp check: Unix seconds, a `Date`, or a function returning either.
   * For tests; leave unset in production.
   * @default the system clock
   */
  now?: number | Date | (() => number | Date) | undefined;
  /**
   * Minimum seconds between two key-set refreshes caused by signatures no cached key verifies.
   * @default 60
   */
  keyRefreshIntervalSeconds?: number | undefined;
  /**
   * A fetched key set older than this is refetched in the background on its next use; it stays in
   * use meanwhile, and stays if the refetch fails.
   * @default 3600
   */
  keyCacheTtlSeconds?: number | undefined;
  /**
   * Timeout of one key fetch, in milliseconds.
   * @default 5000
   */
  keyFetchTimeoutMs?: number | undefined;
  /**
   * At most this many entries of a known version in `webhook-signature` are checked; further ones
   * are ignored. Bounds the work an attacker can cause per request.
   * @default 8
   */
  maxSignatures?: number | undefined;
}

/** Options resolved to parsed keys and numbers, as the core verify function uses them. */
export interface ResolvedVerifyOptions {
  readonly keys: readonly TrustedKey[];
  readonly secrets: readonly Buffer[];
  readonly source: KeySource | undefined;
  readonly toleranceSeconds: number;
  /** Current Unix time in seconds. */
  readonly now: () => number;
  readonly maxSignatures: number;
}

export const VERIFY_OPTION_NAMES: readonly string[] = [
  'publicKey',
  'publicKeyUrl',
  'secret',
  'toleranceSeconds',
  'now',
  'keyRefreshIntervalSeconds',
  'keyCacheTtlSeconds',
  'keyFetchTimeoutMs',
  'maxSignatures',
];

const DEFAULTS = {
  toleranceSeconds: 300,
  keyRefreshIntervalSeconds: 60,
  keyCacheTtlSeconds: 3600,
  keyFetchTimeoutMs: 5000,
  maxSignatures: 8,
};

// Bounded caches: parsing a PEM costs as much as a verification, so it happens once per string.
const MAX_CACHED = 256;
const keyCache = new Map<string, TrustedKey[]>();
const secretCache = new Map<string, Buffer>();
const objectKeyCache = new WeakMap<KeyObject, TrustedKey>();
const sharedSources = new Map<string, KeySource>();

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
  return value;
}

const PEM_BLOCK = /-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g;

/** Splits a string holding one or more PEM blocks or `whpk_` keys and parses each. */
function parseKeyString(text: string, where: string): TrustedKey[] {
  const cached = keyCache.get(text);
  if (cached) return cached;
  const parts = text.includes('-----BEGIN')
    ? (text.match(PEM_BLOCK) ?? [text])
    : text.split(/[\s,]+/).filter((part) => part.length > 0);
  if (parts.length === 0) throw new TypeError(`${where}: empty public key`);
  const keys = parts.map((part) => {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(part)) {
      throw new TypeError(`${where}: this is a private key; configure the platform's public key instead`);
    }
    try {
      return trustedKey(parsePublicKey(part));
    } catch (error) {
      throw new TypeError(`${where}: ${(error as Error).message}`);
    }
  });
  return remember(keyCache, text, keys);
}

function parseKeyObject(key: KeyObject, where: string): TrustedKey {
  const cached = objectKeyCache.get(key);
  if (cached) return cached;
  if (key.type === 'private') {
    throw new TypeError(`${where}: got a private key; pass the public key (createPublicKey(privateKey))`);
  }
  const pub = key;
  if (pub.type !== 'public' || pub.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`${where}: expected an Ed25519 public key, got ${pub.type} ${pub.asymmetricKeyType ?? ''}`);
  }
  const trusted = trustedKey(pub);
  objectKeyCache.set(key, trusted);
  return trusted;
}

function parseKeys(input: unknown, where: string): TrustedKey[] {
  const list = Array.isArray(input) ? input : [input];
  const out: TrustedKey[] = [];
  for (const [i, item] of list.entries()) {
    const at = Array.isArray(input) ? `${where}[${i}]` : where;
    if (typeof item === 'string') out.push(...parseKeyString(item, at));
    else if (item instanceof KeyObject) out.push(parseKeyObject(item, at));
    else throw new TypeError(`${at} must be a PEM string, a whpk_ string or a KeyObject, got ${describe(item)}`);
  }
  return out;
}

function parseSecrets(input: unknown): Buffer[] {
  const list = Array.isArray(input) ? input : [input];
  return list.map((item, i) => {
    const at = Array.isArray(input) ? `options.secret[${i}]` : 'options.secret';
    if (typeof item !== 'string') throw new TypeError(`${at} must be a whsec_ string, got ${describe(item)}`);
    const cached = secretCache.get(item);
    if (cached) return cached;
    try {
      return remember(secretCache, item, parseHmacSecret(item.trim()));
    } catch (error) {
      throw new TypeError(`${at}: ${(error as Error).message}`);
    }
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 24 ? `${value.slice(0, 24)}…` : value}"`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function nonNegative(value: unknown, name: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(
      `options.${name} must be a finite non-negative ${integer ? 'integer' : 'number'}, got ${describe(value)}`,
    );
  }
  return value;
}

function toSeconds(value: number | Date, name: string): number {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new TypeError(`${name} is an invalid Date`);
    return Math.floor(ms / 1000);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be Unix seconds or a Date, got ${describe(value)}`);
  }
  if (value > 1e11) throw new TypeError(`${name} must be Unix seconds; ${value} looks like milliseconds`);
  return Math.floor(value);
}

const systemNow = (): number => Math.floor(Date.now() / 1000);

function resolveNow(now: VerifyOptions['now']): () => number {
  if (now === undefined) return systemNow;
  if (typeof now === 'function') return () => toSeconds(now(), 'options.now()');
  const fixed = toSeconds(now, 'options.now');
  return () => fixed;
}

function normaliseUrl(value: unknown, where: string): string {
  const text = value instanceof URL ? value.href : value;
  if (typeof text !== 'string' || text.trim() === '') {
    throw new TypeError(`${where} must be an http(s) URL, got ${describe(value)}`);
  }
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new TypeError(`${where} is not a valid URL: ${describe(text)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`${where} must use http or https, got ${url.protocol}`);
  }
  // Whoever answers the key URL decides which signatures verify: plain http only on this machine.
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(url.hostname);
  if (url.protocol === 'http:' && !loopback) {
    throw new TypeError(`${where} must use https (plain http is allowed only for localhost), got ${url.href}`);
  }
  return url.href;
}

/**
 * Validates options and resolves them to parsed keys. Throws a TypeError naming the bad option.
 *
 * `ownSource`: give the result its own {@link KeySource} (for `createVerifier`) instead of the
 * process-wide one shared by every call with the same URL and timings.
 */
export function resolveVerifyOptions(options: VerifyOptions | undefined, ownSource = false): ResolvedVerifyOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  const opts: VerifyOptions = options ?? {};
  for (const name of Object.keys(opts)) {
    if (!VERIFY_OPTION_NAMES.includes(name)) {
      throw new TypeError(`unknown option "${name}"; known options: ${VERIFY_OPTION_NAMES.join(', ')}`);
    }
  }

  const explicitKeys = opts.publicKey !== undefined || opts.publicKeyUrl !== undefined;
  const envKey = explicitKeys ? undefined : process.env[ENV_PUBLIC_KEY]?.trim() || undefined;
  const envUrl = explicitKeys ? undefined : process.env[ENV_PUBLIC_KEY_URL]?.trim() || undefined;

  const keys: TrustedKey[] = [];
  if (opts.publicKey !== undefined) keys.push(...parseKeys(opts.publicKey, 'options.publicKey'));
  if (envKey !== undefined) keys.push(...parseKeys(envKey, ENV_PUBLIC_KEY));

  const secrets = opts.secret === undefined ? [] : parseSecrets(opts.secret);
  const toleranceSeconds = nonNegative(opts.toleranceSeconds, 'toleranceSeconds', DEFAULTS.toleranceSeconds);
  const refresh = nonNegative(
    opts.keyRefreshIntervalSeconds,
    'keyRefreshIntervalSeconds',
    DEFAULTS.keyRefreshIntervalSeconds,
  );
  const ttl = nonNegative(opts.keyCacheTtlSeconds, 'keyCacheTtlSeconds', DEFAULTS.keyCacheTtlSeconds);
  // At 0, every junk signature (or every request) would be a key fetch: at most 10 per second.
  if (refresh < 0.1) throw new TypeError('options.keyRefreshIntervalSeconds must be at least 0.1');
  if (ttl < 0.1) throw new TypeError('options.keyCacheTtlSeconds must be at least 0.1');
  const timeout = nonNegative(opts.keyFetchTimeoutMs, 'keyFetchTimeoutMs', DEFAULTS.keyFetchTimeoutMs);
  if (timeout === 0) throw new TypeError('options.keyFetchTimeoutMs must be greater than 0');
  const maxSignatures = nonNegative(opts.maxSignatures, 'maxSignatures', DEFAULTS.maxSignatures, true);
  if (maxSignatures === 0) throw new TypeError('options.maxSignatures must be at least 1');
  const now = resolveNow(opts.now);

  let source: KeySource | undefined;
  const rawUrl = opts.publicKeyUrl ?? envUrl;
  if (rawUrl !== undefined) {
    const url = normaliseUrl(rawUrl, opts.publicKeyUrl !== undefined ? 'options.publicKeyUrl' : ENV_PUBLIC_KEY_URL);
    const settings = { refreshIntervalMs: refresh * 1000, maxAgeMs: ttl * 1000, timeoutMs: timeout };
    if (ownSource) {
      source = new KeySource(url, settings);
    } else {
      const id = `${url}\n${settings.refreshIntervalMs}\n${settings.maxAgeMs}\n${settings.timeoutMs}`;
      source = sharedSources.get(id) ?? remember(sharedSources, id, new KeySource(url, settings));
    }
  }

  return { keys, secrets, source, toleranceSeconds, now, maxSignatures };
}

/** Forgets every cached key, secret and fetched key set (for tests). */
export function clearKeyCache(): void {
  keyCache.clear();
  secretCache.clear();
  sharedSources.clear();
}
