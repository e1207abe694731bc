/**
 * epilot's App API, developer side: app configurations, their versions and components
 * (`/v1/app-configurations`, `@epilot/sdk` app definition 2.0.0), over the apps the engine reads.
 *
 * Model: an app is an `apps` row; each version is an `app_versions` row (number `seq`) whose
 * manifest is what the engine reads (`permissions` = the version's grants, `components` in epilot's
 * form). The App API adds epilot's version string ("0.0.1"), draft/published, and metadata. A
 * published version never changes; a draft changes in place (an org that installed it sees the
 * change, as with epilot's dev versions). Submitting a version for review publishes it: a
 * self-hosted platform has no marketplace review.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { badRequest, conflict, forbidden, notFound } from '../domain/errors.js';
import type { AppManifest, Grant, ManifestComponent } from '../domain/types.js';
import type { ConfigurationRow, StoredApp } from '../store/app-configurations.js';
import type { Store } from '../store/store.js';
import { newUuid, nowIso } from '../util/ids.js';
import { componentSchema, flowActionConfigurationSchema, VERSION } from './schemas.js';

export type TranslatedString = { de: string; en?: string | null } & Record<string, string | null | undefined>;
type JsonObject = Record<string, unknown>;

/** The app's unversioned metadata (`app_configurations.data`). */
interface Metadata {
  name: string;
  description: TranslatedString;
  category?: string;
  documentation_url?: string;
  support_email?: string;
  pricing?: JsonObject;
  notifications?: JsonObject;
  dev_mode?: boolean;
  created_by?: string;
  updated_by?: string;
}

interface Review {
  version: string;
  review_status: 'approved' | 'rejected' | 'pending';
  requested_at: string;
  requested_by?: string;
  technical_contact: string;
  marketing_contact: string;
  demo_url?: string;
}

/** A version's metadata beside its manifest (`app_configuration_versions.data`). */
export interface VersionData {
  changelog?: string;
  role_id?: string;
  manifest_id?: string;
  review?: Review;
  updated_by?: string;
}

export interface Version {
  seq: number;
  label: string;
  published: boolean;
  manifest: AppManifest;
  data: VersionData;
  created_at: string;
  updated_at: string;
}

/** Who acts: the org, and the API token (recorded as `created_by` / `updated_by`). */
export interface Actor {
  org_id: string;
  token_id?: string;
}

export const INITIAL_VERSION = '0.0.1';

const ajv = new Ajv({ allErrors: false, strict: false });
const checkComponent = ajv.compile(componentSchema);
const checkFlowActionConfiguration = ajv.compile(flowActionConfigurationSchema);

/** An ajv error as a sentence naming the field: `component "act": configuration/type must be …`. */
export function describeError(prefix: string, e: ErrorObject): string {
  const at = e.instancePath ? `${prefix}${e.instancePath}` : prefix;
  if (e.keyword === 'additionalProperties') {
    return `${at}: "${String(e.params.additionalProperty)}" is not supported here`;
  }
  if (e.keyword === 'enum') return `${at} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  return `${at} ${e.message ?? 'is invalid'}`;
}

function validate(fn: ValidateFunction, value: unknown, prefix: string): void {
  if (!fn(value)) throw badRequest(describeError(prefix, (fn.errors ?? [])[0] as ErrorObject), fn.errors);
}

const asTranslated = (v: unknown): TranslatedString | undefined =>
  typeof v === 'string' ? { de: v } : v && typeof v === 'object' ? (v as TranslatedString) : undefined;

/** Checks a component as epilot defines it, and a custom action's configuration as the engine needs it. */
export function checkComponentBody(c: unknown): ManifestComponent {
  validate(checkComponent, c, 'component');
  const comp = c as ManifestComponent & { options?: Array<{ key: string }> };
  const at = `component "${comp.id}"`;
  const keys = new Set<string>();
  for (const o of comp.options ?? []) {
    if (keys.has(o.key)) throw badRequest(`${at}: option "${o.key}" is declared twice`);
    keys.add(o.key);
  }
  if (comp.component_type !== 'CUSTOM_FLOW_ACTION') return comp;
  const cfg = comp.configuration;
  if (cfg.type === 'function') {
    throw badRequest(
      `${at}: configuration.type "function" (app functions) is not supported: use "external_integration"`,
    );
  }
  validate(checkFlowActionConfiguration, cfg, `${at}: configuration`);
  const url = cfg.external_integration_settings?.url as string;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest(`${at}: configuration.external_integration_settings.url is not a URL: "${url}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw badRequest(`${at}: configuration.external_integration_settings.url must be http(s), got ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password) {
    throw badRequest(`${at}: configuration.external_integration_settings.url must not carry credentials`);
  }
  return comp;
}

