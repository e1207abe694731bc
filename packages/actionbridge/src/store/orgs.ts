import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Q } from './context.js';

export type OrgRow = Selectable<Database['orgs']>;
export type ApiTokenRow = Selectable<Database['api_tokens']>;
export type SigningKeyRow = Selectable<Database['signing_keys']>;

/** Orgs, their API tokens, and the platform's signing keys. */
export function orgQueries({ db }: Q) {
  return {
    async createOrg(row: OrgRow): Promise<void> {
      await db.insertInto('orgs').values(row).execute();
    },
    getOrg(id: string): Promise<OrgRow | undefined> {
      return db.selectFrom('orgs').selectAll().where('id', '=', id).executeTakeFirst();
    },
    async createApiToken(row: ApiTokenRow): Promise<void> {
      await db.insertInto('api_tokens').values(row).execute();
    },
    findApiToken(tokenHash: string): Promise<ApiTokenRow | undefined> {
      return db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    },
    listSigningKeys(purpose: SigningKeyRow['purpose']): Promise<SigningKeyRow[]> {
      return db
        .selectFrom('signing_keys')
        .selectAll()
        .where('purpose', '=', purpose)
        .where('status', '!=', 'retired')
        .orderBy('created_at', 'desc')
        .execute();
    },
    async insertSigningKey(row: SigningKeyRow): Promise<void> {
      await db.insertInto('signing_keys').values(row).execute();
    },
    async updateSigningKey(kid: string, patch: Pick<SigningKeyRow, 'status' | 'retire_at'>): Promise<void> {
      await db.updateTable('signing_keys').set(patch).where('kid', '=', kid).execute();
    },
  };
}
