/**
 * Test kit: `@actionbridge/app-sdk/testing`. Sign requests the way the platform does (through the
 * same `signWebhook`), so a receiver's handler can be unit-tested without a running platform.
 *
 * @example
 * import { createTestKit } from '@actionbridge/app-sdk/testing';
 * import { verifyCustomAction } from '@actionbridge/app-sdk';
 * const kit = createTestKit();
 * const request = kit.sign(kit.payload({ app_options: { threshold: 10 } }));
 * const payload = await verifyCustomAction(request, kit.verifyOptions);
 */
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { LambdaHttpEvent } from '../adapters/lambda.js';
import { HEADER } from '../headers.js';
import { toPem, toWhpk } from '../keys.js';
import type { VerifyOptions } from '../options.js';
import { signWebhook } from '../signing.js';
import type { CustomActionData, CustomActionPayload } from '../types.js';

/** An Ed25519 key pair in every form the SDK and the platform use. */
export interface TestKeyPair {
  /** Signs (`v1a`). */
  privateKey: KeyObject;
  /** Verifies. */
  publicKey: KeyObject;
  /** SPKI PEM of the public key, as `ACTIONBRIDGE_PUBLIC_KEY` or `public_key` in a key document. */
  publicKeyPem: string;
  /** `whpk_…` form of the public key. */
  whpk: string;
}

/** Creates a fresh Ed25519 key pair. */
export function generateTestKeyPair(): TestKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, publicKeyPem: toPem(publicKey), whpk: toWhpk(publicKey) };
}

/** Creates a random `whsec_…` HMAC secret (32 bytes). */
export function generateTestSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A fresh `webhook-id`: `msg_` + 32 lowercase hex, like the platform's. */
export function generateWebhookId(): string {
  return `msg_${randomBytes(16).toString('hex')}`;
}

/** Options of {@link signTestRequest}. */
export interface SignTestRequestOptions {
  /**
   * Ed25519 private key(s) for `v1a` signatures (`KeyObject`, PKCS#8 PEM or `whsk_…`).
   * @default none (give this, `secret`, or both)
   */
  privateKey?: KeyObject | string | ReadonlyArray<KeyObject | string>;
  /**
   * `whsec_…` secret(s) for `v1` signatures.
   * @default none
   */
  secret?: string | readonly string[];
  /**
   * `webhook-id`.
   * @default a fresh `msg_…` id
   */
  id?: string;
  /**
   * `webhook-timestamp`: Unix seconds or a `Date`.
   * @default now
   */
  timestamp?: number | Date;
  /**
   * Sent as `x-epilot-token`.
   * @default no token header
   */
  accessToken?: string;
  /**
   * Further headers (they never override the `webhook-*` headers).
   * @default `content-type: application/json` only
   */
  headers?: Record<string, string>;
}

/** A signed request: what the platform would send. Pass it straight to `verifyCustomAction`. */
export interface SignedTestRequest {
  /** Lower-case header names, as Node gives them: `content-type`, `webhook-*`, maybe `x-epilot-token`. */
  headers: Record<string, string>;
  /** The exact body that was signed. */
  body: string;
  /** `webhook-id`. */
  id: string;
  /** `webhook-timestamp`. */
  timestamp: number;
}

function unixSeconds(value: number | Date | undefined): number {
  if (value === undefined) return Math.floor(Date.now() / 1000);
  return value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
}

function list<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

/**
 * Signs a request body (a string is signed as is, anything else as its `JSON.stringify`) with the
 * given keys, through the platform's `signWebhook`, and returns headers + raw body.
 */
export function signTestRequest(body: unknown, options: SignTestRequestOptions): SignedTestRequest {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  if (raw === undefined) throw new TypeError('signTestRequest: body must be a string or JSON-serialisable');
  const id = options.id ?? generateWebhookId();
  const timestamp = unixSeconds(options.timestamp);
  const signature = signWebhook(
    { id, timestamp, body: raw },
    { ed25519: list(options.privateKey), hmac: list(options.secret) },
  );
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  if (options.accessToken !== undefined) headers[HEADER.accessToken] = options.accessToken;
  headers[HEADER.id] = id;
  headers[HEADER.timestamp] = String(timestamp);
  headers[HEADER.signature] = signature;
  return { headers, body: raw, id, timestamp };
}