/** The next version after `label` that is not taken: 0.0.1 → 0.0.2, 3 → 4. */
export function nextVersion(label: string, taken: ReadonlySet<string>): string {
  const parts = label.split('.').map(Number);
  for (;;) {
    parts[parts.length - 1] = (parts[parts.length - 1] ?? 0) + 1;
    const next = parts.join('.');
    if (!taken.has(next)) return next;
  }
}

const parseJson = <T>(text: string): T => JSON.parse(text) as T;

export function versionsOf(s: StoredApp): Version[] {
  return s.versions.map((v) => ({
    seq: v.seq,
    label: v.row?.version ?? String(v.seq),
    published: v.row ? v.row.status === 'published' : true,
    manifest: v.manifest,
    data: v.row ? parseJson<VersionData>(v.row.data) : {},
    created_at: v.created_at,
    updated_at: v.row?.updated_at ?? v.created_at,
  }));
}

/** Metadata of an app; an app created with `POST /v1/apps` reads it from its latest manifest. */
export function metadataOf(s: StoredApp): Metadata {
  if (s.config) return parseJson<Metadata>(s.config.data);
  const latest = s.versions.find((v) => v.seq === s.app.latest_version) ?? s.versions.at(-1);
  const m = latest?.manifest;
  return { name: m?.name ?? s.app.id, description: asTranslated(m?.description) ?? { de: '' } };
}

/** Metadata of an app imported from a manifest (`POST /v1/apps`, `PUT /v1/apps/{app_id}`). */
function importedMetadata(m: AppManifest, actor: Actor, prev?: Metadata): Metadata {
  return {
    ...prev,
    name: m.name,
    description: asTranslated(m.description) ?? prev?.description ?? { de: '' },
    ...(actor.token_id ? { updated_by: actor.token_id, ...(prev ? {} : { created_by: actor.token_id }) } : {}),
  };
}

export function latestOf(s: StoredApp, versions: Version[]): Version {
  return (versions.find((v) => v.seq === s.app.latest_version) ?? versions.at(-1)) as Version;
}

/** A component as epilot shows it (TranslatedStrings); other orgs never see a custom action's headers. */
export function presentComponent(c: ManifestComponent, owner: boolean): JsonObject {
  const name = asTranslated(c.name);
  const description = asTranslated(c.description);
  const out: JsonObject = { ...c, ...(name ? { name } : {}), ...(description ? { description } : {}) };
  const settings = c.configuration?.external_integration_settings;
  if (!owner && settings?.headers) {
    const { headers: _hidden, ...rest } = settings;
    out.configuration = { ...c.configuration, external_integration_settings: rest };
  }
  return out;
}

function auditOf(created: string, updated: string, by: { created_by?: string; updated_by?: string } = {}) {
  return {
    created_at: created,
    updated_at: updated,
    ...(by.created_by ? { created_by: by.created_by } : {}),
    ...(by.updated_by ? { updated_by: by.updated_by } : {}),
  };
}

export class AppConfigurations {
  constructor(private readonly store: Store) {}

  // ---- reads ----

  /** `ConfigurationMetadata`. */
  private metadata(s: StoredApp): JsonObject {
    const meta = metadataOf(s);
    const versions = versionsOf(s);
    const { created_by, updated_by, ...fields } = meta;
    return {
      app_id: s.app.id,
      owner_org_id: s.app.owner_org_id,
      ...fields,
      versions: versions.map((v) => v.label),
      public_versions: versions.filter((v) => v.published).map((v) => v.label),
      latest_version: latestOf(s, versions).label,
      internal: false,
      configuration_audit: auditOf(s.config?.created_at ?? s.app.created_at, s.config?.updated_at ?? s.app.updated_at, {
        ...(created_by ? { created_by } : {}),
        ...(updated_by ? { updated_by } : {}),
      }),
    };
  }

