import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDeduplicator, type DedupeStore, MemoryDedupeStore } from './dedupe.js';

describe('MemoryDedupeStore', () => {
  test('claim → processing → done; expiry frees the id', () => {
    let now = 0;
    const store = new MemoryDedupeStore({ now: () => now });
    assert.equal(store.claim('msg_1', 10), 'new');
    assert.equal(store.claim('msg_1', 10), 'processing');
    store.complete('msg_1', 60);
    assert.equal(store.claim('msg_1', 10), 'done');
    now = 59_999;
    assert.equal(store.claim('msg_1', 10), 'done');
    now = 60_000;
    assert.equal(store.claim('msg_1', 10), 'new');
  });

  test('release forgets the id', () => {
    const store = new MemoryDedupeStore();
    store.claim('msg_1', 10);
    store.release('msg_1');
    assert.equal(store.claim('msg_1', 10), 'new');
  });

  test('bounded: the least recently used ids are dropped first', () => {
    const store = new MemoryDedupeStore({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) store.complete(id, 60);
    assert.equal(store.claim('a', 10), 'done'); // touches a: b is now the oldest
    store.complete('d', 60);
    assert.equal(store.size, 3);
    assert.equal(store.claim('b', 10), 'new'); // b was evicted (and is now claimed, evicting c)
    assert.equal(store.claim('a', 10), 'done');
    assert.equal(store.claim('d', 10), 'done');
  });

  test('invalid options are TypeErrors', () => {
    assert.throws(() => new MemoryDedupeStore({ maxEntries: 0 }), /maxEntries/);
    assert.throws(() => new MemoryDedupeStore({ now: 5 as never }), /now/);
  });
});

describe('createDeduplicator', () => {
  test('runs work once per id; a duplicate reports the state', async () => {
    const dedupe = createDeduplicator();
    let runs = 0;
    assert.deepEqual(await dedupe.run('msg_1', () => ++runs), { duplicate: false, value: 1 });
    assert.deepEqual(await dedupe.run('msg_1', () => ++runs), { duplicate: true, state: 'done', value: 1 });
    assert.equal(runs, 1);
  });

  test('a concurrent duplicate sees processing', async () => {
    const dedupe = createDeduplicator();
    let release: () => void = () => {};
    const first = dedupe.run('msg_1', () => new Promise<string>((resolve) => (release = () => resolve('ok'))));
    assert.deepEqual(await dedupe.run('msg_1', () => 'second'), { duplicate: true, state: 'processing' });
    release();
    assert.deepEqual(await first, { duplicate: false, value: 'ok' });
  });

  test('failed work releases the id and rethrows', async () => {
    const dedupe = createDeduplicator();
    await assert.rejects(
      dedupe.run('msg_1', () => {
        throw new Error('nope');
      }),
      /nope/,
    );
    assert.deepEqual(await dedupe.run('msg_1', () => 'retry'), { duplicate: false, value: 'retry' });
  });

  test('a custom async store (shape of a Redis one) is used', async () => {
    const calls: string[] = [];
    const seen = new Map<string, 'processing' | 'done'>();
    const store: DedupeStore = {
      async claim(id, ttl) {
        calls.push(`claim ${id} ${ttl}`);
        const state = seen.get(id);
        if (state) return state;
        seen.set(id, 'processing');
        return 'new';
      },
      async complete(id, ttl) {
        calls.push(`complete ${id} ${ttl}`);
        seen.set(id, 'done');
      },
      async release(id) {
        seen.delete(id);
      },
    };
    const dedupe = createDeduplicator({ store, ttlSeconds: 3600, processingTtlSeconds: 30 });
    await dedupe.run('msg_1', () => 1);
    assert.deepEqual(await dedupe.run('msg_1', () => 2), { duplicate: true, state: 'done' }, 'no result() kept');
    assert.deepEqual(calls, ['claim msg_1 30', 'complete msg_1 3600', 'claim msg_1 30']);
  });

  test('invalid options are TypeErrors', async () => {
    assert.throws(() => createDeduplicator({ ttlSeconds: 0 }), /ttlSeconds/);
    assert.throws(() => createDeduplicator({ store: {} as DedupeStore }), /claim, complete and release/);
    await assert.rejects(
      createDeduplicator().run('', () => 1),
      /non-empty/,
    );
  });
});
