import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../domain/errors.js';
import { acceptBodylessJson } from '../bodies.js';
import { activityOf, activityQuery } from '../entity-params.js';
import { routeOf } from '../epilot-routes.js';
import { answer, IDEMPOTENT_ROUTE, idempotencyOf } from '../idempotency.js';
import type { Context, Who } from '../server.js';
import { entitySchemaRoutes } from './entity-schemas.js';

/** epilot's `?dry_run=true` on PATCH and upsert: answer as if written, write nothing. */
const dryRun = (query: unknown) => (query as { dry_run?: string } | undefined)?.dry_run === 'true';
/** epilot's `?strict=true` on upsert: more than one match is a 409. */
const strict = (query: unknown) => (query as { strict?: string } | undefined)?.strict === 'true';

type Slug = { Params: { slug: string } };
type SlugId = { Params: { slug: string; id: string } };
/** epilot's `activity_id` on every entity write: the write is part of that activity. */
const writeQuery = { type: 'object', properties: activityQuery } as const;

/** epilot's entity API (the subset in SPEC §3). App tokens are allowed here, within their grants. Relations and activities: `relations.ts`, `activities.ts`. */
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

  // epilot's entity schemas, in their own plugin (routes/entity-schemas.ts).
  app.register(async (scope) => entitySchemaRoutes(scope, ctx, who));

  // Writes take an `Idempotency-Key` (http/idempotency.ts): the first answer is stored with the write.
  const idempotent = { config: IDEMPOTENT_ROUTE, schema: { querystring: writeQuery } };

  app.post<Slug>('/v1/entity/:slug', idempotent, async (req, reply) => {
    const p = await who(req);
    const idem = idempotencyOf(req, p);
    const opts = { idempotency: idem, activity: activityOf(req.query) };
    return answer(reply, await svc.create(p, req.params.slug, req.body, opts), idem);
  });

  // A parameter with a `:verb` suffix: see `routeOf`.
  app.patch<Slug>(routeOf('/v1/entity/{slug}:upsert'), idempotent, async (req, reply) => {
    const p = await who(req);
    const idem = idempotencyOf(req, p, dryRun(req.query));
    const opts = {
      dryRun: dryRun(req.query),
      strict: strict(req.query),
      idempotency: idem,
      activity: activityOf(req.query),
    };
    return answer(reply, await svc.upsert(p, req.params.slug, req.body, opts), idem);
  });

  // epilot's GetEntity answer: the entity and the entities it points at that the caller may view;
  // `hydrate=true` also replaces its relation attributes in place with those entities.
  app.get<SlugId & { Querystring: { hydrate?: boolean } }>(
    '/v1/entity/:slug/:id',
    { schema: { querystring: { type: 'object', properties: { hydrate: { type: 'boolean' } } } } },
    async (req) => {
      const p = await who(req);
      const entity = await svc.get(p, req.params.slug, req.params.id);
      const relations = await ctx.relations.relatedEntities(p, entity);
      return { entity: req.query.hydrate ? ctx.relations.hydrate(entity, relations) : entity, relations };
    },
  );
  app.put<SlugId>('/v1/entity/:slug/:id', idempotent, async (req, reply) => {
    const p = await who(req);
    const idem = idempotencyOf(req, p);
    return answer(
      reply,
      await svc.update(p, req.params.slug, req.params.id, req.body, 'put', {
        idempotency: idem,
        activity: activityOf(req.query),
      }),
      idem,
    );
  });
  app.delete<SlugId & { Querystring: { purge?: boolean } }>(
    '/v1/entity/:slug/:id',
    {
      ...idempotent,
      schema: { querystring: { type: 'object', properties: { ...activityQuery, purge: { type: 'boolean' } } } },
    },
    async (req, reply) => {
      const p = await who(req);
      const idem = idempotencyOf(req, p);
      const purge = req.query.purge === true;
      const opts = { idempotency: idem, activity: activityOf(req.query) };
      return answer(reply, await svc.remove(p, req.params.slug, req.params.id, purge, opts), idem);
    },
  );

  app.patch<SlugId>('/v1/entity/:slug/:id', idempotent, async (req, reply) => {
    if (req.body === undefined) throw badRequest('the body must be a JSON object of entity attributes');
    const p = await who(req);
    const idem = idempotencyOf(req, p, dryRun(req.query));
    const opts = { dryRun: dryRun(req.query), idempotency: idem, activity: activityOf(req.query) };
    return answer(reply, await svc.update(p, req.params.slug, req.params.id, req.body, 'patch', opts), idem);
  });

  // Its own plugin: epilot's client sends `restoreEntity` without a body (see `acceptBodylessJson`).
  app.register(async (scope) => {
    acceptBodylessJson(scope);
    scope.patch<SlugId>(routeOf('/v1/entity/{slug}/{id}:restore'), idempotent, async (req, reply) => {
      checkRestoreBody(req.body);
      const p = await who(req);
      const idem = idempotencyOf(req, p);
      return answer(reply, await svc.restore(p, req.params.slug, req.params.id, { idempotency: idem }), idem);
    });
  });
}

/** `restoreEntity` takes no payload; epilot allows `{}` "to satisfy certain HTTP clients". */
function checkRestoreBody(body: unknown): void {
  if (body === undefined) return;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('restoreEntity takes no body (or {})');
  }
  const [extra] = Object.keys(body);
  if (extra !== undefined) throw badRequest(`restoreEntity takes no body (or {}): "${extra}" is not supported`);
}
