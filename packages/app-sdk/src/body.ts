import { BodyTooLargeError } from './errors.js';

/** The exact bytes of a request body: a string (UTF-8), a `Buffer`/`Uint8Array`, or an `ArrayBuffer`. */
export type RawBody = string | Uint8Array | ArrayBuffer;

/** The default limit for bodies the adapters read themselves: 5 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

/** True for the raw body types (as opposed to an already parsed object). */
export function isRawBody(value: unknown): value is RawBody {
  return typeof value === 'string' || value instanceof Uint8Array || value instanceof ArrayBuffer;
}

/** A `Buffer` view of a raw body, without copying bytes that are already binary. */
export function toBuffer(body: RawBody): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(body);
}

/** The minimal readable stream the body reader needs (a Node `IncomingMessage` is one). */
export interface ReadableBody {
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
}

/** Reads a stream to the end into one `Buffer`, failing with {@link BodyTooLargeError} past `limit` bytes. */
export async function readStream(stream: ReadableBody, limit: number = DEFAULT_MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<unknown>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : toBuffer(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(buf);
  }
  return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, size);
}

/** The TypeError thrown where only a parsed body is available: the SDK never re-serialises. */
export function parsedBodyError(where: string): TypeError {
  return new TypeError(
    `${where}: the request body was already parsed, so the exact signed bytes are gone and the signature cannot be ` +
      'checked. Pass the raw body (string or Buffer) instead, e.g. express.raw({ type: "application/json" }) or ' +
      'express.json({ verify: captureRawBody }), or addRawBodyParser(fastify). See "Getting the raw body" in the README.',
  );
}
