import type { FastifyInstance } from 'fastify';
import { hashToken, newApiToken, ORG_ROLES, requireAdmin, requireOrgToken } from '../../auth/principal.js';
import { forbidden, notFound } from '../../domain/errors.js';
import { newId, nowIso } from '../../util/ids.js';
import type { Context, Who } from '../server.js';

/** Orgs, their API tokens, and key rotation. */
export function adminRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  app.post<{ Body: { name: string } }>(
    '/v1/orgs',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
        },
      },
    },
    async (req, reply) => {
      requireAdmin(await who(req));
      const org = { id: newId('org', 10), name: req.body.name, created_at: nowIso() };
      await ctx.store.createOrg(org);
      return reply.status(201).send(org);
    },
  );

  app.post<{ Params: { org_id: string }; Body: { name: string; role: string } }>(
    '/v1/orgs/:org_id/tokens',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'role'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200 },
            role: { type: 'string', enum: [...ORG_ROLES] },
          },
        },
      },
    },
    async (req, reply) => {
      const p = await who(req);
      // The admin may mint for any org; an org owner for its own org. Another org is a 404.
      if (p.kind !== 'admin' && requireOrgToken(p) !== req.params.org_id) throw notFound(`org ${req.params.org_id}`);
      if (p.kind === 'org' && p.role !== 'owner') throw forbidden('only owners can create tokens');
      const org = await ctx.store.getOrg(req.params.org_id);
      if (!org) throw notFound(`org ${req.params.org_id}`);
      const token = newApiToken();
      const row = {
        id: newId('tok', 8),
        org_id: org.id,
        name: req.body.name,
        role: req.body.role,
        token_hash: hashToken(token),
        created_at: nowIso(),
      };
      await ctx.store.createApiToken(row);
      return reply.status(201).send({ id: row.id, org_id: org.id, name: row.name, role: row.role, token });
    },
  );

  app.post('/v1/keys/rotate', async (req) => {
    requireAdmin(await who(req));
    const previous = ctx.webhookKeys.primary().kid;
    const key = await ctx.webhookKeys.rotate();
    await ctx.tokenKeys.rotate();
    return { primary: key.kid, retiring: previous, retire_at: ctx.webhookKeys.find(previous)?.retire_at ?? null };
  });
}
