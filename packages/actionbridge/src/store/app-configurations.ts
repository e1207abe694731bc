import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import type { AppManifest } from '../domain/types.js';

// The App API's tables (migration 0007), added to the database's row types.
declare module '../db/schema.js' {
  interface Database {
    app_configurations: { app_id: string; owner_org_id: string; data: string; created_at: string; updated_at: string };
    app_configuration_versions: {
      app_id: string;
      /** The engine's version number: `app_versions.version`. */
      seq: number;
      /** epilot's version string ("0.0.1"). */
      version: string;
      status: 'draft' | 'published';
      data: string;
      created_at: string;
      updated_at: string;
    };
  }
}

export type AppRow = Selectable<Database['apps']>;
export type ConfigurationRow = Selectable<Database['app_configurations']>;
export type ConfigurationVersionRow = Selectable<Database['app_configuration_versions']>;

/** One engine version of an app with its App API row, when it has one. */
export interface StoredVersion {
  seq: number;
  manifest: AppManifest;
  created_at: string;
  row?: ConfigurationVersionRow;
}

/** Everything the App API keeps about one app. */
export interface StoredApp {
  app: AppRow;
  config?: ConfigurationRow;
  /** Oldest first. */
  versions: StoredVersion[];
}

/**
 * The App API's reads and writes. Versions live where the engine reads them (`app_versions`, one
 * manifest per version number); the App API's own rows only add what epilot's model has on top.
 */
export function appConfigurationQueries(db: Kysely<Database> | Transaction<Database>, dialect: Dialect) {
  return {
    /** Reads an app whole; with `lock`, holds its row until the transaction ends (PostgreSQL `FOR UPDATE`). */
    async load(appId: string, lock = false): Promise<StoredApp | undefined> {
      let q = db.selectFrom('apps').selectAll().where('id', '=', appId);
      if (lock && dialect === 'postgres') q = q.forUpdate();
      const app = await q.executeTakeFirst();
      if (!app) return undefined;
      const config = await db
        .selectFrom('app_configurations')
        .selectAll()
        .where('app_id', '=', appId)
        .executeTakeFirst();
      const manifests = await db
        .selectFrom('app_versions')
        .selectAll()
        .where('app_id', '=', appId)
        .orderBy('version')
        .execute();
      const rows = await db.selectFrom('app_configuration_versions').selectAll().where('app_id', '=', appId).execute();
      return {
        app,
        ...(config ? { config } : {}),
        versions: manifests.map((m) => {
          const row = rows.find((r) => r.seq === m.version);
          return {
            seq: m.version,
            manifest: JSON.parse(m.manifest) as AppManifest,
            created_at: m.created_at,
            ...(row ? { row } : {}),
          };
        }),
      };
    },

    /** Apps owned by an org, oldest first, one page; and how many there are. */
    async listOwned(ownerOrgId: string, offset: number, limit: number): Promise<{ total: number; ids: string[] }> {
      const count = await db
        .selectFrom('apps')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('owner_org_id', '=', ownerOrgId)
        .executeTakeFirstOrThrow();
      const rows = await db
        .selectFrom('apps')
        .select('id')
        .where('owner_org_id', '=', ownerOrgId)
        .orderBy('created_at')
        .orderBy('id')
        .offset(offset)
        .limit(limit)
        .execute();
      return { total: Number(count.n), ids: rows.map((r) => r.id) };
    },

    /** Ids of apps with a published version: App API apps with a `published` row, and every other app. */
    async listPublished(): Promise<string[]> {
      const rows = await db
        .selectFrom('apps')
        .select('id')
        .where((eb) =>
          eb.or([
            eb.not(eb.exists(eb.selectFrom('app_configurations').select('app_id').whereRef('app_id', '=', 'apps.id'))),
            eb.exists(
              eb
                .selectFrom('app_configuration_versions')
                .select('app_id')
                .whereRef('app_id', '=', 'apps.id')
                .where('status', '=', 'published'),
            ),
          ]),
        )
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map((r) => r.id);
    },

    async putConfiguration(row: ConfigurationRow): Promise<void> {
      await db
        .insertInto('app_configurations')
        .values(row)
        .onConflict((oc) => oc.column('app_id').doUpdateSet({ data: row.data, updated_at: row.updated_at }))
        .execute();
    },

    async putVersionRow(row: ConfigurationVersionRow): Promise<void> {
      await db
        .insertInto('app_configuration_versions')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['app_id', 'seq']).doUpdateSet({
            version: row.version,
            status: row.status,
            data: row.data,
            updated_at: row.updated_at,
          }),
        )
        .execute();
    },

    async setManifest(appId: string, seq: number, manifest: AppManifest): Promise<void> {
      await db
        .updateTable('app_versions')
        .set({ manifest: JSON.stringify(manifest) })
        .where('app_id', '=', appId)
        .where('version', '=', seq)
        .execute();
    },

    /** Removes one version; the app's latest version becomes the newest one left. */
    async deleteVersion(appId: string, seq: number, now: string): Promise<void> {
      await db.deleteFrom('app_configuration_versions').where('app_id', '=', appId).where('seq', '=', seq).execute();
      await db.deleteFrom('app_versions').where('app_id', '=', appId).where('version', '=', seq).execute();
      const newest = await db
        .selectFrom('app_versions')
        .select('version')
        .where('app_id', '=', appId)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (newest) {
        await db
          .updateTable('apps')
          .set({ latest_version: newest.version, updated_at: now })
          .where('id', '=', appId)
          .execute();
      }
    },

    /** Removes an app and all its versions (the caller checks that no org has it installed). */
    async deleteApp(appId: string): Promise<void> {
      await db.deleteFrom('app_configuration_versions').where('app_id', '=', appId).execute();
      await db.deleteFrom('app_configurations').where('app_id', '=', appId).execute();
      await db.deleteFrom('app_versions').where('app_id', '=', appId).execute();
      await db.deleteFrom('apps').where('id', '=', appId).execute();
    },

    /** How many orgs have the app installed (at version `seq`, when given). */
    async countInstallations(appId: string, seq?: number): Promise<number> {
      let q = db
        .selectFrom('installations')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('app_id', '=', appId);
      if (seq !== undefined) q = q.where('version', '=', seq);
      return Number((await q.executeTakeFirstOrThrow()).n);
    },
  };
}

export type AppConfigurationQueries = ReturnType<typeof appConfigurationQueries>;
