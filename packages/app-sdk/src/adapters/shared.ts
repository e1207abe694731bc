import { DEFAULT_MAX_BODY_BYTES } from '../body.js';
import type { RawWebhook } from '../core.js';
import { createDeduplicator, type DedupeStore, type Deduplicator } from '../dedupe.js';
import { BodyTooLargeError, CustomActionError, SignatureError } from '../errors.js';
import { getHeader, HEADER } from '../headers.js';
import { VERIFY_OPTION_NAMES, type VerifyOptions } from '../options.js';
import type { AnyCustomActionPayload, CustomActionPayload } from '../types.js';
import { createVerifier, parseCustomActionPayload, type Verifier } from '../verify.js';

/** What a custom action handler gets besides the payload. */
export interface HandlerContext<TRequest> {
  /** `webhook-id`: the same on every retry of one delivery. */
  webhookId: string;
  /** `webhook-timestamp`: Unix seconds of this attempt. */
  timestamp: number;
  /** `x-epilot-token`, when the app declares permissions: write back with it (valid 600 s). */
  accessToken: string | undefined;
  /** The signature version that verified. */
  signatureVersion: 'v1a' | 'v1';
  /** The framework's request (or Lambda event). */
  request: TRequest;
}

/**
 * A custom action handler. Its return value becomes the JSON answer (200), which the platform
 * stores as the action's `outputs`; `undefined` answers `{}`. Throw a `CustomActionError` to fail
 * the action with a reason; any other error answers 500 (retried by the platform).
 */
export type CustomActionHandler<TRequest, TPayload extends AnyCustomActionPayload = CustomActionPayload> = (
  payload: TPayload,
  context: HandlerContext<TRequest>,
) => unknown;

/** Options of the adapters' `customActionHandler`: the verify options plus these. */
export interface HandlerOptions extends VerifyOptions {
  /**
   * Deduplicate on `webhook-id`: `true` for an in-memory store, a `DedupeStore`, or a
   * `Deduplicator` from `createDeduplicator`. A duplicate of a handled delivery is answered 200
   * with the first answer (or `{"duplicate": true}` when the store keeps no results) without
   * calling the handler; one still being handled, 425.
   * @default false
   */
  dedupe?: boolean | DedupeStore | Deduplicator | undefined;
  /**
   * Called with unexpected errors (the handler's, other than `CustomActionError`, and setup
   * errors such as a missing raw body); the request is answered 500.
   * @default console.error
   */
  onError?: ((error: unknown) => void) | undefined;
  /**
   * Largest body the adapter reads from a stream itself, in bytes; larger ones are answered 413.
   * @default 5242880 (5 MiB)
   */
  maxBodyBytes?: number | undefined;
}

/** Status and JSON body of an answer. */
export interface Outcome {
  status: number;
  body: unknown;
  /** `body` as JSON text. */
  json: string;
}

/** A handler prepared by {@link prepareHandler}. */
export interface PreparedHandler<TRequest> {
  readonly verifier: Verifier;
  readonly maxBodyBytes: number;
  readonly onError: (error: unknown) => void;
  /** Verifies, dedupes and runs the handler; never throws. */
  run(getRaw: () => RawWebhook | Promise<RawWebhook>, request: TRequest): Promise<Outcome>;
  /** `run` before serialisation. */
  answer(getRaw: () => RawWebhook | Promise<RawWebhook>, request: TRequest): Promise<Omit<Outcome, 'json'>>;
}

function toDeduplicator(value: HandlerOptions['dedupe']): Deduplicator | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return createDeduplicator();
  if (typeof (value as Deduplicator).run === 'function' && (value as Deduplicator).store) return value as Deduplicator;
  if (value !== null && typeof value === 'object') return createDeduplicator({ store: value as DedupeStore });
  throw new TypeError('options.dedupe must be a boolean, a DedupeStore or a Deduplicator');
}

const HANDLER_OPTION_NAMES: readonly string[] = [...VERIFY_OPTION_NAMES, 'dedupe', 'onError', 'maxBodyBytes'];

