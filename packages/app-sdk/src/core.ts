import { createHmac, verify as ed25519Verify, timingSafeEqual } from 'node:crypto';
import { type RawBody, toBuffer } from './body.js';
import { SignatureError } from './errors.js';
import { getHeader, HEADER, type HeaderBag } from './headers.js';
import type { TrustedKey } from './key-source.js';
import type { ResolvedVerifyOptions } from './options.js';

/** A request reduced to what a signature covers: its headers and the exact bytes of its body. */
export interface RawWebhook {
  /** Request headers in any common shape; looked up case-insensitively. */
  headers: HeaderBag;
  /** The exact body bytes as received. */
  body: RawBody;
}

/** A webhook whose signature verified. */
export interface VerifiedWebhook {
  /** `webhook-id`: the same on every retry of one delivery; deduplicate on it. */
  id: string;
  /** `webhook-timestamp`: Unix seconds of this attempt. */
  timestamp: number;
  /** The verified body bytes. */
  body: Buffer;
  /** The signature version that verified: `v1a` (Ed25519) or `v1` (HMAC-SHA256). */
  version: 'v1a' | 'v1';
  /** The `kid` of the Ed25519 key that verified, when the key came from a `public-keys` document. */
  kid?: string | undefined;
}

/** Parsed `webhook-signature` entries of the known versions. */
interface SignatureEntries {
  v1a: Buffer[];
  v1: Buffer[];
}

// Strict base64 of exactly 64 bytes (Ed25519) and 32 bytes (HMAC-SHA256), padding optional.
const V1A_BASE64 = /^[A-Za-z0-9+/]{86}(?:==)?$/;
const V1_BASE64 = /^[A-Za-z0-9+/]{43}=?$/;
const TIMESTAMP = /^\d{1,12}$/;

/**
 * Parses `webhook-signature`: space-separated `version,base64` entries. Unknown versions and junk
 * entries are ignored; at most `max` entries of known versions are kept.
 */
export function parseSignatureHeader(header: string, max: number): SignatureEntries {
  const entries: SignatureEntries = { v1a: [], v1: [] };
  let kept = 0;
  for (const spaced of header.split(/\s+/)) {
    if (kept >= max) break;
    const entry = spaced.replace(/,+$/, ''); // "v1a,AAA, v1a,BBB": a repeated header joined by ", "

    const comma = entry.indexOf(',');
    if (comma <= 0) continue;
    const version = entry.slice(0, comma);
    const value = entry.slice(comma + 1);
    if (version === 'v1a' && V1A_BASE64.test(value)) {
      entries.v1a.push(Buffer.from(value, 'base64'));
      kept++;
    } else if (version === 'v1' && V1_BASE64.test(value)) {
      entries.v1.push(Buffer.from(value, 'base64'));
      kept++;
    }
  }
  return entries;
}

function verifiesWith(
  keys: readonly TrustedKey[],
  content: Buffer,
  signatures: readonly Buffer[],
): TrustedKey | undefined {
  for (const signature of signatures) {
    for (const trusted of keys) {
      if (ed25519Verify(null, content, trusted.key, signature)) return trusted;
    }
  }
  return undefined;
}

function hmacVerifies(secrets: readonly Buffer[], content: Buffer, signatures: readonly Buffer[]): boolean {
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(content).digest();
    for (const signature of signatures) {
      if (timingSafeEqual(expected, signature)) return true;
    }
  }
  return false;
}

/**
 * The one verification routine: every public verify function and every framework adapter ends here.
 *
 * Checks, in order: the three `webhook-*` headers are present (`missing_header`); the timestamp is an
 * integer (`malformed_signature`) within the tolerance (`timestamp_out_of_tolerance`); the signature
 * header holds an entry of a known version (`malformed_signature`); some `v1a` entry verifies with a
 * trusted Ed25519 key or some `v1` entry with a `whsec_` secret (`no_valid_signature`, or
 * `key_unavailable` when no key could be had). On a miss with a key URL, the key set is refreshed
 * once (rate-limited) to follow a rotation.
 *
 * The signed content is `${webhook-id}.${webhook-timestamp}.` followed by the body bytes exactly as
 * given; nothing is re-serialised.
 */
