/**
 * epilot's App API, installing org's side: installations of apps (`/v1/app`, `@epilot/sdk` app
 * definition 2.0.0), answered as epilot's `Installation`.
 *
 * An installation keeps the engine's version number of the installed version; epilot's version
 * string ("0.0.1", or "1", "2", … for apps imported with `POST /v1/apps`) is its label. The owner
 * org may install any version of its app (drafts included); every other org only published ones.
 *
 * Option values are ActionBridge's: `secret` options are sealed at rest (`enc:v1:…`) and never
 * returned (`********`); a sent `********` keeps the stored value; a sent value that imitates a
 * sealed one is refused. ActionBridge adds `signing_secret` (a `whsec_` secret: deliveries then
 * carry an HMAC signature), and shows `has_signing_secret` and `missing_options`.
 */
import { parseHmacSecret } from '@actionbridge/app-sdk';
import { badRequest, notFound, unprocessable } from '../domain/errors.js';
import type { AppManifest, Installation, OptionValues } from '../domain/types.js';
import { SecretBox } from '../secrets/box.js';
import type { StoredApp } from '../store/app-configurations.js';
import type { Store } from '../store/store.js';
import { nowIso } from '../util/ids.js';
import { type Actor, latestOf, metadataOf, presentComponent, type Version, versionsOf } from './service.js';

/** What a secret option value reads as. */
export const MASK = '********';

/** `InstallRequest`, plus ActionBridge's `signing_secret`. */
export interface InstallBody {
  version?: string;
  option_values?: OptionValues[];
  /** A sent one replaces the stored one (`null` removes it); omitted keeps it. */
  signing_secret?: string | null;
}

export interface ListQuery {
  page: number;
  pageSize: number;
  enabled?: boolean;
  componentType?: string;
}

type JsonObject = Record<string, unknown>;

const TYPE_CHECK: Record<string, (v: unknown) => boolean> = {
  text: (v) => typeof v === 'string',
  secret: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};

/**
 * Checks option values against the manifest (known component, declared key, right type) and says
 * which required options are not set: an installation is `enabled` only when none is missing.
 */
export function checkOptionValues(m: AppManifest, values: OptionValues[]): { enabled: boolean; missing: string[] } {
  values.forEach((cv, i) => {
    const c = m.components.find((x) => x.id === cv.component_id);
    if (!c) throw unprocessable(`option_values[${i}].component_id "${cv.component_id}" is not a component of this app`);
    cv.options.forEach((o, j) => {
      const decl = c.options?.find((d) => d.key === o.key);
      if (!decl) throw unprocessable(`option_values[${i}].options[${j}].key "${o.key}" is not an option of ${c.id}`);
      if (o.value !== null && !TYPE_CHECK[decl.type]?.(o.value)) {
        throw unprocessable(`option_values[${i}].options[${j}].value must be of type ${decl.type} (option ${o.key})`);
      }
    });
  });
  const missing = missingOptions(m, values);
  return { enabled: missing.length === 0, missing };
}

/** The required options without a value, as `component.key`. */
function missingOptions(m: AppManifest, values: OptionValues[]): string[] {
  const missing: string[] = [];
  for (const c of m.components) {
    for (const o of c.options ?? []) {
      if (!o.required) continue;
      const v = values.find((x) => x.component_id === c.id)?.options.find((x) => x.key === o.key)?.value;
      if (v === undefined || v === null || v === '') missing.push(`${c.id}.${o.key}`);
    }
  }
  return missing;
}

const optionType = (m: AppManifest | undefined, componentId: string, key: string) =>
  m?.components.find((c) => c.id === componentId)?.options?.find((o) => o.key === key)?.type;

/** A sent value that imitates a sealed secret (`enc:v1:…`) is refused: the engine would try to open it. */
function refuseSealed(sent: OptionValues[]): void {
  sent.forEach((cv, i) => {
    cv.options.forEach((o, j) => {
      if (SecretBox.isSealed(o.value)) {
        throw badRequest(
          `option_values[${i}].options[${j}].value must not start with "enc:v1:" (reserved for sealed secrets)`,
        );
      }
    });
  });
}

/**
 * Values sent for the listed components replace theirs; a secret sent back masked keeps its stored
 * value. The stored values of the other components stay as far as the target version declares them
 * (it may be another version, or a draft that changed): options it no longer declares are dropped,
 * a value whose type no longer fits is a 400.
 */