  /** `ConfigurationVersion`. */
  private version(s: StoredApp, v: Version, owner: boolean): JsonObject {
    return {
      app_id: s.app.id,
      owner_org_id: s.app.owner_org_id,
      version: v.label,
      components: v.manifest.components.map((c) => presentComponent(c, owner)),
      visibility: v.published ? 'public' : 'private',
      public: v.published,
      pending: v.data.review?.review_status === 'pending',
      ...(v.data.changelog ? { changelog: v.data.changelog } : {}),
      ...(v.data.review ? { review_status: v.data.review.review_status } : {}),
      role: { ...(v.data.role_id ? { id: v.data.role_id } : {}), grants: v.manifest.permissions ?? [] },
      ...(v.data.manifest_id ? { blueprint_ref: { manifest_id: v.data.manifest_id } } : {}),
      version_audit: {
        ...auditOf(v.created_at, v.updated_at, v.data.updated_by ? { updated_by: v.data.updated_by } : {}),
        versioned_at: v.created_at,
      },
    };
  }

  /** The app, if `orgId` owns it; another org's app is a 404, like a missing one. */
  private async owned(store: Store, orgId: string, appId: string, lock = false): Promise<StoredApp> {
    const s = await store.appConfigurations().load(appId, lock);
    if (!s || s.app.owner_org_id !== orgId) throw notFound(`app configuration ${appId}`);
    return s;
  }

  private find(s: StoredApp, label: string): Version {
    const v = versionsOf(s).find((x) => x.label === label);
    if (!v) throw notFound(`version ${label} of app ${s.app.id}`);
    return v;
  }

  async list(orgId: string, page: number, pageSize: number) {
    const q = this.store.appConfigurations();
    const { total, ids } = await q.listOwned(orgId, (page - 1) * pageSize, pageSize);
    const configurations = [];
    for (const id of ids) {
      const s = await q.load(id);
      if (s) configurations.push(this.metadata(s));
    }
    return { configurations, pagination: { total, page, pageSize } };
  }

  /** `Configuration` of a version (default: the latest). */
  async get(orgId: string, appId: string, label?: string) {
    const s = await this.owned(this.store, orgId, appId);
    const versions = versionsOf(s);
    const v = label === undefined ? latestOf(s, versions) : this.find(s, label);
    return { ...this.metadata(s), ...this.version(s, v, true) };
  }

  async listVersions(orgId: string, appId: string, page: number, pageSize: number) {
    const s = await this.owned(this.store, orgId, appId);
    const all = versionsOf(s);
    const slice = all.slice((page - 1) * pageSize, page * pageSize);
    return {
      versions: slice.map((v) => this.version(s, v, true)),
      pagination: { total: all.length, page, pageSize },
    };
  }

  /** Apps with a published version, as every org may see them. */
  async listPublic(page: number, pageSize: number) {
    const q = this.store.appConfigurations();
    const ids = await q.listPublished();
    const configurations = [];
    for (const id of ids.slice((page - 1) * pageSize, page * pageSize)) {
      const s = await q.load(id);
      if (s) configurations.push(this.publicMetadata(s));
    }
    return { configurations, pagination: { total: ids.length, page, pageSize } };
  }

  /** Metadata other orgs see: only published versions. */
  private publicMetadata(s: StoredApp): JsonObject {
    const meta = this.metadata(s);
    const published = versionsOf(s).filter((v) => v.published);
    return {
      ...meta,
      versions: published.map((v) => v.label),
      latest_version: published.at(-1)?.label ?? meta.latest_version,
    };
  }

  /** `PublicConfiguration` of a published version (default: the newest), for any org. */
  async getPublic(orgId: string, appId: string, label?: string) {
    const s = await this.store.appConfigurations().load(appId);
    const owner = s?.app.owner_org_id === orgId;
    const published = s ? versionsOf(s).filter((v) => v.published || owner) : [];
    const v = label === undefined ? published.at(-1) : published.find((x) => x.label === label);
    if (!s || !v) throw notFound(label ? `public version ${label} of app ${appId}` : `public app ${appId}`);
    const meta = this.publicMetadata(s);
    const { role, ...version } = this.version(s, v, owner);
    return {
      ...meta,
      ...version,
      role,
      latest_version: meta.latest_version,
      versions: published.map((x) => this.version(s, x, owner)),
    };
  }

  // ---- writes ----

