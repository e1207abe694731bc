import { randomBytes } from 'node:crypto';

/**
 * Bytes from the CSPRNG, drawn 4 KiB at a time and handed out in small pieces, each byte once.
 * `randomBytes` for a few bytes is a call into OpenSSL and a buffer of its own: measured on the
 * end-to-end bench, `randomBytes` per id was 3.7 % of the platform's event-loop time, and 12 bytes
 * per sealed delivery body 1.6 %. The bytes are the same CSPRNG's output either way, only fetched
 * in bulk; every piece is a copy, so no two takers share memory.
 */
export class RandomPool {
  private pool = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly size = 4096) {}

  take(bytes: number): Buffer {
    if (bytes > this.size) return randomBytes(bytes);
    if (this.used + bytes > this.pool.length) {
      this.pool = randomBytes(this.size);
      this.used = 0;
    }
    const out = Buffer.from(this.pool.subarray(this.used, this.used + bytes));
    this.used += bytes;
    return out;
  }
}
