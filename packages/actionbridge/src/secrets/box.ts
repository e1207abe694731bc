import { createCipheriv, createDecipheriv } from 'node:crypto';
import { RandomPool } from '../util/random-pool.js';

const PREFIX = 'enc:v1:';

/**
 * Encrypts secrets at rest (AES-256-GCM, a random 96-bit IV per value): secret option values of
 * installations, and delivery bodies (they carry those values to the app). Sealed text starts with
 * `enc:v1:`; anything else is returned as is by `open`, so rows written before encryption still read.
 */
export class SecretBox {
  private readonly key: Buffer;
  /** IVs: 12 CSPRNG bytes per value, fetched in bulk (see RandomPool), each used once. */
  private readonly ivs = new RandomPool();

  constructor(key: Buffer) {
    if (key.length !== 32) throw new TypeError('the secret key must be 32 bytes (base64 of 32 random bytes)');
    this.key = key;
  }

  static parseKey(text: string): Buffer {
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== 32)
      throw new TypeError('ACTIONBRIDGE_SECRET_KEY must be base64 of 32 bytes (openssl rand -base64 32)');
    return key;
  }

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }

  seal(plaintext: string): string {
    const iv = this.ivs.take(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
  }

  open(value: string): string {
    if (!SecretBox.isSealed(value)) return value;
    const raw = Buffer.from(value.slice(PREFIX.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
