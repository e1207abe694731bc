import { signWebhook } from '@actionbridge/app-sdk';
import type { Delivery } from '../domain/types.js';
import type { AccessTokens } from '../keys/access-tokens.js';
import type { KeyRing } from '../keys/keyring.js';
import type { SecretBox } from '../secrets/box.js';
import { VERSION } from '../version.js';

/** Headers an app's component may not set: the platform owns them (SPEC §1). */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-epilot-token',
  'content-type',
  'content-length',
  'user-agent',
  'host',
  'connection',
  'transfer-encoding',
]);

export interface Signer {
  webhookKeys: KeyRing;
  tokens: AccessTokens;
  secrets: SecretBox;
}

/**
 * The headers of one attempt: the component's own, then the platform's — a fresh
 * `webhook-timestamp`, `v1a` signatures by every active key (plus `v1` when the installation has a
 * `whsec_` secret) over `id.timestamp.body`, and a fresh 600 s access token when the app has
 * permissions. The one place requests are signed.
 */
export async function attemptHeaders(
  d: Delivery,
  body: string,
  s: Signer,
  nowMs: number,
): Promise<Record<string, string>> {
  const timestamp = Math.floor(nowMs / 1000);
  const headers: Record<string, string> = { ...d.headers };
  headers['content-type'] = 'application/json';
  headers['user-agent'] = `ActionBridge/${VERSION}`;
  headers['webhook-id'] = d.webhook_id;
  headers['webhook-timestamp'] = String(timestamp);
  headers['webhook-signature'] = signWebhook(
    { id: d.webhook_id, timestamp, body },
    {
      ed25519: s.webhookKeys.active().map((k) => k.privateKey),
      hmac: d.signing_secret ? [s.secrets.open(d.signing_secret)] : [],
    },
  );
  if (d.mint_token) {
    headers['x-epilot-token'] = await s.tokens.mint({
      org_id: d.org_id,
      app_id: d.app_id,
      execution_id: d.execution_id,
    });
  }
  return headers;
}

/** Headers as the attempt log keeps them: the access token masked. */
export function loggedHeaders(headers: Record<string, string>): Record<string, string> {
  return headers['x-epilot-token'] ? { ...headers, 'x-epilot-token': '********' } : headers;
}
