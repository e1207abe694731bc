/**
 * `@actionbridge/app-sdk`: receive ActionBridge / epilot custom actions safely.
 *
 * Framework adapters live in subpaths: `/node`, `/express`, `/fastify`, `/fetch`, `/lambda`; the
 * test kit in `/testing`. This entry point holds what every receiver shares.
 */
export type { RawBody } from './body.js';
export {
  CallbackError,
  type CallbackResult,
  type CallbackTarget,
  type ReportResultOptions,
  reportResult,
} from './callback.js';
export type { RawWebhook, VerifiedWebhook } from './core.js';
export {
  createDeduplicator,
  type DedupeResult,
  type DedupeState,
  type DedupeStore,
  type Deduplicator,
  type DeduplicatorOptions,
  MemoryDedupeStore,
  type MemoryDedupeStoreOptions,
} from './dedupe.js';
export {
  BodyTooLargeError,
  CustomActionError,
  isSignatureError,
  SignatureError,
  type SignatureErrorCode,
} from './errors.js';
export {
  getAccessToken,
  getHeader,
  HEADER,
  type HeaderBag,
  type HeaderGetter,
  type HeaderSource,
  type HeaderValue,
} from './headers.js';
export * from './keys.js';
export { ENV_PUBLIC_KEY, ENV_PUBLIC_KEY_URL, type PublicKeyInput, type VerifyOptions } from './options.js';
export * from './signing.js';
export * from './types.js';
export {
  createVerifier,
  type EpilotSignatureInput,
  type Verifier,
  verifyCustomAction,
  verifyEpilotSignature,
  verifyWebhook,
  type WebhookContext,
  type WebhookInput,
  type WebhookRequest,
} from './verify.js';
