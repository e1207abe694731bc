import { RandomPool } from './random-pool.js';

/**
 * `bytes` random bytes whose first six hold the current time in ms: ids made later sort later.
 * Every id is a primary key (and most are in other indexes too): a random key lands on a random
 * B-tree page, so each write of a batch dirtied a page of its own in each index, and the WAL wrote
 * them all at commit; ordered keys land on the last page. Measured on the end-to-end bench
 * (SQLite, 3,300 actions): commits were the largest single cost of the write path.
 */
function ordered(bytes: number): Buffer {
  const b = random(bytes);
  b.writeUIntBE(Date.now(), 0, 6);
  return b;
}

/** Random bytes for ids: a pool of their own (secrets, tokens and keys never come from it). */
const pool = new RandomPool();
const random = (bytes: number): Buffer => pool.take(bytes);

/** A UUID, version 7 (RFC 9562): time-ordered, 74 random bits. */
export function newUuid(): string {
  const b = ordered(16);
  b[6] = 0x70 | ((b[6] as number) & 0x0f);
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * `<prefix>_<hex>` identifiers; `msg_` + 32 lowercase hex for `webhook-id` (SPEC §1). From 10
 * bytes on they are time-ordered (6 bytes of time, the rest random); shorter ones are all random.
 */
export const newId = (prefix: string, bytes = 16): string =>
  `${prefix}_${(bytes >= 10 ? ordered(bytes) : random(bytes)).toString('hex')}`;

export const nowIso = (): string => new Date().toISOString();

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID (https://github.com/ulid/spec): 48 bits of milliseconds then 80 random bits, in Crockford's
 * base32, 26 characters. epilot's activity ids are ULIDs (`^01[0-9a-zA-Z]{24}$` until 2039).
 */
export function newUlid(ms = Date.now()): string {
  let time = '';
  for (let t = ms, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  const bytes = random(10);
  let rest = '';
  // 80 bits = 16 characters of 5 bits, read from the bytes as one big number.
  let acc = 0n;
  for (const b of bytes) acc = (acc << 8n) | BigInt(b);
  for (let i = 0; i < 16; i++, acc >>= 5n) rest = CROCKFORD[Number(acc & 31n)] + rest;
  return time + rest;
}