  /**
   * `POST /v1/apps`: a manifest imported as a new app whose first version is the published "1"
   * (metadata from the manifest's `name` and `description`). The caller has checked the manifest.
   */
  async importManifest(actor: Actor, manifest: AppManifest) {
    const now = nowIso();
    const id = newUuid();
    await this.store.transaction(async (tx) => {
      await tx.createApp(
        { id, owner_org_id: actor.org_id, latest_version: 1, created_at: now, updated_at: now },
        manifest,
      );
      const q = tx.appConfigurations();
      await q.putConfiguration({
        app_id: id,
        owner_org_id: actor.org_id,
        data: JSON.stringify(importedMetadata(manifest, actor)),
        created_at: now,
        updated_at: now,
      });
      await q.putVersionRow({
        app_id: id,
        seq: 1,
        version: '1',
        status: 'published',
        data: '{}',
        created_at: now,
        updated_at: now,
      });
    });
    return { app_id: id, version: 1, version_label: '1' };
  }

  /**
   * `PUT /v1/apps/{app_id}`: the manifest becomes a new published version, labelled after the
   * latest one ("1" → "2", "0.0.1" → "0.0.2"); the app's name and description follow the manifest.
   */
  async importVersion(actor: Actor, appId: string, manifest: AppManifest) {
    return this.store.transaction(async (tx) => {
      const s = await tx.appConfigurations().load(appId, true);
      if (!s) throw notFound(`app ${appId}`);
      if (s.app.owner_org_id !== actor.org_id)
        throw forbidden('only the org that owns an app can publish its versions');
      const now = nowIso();
      const config = await this.adopt(tx, s, now);
      const versions = versionsOf(s);
      const label = nextVersion(latestOf(s, versions).label, new Set(versions.map((v) => v.label)));
      const seq = await tx.addAppVersion(s.app.id, manifest, now);
      const q = tx.appConfigurations();
      const meta = importedMetadata(manifest, actor, parseJson<Metadata>(config.data));
      await q.putConfiguration({ ...config, data: JSON.stringify(meta), updated_at: now });
      await q.putVersionRow({
        app_id: s.app.id,
        seq,
        version: label,
        status: 'published',
        data: JSON.stringify(actor.token_id ? { updated_by: actor.token_id } : {}),
        created_at: now,
        updated_at: now,
      });
      return { app_id: s.app.id, version: seq, version_label: label };
    });
  }

  async create(actor: Actor, body: { name: string; description: TranslatedString; category?: string }) {
    const now = nowIso();
    const id = newUuid();
    const meta: Metadata = {
      name: body.name,
      description: body.description,
      ...(body.category ? { category: body.category } : {}),
      ...(actor.token_id ? { created_by: actor.token_id, updated_by: actor.token_id } : {}),
    };
    const manifest: AppManifest = { name: body.name, permissions: [], components: [] };
    await this.store.transaction(async (tx) => {
      await tx.createApp(
        { id, owner_org_id: actor.org_id, latest_version: 1, created_at: now, updated_at: now },
        manifest,
      );
      const q = tx.appConfigurations();
      await q.putConfiguration({
        app_id: id,
        owner_org_id: actor.org_id,
        data: JSON.stringify(meta),
        created_at: now,
        updated_at: now,
      });
      await q.putVersionRow({
        app_id: id,
        seq: 1,
        version: INITIAL_VERSION,
        status: 'draft',
        data: '{}',
        created_at: now,
        updated_at: now,
      });
    });
    return { app_id: id, version: INITIAL_VERSION };
  }

  /**
   * Gives an app created with `POST /v1/apps` its App API rows (metadata, and its versions as the
   * published "1", "2", …) before the first App API write, so that reads stay the same after it.
   */
  private async adopt(tx: Store, s: StoredApp, now: string): Promise<ConfigurationRow> {
    const q = tx.appConfigurations();
    if (!s.config) {
      const row = {
        app_id: s.app.id,
        owner_org_id: s.app.owner_org_id,
        data: JSON.stringify(metadataOf(s)),
        created_at: s.app.created_at,
        updated_at: now,
      };
      await q.putConfiguration(row);
      s.config = row;
    }
    for (const v of s.versions) {
      if (v.row) continue;
      v.row = {
        app_id: s.app.id,
        seq: v.seq,
        version: String(v.seq),
        status: 'published',
        data: '{}',
        created_at: v.created_at,
        updated_at: v.created_at,
      };
      await q.putVersionRow(v.row);
    }
    return s.config;
  }