export async function verifyRawWebhook(request: RawWebhook, options: ResolvedVerifyOptions): Promise<VerifiedWebhook> {
  const { headers } = request;
  const id = getHeader(headers, HEADER.id);
  const ts = getHeader(headers, HEADER.timestamp)?.trim();
  // Repeated signature headers all count (Node and Fetch join them with ", "; arrays are joined).
  const signatureHeader = getHeader(headers, HEADER.signature, true);
  if (!id || !ts || !signatureHeader?.trim()) {
    const missing = [
      id ? undefined : HEADER.id,
      ts ? undefined : HEADER.timestamp,
      signatureHeader?.trim() ? undefined : HEADER.signature,
    ].filter((name) => name !== undefined);
    throw new SignatureError('missing_header', `missing header${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  }
  if (!TIMESTAMP.test(ts)) {
    throw new SignatureError('malformed_signature', 'webhook-timestamp is not integer Unix seconds');
  }
  const timestamp = Number(ts);
  const now = options.now();
  if (Math.abs(now - timestamp) > options.toleranceSeconds) {
    throw new SignatureError(
      'timestamp_out_of_tolerance',
      `webhook-timestamp is ${timestamp - now} s from now; the tolerance is ±${options.toleranceSeconds} s`,
    );
  }

  const entries = parseSignatureHeader(signatureHeader, options.maxSignatures);
  if (entries.v1a.length === 0 && entries.v1.length === 0) {
    throw new SignatureError('malformed_signature', 'webhook-signature holds no well-formed v1a or v1 entry');
  }

  const body = toBuffer(request.body);
  const content = Buffer.concat([Buffer.from(`${id}.${ts}.`, 'utf8'), body]);
  const ok = (version: 'v1a' | 'v1', key?: TrustedKey): VerifiedWebhook => ({
    id,
    timestamp,
    body,
    version,
    kid: key?.kid,
  });

  if (entries.v1a.length > 0) {
    const key = verifiesWith(options.keys, content, entries.v1a);
    if (key) return ok('v1a', key);
  }
  if (entries.v1.length > 0 && hmacVerifies(options.secrets, content, entries.v1)) return ok('v1');

  // Keys from the URL: the cached set first; on a miss, one rate-limited refetch to follow a rotation.
  let fetchedKeys = false;
  const { source } = options;
  if (entries.v1a.length > 0 && source) {
    const { keys, fresh } = await source.current();
    if (keys) {
      fetchedKeys = true;
      const key = verifiesWith(keys, content, entries.v1a);
      if (key) return ok('v1a', key);
    }
    const refreshed = fresh ? undefined : await source.refreshOnMiss();
    if (refreshed) {
      fetchedKeys = true;
      const tried = new Set(keys?.map((k) => k.id));
      const key = verifiesWith(
        refreshed.filter((k) => !tried.has(k.id)),
        content,
        entries.v1a,
      );
      if (key) return ok('v1a', key);
    }
  }

  const canCheckV1a = entries.v1a.length > 0 && (options.keys.length > 0 || fetchedKeys);
  const canCheckV1 = entries.v1.length > 0 && options.secrets.length > 0;
  if (!canCheckV1a && !canCheckV1) throw keyUnavailable(entries, options);
  throw new SignatureError('no_valid_signature', 'no signature verifies with a trusted key');
}

/** Why no key could check any of the signatures that were sent. */
function keyUnavailable(entries: SignatureEntries, options: ResolvedVerifyOptions): SignatureError {
  const { source } = options;
  if (entries.v1a.length === 0) {
    return new SignatureError(
      'key_unavailable',
      'the request carries only v1 (HMAC) signatures and no whsec_ secret is configured (options.secret)',
    );
  }
  if (source) {
    const cause = source.lastError;
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return new SignatureError('key_unavailable', `the public key URL ${source.url} could not be fetched${why}`, {
      cause,
    });
  }
  return new SignatureError(
    'key_unavailable',
    'no public key is configured: set options.publicKey or options.publicKeyUrl, or the environment variable ' +
      'ACTIONBRIDGE_PUBLIC_KEY or ACTIONBRIDGE_PUBLIC_KEY_URL',
  );
}
