import { parseHmacSecret } from '@actionbridge/app-sdk';
import type { FastifyInstance } from 'fastify';
import { requireOrgToken } from '../../auth/principal.js';
import { badRequest, forbidden, notFound, unprocessable } from '../../domain/errors.js';
import type { AppManifest, Installation, OptionValues } from '../../domain/types.js';
import { SecretBox } from '../../secrets/box.js';
import type { Store } from '../../store/store.js';
import { newUuid, nowIso } from '../../util/ids.js';
import { checkManifest, checkOptionValues, presentInstallation } from '../manifest.js';
import { installSchema, manifestSchema } from '../schemas.js';
import type { Context, Who } from '../server.js';

const REDACTED = '********';

type InstallBody = { version?: number; option_values?: OptionValues[]; signing_secret?: string | null };

/** A sent `signing_secret` replaces the stored one (`null` removes it); omitted keeps it. */
function signingSecret(body: InstallBody | undefined, prev: Installation | undefined): string | null {
  if (body?.signing_secret === undefined) return prev?.signing_secret ?? null;
  if (body.signing_secret !== null) {
    try {
      parseHmacSecret(body.signing_secret);
    } catch (err) {
      throw unprocessable(`signing_secret: ${(err as Error).message}`);
    }
  }
  return body.signing_secret;
}

async function manifestOf(store: Store, appId: string, version: number): Promise<AppManifest> {
  const v = await store.getAppVersion(appId, version);
  if (!v) throw unprocessable(`app ${appId} has no version ${version}`);
  return v.manifest;
}

/** Seals the values of `secret` options that are not sealed yet (new or changed ones). */
function sealSecrets(m: AppManifest, values: OptionValues[], box: SecretBox): OptionValues[] {
  return values.map((cv) => ({
    component_id: cv.component_id,
    options: cv.options.map((o) => {
      const type = m.components.find((c) => c.id === cv.component_id)?.options?.find((d) => d.key === o.key)?.type;
      return type === 'secret' && typeof o.value === 'string' && o.value !== '' && !SecretBox.isSealed(o.value)
        ? { key: o.key, value: box.seal(o.value) }
        : o;
    }),
  }));
}

/**
 * Values sent for the listed components replace theirs; a secret sent back redacted keeps its stored
 * value. A sent value that imitates a sealed secret (`enc:v1:…`) is refused: the engine would try to
 * open it.
 */
function mergeOptionValues(stored: OptionValues[], sent: OptionValues[]): OptionValues[] {
  sent.forEach((cv, i) => {
    cv.options.forEach((o, j) => {
      if (SecretBox.isSealed(o.value)) {
        throw badRequest(
          `option_values[${i}].options[${j}].value must not start with "enc:v1:" (reserved for sealed secrets)`,
        );
      }
    });
  });
  const out = stored.filter((s) => !sent.some((x) => x.component_id === s.component_id));
  for (const cv of sent) {
    const prev = stored.find((s) => s.component_id === cv.component_id);
    out.push({
      component_id: cv.component_id,
      options: cv.options.map((o) =>
        o.value === REDACTED ? { key: o.key, value: prev?.options.find((p) => p.key === o.key)?.value ?? null } : o,
      ),
    });
  }
  return out;
}