  async patchMetadata(actor: Actor, appId: string, body: Partial<Metadata>) {
    await this.store.transaction(async (tx) => {
      const s = await this.owned(tx, actor.org_id, appId, true);
      const now = nowIso();
      const config = await this.adopt(tx, s, now);
      const meta: Metadata = {
        ...parseJson<Metadata>(config.data),
        ...body,
        ...(actor.token_id ? { updated_by: actor.token_id } : {}),
      };
      await tx.appConfigurations().putConfiguration({ ...config, data: JSON.stringify(meta), updated_at: now });
    });
  }

  async delete(actor: Actor, appId: string) {
    await this.store.transaction(async (tx) => {
      const s = await this.owned(tx, actor.org_id, appId, true);
      const q = tx.appConfigurations();
      const installed = await q.countInstallations(s.app.id);
      if (installed > 0) {
        throw conflict(`app ${appId} is installed in ${installed} org(s): it can be deleted once they uninstall it`);
      }
      await q.deleteApp(s.app.id);
    });
  }

  /** Runs `change` on a draft version's manifest and data, then stores both. */
  private async changeDraft(
    actor: Actor,
    appId: string,
    label: string,
    change: (v: Version) => void | Promise<void>,
  ): Promise<Version> {
    return this.store.transaction(async (tx) => {
      const s = await this.owned(tx, actor.org_id, appId, true);
      const v = this.find(s, label);
      if (v.published) {
        throw badRequest(
          `version ${label} of app ${appId} is published and cannot change: clone it to a new version (POST /v1/app-configurations/${appId}/versions/${label}/clone-to/{version})`,
        );
      }
      await change(v);
      const now = nowIso();
      await this.adopt(tx, s, now);
      const q = tx.appConfigurations();
      await q.setManifest(s.app.id, v.seq, v.manifest);
      await q.putVersionRow({
        app_id: s.app.id,
        seq: v.seq,
        version: v.label,
        status: 'draft',
        data: JSON.stringify({ ...v.data, ...(actor.token_id ? { updated_by: actor.token_id } : {}) }),
        created_at: v.created_at,
        updated_at: now,
      });
      return v;
    });
  }

  async patchVersion(
    actor: Actor,
    appId: string,
    label: string,
    body: {
      grants?: Grant[];
      role_id?: string | null;
      changelog?: string;
      manifest_id?: string;
      options?: unknown[];
      functions?: unknown[];
    },
  ) {
    if (body.options?.length) {
      throw badRequest(
        'options: app-level options are not supported by ActionBridge: declare options on the components',
      );
    }
    if (body.functions?.length) throw badRequest('functions: app functions are not supported by ActionBridge');
    await this.changeDraft(actor, appId, label, (v) => {
      if (body.grants) v.manifest.permissions = body.grants;
      if (body.role_id === null) delete v.data.role_id;
      else if (body.role_id !== undefined) v.data.role_id = body.role_id;
      if (body.changelog !== undefined) v.data.changelog = body.changelog;
      if (body.manifest_id !== undefined) v.data.manifest_id = body.manifest_id;
    });
  }

  /** A new draft version copied from `source`; named `target`, or the next free version after the latest. */
  async clone(actor: Actor, appId: string, source: string, target: string | undefined, body: unknown) {
    if (body !== undefined && body !== null) {
      const b = body as { changelog?: unknown };
      const extra = typeof b === 'object' && !Array.isArray(b) ? Object.keys(b).find((k) => k !== 'changelog') : 'body';
      if (extra) throw badRequest(`the clone body may only carry changelog; "${extra}" is not supported`);
      if (b.changelog !== undefined && (typeof b.changelog !== 'string' || b.changelog.length > 250)) {
        throw badRequest('changelog must be a string of at most 250 characters');
      }
    }
    const changelog = (body as { changelog?: string } | undefined)?.changelog;
    if (target !== undefined && (!VERSION.test(target) || target.length > 10)) {
      throw badRequest(
        `invalid version "${target}": use numbers separated by dots, like 0.0.2 (at most 10 characters)`,
      );
    }
    return this.store.transaction(async (tx) => {
      const s = await this.owned(tx, actor.org_id, appId, true);
      const src = this.find(s, source);
      const now = nowIso();
      await this.adopt(tx, s, now);
      const versions = versionsOf(s);
      const taken = new Set(versions.map((v) => v.label));
      if (target !== undefined && taken.has(target))
        throw badRequest(`version ${target} of app ${appId} already exists`);
      const label = target ?? nextVersion(latestOf(s, versions).label, taken);
      const seq = await tx.addAppVersion(s.app.id, src.manifest, now);
      const data: VersionData = {
        ...(src.data.role_id ? { role_id: src.data.role_id } : {}),
        ...(src.data.manifest_id ? { manifest_id: src.data.manifest_id } : {}),
        ...(changelog ? { changelog } : {}),
        ...(actor.token_id ? { updated_by: actor.token_id } : {}),
      };
      await tx.appConfigurations().putVersionRow({
        app_id: s.app.id,
        seq,
        version: label,
        status: 'draft',
        data: JSON.stringify(data),
        created_at: now,
        updated_at: now,
      });
      return { app_id: s.app.id, version: label, status: 'pending' as const };
    });
  }

