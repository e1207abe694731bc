import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AppManifest, Installation } from '../domain/types.js';
import { parse, type Q } from './context.js';

export type AppRow = Selectable<Database['apps']>;

export interface AppVersion {
  app_id: string;
  version: number;
  manifest: AppManifest;
  created_at: string;
}

function toInstallation(row: Selectable<Database['installations']>): Installation {
  return { ...row, option_values: parse(row.option_values), enabled: row.enabled === 1 };
}

/** Apps, their versioned manifests, and installations of apps in orgs. */
export function appQueries(q: Q) {
  const { db } = q;
  return {
    /** Inserts the app and its first version (call inside a transaction). */
    async createApp(app: AppRow, manifest: AppManifest): Promise<void> {
      await db.insertInto('apps').values(app).execute();
      await db
        .insertInto('app_versions')
        .values({
          app_id: app.id,
          version: app.latest_version,
          created_at: app.created_at,
          manifest: JSON.stringify(manifest),
        })
        .execute();
    },
    /** Adds the next version of an app (call inside a transaction); returns its number. */
    async addAppVersion(appId: string, manifest: AppManifest, now: string): Promise<number> {
      const app = await db
        .updateTable('apps')
        .set((eb) => ({ latest_version: eb('latest_version', '+', 1), updated_at: now }))
        .where('id', '=', appId)
        .returning('latest_version')
        .executeTakeFirstOrThrow();
      await db
        .insertInto('app_versions')
        .values({ app_id: appId, version: app.latest_version, manifest: JSON.stringify(manifest), created_at: now })
        .execute();
      return app.latest_version;
    },
    getApp(id: string): Promise<AppRow | undefined> {
      return db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
    },
    async getAppVersion(appId: string, version: number): Promise<AppVersion | undefined> {
      const row = await db
        .selectFrom('app_versions')
        .selectAll()
        .where('app_id', '=', appId)
        .where('version', '=', version)
        .executeTakeFirst();
      return row && { ...row, manifest: parse<AppManifest>(row.manifest) };
    },

    async putInstallation(inst: Installation): Promise<void> {
      const row = { ...inst, option_values: JSON.stringify(inst.option_values), enabled: inst.enabled ? 1 : 0 };
      await db
        .insertInto('installations')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['org_id', 'app_id']).doUpdateSet({
            version: row.version,
            option_values: row.option_values,
            enabled: row.enabled,
            signing_secret: row.signing_secret,
            updated_at: row.updated_at,
          }),
        )
        .execute();
    },
    async getInstallation(orgId: string, appId: string): Promise<Installation | undefined> {
      const row = await db
        .selectFrom('installations')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('app_id', '=', appId)
        .executeTakeFirst();
      return row && toInstallation(row);
    },
    async listInstallations(orgId: string): Promise<Installation[]> {
      const rows = await db
        .selectFrom('installations')
        .selectAll()
        .where('org_id', '=', orgId)
        .orderBy('created_at')
        .execute();
      return rows.map(toInstallation);
    },
    async deleteInstallation(orgId: string, appId: string): Promise<boolean> {
      const r = await db
        .deleteFrom('installations')
        .where('org_id', '=', orgId)
        .where('app_id', '=', appId)
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
