import { type Selectable, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { EntityEvent, EventStatus } from '../domain/types.js';
import { notifyWork, parse, type Q } from './context.js';

export const EVENT_STATUS: Record<EventStatus, number> = { pending: 0, processed: 1, dead: 2 };

export interface EventSummary {
  id: string;
  entity_id: string;
  schema: string;
  operation: string;
  status: EventStatus;
  attempts: number;
  last_error: string | null;
  occurred_at: string;
}

export function toEvent(row: Selectable<Database['entity_events']>): EntityEvent & { attempts: number } {
  return {
    id: row.id,
    org_id: row.org_id,
    entity_id: row.entity_id,
    schema: row.schema,
    operation: row.operation as EntityEvent['operation'],
    entity: parse(row.entity),
    diff: parse(row.diff),
    ...(row.previous ? { previous: parse<Record<string, unknown>>(row.previous) } : {}),
    caused_by_execution: row.caused_by_execution,
    occurred_at: row.occurred_at,
    ...(row.activity_id ? { activity_id: row.activity_id } : {}),
    ...(row.activity_type ? { activity_type: row.activity_type } : {}),
    attempts: row.attempts,
  };
}

/** Entity events: written with each entity write, consumed by the event lane. */
export function eventQueries(q: Q) {
  const { db } = q;
  return {
    /** `notify`: wake the other processes (PostgreSQL); not when this process carries the event out itself. */
    async insertEvent(ev: EntityEvent, notify = true): Promise<void> {
      await db
        .insertInto('entity_events')
        .values({
          ...ev,
          entity: JSON.stringify(ev.entity),
          diff: JSON.stringify(ev.diff),
          previous: ev.previous ? JSON.stringify(ev.previous) : null,
          activity_id: ev.activity_id ?? null,
          activity_type: ev.activity_type ?? null,
          created_ms: Date.parse(ev.occurred_at),
          processed: 0,
          locked_until_ms: 0,
          attempts: 0,
          last_error: null,
          lease_owner: null,
        })
        .execute();
      if (notify) await notifyWork(q);
    },
    async listEvents(orgId: string, p: { status?: EventStatus; from: number; size: number }): Promise<EventSummary[]> {
      let s = db
        .selectFrom('entity_events')
        .select(['id', 'entity_id', 'schema', 'operation', 'processed', 'attempts', 'last_error', 'occurred_at'])
        .where('org_id', '=', orgId);
      if (p.status) s = s.where('processed', '=', EVENT_STATUS[p.status]);
      const rows = await s.orderBy('created_ms', 'desc').orderBy('id').offset(p.from).limit(p.size).execute();
      const name = (n: number): EventStatus => (n === 0 ? 'pending' : n === 1 ? 'processed' : 'dead');
      return rows.map(({ processed, ...r }) => ({ ...r, status: name(processed) }));
    },
    async countDeadEvents(): Promise<number> {
      const row = await db
        .selectFrom('entity_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        // A literal: what lets the partial index of dead events answer (migration 0013).
        .where('processed', '=', sql.lit(EVENT_STATUS.dead))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