/** Apps (developer side) and installations (org side, epilot's `/v1/app` routes). */
export function appRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  const { store } = ctx;

  app.post<{ Body: AppManifest }>('/v1/apps', { schema: { body: manifestSchema } }, async (req, reply) => {
    const orgId = requireOrgToken(await who(req));
    checkManifest(req.body);
    const now = nowIso();
    const appRow = { id: newUuid(), owner_org_id: orgId, latest_version: 1, created_at: now, updated_at: now };
    await store.transaction((tx) => tx.createApp(appRow, req.body));
    return reply.status(201).send({ app_id: appRow.id, version: 1 });
  });

  app.put<{ Params: { app_id: string }; Body: AppManifest }>(
    '/v1/apps/:app_id',
    { schema: { body: manifestSchema } },
    async (req) => {
      const orgId = requireOrgToken(await who(req));
      const existing = await store.getApp(req.params.app_id);
      if (!existing) throw notFound(`app ${req.params.app_id}`);
      if (existing.owner_org_id !== orgId) throw forbidden('only the org that owns an app can publish its versions');
      checkManifest(req.body);
      const version = await store.transaction((tx) => tx.addAppVersion(existing.id, req.body, nowIso()));
      return { app_id: existing.id, version };
    },
  );

  app.get<{ Params: { app_id: string } }>('/v1/apps/:app_id', async (req) => {
    const orgId = requireOrgToken(await who(req));
    const a = await store.getApp(req.params.app_id);
    if (!a) throw notFound(`app ${req.params.app_id}`);
    const manifest = await manifestOf(store, a.id, a.latest_version);
    // Other orgs see what they need to install it, not the headers (they often carry API keys).
    const v =
      a.owner_org_id === orgId
        ? manifest
        : {
            ...manifest,
            components: manifest.components.map((c) => {
              const settings = c.configuration.external_integration_settings;
              if (!settings?.headers) return c;
              const { headers: _hidden, ...rest } = settings;
              return { ...c, configuration: { ...c.configuration, external_integration_settings: rest } };
            }),
          };
    return {
      app_id: a.id,
      version: a.latest_version,
      owner_org_id: a.owner_org_id,
      manifest: v,
      created_at: a.created_at,
      updated_at: a.updated_at,
    };
  });

  app.post<{ Params: { app_id: string }; Body: InstallBody }>(
    '/v1/app/:app_id',
    { schema: { body: installSchema } },
    async (req, reply) => {
      const orgId = requireOrgToken(await who(req));
      const a = await store.getApp(req.params.app_id);
      if (!a) throw notFound(`app ${req.params.app_id}`);
      const version = req.body?.version ?? a.latest_version;
      const manifest = await manifestOf(store, a.id, version);
      const prev = await store.getInstallation(orgId, a.id);
      const values = mergeOptionValues(prev?.option_values ?? [], req.body?.option_values ?? []);
      const { enabled } = checkOptionValues(manifest, values);
      const now = nowIso();
      const inst: Installation = {
        org_id: orgId,
        app_id: a.id,
        version,
        option_values: sealSecrets(manifest, values, ctx.secrets),
        enabled,
        signing_secret: signingSecret(req.body, prev),
        created_at: prev?.created_at ?? now,
        updated_at: now,
      };
      await store.putInstallation(inst);
      return reply.status(prev ? 200 : 201).send(presentInstallation(inst, manifest));
    },
  );

  app.get('/v1/app', async (req) => {
    const orgId = requireOrgToken(await who(req));
    const list = await store.listInstallations(orgId);
    const results = [];
    for (const inst of list)
      results.push(presentInstallation(inst, (await store.getAppVersion(inst.app_id, inst.version))?.manifest));
    return { total: results.length, results };
  });

  app.get<{ Params: { app_id: string } }>('/v1/app/:app_id', async (req) => {
    const orgId = requireOrgToken(await who(req));
    const inst = await store.getInstallation(orgId, req.params.app_id);
    if (!inst) throw notFound(`installation of app ${req.params.app_id}`);
    return presentInstallation(inst, (await store.getAppVersion(inst.app_id, inst.version))?.manifest);
  });

  app.patch<{ Params: { app_id: string }; Body: InstallBody }>(
    '/v1/app/:app_id',
    { schema: { body: installSchema } },
    async (req) => {
      const orgId = requireOrgToken(await who(req));
      const prev = await store.getInstallation(orgId, req.params.app_id);
      if (!prev) throw notFound(`installation of app ${req.params.app_id}`);
      const version = req.body?.version ?? prev.version;
      const manifest = await manifestOf(store, prev.app_id, version);
      const values = mergeOptionValues(prev.option_values, req.body?.option_values ?? []);
      const { enabled } = checkOptionValues(manifest, values);
      const inst: Installation = {
        ...prev,
        version,
        option_values: sealSecrets(manifest, values, ctx.secrets),
        enabled,
        signing_secret: signingSecret(req.body, prev),
        updated_at: nowIso(),
      };
      await store.putInstallation(inst);
      return presentInstallation(inst, manifest);
    },
  );

  app.delete<{ Params: { app_id: string } }>('/v1/app/:app_id', async (req, reply) => {
    const orgId = requireOrgToken(await who(req));
    if (!(await ctx.executions.uninstall(orgId, req.params.app_id))) {
      throw notFound(`installation of app ${req.params.app_id}`);
    }
    return reply.status(204).send();
  });
}
