import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId, newUlid, newUuid } from './ids.js';

describe('ids', () => {
  it('makes UUIDs of version 7 (RFC 9562): the version and variant bits set, 74 random bits', () => {
    const ids = Array.from({ length: 2000 }, newUuid);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('starts UUIDs and long prefixed ids with the time in ms, so ids made later sort later', async () => {
    const before = Date.now();
    const uuid = newUuid();
    const dlv = newId('dlv', 12);
    assert.ok(Math.abs(Number.parseInt(uuid.replace(/-/g, '').slice(0, 12), 16) - before) < 1000);
    assert.ok(Math.abs(Number.parseInt(dlv.slice(4, 16), 16) - before) < 1000);
    await new Promise((r) => setTimeout(r, 3));
    assert.ok(newUuid() > uuid);
    assert.ok(newId('dlv', 12) > dlv);
  });

  it('keeps webhook ids as msg_ + 32 lowercase hex, and short ids all random', () => {
    assert.match(newId('msg'), /^msg_[0-9a-f]{32}$/);
    const short = Array.from({ length: 50 }, () => newId('tok', 8).slice(4, 16));
    // Random bytes, not the clock: ids made in the same millisecond differ in their first bytes too.
    assert.ok(new Set(short.map((s) => s.slice(0, 6))).size > 40);
  });

  it('makes ULIDs: 26 Crockford base32 characters, time first, as epilot’s ActivityId pattern wants', () => {
    const at = Date.UTC(2026, 10, 28, 10, 0, 0);
    const id = newUlid(at);
    assert.match(id, /^01[0-9A-HJKMNP-TV-Z]{24}$/);
    // The first 10 characters are the milliseconds.
    const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const ms = [...id.slice(0, 10)].reduce((n, c) => n * 32 + CROCKFORD.indexOf(c), 0);
    assert.equal(ms, at);
    assert.ok(newUlid(at) < newUlid(at + 1), 'later ids sort after earlier ones');
    assert.notEqual(newUlid(at), newUlid(at), 'random below the millisecond');
    assert.match(newUlid(0), /^0{10}[0-9A-HJKMNP-TV-Z]{16}$/);
  });
});
