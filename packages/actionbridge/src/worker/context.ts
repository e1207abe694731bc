import type { Logger } from 'pino';
import type { DeliveryClient } from '../delivery/client.js';
import type { Signer } from '../delivery/headers.js';
import type { Execution } from '../domain/types.js';
import type { Changes, DispatchEnv } from '../executions/dispatch.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';

/** What the lanes share. */
export interface WorkerContext {
  store: Store;
  /** This process's lease owner id. */
  owner: string;
  leaseMs: number;
  log: Logger;
  metrics: Metrics | undefined;
  dispatch: DispatchEnv;
  signer: Signer;
  client: DeliveryClient;
  retrySchedule: readonly number[];
  deliveryTimeoutMs: number;
  callbackTimeoutMs: number;
  wake: { events(): void; deliveries(): void; timers(): void };
}

/**
 * Writes what carrying out transitions produced, inside the caller's transaction: new deliveries
 * and resume tokens, callback deadlines, the executions themselves (each once), and counts.
 */
export async function writeChanges(
  tx: Store,
  ctx: Pick<WorkerContext, 'metrics' | 'callbackTimeoutMs'>,
  changed: Iterable<Execution>,
  changes: Changes,
  nowMs: number,
): Promise<void> {
  await tx.updateExecutions([...changed]);
  await tx.insertDeliveries(changes.deliveries);
  await tx.insertResumeTokens(changes.tokens);
  for (const d of changes.deadlines) {
    await tx.setResumeDeadline(d.org_id, d.execution_id, d.action_id, nowMs + ctx.callbackTimeoutMs);
  }
}

/** Counts finished executions, once their transaction has committed. */
export function countFinished(ctx: Pick<WorkerContext, 'metrics'>, changes: Changes): void {
  for (const status of changes.finished) ctx.metrics?.executions.inc({ status });
}
