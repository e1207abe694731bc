import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Installations, type InstallBody, type ListQuery } from '../../apps/installations.js';
import { installationsQuery, installSchema } from '../../apps/schemas.js';
import { type Actor, AppConfigurations } from '../../apps/service.js';
import { requireOrgToken } from '../../auth/principal.js';
import { forbidden, notFound, unprocessable } from '../../domain/errors.js';
import type { AppManifest } from '../../domain/types.js';
import type { Store } from '../../store/store.js';
import { checkManifest } from '../manifest.js';
import { manifestSchema } from '../schemas.js';
import type { Context, Who } from '../server.js';
import { acceptEpilotBodies } from './app-configurations.js';

async function manifestOf(store: Store, appId: string, version: number): Promise<AppManifest> {
  const v = await store.getAppVersion(appId, version);
  if (!v) throw unprocessable(`app ${appId} has no version ${version}`);
  return v.manifest;
}

type AppParams = { Params: { app_id: string } };

/**
 * Apps imported from a manifest (`/v1/apps`, ActionBridge's own: the same apps the App API shows,
 * with published versions "1", "2", …) and installations (epilot's `/v1/app` routes).
 */
export function appRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  const { store } = ctx;
  const configurations = new AppConfigurations(store);
  const installations = new Installations(store, ctx.secrets);
  const actor = async (req: FastifyRequest): Promise<Actor> => {
    const p = await who(req);
    const org_id = requireOrgToken(p);
    return { org_id, ...(p.kind === 'org' ? { token_id: p.token_id } : {}) };
  };

  app.post<{ Body: AppManifest }>('/v1/apps', { schema: { body: manifestSchema } }, async (req, reply) => {
    const by = await actor(req);
    checkManifest(req.body);
    return reply.status(201).send(await configurations.importManifest(by, req.body));
  });

  app.put<AppParams & { Body: AppManifest }>('/v1/apps/:app_id', { schema: { body: manifestSchema } }, async (req) => {
    const by = await actor(req);
    const existing = await store.getApp(req.params.app_id);
    if (!existing) throw notFound(`app ${req.params.app_id}`);
    if (existing.owner_org_id !== by.org_id) throw forbidden('only the org that owns an app can publish its versions');
    checkManifest(req.body);
    return configurations.importVersion(by, existing.id, req.body);
  });

  app.get<AppParams>('/v1/apps/:app_id', async (req) => {
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

  // epilot's installation routes, in a plugin of their own: epilot's clients send body-less
  // requests (promote-to, an install without data) that the rest of the API refuses.
  app.register(async (epilot) => {
    acceptEpilotBodies(epilot);
    // `InstallRequest` without a body is an empty one.
    const noBody = {
      preValidation: async (req: FastifyRequest) => {
        req.body ??= {};
      },
    };

    epilot.get<{ Querystring: ListQuery }>('/v1/app', { schema: { querystring: installationsQuery } }, async (req) =>
      installations.list((await actor(req)).org_id, req.query),
    );

    epilot.post<AppParams & { Body: InstallBody }>(
      '/v1/app/:app_id',
      { schema: { body: installSchema }, ...noBody },
      async (req, reply) =>
        reply.status(201).send(await installations.install(await actor(req), req.params.app_id, req.body)),
    );

    epilot.get<AppParams>('/v1/app/:app_id', async (req) =>
      installations.get((await actor(req)).org_id, req.params.app_id),
    );

    epilot.patch<AppParams & { Body: InstallBody }>(
      '/v1/app/:app_id',
      { schema: { body: installSchema }, ...noBody },
      async (req, reply) => {
        await installations.patch(await actor(req), req.params.app_id, req.body);
        return reply.status(204).send();
      },
    );

    epilot.delete<AppParams>('/v1/app/:app_id', async (req, reply) => {
      const orgId = (await actor(req)).org_id;
      if (!(await ctx.executions.uninstall(orgId, req.params.app_id))) {
        throw notFound(`installation of app ${req.params.app_id}`);
      }
      return reply.status(204).send();
    });

    epilot.post<{ Params: { app_id: string; version: string } }>('/v1/app/:app_id/promote-to/:version', async (req) =>
      installations.promote(await actor(req), req.params.app_id, req.params.version),
    );
  });
}