/** What {@link buildCustomActionPayload} accepts: top-level fields and any `data` fields to override. */
export type CustomActionPayloadOverrides = Partial<Omit<CustomActionPayload, 'data'>> & Partial<CustomActionData>;

/**
 * A complete custom action payload (SPEC §1) with plausible values; override any `data` field (or
 * `type`/`timestamp`) by passing it. `resume_token`/`callback_url` are only present when given.
 */
export function buildCustomActionPayload(overrides: CustomActionPayloadOverrides = {}): CustomActionPayload {
  const { type = 'external_integration', timestamp = new Date().toISOString(), ...data } = overrides;
  const entityId = data.entity?._id ?? 'e5c1a4b0-2f7e-4c7a-9d7e-0a1b2c3d4e5f';
  const actionId = data.execution_action_id ?? data.exection_action_id ?? 'act_test';
  return {
    type,
    timestamp,
    data: {
      org_id: 'org_test',
      entity: { _id: entityId, _schema: 'opportunity', _org: 'org_test', _title: 'Test opportunity' },
      action_config: {},
      app_config: {},
      app_options: {},
      execution_id: 'exe_test',
      execution_status: 'in_progress',
      trigger_event: 'opportunity.updated',
      trigger: {
        type: 'entity_operation',
        operation: 'updateEntity',
        entity_id: entityId,
        diff: { added: {}, updated: {}, deleted: {} },
      },
      ...data,
      exection_action_id: actionId,
      execution_action_id: actionId,
    },
  };
}

/** Options of {@link createTestKit}. */
export interface TestKitOptions {
  /**
   * Also sign with a `whsec_` secret (`v1`): `true` for a random one, or the secret itself.
   * @default false
   */
  secret?: boolean | string;
}

/** A key pair (and maybe a secret) with the options that trust it and a signer that uses it. */
export interface TestKit {
  /** The signing key pair. */
  keys: TestKeyPair;
  /** The `whsec_` secret, when the kit has one. */
  secret: string | undefined;
  /** Verify options that trust this kit's public key (and secret): `{ publicKey, secret }`. */
  verifyOptions: VerifyOptions;
  /** Signs a body (default: a fresh {@link buildCustomActionPayload}) with the kit's key and secret. */
  sign(body?: unknown, options?: Omit<SignTestRequestOptions, 'privateKey' | 'secret'>): SignedTestRequest;
  /** {@link buildCustomActionPayload}. */
  payload(overrides?: CustomActionPayloadOverrides): CustomActionPayload;
  /**
   * The key document a `public-keys` endpoint would serve for this kit's key, for tests of
   * `publicKeyUrl`: `{issuer, keys: [{kid, algorithm, public_key, whpk, status, created_at, retire_at}]}`.
   */
  publicKeysDocument(): PublicKeysDocument;
}

/** The body of `GET /v1/public/.well-known/public-keys`. */
export interface PublicKeysDocument {
  issuer: string;
  keys: Array<{
    kid: string;
    algorithm: 'ed25519';
    public_key: string;
    whpk: string;
    status: 'primary' | 'retiring';
    created_at: string;
    retire_at: string | null;
  }>;
}

/**
 * Builds the `public-keys` document for one or more key pairs (the first is `primary`, the others
 * `retiring`), as the platform serves it.
 */
export function publicKeysDocument(pairs: readonly TestKeyPair[], issuer = 'http://localhost'): PublicKeysDocument {
  const created = new Date().toISOString();
  return {
    issuer,
    keys: pairs.map((pair, i) => ({
      kid: `key_${pair.whpk.slice(5, 17).replace(/[^A-Za-z0-9]/g, '')}`,
      algorithm: 'ed25519',
      public_key: pair.publicKeyPem,
      whpk: pair.whpk,
      status: i === 0 ? 'primary' : 'retiring',
      created_at: created,
      retire_at: i === 0 ? null : new Date(Date.now() + 86_400_000).toISOString(),
    })),
  };
}

/**
 * A key pair (plus a `whsec_` secret when asked) and helpers around it: the one-stop test setup.
 */
