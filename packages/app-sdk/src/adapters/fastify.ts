/**
 * Fastify adapter: `@actionbridge/app-sdk/fastify`. No dependency on Fastify: structural types only.
 *
 * Fastify parses JSON bodies, and the signature covers the raw bytes: call
 * `addRawBodyParser(fastify)` (or register `fastify-raw-body`) so `request.rawBody` holds them.
 *
 * @example
 * import Fastify from 'fastify';
 * import { addRawBodyParser, customActionHandler } from '@actionbridge/app-sdk/fastify';
 * const app = Fastify();
 * addRawBodyParser(app);
 * app.post('/action', customActionHandler(async (payload) => ({ ok: true })));
 */
import {
  DEFAULT_MAX_BODY_BYTES,
  isRawBody,
  parsedBodyError,
  type RawBody,
  type ReadableBody,
  readStream,
} from '../body.js';
import { verifyRawWebhook } from '../core.js';
import type { HeaderBag } from '../headers.js';
import { resolveVerifyOptions, type VerifyOptions } from '../options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from '../types.js';
import { parseCustomActionPayload } from '../verify.js';
import { type CustomActionHandler, type HandlerOptions, prepareHandler } from './shared.js';

export type { CustomActionHandler, HandlerContext, HandlerOptions } from './shared.js';

/** A Fastify request (structurally). */
export interface FastifyRequestLike {
  headers: HeaderBag;
  body?: unknown;
  rawBody?: RawBody | undefined;
  /** The underlying Node request. */
  raw?: (ReadableBody & { readableEnded?: boolean }) | undefined;
}

/** A Fastify reply (structurally). */
export interface FastifyReplyLike {
  code(statusCode: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(payload?: unknown): FastifyReplyLike;
}

/** The part of a Fastify instance {@link addRawBodyParser} uses. */
export interface FastifyInstanceLike {
  addContentTypeParser(
    contentType: string | string[],
    options: { parseAs: 'buffer' },
    parser: (request: object, body: Buffer | string, done: ParserDone) => void,
  ): unknown;
  hasContentTypeParser?(contentType: string): boolean;
  removeContentTypeParser?(contentType: string | string[]): unknown;
}

/** Fastify's content type parser callback. */
export type ParserDone = (error: Error | null, body?: unknown) => void;

/**
 * A Fastify content type parser (`parseAs: 'buffer'`) that keeps the raw bytes in
 * `request.rawBody` and parses them as JSON into `request.body`.
 */
export function rawJsonBodyParser(request: object, body: Buffer | string, done: ParserDone): void {
  (request as { rawBody?: RawBody }).rawBody = body;
  if (body.length === 0) {
    done(
      Object.assign(new Error('the body is empty but content-type is application/json'), { statusCode: 400 }),
      undefined,
    );
    return;
  }
  try {
    done(null, JSON.parse(typeof body === 'string' ? body : body.toString('utf8'), refusePoisoning));
  } catch (error) {
    Object.assign(error as Error, { statusCode: 400 });
    done(error as Error, undefined);
  }
}

/** The same guard as Fastify's own JSON parser: `__proto__` and `constructor.prototype` keys are refused. */
function refusePoisoning(key: string, value: unknown): unknown {
  if (
    key === '__proto__' ||
    (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value)
  ) {
    throw new SyntaxError(`the body has a forbidden "${key}" key (prototype poisoning)`);
  }
  return value;
}

/**
 * Replaces the JSON parser of a Fastify instance (or of the plugin scope you call it in) with
 * {@link rawJsonBodyParser}, so `request.rawBody` holds the exact bytes and `request.body` the
 * parsed JSON. Call it before `listen`.
 */
export function addRawBodyParser(fastify: FastifyInstanceLike, contentType = 'application/json'): void {
  if (fastify === null || typeof fastify?.addContentTypeParser !== 'function') {
    throw new TypeError('addRawBodyParser: expected a Fastify instance');
  }
  if (fastify.hasContentTypeParser?.(contentType)) fastify.removeContentTypeParser?.(contentType);
  fastify.addContentTypeParser(contentType, { parseAs: 'buffer' }, rawJsonBodyParser);
}

async function rawBodyOf(request: FastifyRequestLike, limit: number): Promise<RawBody> {
  if (isRawBody(request.rawBody)) return request.rawBody;
  // Not `request.body`, even as a string: Fastify may have parsed a JSON string into one, and those
  // are not the bytes that were signed. `addRawBodyParser` keeps the real ones.
  if (request.body !== undefined && request.body !== null) throw parsedBodyError('verifyRequest (fastify)');
  if (request.raw && request.raw.readableEnded !== true) return readStream(request.raw, limit);
  throw parsedBodyError('verifyRequest (fastify)');
}

/**
 * Verifies a Fastify request and returns the typed custom action payload.
 * Throws a `SignatureError` on failure, a TypeError when only a parsed body is available.
 */
export async function verifyRequest<P extends AnyCustomActionPayload = CustomActionPayload>(
  request: FastifyRequestLike,
  options?: VerifyOptions & {
    /**
     * Largest body read from the stream, in bytes (without `addRawBodyParser`).
     * @default 5242880 (5 MiB)
     */
    maxBodyBytes?: number;
  },
): Promise<P> {
  const { maxBodyBytes = DEFAULT_MAX_BODY_BYTES, ...verifyOptions } = options ?? {};
  const resolved = resolveVerifyOptions(verifyOptions);
  const body = await rawBodyOf(request, maxBodyBytes);
  return parseCustomActionPayload<P>(await verifyRawWebhook({ headers: request.headers, body }, resolved));
}

/**
 * A Fastify route handler `(request, reply)` that verifies the request, runs `handler` and answers
 * JSON (200 with the handler's result, 401 on a bad signature, a `CustomActionError`'s status, 500).
 */
export function customActionHandler<P extends AnyCustomActionPayload = CustomActionPayload>(
  handler: CustomActionHandler<FastifyRequestLike, P>,
  options?: HandlerOptions,
): (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<FastifyReplyLike> {
  const prepared = prepareHandler(handler, options, 'customActionHandler (fastify)');
  return async (request, reply) => {
    const outcome = await prepared.run(
      async () => ({ headers: request.headers, body: await rawBodyOf(request, prepared.maxBodyBytes) }),
      request,
    );
    return reply.code(outcome.status).header('content-type', 'application/json').send(outcome.json);
  };
}
