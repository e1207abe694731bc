import { isRawBody, parsedBodyError, type RawBody } from './body.js';
import { type RawWebhook, type VerifiedWebhook, verifyRawWebhook } from './core.js';
import type { HeaderBag } from './headers.js';
import { type ResolvedVerifyOptions, resolveVerifyOptions, type VerifyOptions } from './options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from './types.js';

/**
 * A request with its raw body: `{headers, body}` where `body` is the exact bytes received (string,
 * `Buffer`, `Uint8Array`, `ArrayBuffer`). When a framework parsed the body, put the raw bytes in
 * `rawBody` (it wins over `body`). A Node `IncomingMessage` whose `body` a raw body parser set is one.
 */
export interface WebhookRequest {
  /** Request headers in any common shape; looked up case-insensitively. */
  headers: HeaderBag;
  /** The raw body; a parsed object here is rejected (never re-serialised) unless `rawBody` is set. */
  body?: unknown;
  /** The raw body, next to a parsed `body`. */
  rawBody?: RawBody | undefined;
}

/** An openapi-backend style context, as epilot's `verifyEpilotSignature` accepts it. */
export interface WebhookContext {
  request: {
    headers: HeaderBag;
    /** The body: raw (string/Buffer), or parsed (only {@link verifyEpilotSignature} accepts that). */
    requestBody?: unknown;
    /** The raw body, when the framework keeps it next to a parsed `requestBody`. */
    rawBody?: RawBody | undefined;
  };
}

/** What the verify functions accept: a request with its raw body, or `{request: {headers, requestBody}}`. */
export type WebhookInput = WebhookRequest | WebhookContext;

/** What {@link verifyEpilotSignature} accepts: the same inputs as epilot's. */
export type EpilotSignatureInput = WebhookInput;

function isContext(input: object): input is WebhookContext {
  const request = (input as { request?: unknown }).request;
  return (
    request !== null &&
    typeof request === 'object' &&
    typeof (request as WebhookContext['request']).headers === 'object'
  );
}

function isStream(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  return (
    typeof (value as { getReader?: unknown }).getReader === 'function' ||
    typeof (value as { pipe?: unknown }).pipe === 'function'
  );
}

/**
 * Reduces an input to headers + raw body. `reserialise` is for {@link verifyEpilotSignature} only:
 * there, `{request: {requestBody: <object>}}` is checked over `JSON.stringify(requestBody)`.
 */
function toRawWebhook(input: unknown, where: string, reserialise = false): RawWebhook {
  if (input === null || typeof input !== 'object') {
    throw new TypeError(`${where}: expected a request object with headers and a raw body, got ${typeof input}`);
  }
  if (isContext(input)) {
    const { headers, requestBody, rawBody } = input.request;
    if (isRawBody(rawBody)) return { headers, body: rawBody };
    if (isRawBody(requestBody)) return { headers, body: requestBody };
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
      `${where}: the request carries no raw body. Pass {headers, body} with the body as received (string or ` +
        'Buffer), or let an adapter read it: verifyRequest from @actionbridge/app-sdk/node for a Node request, ' +
        'from @actionbridge/app-sdk/fetch for a Fetch Request',
    );
  }
  throw parsedBodyError(where);
}

/**
 * Parses a verified body as a custom action payload. Throws a TypeError when it is not a JSON
 * object with a `data` object (a valid signature over something that is not a custom action).
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

async function epilotSignatureIsValid(input: EpilotSignatureInput, resolved: ResolvedVerifyOptions): Promise<boolean> {
  try {
    await verifyRawWebhook(toRawWebhook(input, 'verifyEpilotSignature', true), resolved);
    return true;
  } catch {
    return false;
  }
}

/**
 * Verifies a Standard Webhooks request over its raw bytes and returns what verified: id,
 * timestamp, body bytes, signature version. For webhooks that are not custom actions.
 *
 * @throws {SignatureError} when verification fails; see {@link SignatureErrorCode}
 * @throws {TypeError} on invalid options or an input without a raw body
 */
export async function verifyWebhook(request: WebhookInput, options?: VerifyOptions): Promise<VerifiedWebhook> {
  const resolved = resolveVerifyOptions(options);
  return verifyRawWebhook(toRawWebhook(request, 'verifyWebhook'), resolved);
}

