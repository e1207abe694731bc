import type { FastifyInstance } from 'fastify';
import { notFound } from '../../domain/errors.js';
import type { ActivityBody, FeedParams } from '../../entities/activity-service.js';
import { acceptBodylessJson } from '../bodies.js';
import { ACTIVITY_ID, entityIdsOf, listOf, MAX_LIST } from '../entity-params.js';
import { routeOf } from '../epilot-routes.js';
import type { Context, Who } from '../server.js';

type EntitiesQuery = { entities?: string[] };

const entitiesQuery = {
  type: 'object',
  properties: { entities: { type: 'array', maxItems: MAX_LIST, items: { type: 'string', maxLength: 3800 } } },
} as const;
const activityParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: ACTIVITY_ID } },
} as const;
const dateTime = { type: 'string', maxLength: 64 } as const;

/** epilot's `Activity` (its definition allows no other properties). */
const activitySchema = {
  type: 'object',
  required: ['type', 'title', 'message'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
    title: { type: 'string', maxLength: 1000 },
    message: { type: 'string', maxLength: 10_000 },
    payload: { type: 'object' },
    pending: { type: 'boolean' },
  },
} as const;

/**
 * epilot's Activity API: `createActivity`, `getActivity`, `attachActivity`, `getEntityActivityFeed`.
 * Registered in a plugin of its own: `attachActivity` is a body-less POST, which axios sends as an
 * empty form (see bodies.ts).
 */
export function activityRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  acceptBodylessJson(app);
  const svc = ctx.activities;

  // A static segment: it wins over `POST /v1/entity/:slug`, so this never creates an entity of schema "activity".
  app.post<{ Querystring: EntitiesQuery; Body: ActivityBody }>(
    '/v1/entity/activity',
    { schema: { querystring: entitiesQuery, body: activitySchema } },
    async (req) => svc.create(await who(req), req.body, entityIdsOf('entities', req.query.entities)),
  );

  app.get<{ Params: { id: string }; Querystring: { operations_from: number; operations_size: number } }>(
    '/v1/entity/activity/:id',
    {
      schema: {
        params: activityParams,
        querystring: {
          type: 'object',
          properties: {
            operations_size: { type: 'integer', minimum: 0, maximum: 1000, default: 25 },
            operations_from: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
          },
        },
      },
    },
    async (req) =>
      svc.get(await who(req), req.params.id, { from: req.query.operations_from, size: req.query.operations_size }),
  );

  // `POST /v1/entity/activity/{id}:attach`: a parameter with a `:verb` suffix (see `routeOf`).
  app.post<{ Params: { id: string }; Querystring: EntitiesQuery }>(
    routeOf('/v1/entity/activity/{id}:attach'),
    { schema: { querystring: entitiesQuery } },
    async (req) => {
      if (!new RegExp(ACTIVITY_ID).test(req.params.id)) throw notFound(`activity ${req.params.id}`);
      return svc.attach(await who(req), req.params.id, entityIdsOf('entities', req.query.entities));
    },
  );
  // Any other `…/{id}:verb` is no operation of epilot's: a 404 that says what attach looks like.
  app.post<{ Params: { id: string } }>('/v1/entity/activity/:id', async (req) => {
    throw notFound(`route POST /v1/entity/activity/${req.params.id} (attachActivity is …/{activity id}:attach)`);
  });

  app.get<{ Params: { slug: string; id: string }; Querystring: FeedParams & { exclude_activity_groups?: string } }>(
    '/v1/entity/:slug/:id/activity',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            after: dateTime,
            before: dateTime,
            start_date: dateTime,
            end_date: dateTime,
            preset_range: { type: 'string', enum: ['today', 'this_week', 'last_week'] },
            from: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
            size: { type: 'integer', minimum: 1, maximum: 1000, default: 25 },
            type: { type: 'array', maxItems: MAX_LIST, items: { type: 'string', maxLength: 13_000 } },
            include_relations: { type: 'boolean' },
            // No activity type belongs to an activity group here: excluding one leaves the feed as it is.
            exclude_activity_groups: { type: 'string', maxLength: 200 },
          },
        },
      },
    },
    async (req) => {
      const { type, ...rest } = req.query;
      const types = listOf(type, 'type');
      return svc.feed(await who(req), req.params.slug, req.params.id, { ...rest, ...(types ? { type: types } : {}) });
    },
  );
}
