/**
 * Express adapter: `@actionbridge/app-sdk/express`. No dependency on Express: structural types only.
 *
 * The signature covers the raw body. Either mount no JSON parser on the route (the adapter reads
 * the stream), or use `express.raw({ type: 'application/json' })`, or keep the raw bytes next to
 * the parsed body with `express.json({ verify: captureRawBody })`.
 *
 * @example
 * import express from 'express';
 * import { customActionHandler } from '@actionbridge/app-sdk/express';
 * const app = express();
 * app.post('/action', customActionHandler(async (payload, { accessToken }) => ({ ok: true })));
 * app.listen(3000);
 */
import type { RawBody } from '../body.js';
import type { VerifyOptions } from '../options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from '../types.js';
import {
  type NodeRequestLike,
  type ReadRawBodyOptions,
  readRawBody,
  verifyRequest as verifyNodeRequest,
} from './node.js';
import { type CustomActionHandler, type HandlerOptions, prepareHandler } from './shared.js';

export type { CustomActionHandler, HandlerContext, HandlerOptions } from './shared.js';

/** An Express request (structurally): a Node request that a body parser may have given a `body`. */
export type ExpressRequestLike = NodeRequestLike;

/** An Express response (structurally). */
export interface ExpressResponseLike {
  status(code: number): ExpressResponseLike;
  json(body: unknown): unknown;
}

/**
 * For `express.json({ verify: captureRawBody })`: keeps the exact bytes in `req.rawBody` next to
 * the parsed `req.body`, so both your other routes and the signature check are served.
 */
export function captureRawBody(req: object, _res: unknown, buf: Buffer): void {
  (req as { rawBody?: RawBody }).rawBody = buf;
}

/**
 * Verifies an Express request and returns the typed custom action payload. Uses `req.rawBody`,
 * a raw `req.body` (`express.raw`), or reads the stream when no body parser ran.
 * Throws a `SignatureError` on failure, a TypeError when only a parsed body is available.
 */
export function verifyRequest<P extends AnyCustomActionPayload = CustomActionPayload>(
  req: ExpressRequestLike,
  options?: VerifyOptions & ReadRawBodyOptions,
): Promise<P> {
  return verifyNodeRequest<P>(req, options);
}

/**
 * Express middleware `(req, res)` that verifies the request, runs `handler` and answers JSON
 * (see the node adapter's `customActionHandler` for the status codes).
 */
export function customActionHandler<P extends AnyCustomActionPayload = CustomActionPayload>(
  handler: CustomActionHandler<ExpressRequestLike, P>,
  options?: HandlerOptions,
): (req: ExpressRequestLike, res: ExpressResponseLike) => Promise<void> {
  const prepared = prepareHandler(handler, options, 'customActionHandler (express)');
  return async (req, res) => {
    const outcome = await prepared.run(
      async () => ({ headers: req.headers, body: await readRawBody(req, { maxBodyBytes: prepared.maxBodyBytes }) }),
      req,
    );
    res.status(outcome.status).json(outcome.body);
  };
}
