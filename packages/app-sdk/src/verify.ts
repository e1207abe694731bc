import { isRawBody, parsedBodyError, type RawBody } from './body.js';
import { type RawWebhook, type VerifiedWebhook, verifyRawWebhook } from './core.js';
import type { HeaderBag } from './headers.js';
import { type ResolvedVerifyOptions, resolveVerifyOptions, type VerifyOptions } from './options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from './types.js';

/**
 * A request with its raw body: `{headers, body}` where `body` is the exact bytes (string, Buffer,
 * Uint8Array, ArrayBuffer). When the framework parsed the body, put the raw bytes in `rawBody`
 * (it wins over `body`); a parsed object in `body` alone is rejected, never re-serialised.
 */
export interface WebhookRequest {
  headers: HeaderBag;
  body?: unknown;
  rawBody?: RawBody | undefined;
}

/**
 * What {@link verifyEpilotSignature} accepts, like epilot's own: a Node `IncomingMessage`-like
 * object carrying the raw `body` (string/Buffer) and `headers`, or an openapi-backend style
 * context `{request: {headers, requestBody}}`.
 */
export type EpilotSignatureInput =
  | WebhookRequest
  | { request: { headers: HeaderBag; requestBody?: unknown; body?: unknown; rawBody?: RawBody | undefined } };

function isStream(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    (typeof (value as { getReader?: unknown }).getReader === 'function' ||
      typeof (value as { pipe?: unknown }).pipe === 'function')
  );
}

function isContextInput(input: object): input is { request: ContextRequest } {
  const request = (input as { request?: unknown }).request;
  return request !== null && typeof request === 'object' && typeof (request as { headers?: unknown }).headers === 'object';
}

/** The `request` of an openapi-backend style context. */
interface ContextRequest {
  headers: HeaderBag;
  requestBody?: unknown;
  body?: unknown;
  rawBody?: unknown;
}

/**
 * Reduces a request to headers + raw body. `reserialise` is the epilot compatibility path only:
 * `{request: {requestBody: <object>}}` is signed-checked over `JSON.stringify(requestBody)`.
 */
export function toRawWebhook(input: unknown, where: string, reserialise = false): RawWebhook {
  if (input === null || typeof input !== 'object') {
    throw new TypeError(`${where}: expected a request object with headers and a raw body`);
  }
  if (isContextInput(input)) {
    const { headers, requestBody, rawBody, body } = input.request;
    if (isRawBody(rawBody)) return { headers, body: rawBody };
    if (isRawBody(requestBody)) return { headers, body: requestBody };
    if (isRawBody(body)) return { headers, body };
    if (!reserialise) throw parsedBodyError(where);
    // epilot's verifyEpilotSignature checks JSON.stringify(requestBody); undefined becomes ''.
    return { headers, body: JSON.stringify(requestBody) ?? '' };
  }
  const request = input as WebhookRequest & { isBase64Encoded?: unknown };
  if (request.headers === null || typeof request.headers !== 'object') {
    throw new TypeError(`${where}: the request has no headers`);
  }
  if (request.isBase64Encoded === true) {
    throw new TypeError(
      `${where}: this is a Lambda event with a base64 body; use verifyEvent from @actionbridge/app-sdk/lambda`,
    );
  }
  if (isRawBody(request.rawBody)) return { headers: request.headers, body: request.rawBody };
  if (isRawBody(request.body)) return { headers: request.headers, body: request.body };
  if (request.body === undefined || request.body === null || isStream(request.body)) {
    throw new TypeError(
      `${where}: the request carries no raw body; pass {headers, body} with the body as received (string or ` +
        'Buffer), or use the adapter that reads it: verifyRequest from @actionbridge/app-sdk/node for a Node ' +
        'request, from @actionbridge/app-sdk/fetch for a Fetch Request',
    );
  }
  throw parsedBodyError(where);
}

/**
 * Parses a verified body as a custom action payload. Throws a TypeError when it is not a JSON object
 * with a `data` object (a valid signature over something that is not a custom action).
 */
export function parseCustomActionPayload<P extends AnyCustomActionPayload = CustomActionPayload>(
  verified: VerifiedWebhook,
): P {
  let payload: unknown;
  try {
    payload = JSON.parse(verified.body.toString('utf8'));
  } catch {
    throw new TypeError('the verified body is not JSON');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new TypeError('the verified body is not a JSON object');
  }
  const data = (payload as { data?: unknown }).data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError('the verified body is not a custom action payload (no "data" object)');
  }
  return payload as P;
}

/**
 * Verifies a Standard Webhooks request over its raw bytes and returns what verified (id, timestamp,
 * body bytes, version). Throws a {@link SignatureError} on any failure; a TypeError for bad options
 * or a request without a raw body.
 */
