/**
 * Why a webhook was rejected.
 *
 * - `missing_header`: `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent or empty.
 * - `timestamp_out_of_tolerance`: `webhook-timestamp` is further from now than the tolerance (replay protection).
 * - `malformed_signature`: the timestamp is not an integer, or `webhook-signature` holds no parseable
 *   entry of a known version (`v1a`, `v1`).
 * - `no_valid_signature`: well-formed signatures are present, but none verifies with any trusted key or secret.
 * - `key_unavailable`: no key is configured and the public key URL could not be fetched (or is not set).
 */
export type SignatureErrorCode =
  | 'missing_header'
  | 'timestamp_out_of_tolerance'
  | 'malformed_signature'
  | 'no_valid_signature'
  | 'key_unavailable';

/**
 * Thrown when a webhook fails verification. Switch on {@link SignatureError.code}; the message is
 * for logs and never contains key material.
 *
 * Answer the platform with a 401 (the framework adapters do): it is a permanent failure, not retried.
 */
export class SignatureError extends Error {
  /** Why the webhook was rejected. */
  readonly code: SignatureErrorCode;

  constructor(code: SignatureErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SignatureError';
    this.code = code;
  }
}

/** True when `error` is a {@link SignatureError} (optionally with the given code). */
export function isSignatureError(error: unknown, code?: SignatureErrorCode): error is SignatureError {
  return error instanceof SignatureError && (code === undefined || error.code === code);
}

/**
 * Throw from a custom action handler to fail the action with a reason the platform records as
 * `error_reason`. The framework adapters answer with `status` and `{"error_reason": message}`.
 *
 * By default the status is 422, a permanent failure; pass `retryable: true` for 503 so the
 * platform retries the delivery on its schedule.
 */
export class CustomActionError extends Error {
  /** The HTTP status the adapters answer with. */
  readonly status: number;

  constructor(reason: string, options: { retryable?: boolean; status?: number; cause?: unknown } = {}) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CustomActionError';
    const status = options.status ?? (options.retryable ? 503 : 422);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new TypeError(`CustomActionError: status must be an integer 400-599, got ${String(options.status)}`);
    }
    this.status = status;
  }
}

/** The request body is larger than the adapter's `maxBodyBytes`; adapters answer 413. */
export class BodyTooLargeError extends RangeError {
  /** The limit that was exceeded, in bytes. */
  readonly limit: number;

  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
    this.limit = limit;
  }
}