function mergeOptionValues(
  stored: OptionValues[],
  sent: OptionValues[],
  target: { manifest: AppManifest; label: string },
): OptionValues[] {
  const out: OptionValues[] = [];
  for (const s of stored) {
    if (sent.some((x) => x.component_id === s.component_id)) continue;
    const c = target.manifest.components.find((x) => x.id === s.component_id);
    if (!c) continue;
    const options = s.options.filter((o) => c.options?.some((d) => d.key === o.key));
    for (const o of options) {
      const type = optionType(target.manifest, c.id, o.key) as string;
      if (o.value !== null && !TYPE_CHECK[type]?.(o.value)) {
        throw badRequest(
          `option ${c.id}.${o.key} is of type ${type} in version ${target.label} and its value does not fit: send a new value for it (option_values) with the version`,
        );
      }
    }
    out.push({ component_id: s.component_id, options });
  }
  for (const cv of sent) {
    const prev = stored.find((s) => s.component_id === cv.component_id);
    out.push({
      component_id: cv.component_id,
      options: cv.options.map((o) =>
        o.value === MASK ? { key: o.key, value: prev?.options.find((p) => p.key === o.key)?.value ?? null } : o,
      ),
    });
  }
  return out;
}

/** Seals the values of `secret` options that are not sealed yet (new or changed ones). */
function sealSecrets(m: AppManifest, values: OptionValues[], box: SecretBox): OptionValues[] {
  return values.map((cv) => ({
    component_id: cv.component_id,
    options: cv.options.map((o) =>
      optionType(m, cv.component_id, o.key) === 'secret' &&
      typeof o.value === 'string' &&
      o.value !== '' &&
      !SecretBox.isSealed(o.value)
        ? { key: o.key, value: box.seal(o.value) }
        : o,
    ),
  }));
}

function signingSecret(body: InstallBody, prev: Installation | undefined): string | null {
  if (body.signing_secret === undefined) return prev?.signing_secret ?? null;
  if (body.signing_secret !== null) {
    try {
      parseHmacSecret(body.signing_secret);
    } catch (err) {
      throw unprocessable(`signing_secret: ${(err as Error).message}`);
    }
  }
  return body.signing_secret;
}

/** `Installation`: what the installing org sees; secret values masked, the signing secret never shown. */
function present(s: StoredApp | undefined, inst: Installation): JsonObject {
  const v = s && versionsOf(s).find((x) => x.seq === inst.version);
  const m = v?.manifest;
  const owner = s?.app.owner_org_id === inst.org_id;
  return {
    app_id: inst.app_id,
    installer_org_id: inst.org_id,
    ...(s ? { owner_org_id: s.app.owner_org_id } : {}),
    name: s ? metadataOf(s).name : inst.app_id,
    enabled: inst.enabled,
    installed_version: v?.label ?? String(inst.version),
    components: m ? m.components.map((c) => presentComponent(c, owner)) : [],
    option_values: inst.option_values.map((cv) => ({
      component_id: cv.component_id,
      options: cv.options.map((o) => ({
        key: o.key,
        // A value sealed once stays unreadable, also if a later version declares the option as text.
        value:
          (optionType(m, cv.component_id, o.key) === 'secret' || SecretBox.isSealed(o.value)) && o.value
            ? MASK
            : o.value,
      })),
    })),
    ...(v?.data.role_id ? { role: v.data.role_id } : {}),
    ...(v?.data.manifest_id ? { blueprint_ref: { manifest_id: v.data.manifest_id } } : {}),
    installation_audit: { created_at: inst.created_at, updated_at: inst.updated_at },
    has_signing_secret: inst.signing_secret !== null,
    missing_options: m ? missingOptions(m, inst.option_values) : [],
  };
}

