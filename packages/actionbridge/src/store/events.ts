import { type Selectable, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { EntityEvent, EventStatus } from '../domain/types.js';
import { notifyWork, parse, type Q } from './context.js';
import { insertRows } from './insert-rows.js';

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

/**
 * How an event is stored: pending (for the event lane), already processed (carried out in the
 * transaction that writes it), or failed once (its next try after `retryAtMs`, or dead).
 */
export type EventState =
  | { status: 'pending' }
  | { status: 'processed' }
  | { status: 'failed'; attempts: number; error: string; retryAtMs: number | null };

function toEventRow(ev: EntityEvent, state: EventState): Database['entity_events'] {
  const failed = state.status === 'failed' ? state : undefined;
  // What only processing reads (the entity, its diff and previous values) is not kept for an event
  // already processed: nothing reads it again (executions keep their own snapshot), and it was a
  // third copy of the entity in every write.
  const done = state.status === 'processed';
  return {
    id: ev.id,
    org_id: ev.org_id,
    entity_id: ev.entity_id,
    schema: ev.schema,
    operation: ev.operation,
    entity: done ? 'null' : JSON.stringify(ev.entity),
    diff: done ? 'null' : JSON.stringify(ev.diff),
    previous: !done && ev.previous ? JSON.stringify(ev.previous) : null,
    caused_by_execution: ev.caused_by_execution,
    occurred_at: ev.occurred_at,
    activity_id: ev.activity_id ?? null,
    activity_type: ev.activity_type ?? null,
    created_ms: Date.parse(ev.occurred_at),
    processed: done ? EVENT_STATUS.processed : failed?.retryAtMs === null ? EVENT_STATUS.dead : EVENT_STATUS.pending,
    locked_until_ms: failed?.retryAtMs ?? 0,
    attempts: failed?.attempts ?? 0,
    last_error: failed ? failed.error.slice(0, 2000) : null,
    lease_owner: null,
  };
}

/** Entity events: written with each entity write, consumed by the event lane. */
export function eventQueries(q: Q) {
  const { db } = q;
  return {
    /** A pending event. `notify`: wake the other processes (PostgreSQL). */
    async insertEvent(ev: EntityEvent, notify = true): Promise<void> {
      await insertRows(db, 'entity_events', [toEventRow(ev, { status: 'pending' })]);
      if (notify) await notifyWork(q);
    },
    /** Events in one statement, each in its state (no notification: the caller carries them out). */
    async insertEvents(list: ReadonlyArray<{ ev: EntityEvent; state: EventState }>): Promise<void> {
      await insertRows(
        db,
        'entity_events',
        list.map((e) => toEventRow(e.ev, e.state)),
      );
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
