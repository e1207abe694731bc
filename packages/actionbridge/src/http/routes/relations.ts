import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../domain/errors.js';
import type { RelationItem } from '../../domain/types.js';
import { fieldProjection } from '../../entities/fields.js';
import { MAX_RELATION_TAGS, MAX_TAG_LENGTH } from '../../entities/relations.js';
import { activityOf, activityQuery, listOf, relationItemSchema, schemasQuery } from '../entity-params.js';
import type { Context, Who } from '../server.js';

type SlugId = { slug: string; id: string };
type ListQuery = {
  hydrate?: boolean;
  include_reverse?: boolean;
  from: number;
  size: number;
  include_schemas?: string[];
  exclude_schemas?: string[];
  mode?: 'direct' | 'reverse' | 'both';
  fields?: string[];
  query?: string;
  include_deleted?: string;
};
type WriteQuery = { activity_id?: string; fill_activity?: boolean; async?: boolean };

const paging = (size: number) => ({
  from: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
  size: { type: 'integer', minimum: 1, maximum: 1000, default: size },
});
const writeQuery = { type: 'object', properties: { ...activityQuery, async: { type: 'boolean' } } } as const;

/** epilot's Relations API: `getRelations` (v1, v2, v3), `getRelatedEntitiesCount`, `addRelations`, `removeRelations`, `updateRelation`, `deleteRelation`. */
export function relationRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  const svc = ctx.relations;

  const listing = (q: ListQuery, paged: boolean) => {
    if (q.query !== undefined)
      throw badRequest('query is not supported: filter the related entities with include_schemas/exclude_schemas');
    if (q.include_deleted !== undefined && q.include_deleted !== 'false') {
      throw badRequest('include_deleted is not supported: deleted entities are not kept');
    }
    const project = paged ? fieldProjection(listOf(q.fields, 'fields')) : undefined;
    const includeSchemas = listOf(q.include_schemas, 'include_schemas');
    const excludeSchemas = listOf(q.exclude_schemas, 'exclude_schemas');
    return {
      hydrate: q.hydrate === true,
      direction: q.mode ?? (q.include_reverse ? 'both' : 'direct'),
      ...(includeSchemas ? { includeSchemas } : {}),
      ...(excludeSchemas ? { excludeSchemas } : {}),
      from: q.from,
      size: q.size,
      ...(project ? { project } : {}),
    } as const;
  };

  const bool = { type: 'boolean' } as const;
  app.get<{ Params: SlugId; Querystring: ListQuery }>(
    '/v1/entity/:slug/:id/relations',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { hydrate: bool, include_reverse: bool, ...paging(100), ...schemasQuery },
        },
      },
    },
    async (req) => {
      const { slug, id } = req.params;
      return (await svc.list(await who(req), slug, id, listing(req.query, false))).relations;
    },
  );
  app.get<{ Params: SlugId; Querystring: ListQuery }>(
    '/v2/entity/:slug/:id/relations',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            hydrate: bool,
            include_reverse: bool,
            query: { type: 'string' },
            ...paging(50),
            fields: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 256 } },
          },
        },
      },
    },
    async (req) => svc.list(await who(req), req.params.slug, req.params.id, listing(req.query, true)),
  );
  app.get<{ Params: SlugId; Querystring: ListQuery }>(
    '/v3/entity/:slug/:id/relations',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            hydrate: bool,
            include_reverse: bool,
            ...paging(100),
            ...schemasQuery,
            mode: { type: 'string', enum: ['direct', 'reverse', 'both'] },
            fields: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 256 } },
            include_deleted: { type: 'string', enum: ['true', 'false', 'only'] },
          },
        },
      },
    },
    async (req) => svc.list(await who(req), req.params.slug, req.params.id, listing(req.query, true)),
  );
  app.get<{ Params: SlugId; Querystring: { exclude_schemas?: string[] } }>(
    '/v2/entity/:slug/:id/relations/count',
    { schema: { querystring: { type: 'object', properties: { exclude_schemas: schemasQuery.exclude_schemas } } } },
    async (req) => ({
      hits: await svc.count(
        await who(req),
        req.params.slug,
        req.params.id,
        listOf(req.query.exclude_schemas, 'exclude_schemas'),
      ),
    }),
  );

  app.post<{ Params: SlugId; Querystring: WriteQuery; Body: RelationItem[] }>(
    '/v1/entity/:slug/:id/relations',
    {
      schema: {
        querystring: writeQuery,
        body: { type: 'array', minItems: 1, maxItems: 1000, items: relationItemSchema },
      },
    },
    async (req) => svc.add(await who(req), req.params.slug, req.params.id, req.body, activityOf(req.query).id),
  );
  app.delete<{ Params: SlugId; Querystring: WriteQuery; Body: RelationItem[] }>(
    '/v1/entity/:slug/:id/relations',
    {
      schema: {
        querystring: writeQuery,
        body: { type: 'array', minItems: 1, maxItems: 1000, items: relationItemSchema },
      },
    },
    async (req, reply) => {
      if (req.body === undefined) throw badRequest('the body must be an array of {attribute, entity_id}');
      await svc.remove(await who(req), req.params.slug, req.params.id, req.body, activityOf(req.query).id);
      return reply.status(204).send();
    },
  );

  type One = { Params: SlugId & { attribute: string; entity_id: string }; Querystring: WriteQuery };
  const oneParams = {
    type: 'object',
    properties: {
      attribute: relationItemSchema.properties.attribute,
      entity_id: relationItemSchema.properties.entity_id,
    },
  } as const;
  app.put<One & { Body: { _tags?: string[] } }>(
    '/v1/entity/:slug/:id/relations/:attribute/:entity_id',
    {
      schema: {
        params: oneParams,
        querystring: writeQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            _tags: {
              type: 'array',
              maxItems: MAX_RELATION_TAGS,
              items: { type: 'string', maxLength: MAX_TAG_LENGTH },
            },
          },
        },
      },
    },
    async (req) => {
      const { slug, id, attribute, entity_id } = req.params;
      const body = req.body ?? {};
      return svc.update(await who(req), slug, id, attribute, entity_id, body._tags, activityOf(req.query).id);
    },
  );
  app.delete<One>(
    '/v1/entity/:slug/:id/relations/:attribute/:entity_id',
    { schema: { params: oneParams, querystring: writeQuery } },
    async (req, reply) => {
      const { slug, id, attribute, entity_id } = req.params;
      await svc.remove(await who(req), slug, id, [{ attribute, entity_id }], activityOf(req.query).id);
      return reply.status(204).send();
    },
  );
}