  async deleteVersion(actor: Actor, appId: string, label: string) {
    await this.store.transaction(async (tx) => {
      const s = await this.owned(tx, actor.org_id, appId, true);
      const v = this.find(s, label);
      if (s.versions.length === 1) throw badRequest(`version ${label} is the only version of app ${appId}`);
      const q = tx.appConfigurations();
      const installed = await q.countInstallations(s.app.id, v.seq);
      if (installed > 0) throw conflict(`version ${label} of app ${appId} is installed in ${installed} org(s)`);
      await q.deleteVersion(s.app.id, v.seq, nowIso());
    });
  }

  async createComponent(actor: Actor, appId: string, label: string, body: unknown) {
    const comp = checkComponentBody(body);
    await this.changeDraft(actor, appId, label, (v) => {
      if (v.manifest.components.some((c) => c.id === comp.id)) {
        throw badRequest(`component "${comp.id}" already exists in version ${label}: PATCH it instead`);
      }
      v.manifest.components.push(comp);
    });
    return { component: presentComponent(comp, true) };
  }

  /** Merges the sent fields over the stored component (the id cannot change). */
  async patchComponent(actor: Actor, appId: string, label: string, componentId: string, body: JsonObject) {
    if (body.id !== undefined && body.id !== componentId) {
      throw badRequest(`id "${String(body.id)}" does not match the component in the path ("${componentId}")`);
    }
    await this.changeDraft(actor, appId, label, (v) => {
      const i = v.manifest.components.findIndex((c) => c.id === componentId);
      const stored = v.manifest.components[i];
      if (!stored) throw notFound(`component ${componentId} in version ${label} of app ${appId}`);
      v.manifest.components[i] = checkComponentBody({ ...stored, ...body, id: componentId });
    });
  }

  async deleteComponent(actor: Actor, appId: string, label: string, componentId: string) {
    await this.changeDraft(actor, appId, label, (v) => {
      const before = v.manifest.components.length;
      v.manifest.components = v.manifest.components.filter((c) => c.id !== componentId);
      if (v.manifest.components.length === before) {
        throw notFound(`component ${componentId} in version ${label} of app ${appId}`);
      }
    });
  }

  /** Submitting a version for review publishes it at once (approved): from then on it cannot change. */
  async createReview(
    actor: Actor,
    appId: string,
    label: string,
    body: { technical_contact: string; marketing_contact: string; demo_url?: string },
  ) {
    return this.store.transaction(async (tx) => {
      const s = await this.owned(tx, actor.org_id, appId, true);
      const v = this.find(s, label);
      const now = nowIso();
      await this.adopt(tx, s, now);
      const review: Review = {
        version: label,
        review_status: 'approved',
        requested_at: now,
        ...(actor.token_id ? { requested_by: actor.token_id } : {}),
        technical_contact: body.technical_contact,
        marketing_contact: body.marketing_contact,
        ...(body.demo_url ? { demo_url: body.demo_url } : {}),
      };
      await tx.appConfigurations().putVersionRow({
        app_id: s.app.id,
        seq: v.seq,
        version: v.label,
        status: 'published',
        data: JSON.stringify({ ...v.data, review }),
        created_at: v.created_at,
        updated_at: now,
      });
      return { review };
    });
  }

  async getReview(orgId: string, appId: string, label: string) {
    const s = await this.owned(this.store, orgId, appId);
    const review = this.find(s, label).data.review;
    if (!review) throw notFound(`review of version ${label} of app ${appId}`);
    return { review };
  }
}