/**
 * Verifies a custom action request and returns its typed payload (SPEC §1).
 *
 * Verification runs over the raw bytes: pass `{headers, body}` with the body as received (or
 * `rawBody` next to a parsed `body`), or `{request: {headers, requestBody}}` with a raw
 * `requestBody`. A parsed body alone is a TypeError, never re-serialised; see "Getting the raw
 * body" in the README. Keys come from `options` or the environment.
 *
 * The type parameter narrows the payload (not checked at run time), e.g.
 * `verifyCustomAction<CustomActionPayload<MyAppOptions>>(req)`.
 *
 * @example
 * const payload = await verifyCustomAction({ headers: req.headers, body: rawBody });
 * console.log(payload.data.entity._id, payload.data.app_options);
 *
 * @throws {SignatureError} with `code` `missing_header`, `timestamp_out_of_tolerance`,
 *   `malformed_signature`, `no_valid_signature` or `key_unavailable`
 * @throws {TypeError} on invalid options, an input without a raw body, or a verified body that is
 *   not a custom action payload
 */
export async function verifyCustomAction<P extends AnyCustomActionPayload = CustomActionPayload>(
  request: WebhookInput,
  options?: VerifyOptions,
): Promise<P> {
  const resolved = resolveVerifyOptions(options);
  return parseCustomActionPayload<P>(await verifyRawWebhook(toRawWebhook(request, 'verifyCustomAction'), resolved));
}

/**
 * Drop-in replacement for `verifyEpilotSignature` of epilot's app SDK: same inputs, `Promise<boolean>`.
 *
 * Accepts a request carrying `headers` and its raw `body` (string/Buffer) or `rawBody`, or
 * `{request: {headers, requestBody}}`. In that second form an already parsed `requestBody` is
 * checked over `JSON.stringify(requestBody)`, exactly as epilot's does: the one place the SDK
 * re-serialises, and it only works while the sender's JSON matches `JSON.stringify` byte for byte
 * (ActionBridge's does). Prefer {@link verifyCustomAction} with the raw body.
 *
 * Unlike epilot's, the key comes from `options`, `ACTIONBRIDGE_PUBLIC_KEY` or
 * `ACTIONBRIDGE_PUBLIC_KEY_URL`, is cached as a `KeyObject`, follows rotations, every `v1a` entry
 * counts (not only the last), and `v1` HMAC signatures count when `options.secret` is set.
 *
 * @returns `true` when a signature verifies, `false` on any verification failure
 * @throws {TypeError} only on invalid options
 */
export async function verifyEpilotSignature(input: EpilotSignatureInput, options?: VerifyOptions): Promise<boolean> {
  return epilotSignatureIsValid(input, resolveVerifyOptions(options));
}

/** The verify functions bound to options that were validated once. See {@link createVerifier}. */
export interface Verifier {
  /** {@link verifyWebhook} with this verifier's options. */
  verifyWebhook(request: WebhookInput): Promise<VerifiedWebhook>;
  /** {@link verifyCustomAction} with this verifier's options. */
  verifyCustomAction<P extends AnyCustomActionPayload = CustomActionPayload>(request: WebhookInput): Promise<P>;
  /** {@link verifyEpilotSignature} with this verifier's options. */
  verifyEpilotSignature(input: EpilotSignatureInput): Promise<boolean>;
  /** Verifies a request already reduced to headers + raw body. */
  verifyRaw(request: RawWebhook): Promise<VerifiedWebhook>;
}

/**
 * Validates `options` now (a TypeError at startup rather than on the first request) and returns
 * the verify functions bound to them, with a key cache of their own (a `publicKeyUrl` is fetched
 * by this verifier alone).
 */
export function createVerifier(options?: VerifyOptions): Verifier {
  const resolved = resolveVerifyOptions(options, true);
  return {
    verifyRaw: (request) => verifyRawWebhook(request, resolved),
    verifyWebhook: async (request) => verifyRawWebhook(toRawWebhook(request, 'verifyWebhook'), resolved),
    async verifyCustomAction<P extends AnyCustomActionPayload = CustomActionPayload>(request: WebhookInput) {
      return parseCustomActionPayload<P>(await verifyRawWebhook(toRawWebhook(request, 'verifyCustomAction'), resolved));
    },
    verifyEpilotSignature: (input) => epilotSignatureIsValid(input, resolved),
  };
}
