import { type Kysely, type Migration, sql } from 'kysely';

/**
 * The engine core's lanes:
 * - events carry their own retry state (attempts, last error; `processed` 2 = dead) and a lease owner;
 * - flows keep an O(1) hot-flow counter (two fixed windows, weighted) and a trigger index
 *   (org, schema, operation) so an event finds its flows without reading every flow of the org;
 * - deliveries snapshot everything each attempt needs (origin, headers, timeout, schedule, the sealed
 *   signing secret, whether to mint a token), hold a lease owner for heartbeats, and count the tries
 *   of the current series (a replay starts a new series);
 * - attempts are written before the request leaves, with an outcome that ends `interrupted` when a
 *   crash cut them off.
 */
export const engineLanes: Migration = {
  async up(db: Kysely<unknown>) {
    const s = db.schema;
    await s
      .alterTable('entity_events')
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await s.alterTable('entity_events').addColumn('last_error', 'text').execute();
    await s.alterTable('entity_events').addColumn('lease_owner', 'text').execute();
    // Claims walk the orgs with pending work (a loose index scan) and take each one's oldest few.
    await s
      .createIndex('entity_events_pending_org')
      .on('entity_events')
      .columns(['processed', 'org_id', 'created_ms'])
      .execute();

    await s
      .alterTable('flows')
      .addColumn('hot_window_ms', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await s
      .alterTable('flows')
      .addColumn('hot_count', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await s
      .alterTable('flows')
      .addColumn('hot_prev_count', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await s
      .createTable('flow_triggers')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('schema', 'text', (c) => c.notNull())
      .addColumn('operation', 'text', (c) => c.notNull())
      .addColumn('flow_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('flow_triggers_pk', ['org_id', 'schema', 'operation', 'flow_id'])
      .execute();
    await s.createIndex('flow_triggers_flow').on('flow_triggers').column('flow_id').execute();

    for (const [name, type] of [
      ['origin', 'text'],
      ['headers', 'text'],
      ['timeout_ms', 'integer'],
      ['retry_schedule', 'text'],
      ['signing_secret', 'text'],
      ['lease_owner', 'text'],
    ] as const) {
      await s.alterTable('deliveries').addColumn(name, type).execute();
    }
    await s
      .alterTable('deliveries')
      .addColumn('mint_token', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    await s
      .alterTable('deliveries')
      .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await s.createIndex('deliveries_lease_owner').on('deliveries').column('lease_owner').execute();
    await s
      .createIndex('deliveries_pending_org')
      .on('deliveries')
      .columns(['status', 'org_id', 'origin', 'next_attempt_ms'])
      .execute();
    await s.createIndex('deliveries_org_app').on('deliveries').columns(['org_id', 'app_id', 'status']).execute();
    await s.createIndex('executions_org_created').on('executions').columns(['org_id', 'created_at']).execute();

    await s
      .alterTable('delivery_attempts')
      .addColumn('outcome', 'text', (c) => c.notNull().defaultTo('failed'))
      .execute();
    await sql`update delivery_attempts set outcome = case
      when status_code between 200 and 299 then 'succeeded'
      when status_code is null or status_code in (408, 425, 429, 500, 502, 503, 504) then 'retry'
      else 'failed' end`.execute(db);
    await sql`update deliveries set tries = attempt_count`.execute(db);
    // Existing flows: index their entity_operation triggers (one row per schema and operation; '*' = any operation).
    const flows = await sql<{ id: string; org_id: string; data: string }>`select id, org_id, data from flows`.execute(
      db,
    );
    for (const f of flows.rows) {
      for (const row of triggerRows(JSON.parse(f.data), f.org_id, f.id)) {
        await sql`insert into flow_triggers (org_id, schema, operation, flow_id) values (${row.org_id}, ${row.schema}, ${row.operation}, ${row.flow_id}) on conflict do nothing`.execute(
          db,
        );
      }
    }
    // Existing pending deliveries: their origin, so per-origin caps apply to them too.
    const pending = await sql<{ id: string; url: string }>`select id, url from deliveries where origin is null`.execute(
      db,
    );
    for (const d of pending.rows) {
      await sql`update deliveries set origin = ${originOf(d.url)} where id = ${d.id}`.execute(db);
    }
  },
};

/** `scheme://host:port` of a URL: the unit of per-origin concurrency. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** The trigger index rows of a flow (kept here so the migration never changes with later code). */
function triggerRows(
  flow: {
    entity_schema?: string;
    triggers?: Array<{ type: string; configuration?: { schema?: string; operations?: string[] } }>;
  },
  orgId: string,
  flowId: string,
) {
  const rows: Array<{ org_id: string; schema: string; operation: string; flow_id: string }> = [];
  for (const t of flow.triggers ?? []) {
    if (t.type !== 'entity_operation') continue;
    const schema = t.configuration?.schema ?? flow.entity_schema;
    if (!schema) continue;
    const ops = t.configuration?.operations?.length ? t.configuration.operations : ['*'];
    for (const op of ops) rows.push({ org_id: orgId, schema, operation: op, flow_id: flowId });
  }
  return rows;
}
