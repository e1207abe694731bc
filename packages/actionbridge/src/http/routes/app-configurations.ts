import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  componentPatchSchema,
  componentSchema,
  createConfigurationSchema,
  createReviewSchema,
  pageQuery,
  patchMetadataSchema,
  patchVersionSchema,
  versionQuery,
} from '../../apps/schemas.js';
import { type Actor, AppConfigurations, describeError } from '../../apps/service.js';
import { requireOrgToken } from '../../auth/principal.js';
import { badRequest } from '../../domain/errors.js';
import { acceptBodylessJson } from '../bodies.js';
import type { Context, Who } from '../server.js';

type AppParams = { Params: { appId: string } };
type VersionParams = { Params: { appId: string; version: string } };
type ComponentParams = { Params: { appId: string; version: string; componentId: string } };
type Paging = { Querystring: { page: number; pageSize: number } };

/**
 * Body parsers for the routes epilot's clients call (in the plugin that calls this): an empty body
 * is no body, also with a JSON or form content-type (axios sends a POST without data as
 * `application/x-www-form-urlencoded`; `epilot app deploy` sends `application/json` on every
 * request); schema errors name the field.
 */
export function acceptEpilotBodies(app: FastifyInstance): void {
  acceptBodylessJson(app);
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(describeError(dataVar, errors[0] as never)));
}

/**
 * epilot's App API, developer side (`/v1/app-configurations`): what `@epilot/sdk`'s app client and
 * `epilot app deploy` call. Registered as its own plugin: its body parsers accept the body-less
 * requests those clients send (an empty body with a JSON or form content-type), which the rest of
 * the API refuses.
 */
