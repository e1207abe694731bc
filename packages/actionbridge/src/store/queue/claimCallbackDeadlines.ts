import type { ResumeTokenRow } from '../callbacks.js';
import type { Q } from '../context.js';

/**
 * Takes callback tokens whose deadline has passed, marking them used: call inside the transaction
 * that also fails their actions, so a crash leaves neither half done. Concurrent claimers each win
 * different tokens (the `used = 0` re-check).
 */
export async function claimCallbackDeadlines(q: Q, now: number, limit: number): Promise<ResumeTokenRow[]> {
  return q.db
    .updateTable('resume_tokens')
    .set({ used: 1 })
    .where('used', '=', 0)
    .where('token_hash', 'in', (eb) =>
      eb
        .selectFrom('resume_tokens')
        .select('token_hash')
        .where('used', '=', 0)
        .where('deadline_ms', '<=', now)
        .orderBy('deadline_ms')
        .limit(limit),
    )
    .returningAll()
    .execute();
}
