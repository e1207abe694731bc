import type { Kysely, Migration } from 'kysely';

/**
 * Drops the (flow, created) index of executions (migration 0003). It served the hot-flow check,
 * which counted a flow's recent executions; that check is now a counter on the flow (O(1) per
 * event), and no query reads executions by flow. It was one more index entry, and a page for the
 * commit to write, for every execution.
 */
export const executionsByFlow: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('executions_flow_created').execute();
  },
};
