import { createHmac, type KeyObject, sign } from 'node:crypto';
import { parseHmacSecret, parsePrivateKey } from './keys.js';

/** What one webhook signature covers. */
export interface SignedMessage {
  /** `webhook-id` */
  id: string;
  /** `webhook-timestamp`, integer Unix seconds */
  timestamp: number;
  /** The exact bytes of the body that is sent. */
  body: string | Uint8Array;
}

/** The keys one message is signed with. */
export interface SigningKeys {
  /** Ed25519 private keys (`v1a`), primary first. */
  ed25519?: ReadonlyArray<KeyObject | string>;
  /** `whsec_…` HMAC-SHA256 secrets (`v1`). */
  hmac?: ReadonlyArray<string>;
}

/** The signed content of Standard Webhooks: `${id}.${timestamp}.${body}`. */
export function signedContent(msg: SignedMessage): Buffer {
  const body = typeof msg.body === 'string' ? Buffer.from(msg.body, 'utf8') : Buffer.from(msg.body);
  return Buffer.concat([Buffer.from(`${msg.id}.${msg.timestamp}.`, 'utf8'), body]);
}

/**
 * Signs a message and returns the `webhook-signature` header value: space-separated
 * `v1a,<base64>` entries (one per Ed25519 key, in the order given), then `v1,<base64>` entries.
 * This is the one signer: the platform and the SDK's test kit both call it.
 */
export function signWebhook(msg: SignedMessage, keys: SigningKeys): string {
  const content = signedContent(msg);
  const parts: string[] = [];
  for (const key of keys.ed25519 ?? []) {
    parts.push(`v1a,${sign(null, content, parsePrivateKey(key)).toString('base64')}`);
  }
  for (const secret of keys.hmac ?? []) {
    parts.push(`v1,${createHmac('sha256', parseHmacSecret(secret)).update(content).digest('base64')}`);
  }
  if (parts.length === 0) throw new TypeError('signWebhook needs at least one key');
  return parts.join(' ');
}