export function createTestKit(options: TestKitOptions = {}): TestKit {
  const keys = generateTestKeyPair();
  const secret =
    typeof options.secret === 'string' ? options.secret : options.secret ? generateTestSecret() : undefined;
  const verifyOptions: VerifyOptions = secret
    ? { publicKey: keys.publicKeyPem, secret }
    : { publicKey: keys.publicKeyPem };
  return {
    keys,
    secret,
    verifyOptions,
    sign: (body, signOptions = {}) =>
      signTestRequest(body === undefined ? buildCustomActionPayload() : body, {
        ...signOptions,
        privateKey: keys.privateKey,
        ...(secret ? { secret } : {}),
      }),
    payload: buildCustomActionPayload,
    publicKeysDocument: () => publicKeysDocument([keys]),
  };
}

/** A Fetch `Request` (POST) carrying a signed request, for the fetch adapter. */
export function toFetchRequest(signed: SignedTestRequest, url = 'http://localhost/action'): Request {
  return new Request(url, { method: 'POST', headers: signed.headers, body: signed.body });
}

/** Options of {@link toLambdaEvent}. */
export interface ToLambdaEventOptions {
  /**
   * API Gateway payload version: `'1.0'` (REST API) or `'2.0'` (HTTP API, function URLs).
   * @default '2.0'
   */
  version?: '1.0' | '2.0';
  /**
   * Base64-encode the body (`isBase64Encoded: true`), as API Gateway does for binary media types.
   * @default false
   */
  base64?: boolean;
}

/** An API Gateway proxy event carrying a signed request, for the lambda adapter. */
export function toLambdaEvent(signed: SignedTestRequest, options: ToLambdaEventOptions = {}): LambdaHttpEvent {
  const version = options.version ?? '2.0';
  const body = options.base64 ? Buffer.from(signed.body, 'utf8').toString('base64') : signed.body;
  const isBase64Encoded = options.base64 === true;
  if (version === '2.0') return { version, headers: { ...signed.headers }, body, isBase64Encoded };
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(signed.headers)) multiValueHeaders[name] = [value];
  return { version, headers: { ...signed.headers }, multiValueHeaders, body, isBase64Encoded };
}

/**
 * A readable Node stream with `headers`, shaped like an `http.IncomingMessage`, for the node and
 * express adapters without a server.
 */
export function toNodeRequest(signed: SignedTestRequest): Readable & { headers: Record<string, string> } {
  return Object.assign(Readable.from([Buffer.from(signed.body, 'utf8')]), { headers: { ...signed.headers } });
}

/** A loopback server of the platform's key documents; see {@link serveKeyDocuments}. */
export interface KeyDocumentServer {
  /** URL of the `public-keys` document (every active key). */
  readonly url: string;
  /** URL of the single-key `public-key` document (the primary key). */
  readonly publicKeyUrl: string;
  /** How many key documents were served so far. */
  readonly requests: number;
  /** Serves these keys from now on (first is primary), e.g. to simulate a rotation. */
  setKeys(pairs: readonly TestKeyPair[]): void;
  /** Answers every request with this status (an outage) until called with `undefined`. */
  fail(status: number | undefined): void;
  /** Stops the server and closes its connections. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on 127.0.0.1 (random port) that serves `GET /v1/public/.well-known/public-keys`
 * and `GET /v1/public/.well-known/public-key` like the platform, for tests of `publicKeyUrl`.
 * Always `close()` it.
 */
export async function serveKeyDocuments(pairs: readonly TestKeyPair[]): Promise<KeyDocumentServer> {
  let keys = [...pairs];
  let failing: number | undefined;
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const path = req.url?.split('?')[0];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (failing !== undefined) return send(failing, { status: failing, error: 'unavailable' });
    const doc = publicKeysDocument(keys, `http://${req.headers.host}`);
    if (path === '/v1/public/.well-known/public-keys') return send(200, doc);
    const primary = doc.keys[0];
    if (path === '/v1/public/.well-known/public-key' && primary) {
      return send(200, { algorithm: 'ed25519', issuer: doc.issuer, public_key: primary.public_key });
    }
    return send(404, { status: 404, error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/public/.well-known`;
  return {
    url: `${base}/public-keys`,
    publicKeyUrl: `${base}/public-key`,
    get requests() {
      return requests;
    },
    setKeys(next) {
      keys = [...next];
    },
    fail(status) {
      failing = status;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
