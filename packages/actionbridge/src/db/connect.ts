import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Connection {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for messages: a file path or a redacted URL. */
  location: string;
}

/**
 * Opens the database: PostgreSQL when `databaseUrl` is set, else SQLite in `dataDir`
 * (WAL, synchronous=FULL: a committed write survives a kill -9 and a power cut).
 */
export async function connect(opts: {
  dataDir: string;
  databaseUrl?: string | undefined;
  onIdleError?: (err: Error) => void;
}): Promise<Connection> {
  let conn: Connection;
  if (opts.databaseUrl) {
    // int8 columns (the *_ms times) come back as numbers; they stay far below 2^53.
    pg.types.setTypeParser(20, (v) => Number(v));
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle connection that the server drops (restart, failover, admin) must not crash the
    // process: pg emits it on the pool, and the next query simply opens a new connection.
    pool.on('error', (err) => opts.onIdleError?.(err));
    conn = {
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      location: opts.databaseUrl.replace(/\/\/[^@/]*@/, '//***@'),
    };
  } else {
    mkdirSync(opts.dataDir, { recursive: true });
    const file = join(opts.dataDir, 'actionbridge.sqlite');
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    conn = {
      db: new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }),
      dialect: 'sqlite',
      location: file,
    };
  }
  const { error, results } = await new Migrator({ db: conn.db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
  return conn;
}