export class Installations {
  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
  ) {}

  /**
   * The version `orgId` may install: `label`, or by default the latest version (the owner) or the
   * newest published one (other orgs). Undefined when there is none.
   */
  private pick(s: StoredApp, orgId: string, label: string | undefined): Version | undefined {
    const owner = s.app.owner_org_id === orgId;
    const versions = versionsOf(s);
    if (label !== undefined) return versions.find((v) => v.label === label && (v.published || owner));
    return owner ? latestOf(s, versions) : versions.filter((v) => v.published).at(-1);
  }

  /** Writes the installation of version `v` with the sent values over the stored ones. */
  private async write(
    tx: Store,
    orgId: string,
    s: StoredApp,
    v: Version,
    prev: Installation | undefined,
    body: InstallBody,
  ): Promise<Installation> {
    const sent = body.option_values ?? [];
    refuseSealed(sent);
    const values = mergeOptionValues(prev?.option_values ?? [], sent, v);
    const { enabled } = checkOptionValues(v.manifest, values);
    const now = nowIso();
    const inst: Installation = {
      org_id: orgId,
      app_id: s.app.id,
      version: v.seq,
      option_values: sealSecrets(v.manifest, values, this.secrets),
      enabled,
      signing_secret: signingSecret(body, prev),
      created_at: prev?.created_at ?? now,
      updated_at: now,
    };
    await tx.putInstallation(inst);
    return inst;
  }

  /** `install`: installs the app, or changes the installation (version, values) when there is one. */
  async install(actor: Actor, appId: string, body: InstallBody): Promise<JsonObject> {
    return this.store.transaction(async (tx) => {
      // Locked: a version cannot be deleted while it is being installed.
      const s = await tx.appConfigurations().load(appId, true);
      if (!s) throw notFound(`app ${appId}`);
      const v = this.pick(s, actor.org_id, body.version);
      if (!v) {
        throw notFound(
          body.version === undefined
            ? `app ${appId} has no published version`
            : `no ${s.app.owner_org_id === actor.org_id ? '' : 'published '}version ${body.version} of app ${appId}`,
        );
      }
      const prev = await tx.getInstallation(actor.org_id, appId);
      return present(s, await this.write(tx, actor.org_id, s, v, prev, body));
    });
  }

  /** `patchInstallation`: values, signing secret, and the version when one is sent. */
  async patch(actor: Actor, appId: string, body: InstallBody): Promise<void> {
    await this.store.transaction(async (tx) => {
      const prev = await tx.getInstallation(actor.org_id, appId);
      const s = prev && (await tx.appConfigurations().load(appId, true));
      if (!prev || !s) throw notFound(`installation of app ${appId}`);
      const v =
        body.version === undefined
          ? versionsOf(s).find((x) => x.seq === prev.version)
          : this.pick(s, actor.org_id, body.version);
      if (!v) throw notFound(`no version ${body.version ?? prev.version} of app ${appId} to install`);
      await this.write(tx, actor.org_id, s, v, prev, body);
    });
  }

  /** `promoteVersion`: moves the installation to another version, keeping its values. */
  async promote(actor: Actor, appId: string, label: string): Promise<JsonObject> {
    return this.store.transaction(async (tx) => {
      const prev = await tx.getInstallation(actor.org_id, appId);
      const s = prev && (await tx.appConfigurations().load(appId, true));
      if (!prev || !s) throw notFound(`installation of app ${appId}`);
      const v = this.pick(s, actor.org_id, label);
      if (!v) {
        throw badRequest(
          `version ${label} of app ${appId} is not available: ${
            versionsOf(s).some((x) => x.label === label) ? 'it is not published' : 'there is no such version'
          }`,
        );
      }
      return present(s, await this.write(tx, actor.org_id, s, v, prev, {}));
    });
  }

  async get(orgId: string, appId: string): Promise<JsonObject> {
    const inst = await this.store.getInstallation(orgId, appId);
    if (!inst) throw notFound(`installation of app ${appId}`);
    return present(await this.store.appConfigurations().load(appId), inst);
  }

  /** `listInstallations`: `{apps, pagination}`, oldest first, filtered by `enabled` and `componentType`. */
  async list(orgId: string, q: ListQuery) {
    const apps: JsonObject[] = [];
    for (const inst of await this.store.listInstallations(orgId)) {
      if (q.enabled !== undefined && inst.enabled !== q.enabled) continue;
      const shown = present(await this.store.appConfigurations().load(inst.app_id), inst);
      const types = (shown.components as Array<{ component_type: string }>).map((c) => c.component_type);
      if (q.componentType !== undefined && !types.includes(q.componentType)) continue;
      apps.push(shown);
    }
    return {
      apps: apps.slice((q.page - 1) * q.pageSize, q.page * q.pageSize),
      pagination: { total: apps.length, page: q.page, pageSize: q.pageSize },
    };
  }
}
