/**
 * Node `http` / `https` adapter: `@actionbridge/app-sdk/node`.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { customActionHandler } from '@actionbridge/app-sdk/node';
 * createServer(customActionHandler(async (payload) => ({ seen: payload.data.entity._id }))).listen(3000);
 */
import { isRawBody, parsedBodyError, type RawBody, type ReadableBody, readStream } from '../body.js';
import { verifyRawWebhook } from '../core.js';
import type { HeaderBag } from '../headers.js';
import { resolveVerifyOptions, type VerifyOptions } from '../options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from '../types.js';
import { parseCustomActionPayload } from '../verify.js';
import { type CustomActionHandler, type HandlerOptions, outcomeJson, prepareHandler } from './shared.js';

export type { CustomActionHandler, HandlerContext, HandlerOptions } from './shared.js';

/**
 * A Node `IncomingMessage` (structurally): headers plus a readable body stream. Frameworks built on
 * it may already have put the body in `body` (raw string/Buffer) or `rawBody`.
 */
export interface NodeRequestLike extends ReadableBody {
  headers: HeaderBag;
  body?: unknown;
  rawBody?: RawBody | undefined;
  readableEnded?: boolean;
}

/** A Node `ServerResponse` (structurally). */
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string | number): unknown;
  end(body?: string): unknown;
}

/** Options of {@link readRawBody}. */
export interface ReadRawBodyOptions {
  /**
   * Largest body read from the stream, in bytes; larger fails with `BodyTooLargeError`.
   * @default 5242880 (5 MiB)
   */
  maxBodyBytes?: number;
}

/**
 * The raw body of a Node request: `req.rawBody` or a raw `req.body` when a framework already read
 * it, else the stream read to its end. Throws a TypeError when only a parsed body is left.
 */
export async function readRawBody(req: NodeRequestLike, options: ReadRawBodyOptions = {}): Promise<RawBody> {
  const limit = options.maxBodyBytes;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
    throw new TypeError(`readRawBody: maxBodyBytes must be a positive integer, got ${String(limit)}`);
  }
  if (isRawBody(req.rawBody)) return req.rawBody;
  if (isRawBody(req.body)) return req.body;
  // A parsed body with the stream still unread: a body parser set a default (Express 4 sets `{}`
  // when the content type did not match) without reading, so the exact bytes are still there.
  const parsed = req.body !== undefined && req.body !== null;
  if (parsed && req.readableEnded !== false) throw parsedBodyError('readRawBody');
  if (req.readableEnded === true) {
    throw new TypeError('readRawBody: the request stream was already consumed and no raw body was kept');
  }
  return readStream(req, limit);
}

/**
 * Verifies a Node request (reading its body) and returns the typed custom action payload.
 * Throws a `SignatureError` on failure (see `verifyCustomAction`).
 */
export async function verifyRequest<P extends AnyCustomActionPayload = CustomActionPayload>(
  req: NodeRequestLike,
  options?: VerifyOptions & ReadRawBodyOptions,
): Promise<P> {
  const { maxBodyBytes, ...verifyOptions } = options ?? {};
  const resolved = resolveVerifyOptions(verifyOptions);
  const body = await readRawBody(req, maxBodyBytes === undefined ? {} : { maxBodyBytes });
  return parseCustomActionPayload<P>(await verifyRawWebhook({ headers: req.headers, body }, resolved));
}

/**
 * A `(req, res)` listener for `http.createServer` that verifies each request, runs `handler` and
 * answers JSON: the handler's return value (200), 401 `{error_reason, code}` on a bad signature,
 * the status of a thrown `CustomActionError`, 500 on other errors.
 */
export function customActionHandler<P extends AnyCustomActionPayload = CustomActionPayload>(
  handler: CustomActionHandler<NodeRequestLike, P>,
  options?: HandlerOptions,
): (req: NodeRequestLike, res: NodeResponseLike) => Promise<void> {
  const prepared = prepareHandler(handler, options, 'customActionHandler (node)');
  return async (req, res) => {
    const outcome = await prepared.run(
      async () => ({ headers: req.headers, body: await readRawBody(req, { maxBodyBytes: prepared.maxBodyBytes }) }),
      req,
    );
    res.statusCode = outcome.status;
    res.setHeader('content-type', 'application/json');
    res.end(outcomeJson(outcome));
  };
}
