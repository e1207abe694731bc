import type { FastifyInstance } from 'fastify';
import { orgOf, requireOrgToken } from '../../auth/principal.js';
import { EntitySchemas, type ListSchemasQuery } from '../../entities/entity-schemas.js';
import { entitySchemaBody } from '../../entities/schema-body.js';
import type { Context, Who } from '../server.js';
import { acceptEpilotBodies } from './app-configurations.js';

type Slug = { Params: { slug: string } };
const slugList = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } as const;

/**
 * epilot's entity schemas: `listSchemas`, `getSchema`, `putSchema`, `deleteSchema`. Any token of
 * the org reads them (apps read attribute definitions with their access token); org tokens write
 * them. Its own plugin: epilot's bodies, schema errors naming the field (`body/attributes/0 …`).
 */
export async function entitySchemaRoutes(app: FastifyInstance, ctx: Context, who: Who): Promise<void> {
  const schemas = new EntitySchemas(ctx.store);
  acceptEpilotBodies(app);

  app.get<{ Querystring: ListSchemasQuery & { latest?: boolean } }>(
    '/v1/entity/schemas',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            unpublished: { type: 'boolean' },
            latest: { type: 'boolean' },
            include: slugList,
            exclude: slugList,
          },
        },
      },
    },
    async (req) => ({ results: await schemas.list(orgOf(await who(req)), req.query) }),
  );

  app.get<Slug & { Querystring: { id?: string; latest?: boolean } }>(
    '/v1/entity/schemas/:slug',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { id: { type: 'string', maxLength: 200 }, latest: { type: 'boolean' } },
        },
      },
    },
    async (req) => schemas.get(orgOf(await who(req)), req.params.slug, req.query.id),
  );

  app.put<Slug & { Body: Record<string, unknown>; Querystring: { draft?: boolean } }>(
    '/v1/entity/schemas/:slug',
    {
      schema: {
        body: entitySchemaBody,
        querystring: { type: 'object', properties: { draft: { type: 'boolean' } } },
      },
    },
    async (req) => schemas.put(requireOrgToken(await who(req)), req.params.slug, req.body, req.query.draft === true),
  );

  app.delete<Slug>('/v1/entity/schemas/:slug', async (req) =>
    schemas.remove(requireOrgToken(await who(req)), req.params.slug),
  );
}
