import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RandomPool } from './random-pool.js';

describe('random pool', () => {
  it('hands out each byte once: 10,000 twelve-byte pieces across many refills are all different', () => {
    const pool = new RandomPool(256);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(pool.take(12).toString('hex'));
    assert.equal(seen.size, 10_000);
  });

  it('gives copies: changing a piece changes neither the pool nor the next piece', () => {
    const pool = new RandomPool(64);
    const a = pool.take(8);
    const before = Buffer.from(a);
    a.fill(0);
    const b = pool.take(8);
    assert.notDeepEqual(b, Buffer.alloc(8), 'the next piece is not the zeroed one');
    assert.equal(a.buffer === b.buffer && a.byteOffset + 8 === b.byteOffset, false, 'pieces share no memory');
    assert.notDeepEqual(before, Buffer.alloc(8));
  });

  it('serves a request larger than the pool directly, at its full length', () => {
    const pool = new RandomPool(16);
    const big = pool.take(100);
    assert.equal(big.length, 100);
    assert.notDeepEqual(big, Buffer.alloc(100));
  });
});
