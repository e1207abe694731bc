import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { type Connection, connect } from '../db/connect.js';
import { makeStore, type Store } from '../store/store.js';

/** A real SQLite store in a fresh folder for the calling test file; each test starts with no keys in it. */
export function useKeyStore(): { store: Store; dir: string; db: Connection['db'] } {
  const env = {} as { store: Store; dir: string; db: Connection['db'] };
  before(async () => {
    env.dir = mkdtempSync(join(tmpdir(), 'ab-keys-'));
    const conn = await connect({ dataDir: env.dir });
    env.db = conn.db;
    env.store = makeStore(conn.db, conn.dialect);
  });
  beforeEach(async () => {
    await env.db.deleteFrom('signing_keys').execute();
  });
  after(async () => {
    await env.store.close();
    rmSync(env.dir, { recursive: true, force: true });
  });
  return env;
}
