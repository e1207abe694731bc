import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte raw key follows. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Parses an Ed25519 public key given as SPKI PEM, as `whpk_<base64 raw key>` (Standard Webhooks),
 * or as a `KeyObject`.
 *
 * Parse once and keep the result: building a `KeyObject` per verification halves verify speed.
 */
export function parsePublicKey(key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  const text = key.trim();
  if (text.startsWith('whpk_')) {
    const raw = Buffer.from(text.slice(5), 'base64');
    if (raw.length !== 32) throw new TypeError('whpk_ key must hold 32 bytes of base64');
    return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  }
  if (text.includes('-----BEGIN')) {
    const pub = createPublicKey(text);
    if (pub.asymmetricKeyType !== 'ed25519')
      throw new TypeError(`expected an Ed25519 key, got ${pub.asymmetricKeyType}`);
    return pub;
  }
  throw new TypeError('unrecognised public key: expected SPKI PEM or whpk_…');
}

/**
 * Parses an Ed25519 private key given as PKCS#8 PEM or as `whsk_<base64 seed‖public key>`
 * (Standard Webhooks).
 */
export function parsePrivateKey(key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') return key;
  const text = key.trim();
  if (text.startsWith('whsk_')) {
    const raw = Buffer.from(text.slice(5), 'base64');
    if (raw.length !== 64 && raw.length !== 32) throw new TypeError('whsk_ key must hold 32 or 64 bytes of base64');
    return createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, raw.subarray(0, 32)]),
      format: 'der',
      type: 'pkcs8',
    });
  }
  const priv = createPrivateKey(text);
  if (priv.asymmetricKeyType !== 'ed25519')
    throw new TypeError(`expected an Ed25519 key, got ${priv.asymmetricKeyType}`);
  return priv;
}

/** The `whpk_…` form of an Ed25519 public key. */
export function toWhpk(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  return `whpk_${der.subarray(SPKI_ED25519_PREFIX.length).toString('base64')}`;
}

/** The SPKI PEM form of an Ed25519 public key. */
export function toPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'pem', type: 'spki' }).toString();
}

/** Decodes a `whsec_<base64>` HMAC secret to its bytes. */
export function parseHmacSecret(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) throw new TypeError('HMAC secrets start with whsec_');
  const bytes = Buffer.from(secret.slice(6), 'base64');
  if (bytes.length < 16) throw new TypeError('whsec_ secret is too short (want at least 16 bytes)');
  return bytes;
}