export async function appConfigurationRoutes(app: FastifyInstance, ctx: Context, who: Who): Promise<void> {
  const svc = new AppConfigurations(ctx.store);
  acceptEpilotBodies(app);

  const actor = async (req: FastifyRequest): Promise<Actor> => {
    const p = await who(req);
    const org_id = requireOrgToken(p);
    return { org_id, ...(p.kind === 'org' ? { token_id: p.token_id } : {}) };
  };
  const base = '/v1/app-configurations';

  app.get<Paging>(base, { schema: { querystring: pageQuery } }, async (req) => {
    const { org_id } = await actor(req);
    return svc.list(org_id, req.query.page, req.query.pageSize);
  });

  app.post<{ Body: Parameters<AppConfigurations['create']>[1] }>(
    base,
    { schema: { body: createConfigurationSchema } },
    async (req, reply) => reply.status(201).send(await svc.create(await actor(req), req.body)),
  );

  app.get<Paging>(`${base}/public`, { schema: { querystring: pageQuery } }, async (req) => {
    await actor(req);
    return svc.listPublic(req.query.page, req.query.pageSize);
  });

  app.get<AppParams & { Querystring: { version?: string } }>(
    `${base}/public/:appId`,
    { schema: { querystring: versionQuery } },
    async (req) => svc.getPublic((await actor(req)).org_id, req.params.appId, req.query.version),
  );

  app.get<AppParams & { Querystring: { version?: string } }>(
    `${base}/:appId`,
    { schema: { querystring: versionQuery } },
    async (req) => svc.get((await actor(req)).org_id, req.params.appId, req.query.version),
  );

  app.patch<AppParams & { Body: Record<string, unknown> }>(
    `${base}/:appId`,
    { schema: { body: patchMetadataSchema } },
    async (req, reply) => {
      await svc.patchMetadata(await actor(req), req.params.appId, req.body);
      return reply.status(204).send();
    },
  );

  app.delete<AppParams>(`${base}/:appId`, async (req, reply) => {
    await svc.delete(await actor(req), req.params.appId);
    return reply.status(204).send();
  });

  app.get<AppParams & Paging>(`${base}/:appId/versions`, { schema: { querystring: pageQuery } }, async (req) =>
    svc.listVersions((await actor(req)).org_id, req.params.appId, req.query.page, req.query.pageSize),
  );

  app.get<VersionParams>(`${base}/:appId/versions/:version`, async (req) =>
    svc.get((await actor(req)).org_id, req.params.appId, req.params.version),
  );

  app.patch<VersionParams & { Body: Parameters<AppConfigurations['patchVersion']>[3] }>(
    `${base}/:appId/versions/:version`,
    { schema: { body: patchVersionSchema } },
    async (req, reply) => {
      await svc.patchVersion(await actor(req), req.params.appId, req.params.version, req.body);
      return reply.status(204).send();
    },
  );

  app.delete<VersionParams>(`${base}/:appId/versions/:version`, async (req, reply) => {
    await svc.deleteVersion(await actor(req), req.params.appId, req.params.version);
    return reply.status(204).send();
  });

  // The body is optional (`CloneVersionRequest`): the service checks it.
  app.post<VersionParams & { Params: { targetVersion: string } }>(
    `${base}/:appId/versions/:version/clone-to/:targetVersion`,
    async (req, reply) => {
      const { appId, version, targetVersion } = req.params;
      return reply.status(201).send(await svc.clone(await actor(req), appId, version, targetVersion, req.body));
    },
  );

  // What `epilot app deploy` calls (not in the OpenAPI definition): clone to the next free version.
  app.post<VersionParams>(`${base}/:appId/versions/:version/clone`, async (req, reply) =>
    reply
      .status(201)
      .send(await svc.clone(await actor(req), req.params.appId, req.params.version, undefined, req.body)),
  );

  app.post<VersionParams>(
    `${base}/:appId/versions/:version/components`,
    { schema: { body: componentSchema } },
    async (req) => svc.createComponent(await actor(req), req.params.appId, req.params.version, req.body),
  );

  app.patch<ComponentParams & { Body: Record<string, unknown> }>(
    `${base}/:appId/versions/:version/components/:componentId`,
    { schema: { body: componentPatchSchema } },
    async (req, reply) => {
      const { appId, version, componentId } = req.params;
      await svc.patchComponent(await actor(req), appId, version, componentId, req.body);
      return reply.status(204).send();
    },
  );

  app.delete<ComponentParams>(`${base}/:appId/versions/:version/components/:componentId`, async (req, reply) => {
    const { appId, version, componentId } = req.params;
    await svc.deleteComponent(await actor(req), appId, version, componentId);
    return reply.status(204).send();
  });

  app.post<VersionParams & { Body: Parameters<AppConfigurations['createReview']>[3] }>(
    `${base}/:appId/versions/:version/review`,
    { schema: { body: createReviewSchema } },
    async (req) => svc.createReview(await actor(req), req.params.appId, req.params.version, req.body),
  );

  app.get<VersionParams>(`${base}/:appId/versions/:version/review`, async (req) =>
    svc.getReview((await actor(req)).org_id, req.params.appId, req.params.version),
  );

  // Uploads: a self-hosted ActionBridge keeps no files for apps (logos, journey and portal
  // bundles), so these answer a 400 that says so, for the configuration's owner (404 for anyone
  // else, as every read here). `epilot app deploy` shows the message when a manifest has assets.
  const uploads: Array<['post' | 'delete', string, string]> = [
    ['post', 'logo', 'createLogoUploadUrl'],
    ['delete', 'logo', 'deleteLogo'],
    ['post', 'bundle', 'createBundleUploadUrl'],
    ['post', 'zip', 'createZipUploadUrl'],
  ];
  for (const [method, what, operation] of uploads) {
    app[method]<AppParams>(`${base}/:appId/${what}`, async (req) => {
      await svc.get((await actor(req)).org_id, req.params.appId);
      throw badRequest(
        `${operation}: ActionBridge stores no uploaded files for apps (logos, bundles, zips): deploy the app without assets, and host the files yourself`,
      );
    });
  }
}
