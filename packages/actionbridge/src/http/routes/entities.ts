import type { FastifyInstance } from 'fastify';
import { orgOf } from '../../auth/principal.js';
import { badRequest } from '../../domain/errors.js';
import { BUILTIN_SCHEMAS, checkSlug } from '../../entities/service.js';
import { routeOf } from '../epilot-routes.js';
import type { Context, Who } from '../server.js';

const schemaItem = (slug: string) => ({
  slug,
  name: slug.charAt(0).toUpperCase() + slug.slice(1).replace(/[_-]/g, ' '),
  plural: `${slug}s`,
  attributes: [],
});

/** epilot's `?dry_run=true` on PATCH and upsert: answer as if written, write nothing. */
const dryRun = (query: unknown) => (query as { dry_run?: string } | undefined)?.dry_run === 'true';
/** epilot's `?strict=true` on upsert: more than one match is a 409. */
const strict = (query: unknown) => (query as { strict?: string } | undefined)?.strict === 'true';

type Slug = { Params: { slug: string } };
type SlugId = { Params: { slug: string; id: string } };

/** epilot's entity API (the subset in SPEC §3). App tokens are allowed here, within their grants. */
export function entityRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  const svc = ctx.entities;

  // epilot's `EntitySearchParams`: types are checked here, meaning (and the parameters we refuse,
  // by name) in entities/planner.ts. `size` above 1000 is cut to 1000, as epilot documents.
  app.post(
    '/v1/entity::search',
    {
      schema: {
        body: {
          type: 'object',
          required: ['q'],
          properties: {
            q: { type: 'string', maxLength: 4096 },
            sort: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            from: { type: 'integer', minimum: 0, maximum: 1_000_000 },
            size: { type: 'integer', minimum: 0 },
            fields: { type: 'array', items: { type: 'string', maxLength: 256 } },
          },
        },
      },
    },
    async (req) => svc.search(await who(req), req.body),
  );

  app.get('/v1/entity/schemas', async (req) => {
    const orgId = orgOf(await who(req));
    const used = await ctx.store.listEntitySchemas(orgId);
    return { results: [...new Set([...BUILTIN_SCHEMAS, ...used])].map(schemaItem) };
  });

  app.get<Slug>('/v1/entity/schemas/:slug', async (req) => {
    await who(req);
    return schemaItem(checkSlug(req.params.slug));
  });

  app.post<Slug>('/v1/entity/:slug', async (req, reply) =>
    reply.status(201).send(await svc.create(await who(req), req.params.slug, req.body)),
  );

  // A parameter with a `:verb` suffix: see `routeOf`.
  app.patch<Slug>(routeOf('/v1/entity/{slug}:upsert'), async (req, reply) => {
    const p = await who(req);
    const { entity, created } = await svc.upsert(p, req.params.slug, req.body, dryRun(req.query), strict(req.query));
    return reply.status(created ? 201 : 200).send(entity);
  });

  app.get<SlugId>('/v1/entity/:slug/:id', async (req) => ({
    entity: await svc.get(await who(req), req.params.slug, req.params.id),
    relations: [],
  }));
  app.put<SlugId>('/v1/entity/:slug/:id', async (req) =>
    svc.update(await who(req), req.params.slug, req.params.id, req.body, 'put'),
  );
  app.patch<SlugId>('/v1/entity/:slug/:id', async (req) => {
    if (req.body === undefined) throw badRequest('the body must be a JSON object of entity attributes');
    return svc.update(await who(req), req.params.slug, req.params.id, req.body, 'patch', dryRun(req.query));
  });
  app.delete<SlugId>('/v1/entity/:slug/:id', async (req) => svc.remove(await who(req), req.params.slug, req.params.id));
}
