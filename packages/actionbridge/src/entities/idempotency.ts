import { conflict } from '../domain/errors.js';
import type { EntityItem } from '../domain/types.js';
import type { Store } from '../store/store.js';

/** How long a stored answer answers retries of its key. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** Expired records each keyed write deletes (along the expiry index): cleaning keeps pace with writing. */
const CLEANUP_PER_WRITE = 4;

/** A write sent with an `Idempotency-Key`: the key, and what makes a retry the same request. */
export interface IdempotencyRequest {
  key: string;
  /** Digest of the caller, method, URL and body (see http/idempotency.ts). */
  fingerprint: string;
  /** `METHOD /path`, named when the key is reused for another request. */
  request: string;
}

/** What a write answers: its status (201 created, else 200) and body; `replayed` when it is a stored answer. */
export interface Outcome<T = EntityItem> {
  status: 200 | 201;
  body: T;
  replayed: boolean;
}

/**
 * Runs `write` (inside the caller's transaction) at most once per org and key: the first outcome is
 * stored in the same transaction as the write, so a retry after a crash between commit and reply
 * finds it and gets the same answer, and a write that failed stored nothing (its retry runs again).
 * The same key with another request (caller, method, URL or body) is a 409 (the IETF draft's 422
 * would read as epilot's entity validation error, whose body it is not). Writers of one key
 * run one after the other (PostgreSQL: an advisory lock; SQLite's transactions are serial).
 */
export async function once<T extends EntityItem>(
  tx: Store,
  orgId: string,
  idem: IdempotencyRequest | undefined,
  write: () => Promise<Omit<Outcome<T>, 'replayed'>>,
  now = Date.now(),
): Promise<Outcome<T>> {
  if (!idem) return { ...(await write()), replayed: false };
  await tx.lockEntityKey(JSON.stringify(['idempotency', orgId, idem.key]));
  const stored = await tx.getIdempotencyRecord(orgId, idem.key, now);
  if (stored) {
    if (stored.fingerprint !== idem.fingerprint) {
      throw conflict(
        `Idempotency-Key "${idem.key}" was already used for another request (${stored.request}, another caller or body): send a new key with a new request`,
      );
    }
    return { status: stored.status as 200 | 201, body: JSON.parse(stored.body) as T, replayed: true };
  }
  const outcome = await write();
  await tx.putIdempotencyRecord({
    org_id: orgId,
    key: idem.key,
    fingerprint: idem.fingerprint,
    request: idem.request,
    status: outcome.status,
    body: JSON.stringify(outcome.body),
    entity_id: outcome.body._id,
    created_ms: now,
    expires_ms: now + IDEMPOTENCY_TTL_MS,
  });
  await tx.deleteExpiredIdempotencyRecords(now, CLEANUP_PER_WRITE);
  return { ...outcome, replayed: false };
}
