/**
 * AWS Lambda adapter for API Gateway REST (v1) and HTTP API (v2) events, Lambda function URLs and
 * ALB: `@actionbridge/app-sdk/lambda`. Base64 bodies are decoded to their exact bytes.
 *
 * @example
 * import { customActionHandler } from '@actionbridge/app-sdk/lambda';
 * export const handler = customActionHandler(async (payload, { accessToken }) => {
 *   return { checked: payload.data.entity._id };
 * });
 */
import { type RawWebhook, verifyRawWebhook } from '../core.js';
import { BodyTooLargeError } from '../errors.js';
import type { HeaderGetter } from '../headers.js';
import { getHeader } from '../headers.js';
import { resolveVerifyOptions, type VerifyOptions } from '../options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from '../types.js';
import { parseCustomActionPayload } from '../verify.js';
import { type CustomActionHandler, type HandlerOptions, prepareHandler } from './shared.js';

export type { CustomActionHandler, HandlerContext, HandlerOptions } from './shared.js';

/**
 * An API Gateway v1 or v2 proxy event (or ALB / function URL event), structurally. Header names
 * may have any case; v1 `multiValueHeaders` are used when `headers` lacks one.
 */
export interface LambdaHttpEvent {
  version?: string;
  headers?: Readonly<Record<string, string | undefined>> | null;
  multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

/** The result object API Gateway (v1 and v2), function URLs and ALB accept. */
export interface LambdaHttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: false;
}

/** The event's headers as one case-insensitive getter over `headers` and `multiValueHeaders`. */
export function lambdaHeaders(event: LambdaHttpEvent): HeaderGetter {
  return {
    get: (name) => getHeader(event.headers ?? undefined, name) ?? getHeader(event.multiValueHeaders ?? undefined, name),
  };
}

/** The exact body bytes of the event: base64-decoded when `isBase64Encoded`. */
export function decodeBody(event: LambdaHttpEvent): Buffer {
  const body = event.body ?? '';
  if (typeof body !== 'string') throw new TypeError('the Lambda event body must be a string');
  return event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}

function rawOf(event: LambdaHttpEvent, limit: number): RawWebhook {
  if (event === null || typeof event !== 'object') throw new TypeError('expected an API Gateway / Lambda HTTP event');
  const body = decodeBody(event);
  if (body.length > limit) throw new BodyTooLargeError(limit);
  return { headers: lambdaHeaders(event), body };
}

/**
 * Verifies an API Gateway / Lambda HTTP event and returns the typed custom action payload.
 * Throws a `SignatureError` on failure (see `verifyCustomAction`).
 */
export async function verifyEvent<P extends AnyCustomActionPayload = CustomActionPayload>(
  event: LambdaHttpEvent,
  options?: VerifyOptions,
): Promise<P> {
  const resolved = resolveVerifyOptions(options);
  return parseCustomActionPayload<P>(await verifyRawWebhook(rawOf(event, Number.MAX_SAFE_INTEGER), resolved));
}

/** Alias of {@link verifyEvent}, named like the other adapters' entry point. */
export const verifyRequest = verifyEvent;

/**
 * A Lambda handler `(event) => Promise<result>` that verifies the event, runs `handler` and
 * answers JSON (200 with the handler's result, 401 on a bad signature, a `CustomActionError`'s
 * status, 500).
 */
export function customActionHandler<P extends AnyCustomActionPayload = CustomActionPayload>(
  handler: CustomActionHandler<LambdaHttpEvent, P>,
  options?: HandlerOptions,
): (event: LambdaHttpEvent) => Promise<LambdaHttpResult> {
  const prepared = prepareHandler(handler, options, 'customActionHandler (lambda)');
  return async (event) => {
    const outcome = await prepared.run(() => rawOf(event, prepared.maxBodyBytes), event);
    return {
      statusCode: outcome.status,
      headers: { 'content-type': 'application/json' },
      body: outcome.json,
      isBase64Encoded: false,
    };
  };
}