export async function verifyWebhook(request: WebhookRequest, options?: VerifyOptions): Promise<VerifiedWebhook> {
  const resolved = resolveVerifyOptions(options);
  return verifyRawWebhook(toRawWebhook(request, 'verifyWebhook'), resolved);
}

/**
 * Verifies a custom action request and returns its typed payload (SPEC §1).
 *
 * Verification runs over the raw bytes: pass `{headers, body}` with the body as received (or
 * `rawBody` next to a parsed `body`). A parsed body alone is a TypeError, never re-serialised; see
 * "Getting the raw body" in the README. Keys come from `options` or the environment.
 *
 * @throws {SignatureError} with `code` `missing_header`, `timestamp_out_of_tolerance`,
 *   `malformed_signature`, `no_valid_signature` or `key_unavailable`
 * @throws {TypeError} on invalid options or a request without a raw body
 */
export async function verifyCustomAction<P extends AnyCustomActionPayload = CustomActionPayload>(
  request: WebhookRequest,
  options?: VerifyOptions,
): Promise<P> {
  const resolved = resolveVerifyOptions(options);
  return parseCustomActionPayload<P>(await verifyRawWebhook(toRawWebhook(request, 'verifyCustomAction'), resolved));
}

/**
 * Drop-in replacement for `verifyEpilotSignature` of epilot's app SDK: same inputs, `Promise<boolean>`.
 *
 * Accepts a request carrying its raw `body` (string/Buffer) or `rawBody` and `headers`, or
 * `{request: {headers, requestBody}}`. In that second form an already parsed `requestBody` is
 * checked over `JSON.stringify(requestBody)`, exactly as epilot's does — the one place the SDK
 * re-serialises, and it only works while the sender's JSON matches `JSON.stringify` byte for byte.
 * Prefer {@link verifyCustomAction} with the raw body.
 *
 * Unlike epilot's, the key comes from `options`, `ACTIONBRIDGE_PUBLIC_KEY` or
 * `ACTIONBRIDGE_PUBLIC_KEY_URL`, is cached as a `KeyObject`, follows rotations, and `v1` HMAC
 * signatures count when `options.secret` is set.
 *
 * @returns `true` when a signature verifies; `false` on any verification failure
 * @throws {TypeError} only on invalid options
 */
export async function verifyEpilotSignature(input: EpilotSignatureInput, options?: VerifyOptions): Promise<boolean> {
  const resolved = resolveVerifyOptions(options);
  return verifyEpilotSignatureWith(input, resolved);
}

async function verifyEpilotSignatureWith(input: EpilotSignatureInput, resolved: ResolvedVerifyOptions): Promise<boolean> {
  try {
    await verifyRawWebhook(toRawWebhook(input, 'verifyEpilotSignature', true), resolved);
    return true;
  } catch {
    return false;
  }
}

/** A verifier bound to options that were validated and resolved once. See {@link createVerifier}. */
export interface Verifier {
  /** Same as {@link verifyWebhook} with this verifier's options. */
  verifyWebhook(request: WebhookRequest): Promise<VerifiedWebhook>;
  /** Same as {@link verifyCustomAction} with this verifier's options. */
  verifyCustomAction<P extends AnyCustomActionPayload = CustomActionPayload>(request: WebhookRequest): Promise<P>;
  /** Same as {@link verifyEpilotSignature} with this verifier's options. */
  verifyEpilotSignature(input: EpilotSignatureInput): Promise<boolean>;
  /** Verifies a request already reduced to headers + raw body. */
  verifyRaw(request: RawWebhook): Promise<VerifiedWebhook>;
  /** The resolved options (parsed keys, key source). */
  readonly options: ResolvedVerifyOptions;
}

/**
 * Validates `options` once (throwing a TypeError at once if they are invalid) and returns a
 * verifier with its own key cache. The fastest way to verify many requests.
 */
export function createVerifier(options?: VerifyOptions): Verifier {
  const resolved = resolveVerifyOptions(options, true);
  return {
    options: resolved,
    verifyRaw: (request) => verifyRawWebhook(request, resolved),
    verifyWebhook: (request) => verifyRawWebhook(toRawWebhook(request, 'verifyWebhook'), resolved),
    async verifyCustomAction<P extends AnyCustomActionPayload = CustomActionPayload>(request: WebhookRequest) {
      return parseCustomActionPayload<P>(await verifyRawWebhook(toRawWebhook(request, 'verifyCustomAction'), resolved));
    },
    verifyEpilotSignature: (input) => verifyEpilotSignatureWith(input, resolved),
  };
}
