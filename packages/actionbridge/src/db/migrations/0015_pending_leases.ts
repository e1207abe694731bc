import { type Kysely, type Migration, sql } from 'kysely';

/**
 * Leased pending deliveries by when their lease lapses: how a lane finds, in one index lookup, when
 * another process's work is due to be taken over (store/queue/nextDue.ts). Partial: a delivery
 * enters it while leased and leaves it when its attempt is recorded, so it holds about as many
 * entries as there are requests in flight, however large the backlog.
 */
export const pendingLeases: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`create index deliveries_pending_leases on deliveries (locked_until_ms) where status = 'pending' and lease_owner is not null`.execute(
      db,
    );
  },
};