/** Shared by every adapter: validates options once, then verifies and runs each request. */
export function prepareHandler<TRequest, TPayload extends AnyCustomActionPayload>(
  handler: CustomActionHandler<TRequest, TPayload>,
  options: HandlerOptions | undefined,
  where: string,
): PreparedHandler<TRequest> {
  if (typeof handler !== 'function') throw new TypeError(`${where}: handler must be a function`);
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${where}: options must be an object`);
  }
  for (const name of Object.keys(options ?? {})) {
    if (!HANDLER_OPTION_NAMES.includes(name)) {
      throw new TypeError(`${where}: unknown option "${name}"; known options: ${HANDLER_OPTION_NAMES.join(', ')}`);
    }
  }
  const { dedupe, onError, maxBodyBytes, ...verifyOptions } = options ?? {};
  if (onError !== undefined && typeof onError !== 'function') {
    throw new TypeError(`${where}: options.onError must be a function`);
  }
  const limit = maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new TypeError(`${where}: options.maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}`);
  }
  const verifier = createVerifier(verifyOptions);
  const deduplicator = toDeduplicator(dedupe);
  const report = onError ?? ((error: unknown) => console.error(`${where}:`, error));
  const internal = (error: unknown): Omit<Outcome, 'json'> => {
    try {
      report(error);
    } catch {
      // a failing error reporter must not turn into an unhandled rejection
    }
    return { status: 500, body: { error_reason: 'internal error' } };
  };

  return {
    verifier,
    maxBodyBytes: limit,
    onError: report,
    async run(getRaw, request) {
      const answer = await this.answer(getRaw, request);
      // Serialised here, inside the never-throws contract: a result JSON cannot express
      // (a BigInt, a cycle) becomes a 500 instead of an unhandled rejection in the adapter.
      try {
        return { ...answer, json: JSON.stringify(answer.body) ?? '{}' };
      } catch (error) {
        const failed = internal(error);
        return { ...failed, json: JSON.stringify(failed.body) };
      }
    },
    async answer(getRaw, request) {
      let raw: RawWebhook;
      let payload: TPayload;
      let context: HandlerContext<TRequest>;
      try {
        raw = await getRaw();
        const verified = await verifier.verifyRaw(raw);
        try {
          payload = parseCustomActionPayload<TPayload>(verified);
        } catch (error) {
          return { status: 400, body: { error_reason: (error as Error).message } };
        }
        const token = getHeader(raw.headers, HEADER.accessToken)?.trim();
        context = {
          webhookId: verified.id,
          timestamp: verified.timestamp,
          accessToken: token ? token : undefined,
          signatureVersion: verified.version,
          request,
        };
      } catch (error) {
        if (error instanceof SignatureError) {
          // Keys could not be had (key URL down): not the request's fault, so the platform should retry.
          const status = error.code === 'key_unavailable' ? 503 : 401;
          return { status, body: { error_reason: `invalid signature: ${error.message}`, code: error.code } };
        }
        if (error instanceof BodyTooLargeError) return { status: 413, body: { error_reason: error.message } };
        return internal(error);
      }

      const work = async () => (await handler(payload, context)) ?? {};
      try {
        if (deduplicator) {
          const result = await deduplicator.run(context.webhookId, work);
          if (result.duplicate) {
            return result.state === 'done'
              ? { status: 200, body: result.value ?? { duplicate: true } }
              : { status: 425, body: { error_reason: 'this delivery is being handled; retry later' } };
          }
          return { status: 200, body: result.value ?? {} };
        }
        return { status: 200, body: (await work()) ?? {} };
      } catch (error) {
        if (error instanceof CustomActionError) return { status: error.status, body: { error_reason: error.message } };
        return internal(error);
      }
    },
  };
}

/** The JSON text of an outcome's body (already serialised by `run`, which never throws). */
export function outcomeJson(outcome: Outcome): string {
  return outcome.json;
}
