import { type Selectable, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Q } from './context.js';

export type IdempotencyRow = Selectable<Database['idempotency_keys']>;

/**
 * Stored answers of writes sent with an `Idempotency-Key` (migration 0010): one per (org, key),
 * written in the write's own transaction, looked up by primary key, cleaned along the expiry index.
 */
export function idempotencyQueries({ db, dialect }: Q) {
  return {
    /** The answer stored for `key`, unless it expired by `nowMs`. */
    async getIdempotencyRecord(orgId: string, key: string, nowMs: number): Promise<IdempotencyRow | undefined> {
      const row = await db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('key', '=', key)
        .executeTakeFirst();
      return row && Number(row.expires_ms) > nowMs ? { ...row, expires_ms: Number(row.expires_ms) } : undefined;
    },
    /** Stores an answer; an expired record of the same key (not yet cleaned) is replaced. */
    async putIdempotencyRecord(row: IdempotencyRow): Promise<void> {
      const { org_id: _o, key: _k, ...rest } = row;
      await db
        .insertInto('idempotency_keys')
        .values(row)
        .onConflict((oc) => oc.columns(['org_id', 'key']).doUpdateSet(rest))
        .execute();
    },
    /**
     * Deletes at most `limit` records that expired by `nowMs`, oldest first, along the expiry index:
     * a bounded statement however large the table. PostgreSQL skips rows another transaction is
     * deleting (two cleanups never wait on, or deadlock with, each other).
     */
    async deleteExpiredIdempotencyRecords(nowMs: number, limit: number): Promise<number> {
      const skipLocked = dialect === 'postgres' ? sql` for update skip locked` : sql``;
      const r = await sql`
        delete from idempotency_keys where (org_id, key) in (
          select org_id, key from idempotency_keys where expires_ms <= ${nowMs}
          order by expires_ms limit ${limit}${skipLocked})`.execute(db);
      return Number(r.numAffectedRows ?? 0);
    },
    /** Forgets the stored answers that hold an entity (its purge). */
    async deleteIdempotencyRecordsOf(orgId: string, entityId: string): Promise<void> {
      await db.deleteFrom('idempotency_keys').where('org_id', '=', orgId).where('entity_id', '=', entityId).execute();
    },
  };
}
