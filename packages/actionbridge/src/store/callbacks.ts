import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Q } from './context.js';

export type ResumeTokenRow = Selectable<Database['resume_tokens']>;

/** Resume tokens of `wait_for_callback` actions. */
export function callbackQueries({ db }: Q) {
  return {
    async insertResumeTokens(rows: readonly ResumeTokenRow[]): Promise<void> {
      if (rows.length)
        await db
          .insertInto('resume_tokens')
          .values([...rows])
          .execute();
    },
    /** Starts the callback deadline of an action's token, once the app has accepted the request. */
    async setResumeDeadline(orgId: string, executionId: string, actionId: string, deadlineMs: number): Promise<void> {
      await db
        .updateTable('resume_tokens')
        .set({ deadline_ms: deadlineMs })
        .where('org_id', '=', orgId)
        .where('execution_id', '=', executionId)
        .where('action_id', '=', actionId)
        .where('used', '=', 0)
        .execute();
    },
    /**
     * Marks a token used and returns it, or `undefined` when it is unknown or already used, or (with
     * `now`) past its deadline. The conditional update is the once-only guard: two concurrent
     * resumes cannot both win.
     */
    useResumeToken(tokenHash: string, now?: number): Promise<ResumeTokenRow | undefined> {
      let u = db
        .updateTable('resume_tokens')
        .set({ used: 1 })
        .where('token_hash', '=', tokenHash)
        .where('used', '=', 0);
      if (now !== undefined) u = u.where((eb) => eb.or([eb('deadline_ms', 'is', null), eb('deadline_ms', '>', now)]));
      return u.returningAll().executeTakeFirst();
    },
    /** Invalidates the tokens of an action (it is being run again: a new token replaces them). */
    async revokeResumeTokens(orgId: string, executionId: string, actionId: string): Promise<void> {
      await db
        .updateTable('resume_tokens')
        .set({ used: 1 })
        .where('org_id', '=', orgId)
        .where('execution_id', '=', executionId)
        .where('action_id', '=', actionId)
        .execute();
    },
    /** Makes a token usable again with no deadline (a replay resends the same token). */
    async reopenResumeToken(tokenHash: string): Promise<void> {
      await db
        .updateTable('resume_tokens')
        .set({ used: 0, deadline_ms: null })
        .where('token_hash', '=', tokenHash)
        .execute();
    },
  };
}
