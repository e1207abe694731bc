import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { badRequest } from '../domain/errors.js';
import type { IdempotencyRequest, Outcome } from '../entities/idempotency.js';

/**
 * The `Idempotency-Key` request header (SPEC §6: "Writes accept an Idempotency-Key header"; the
 * IETF httpapi draft's header): entity writes take it, every other write refuses it rather than
 * ignore it. The stored answer and its rules are in entities/idempotency.ts.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set on an answer that is the stored answer of an earlier request with the same key. */
export const REPLAYED_HEADER = 'idempotent-replayed';

/** 1–255 visible ASCII characters but `"`: a UUID, a ULID, or anything else a client generates. */
const KEY = /^[\x21\x23-\x7e]{1,255}$/;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes an `Idempotency-Key` (http/idempotency.ts). */
    idempotent?: boolean;
  }
}

/** Routes that take the header say so in their config: `{ config: IDEMPOTENT_ROUTE }`. */
export const IDEMPOTENT_ROUTE = { idempotent: true };

/** `onRequest` hook: a write route without {@link IDEMPOTENT_ROUTE} refuses the header (400), naming the ones that take it. */
export async function refuseKeyElsewhere(req: FastifyRequest): Promise<void> {
  if (req.headers[IDEMPOTENCY_HEADER] === undefined || ['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return;
  if (req.routeOptions.url === undefined || req.routeOptions.config?.idempotent) return;
  throw badRequest(
    `Idempotency-Key is not supported on ${req.method} ${req.routeOptions.url}: entity writes take it (create, update, patch, upsert, delete, restore)`,
  );
}

/** Who sends the request: a retry by another caller is not the same request. */
function callerOf(p: Principal): string {
  if (p.kind === 'org') return `token:${p.token_id}`;
  if (p.kind === 'app') return `app:${p.app_id}`;
  return 'admin';
}

/**
 * The request's `Idempotency-Key`, if it has one: the key (a structured-field string's quotes
 * dropped) and the fingerprint a retry must match: caller, method, URL (path and query) and body.
 * A malformed key is a 400; so is one on a dry run, which writes nothing to keep an answer with.
 */
export function idempotencyOf(req: FastifyRequest, p: Principal, dryRun = false): IdempotencyRequest | undefined {
  const raw = req.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(', ') : raw;
  const key = /^"[^"]*"$/.test(value) ? value.slice(1, -1) : value;
  if (!KEY.test(key)) {
    throw badRequest('Idempotency-Key must be 1–255 visible ASCII characters (no spaces or quotes), sent once');
  }
  if (dryRun) throw badRequest('Idempotency-Key cannot be used with dry_run=true: a dry run writes nothing');
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([callerOf(p), req.method, req.url, req.body ?? null]))
    .digest('hex');
  return { key, fingerprint, request: `${req.method} ${req.url.split('?')[0]}` };
}

/**
 * TEST ONLY. When `ACTIONBRIDGE_TEST_KILL_AFTER_COMMIT` equals a request's `Idempotency-Key`, the
 * process kills itself (SIGKILL) once that write has committed and before it answers: how tests
 * prove that a client retrying after losing the answer gets it back and writes nothing twice
 * (entities/idempotency.test.ts). Unset in every real deployment; nothing else reads it.
 */
function faultAfterCommit(key: string): void {
  if (process.env.ACTIONBRIDGE_TEST_KILL_AFTER_COMMIT === key) process.kill(process.pid, 'SIGKILL');
}

/** Sends a write's outcome (marking a replayed answer); the commit is done when this runs. */
export function answer(reply: FastifyReply, outcome: Outcome, idem: IdempotencyRequest | undefined): FastifyReply {
  if (idem && !outcome.replayed) faultAfterCommit(idem.key);
  if (outcome.replayed) reply.header(REPLAYED_HEADER, 'true');
  return reply.status(outcome.status).send(outcome.body);
}
