/**
 * Fetch API adapter (`Request` → `Response`): `@actionbridge/app-sdk/fetch`. For Hono
 * (`c.req.raw`), Next.js route handlers, Cloudflare Workers, Deno, Bun and anything else that
 * speaks Fetch.
 *
 * @example
 * import { Hono } from 'hono';
 * import { customActionHandler } from '@actionbridge/app-sdk/fetch';
 * const handle = customActionHandler(async (payload) => ({ ok: true }));
 * const app = new Hono();
 * app.post('/action', (c) => handle(c.req.raw));
 */

import { DEFAULT_MAX_BODY_BYTES } from '../body.js';
import { verifyRawWebhook } from '../core.js';
import { BodyTooLargeError } from '../errors.js';
import { getHeader, type HeaderGetter } from '../headers.js';
import { resolveVerifyOptions, type VerifyOptions } from '../options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from '../types.js';
import { parseCustomActionPayload } from '../verify.js';
import { type CustomActionHandler, type HandlerOptions, outcomeJson, prepareHandler } from './shared.js';

export type { CustomActionHandler, HandlerContext, HandlerOptions } from './shared.js';

/** A Fetch `Request` (structurally). Its body is read once, here. */
export interface FetchRequestLike {
  headers: HeaderGetter;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The body stream: read chunk by chunk, so a body over the limit is cut off, not buffered. */
  body?: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> } } | null;
  bodyUsed?: boolean;
}

async function bodyOf(request: FetchRequestLike, limit: number): Promise<ArrayBuffer> {
  if (request.bodyUsed === true) {
    throw new TypeError(
      'the Request body was already read; verify before reading it (or pass request.clone()) and use the returned payload',
    );
  }
  const declared = Number(getHeader(request.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  if (!request.body) {
    const body = await request.arrayBuffer();
    if (body.byteLength > limit) throw new BodyTooLargeError(limit);
    return body;
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!value) continue;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  // No Buffer here: this adapter also runs where Node's globals do not (Workers, Deno).
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}

/**
 * Verifies a Fetch `Request` (reading its body) and returns the typed custom action payload.
 * Throws a `SignatureError` on failure (see `verifyCustomAction`).
 */
export async function verifyRequest<P extends AnyCustomActionPayload = CustomActionPayload>(
  request: FetchRequestLike,
  options?: VerifyOptions & {
    /**
     * Largest body read, in bytes; larger fails with `BodyTooLargeError`.
     * @default 5242880 (5 MiB)
     */
    maxBodyBytes?: number;
  },
): Promise<P> {
  const { maxBodyBytes = DEFAULT_MAX_BODY_BYTES, ...verifyOptions } = options ?? {};
  const resolved = resolveVerifyOptions(verifyOptions);
  const body = await bodyOf(request, maxBodyBytes);
  return parseCustomActionPayload<P>(await verifyRawWebhook({ headers: request.headers, body }, resolved));
}

/**
 * A `(request: Request) => Promise<Response>` function that verifies the request, runs `handler`
 * and answers JSON (200 with the handler's result, 401 on a bad signature, a
 * `CustomActionError`'s status, 500).
 */
export function customActionHandler<P extends AnyCustomActionPayload = CustomActionPayload>(
  handler: CustomActionHandler<FetchRequestLike, P>,
  options?: HandlerOptions,
): (request: FetchRequestLike) => Promise<Response> {
  const prepared = prepareHandler(handler, options, 'customActionHandler (fetch)');
  return async (request) => {
    const outcome = await prepared.run(
      async () => ({ headers: request.headers, body: await bodyOf(request, prepared.maxBodyBytes) }),
      request,
    );
    return new Response(outcomeJson(outcome), {
      status: outcome.status,
      headers: { 'content-type': 'application/json' },
    });
  };
}
