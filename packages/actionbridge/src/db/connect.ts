import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely';
import { Checkpointer } from './checkpointer.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Connection {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for messages: a file path or a redacted URL. */
  location: string;
  /** SQL statements executed so far (every query Kysely runs, in or out of transactions). */
  statements(): number;
  /**
   * PostgreSQL: the engine's own connections, so a flood of API writes queued on the API's pool
   * never holds the lanes back. SQLite has one connection: this is `db`.
   */
  workerDb: Kysely<Database>;
}

/**
 * SQLite durability. In WAL mode `synchronous=NORMAL` writes each commit to the WAL file (the OS
 * has it: a kill -9 of the process loses nothing committed) and syncs at checkpoints; `FULL` also
 * fsyncs every commit, which adds a power cut to what a commit survives, and blocks the event loop
 * for that fsync. Measured here (`node packages/actionbridge/dist/bench/sqlite-sync.bench.js`,
 * 2 cores under other load): single-row commits FULL 206–283/s (worst 66–153 ms) vs NORMAL
 * 3,600–6,800/s, 13–33× more. NORMAL is the default; `ACTIONBRIDGE_SQLITE_SYNC=full` chooses FULL.
 * Group commit or a writer thread would keep FULL's guarantee off the loop, at the cost of a
 * second connection and a handoff per write: not needed for "a 2xx survives a kill -9".
 */
export type SqliteSync = 'normal' | 'full';

/**
 * Opens the database: PostgreSQL when `databaseUrl` is set, else SQLite in `dataDir` (WAL).
 */
export async function connect(opts: {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** Errors of the database's background work: an idle PostgreSQL connection dropped, a WAL checkpoint that failed. */
  onBackgroundError?: (err: Error) => void;
  sqliteSync?: SqliteSync | undefined;
}): Promise<Connection> {
  let conn: Connection;
  let statements = 0;
  let checkpointer: Checkpointer | undefined;
  // Counting costs one increment per query; tests and the benchmark read it (statements per action).
  const log = () => {
    statements++;
    checkpointer?.touch();
  };
  if (opts.databaseUrl) {
    // int8 columns (the *_ms times) come back as numbers; they stay far below 2^53.
    // Loaded only here: the embedded SQLite default starts without it.
    const { default: pg } = await import('pg');
    pg.types.setTypeParser(20, (v) => Number(v));
    const pools = [10, 4].map((max) => {
      const pool = new pg.Pool({ connectionString: opts.databaseUrl, max });
      // An idle connection that the server drops (restart, failover, admin) must not crash the
      // process: pg emits it on the pool, and the next query simply opens a new connection.
      pool.on('error', (err) => opts.onBackgroundError?.(err));
      return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
    }) as [Kysely<Database>, Kysely<Database>];
    conn = {
      db: pools[0],
      workerDb: pools[1],
      dialect: 'postgres',
      location: opts.databaseUrl.replace(/\/\/[^@/]*@/, '//***@'),
      statements: () => statements,
    };
  } else {
    mkdirSync(opts.dataDir, { recursive: true });
    const file = join(opts.dataDir, 'actionbridge.sqlite');
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    const synchronous = opts.sqliteSync === 'full' ? 'FULL' : 'NORMAL';
    sqlite.pragma(`synchronous = ${synchronous}`);
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    const cp = new Checkpointer(sqlite, file, synchronous, (err) => opts.onBackgroundError?.(err));
    checkpointer = cp;
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: preparedOnce(sqlite, () => cp.close()) }),
      log,
    });
    conn = {
      db,
      workerDb: db,
      dialect: 'sqlite',
      location: file,
      statements: () => statements,
    };
  }
  const { error, results } = await new Migrator({ db: conn.db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
  return conn;
}

/**
 * Kysely's SQLite driver prepares every query anew; better-sqlite3 statements are reusable, so keep
 * the most recent ones. Profiled on the end-to-end write→delivery path, `prepare` was 6.5 % of the
 * process's CPU; with the cache it drops out of the profile. Bounded: `IN (…)` lists of different
 * lengths are different statements.
 */
function preparedOnce(sqlite: SQLite.Database, beforeClose: () => void, max = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      beforeClose();
      sqlite.close();
    },
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt) {
        cache.delete(text);
      } else {
        stmt = sqlite.prepare(text);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, stmt);
      return stmt as unknown as SqliteStatement;
    },
  };
}
