import type { Kysely, Migration } from 'kysely';

/**
 * `entity_events.previous`: the values before an update of the attributes it changed (JSON, null
 * when none). Flow filters match `diff.updated` against them, as epilot's entity events carry it.
 */
export const eventPreviousValues: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('entity_events').addColumn('previous', 'text').execute();
  },
};
