import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newUlid } from './ids.js';

describe('ids', () => {
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
