import type { FastifyInstance } from 'fastify';
import { requireOrgToken } from '../../auth/principal.js';
import type { EventStatus } from '../../domain/types.js';
import { pagingQuery } from '../schemas.js';
import type { Context, Who } from '../server.js';

/** ActionBridge's event log: entity events and whether the engine processed them (or gave up: `dead`). */
export function eventRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  app.get<{ Querystring: { status?: EventStatus; size: number; from: number } }>(
    '/v1/events',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { status: { type: 'string', enum: ['pending', 'processed', 'dead'] }, ...pagingQuery },
        },
      },
    },
    async (req) => ({ results: await ctx.store.listEvents(requireOrgToken(await who(req)), req.query) }),
  );
}
