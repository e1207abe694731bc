import { type Kysely, type Migration, sql } from 'kysely';

/**
 * Indexes the engine's hot path writes less to. Every index entry an insert or update touches is a
 * page the commit writes; these were kept for work that is pending, yet held every row:
 * - deliveries: the claim's (org, origin, due) and the due-time lookups now cover pending rows only
 *   (partial indexes: a delivery that ends leaves them, and nothing is added); the lease owner
 *   index goes (leases are found by id, and at start-up among the pending rows); the (org, app)
 *   index no longer holds the status, which moved its entry on every status change;
 * - entity events: the claim's (org, time) index covers pending events only, dead ones have their
 *   own (counted by /metrics), and listing an org's events has an (org, time) index.
 * Queries name the status as a literal (`status = 'pending'`), which is what lets SQLite and
 * PostgreSQL use a partial index.
 */
export const hotPathIndexes: Migration = {
  async up(db: Kysely<unknown>) {
    for (const name of ['deliveries_lease_owner', 'deliveries_due', 'deliveries_pending_org', 'deliveries_org_app']) {
      await db.schema.dropIndex(name).execute();
    }
    await sql`create index deliveries_pending on deliveries (org_id, origin, next_attempt_ms) where status = 'pending'`.execute(
      db,
    );
    await sql`create index deliveries_pending_due on deliveries (next_attempt_ms) where status = 'pending'`.execute(db);
    await db.schema.createIndex('deliveries_org_app').on('deliveries').columns(['org_id', 'app_id']).execute();

    for (const name of ['entity_events_pending', 'entity_events_pending_org']) {
      await db.schema.dropIndex(name).execute();
    }
    await sql`create index entity_events_pending on entity_events (org_id, created_ms) where processed = 0`.execute(db);
    await sql`create index entity_events_dead on entity_events (created_ms) where processed = 2`.execute(db);
    await db.schema.createIndex('entity_events_org').on('entity_events').columns(['org_id', 'created_ms']).execute();
  },
};
