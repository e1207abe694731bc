import type { FastifyInstance } from 'fastify';
import { KeyRing } from '../../keys/keyring.js';
import type { Context } from '../server.js';

/** Unauthenticated routes: keys, JWKS, health, metrics. */
export function publicRoutes(app: FastifyInstance, ctx: Context): void {
  app.get('/v1/public/.well-known/public-key', { schema: { security: [] } }, async () => ({
    algorithm: 'ed25519',
    issuer: ctx.publicUrl(),
    public_key: ctx.webhookKeys.primary().publicPem,
  }));
  app.get('/v1/public/.well-known/public-keys', { schema: { security: [] } }, async () => ({
    issuer: ctx.publicUrl(),
    keys: ctx.webhookKeys.active().map(KeyRing.describe),
  }));
  app.get('/v1/access-tokens/.well-known/jwks.json', { schema: { security: [] } }, async () => ctx.accessTokens.jwks());
  app.get('/metrics', { schema: { security: [] } }, async (_req, reply) =>
    reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
  );
  app.get('/healthz', { schema: { security: [] } }, async () => {
    // One cheap read on the engine's connections: the database answers, and a flood of API writes
    // queued on the API's connections does not make the process look dead.
    await ctx.healthStore.getOrg('');
    return { status: 'ok' };
  });
}
