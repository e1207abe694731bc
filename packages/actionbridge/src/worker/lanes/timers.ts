import type { Execution } from '../../domain/types.js';
import { Catalog, Changes, carryOut } from '../../executions/dispatch.js';
import { finish } from '../../executions/state.js';
import { claimCallbackDeadlines } from '../../store/queue/claimCallbackDeadlines.js';
import { countFinished, transact, type WorkerContext, writeChanges } from '../context.js';

const BATCH = 100;

/**
 * The timer lane: fails `wait_for_callback` actions whose callback did not come before the
 * deadline (TIMEOUT_ERROR), a batch per transaction; the token is marked used in the same commit,
 * so a crash leaves neither half done. It sleeps until the next deadline. (Retries coming due and
 * leases lapsing are the delivery lane's own sleep; event backoff is the event lane's.)
 */
export class TimerLane {
  constructor(private readonly ctx: WorkerContext) {}

  async tick(): Promise<boolean> {
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const result = await transact(this.ctx, async (tx, held) => {
      const due = await claimCallbackDeadlines(tx.q, nowMs, BATCH);
      const changes = new Changes();
      if (due.length === 0) return { count: 0, changes };
      const execs = await tx.lockExecutions(due.map((t) => t.execution_id));
      const changed = new Set<Execution>();
      const catalog = new Catalog(tx);
      for (const t of due) {
        const exec = execs.get(t.execution_id);
        const index = exec?.actions.findIndex((a) => a.id === t.action_id) ?? -1;
        if (exec?.actions[index]?.execution_status !== 'paused') continue; // resumed or cancelled meanwhile
        const effects = finish(
          exec,
          index,
          {
            status: 'failed',
            error: {
              error_code: 'TIMEOUT_ERROR',
              error_reason: `no callback within ${Math.round(this.ctx.callbackTimeoutMs / 1000)} s`,
            },
          },
          now,
        );
        changed.add(exec);
        await carryOut(exec, effects, catalog, changes, this.ctx.dispatch);
      }
      await writeChanges(tx, this.ctx, changed, changes, nowMs, held);
      return { count: due.length, changes };
    });
    countFinished(this.ctx, result.changes);
    return result.count === BATCH;
  }
}
