import { type Kysely, sql, type Transaction } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';

/** The channel every process LISTENs on; a NOTIFY on it means "work may be waiting". */
export const WAKE_CHANNEL = 'actionbridge_work';

/** What every store module gets: the database (or the open transaction) and its dialect. */
export interface Q {
  readonly db: Kysely<Database> | Transaction<Database>;
  readonly dialect: Dialect;
}

export const parse = <T>(text: string): T => JSON.parse(text) as T;

/** PostgreSQL: tells the other processes that work is waiting (delivered when the transaction commits). */
export async function notifyWork(q: Q): Promise<void> {
  if (q.dialect === 'postgres') await sql`select pg_notify(${WAKE_CHANNEL}, '')`.execute(q.db);
}
