import { randomBytes, randomUUID } from 'node:crypto';

export const newUuid = (): string => randomUUID();
/** `<prefix>_<hex>` identifiers; `msg_` + 32 lowercase hex for `webhook-id` (SPEC §1). */
export const newId = (prefix: string, bytes = 16): string => `${prefix}_${randomBytes(bytes).toString('hex')}`;
export const nowIso = (): string => new Date().toISOString();

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID (https://github.com/ulid/spec): 48 bits of milliseconds then 80 random bits, in Crockford's
 * base32, 26 characters. epilot's activity ids are ULIDs (`^01[0-9a-zA-Z]{24}$` until 2039).
 */
export function newUlid(ms = Date.now()): string {
  let time = '';
  for (let t = ms, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  const bytes = randomBytes(10);
  let random = '';
  // 80 bits = 16 characters of 5 bits, read from the bytes as one big number.
  let acc = 0n;
  for (const b of bytes) acc = (acc << 8n) | BigInt(b);
  for (let i = 0; i < 16; i++, acc >>= 5n) random = CROCKFORD[Number(acc & 31n)] + random;
  return time + random;
}
