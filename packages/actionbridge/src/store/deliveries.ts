import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '../domain/types.js';
import { notifyWork, parse, type Q } from './context.js';
import type { Page } from './flows.js';
import { insertRows } from './insert-rows.js';

type DeliveryRow = Selectable<Database['deliveries']>;

export function toDelivery(row: DeliveryRow): Delivery {
  const { locked_until_ms: _lease, lease_owner: _owner, ...rest } = row;
  return {
    ...rest,
    next_attempt_ms: rest.next_attempt_ms === null ? null : Number(rest.next_attempt_ms),
    origin: row.origin ?? new URL(row.url).origin,
    headers: row.headers ? parse<Record<string, string>>(row.headers) : {},
    retry_schedule: row.retry_schedule ? parse<number[]>(row.retry_schedule) : null,
    mint_token: row.mint_token === 1,
  };
}

export function toDeliveryRow(d: Delivery): Database['deliveries'] {
  return {
    ...d,
    headers: JSON.stringify(d.headers),
    retry_schedule: d.retry_schedule ? JSON.stringify(d.retry_schedule) : null,
    mint_token: d.mint_token ? 1 : 0,
    locked_until_ms: 0,
    lease_owner: null,
  };
}

export function toAttempt(r: Selectable<Database['delivery_attempts']>): DeliveryAttempt {
  return {
    ...r,
    request_headers: parse<Record<string, string>>(r.request_headers),
    response_headers: parse<Record<string, string>>(r.response_headers),
  };
}

/** Deliveries and their attempts, as the API and operator actions see them (the queue is in `queue/`). */
export function deliveryQueries(q: Q) {
  const { db } = q;
  return {
    /**
     * Inserts deliveries in one statement, those in `lease.ids` already leased to `lease.owner` (the
     * process sends them at once), and wakes the other processes when some are for anyone to claim.
     */
    async insertDeliveries(
      list: readonly Delivery[],
      lease?: { owner: string; untilMs: number; ids: ReadonlySet<string> },
    ): Promise<void> {
      if (list.length === 0) return;
      const rows = list.map((d) =>
        lease?.ids.has(d.id)
          ? { ...toDeliveryRow(d), locked_until_ms: lease.untilMs, lease_owner: lease.owner }
          : toDeliveryRow(d),
      );
      await insertRows(db, 'deliveries', rows);
      if (!lease || lease.ids.size < list.length) await notifyWork(q);
    },
    async getDelivery(orgId: string, id: string): Promise<Delivery | undefined> {
      const row = await db
        .selectFrom('deliveries')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toDelivery(row);
    },
    async listDeliveries(
      orgId: string,
      p: { execution_id?: string; app_id?: string; status?: string; from: number; size: number },
    ): Promise<Page<Delivery>> {
      let base = db.selectFrom('deliveries').where('org_id', '=', orgId);
      if (p.execution_id) base = base.where('execution_id', '=', p.execution_id);
      if (p.app_id) base = base.where('app_id', '=', p.app_id);
      if (p.status) base = base.where('status', '=', p.status as DeliveryStatus);
      const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
      const rows = await base
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .offset(p.from)
        .limit(p.size)
        .execute();
      return { total: Number(total), results: rows.map(toDelivery) };
    },
    /**
     * Ends pending deliveries (cancel, uninstall): of an execution (one action of it, when given),
     * or of an app in an org. Returns the ones it ended.
     */
    async cancelPendingDeliveries(
      orgId: string,
      scope: { execution_id: string; action_id?: string } | { app_id: string },
      now: string,
    ): Promise<Delivery[]> {
      let u = db
        .updateTable('deliveries')
        .set({ status: 'cancelled', next_attempt_ms: null, updated_at: now, locked_until_ms: 0, lease_owner: null })
        .where('org_id', '=', orgId)
        .where('status', '=', 'pending');
      if ('app_id' in scope) u = u.where('app_id', '=', scope.app_id);
      else {
        u = u.where('execution_id', '=', scope.execution_id);
        if (scope.action_id) u = u.where('action_id', '=', scope.action_id);
      }
      return (await u.returningAll().execute()).map(toDelivery);
    },
    /** Marks a pending delivery succeeded (its callback arrived before its answer). */
    async markDeliverySucceeded(id: string, now: string): Promise<void> {
      await db
        .updateTable('deliveries')
        .set({ status: 'succeeded', next_attempt_ms: null, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .execute();
    },
    /**
     * Replay: the same delivery (same `webhook-id`) becomes due again as a new series of tries.
     * Only a delivery that has ended can be replayed; returns it, or `undefined`.
     */
    async reopenDelivery(orgId: string, id: string, nowMs: number, now: string): Promise<Delivery | undefined> {
      const row = await db
        .updateTable('deliveries')
        .set({ status: 'pending', tries: 0, next_attempt_ms: nowMs, updated_at: now, locked_until_ms: 0 })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .where('status', '!=', 'pending')
        .returningAll()
        .executeTakeFirst();
      if (row) await notifyWork(q);
      return row && toDelivery(row);
    },
    async listAttempts(deliveryId: string): Promise<DeliveryAttempt[]> {
      const rows = await db
        .selectFrom('delivery_attempts')
        .selectAll()
        .where('delivery_id', '=', deliveryId)
        .orderBy('attempt')
        .execute();
      return rows.map(toAttempt);
    },
    async countDeliveries(status: DeliveryStatus): Promise<number> {
      const row = await db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', status)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
