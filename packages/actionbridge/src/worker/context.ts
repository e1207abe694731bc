import type { Logger } from 'pino';
import type { DeliveryClient } from '../delivery/client.js';
import type { Signer } from '../delivery/headers.js';
import type { DeliveryAttempt, Execution } from '../domain/types.js';
import type { Changes, DispatchEnv } from '../executions/dispatch.js';
import type { Metrics } from '../metrics.js';
import { startAttempts } from '../store/queue/startAttempts.js';
import type { Store } from '../store/store.js';

/**
 * New deliveries this process sends at once, leased to it in the transaction that creates them
 * (their attempts recorded as started in it too): sent once it commits, their slots given back if it
 * does not. So fresh work never waits for a claim query to find it.
 */
export interface Adopted {
  /** The deliveries this process takes: leased to it until `untilMs`, their first attempt `attempts`. */
  readonly ids: ReadonlySet<string>;
  readonly untilMs: number;
  readonly attempts: readonly DeliveryAttempt[];
  launch(): void;
  abandon(): void;
}

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
  /** Picks the new deliveries that are due and have a free slot, and signs their first attempts (see {@link Adopted}). */
  adopt(changes: Changes, nowMs: number): Promise<Adopted>;
}

/**
 * Runs `fn` in one transaction; the deliveries it adopted are sent once it commits, or released
 * if it fails.
 */
export async function transact<T>(
  ctx: Pick<WorkerContext, 'store'>,
  fn: (tx: Store, held: Adopted[]) => Promise<T>,
): Promise<T> {
  const held: Adopted[] = [];
  let result: T;
  try {
    result = await ctx.store.transaction((tx) => fn(tx, held));
  } catch (err) {
    for (const a of held.splice(0)) a.abandon();
    throw err;
  }
  for (const a of held) a.launch();
  return result;
}

/**
 * Writes what carrying out transitions produced, inside the caller's transaction: new deliveries
 * (those this process sends at once leased to it, their attempts started) and resume tokens,
 * callback deadlines, the executions themselves (each once).
 */
export async function writeChanges(
  tx: Store,
  ctx: Pick<WorkerContext, 'callbackTimeoutMs' | 'adopt' | 'owner'>,
  changed: Iterable<Execution>,
  changes: Changes,
  nowMs: number,
  held: Adopted[],
): Promise<void> {
  await tx.updateExecutions([...changed]);
  if (changes.deliveries.length) {
    const adopted = await ctx.adopt(changes, nowMs);
    held.push(adopted);
    await tx.insertDeliveries(changes.deliveries, { owner: ctx.owner, untilMs: adopted.untilMs, ids: adopted.ids });
    await startAttempts(tx.q, adopted.attempts, []);
  }
  await tx.insertResumeTokens(changes.tokens);
  for (const d of changes.deadlines) {
    await tx.setResumeDeadline(d.org_id, d.execution_id, d.action_id, nowMs + ctx.callbackTimeoutMs);
  }
}

/** Counts finished executions, once their transaction has committed. */
export function countFinished(ctx: Pick<WorkerContext, 'metrics'>, changes: Changes): void {
  for (const status of changes.finished) ctx.metrics?.executions.inc({ status });
}
