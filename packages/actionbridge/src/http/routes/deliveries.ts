import type { FastifyInstance } from 'fastify';
import { requireOrgToken } from '../../auth/principal.js';
import { notFound } from '../../domain/errors.js';
import type { Delivery } from '../../domain/types.js';
import type { SecretBox } from '../../secrets/box.js';
import type { Store } from '../../store/store.js';
import { pagingQuery } from '../schemas.js';
import type { Context, Who } from '../server.js';

function summary(d: Delivery) {
  // The body, the app's headers and its signing secret are not the installer's to see here.
  const { request_body: _body, headers: _headers, signing_secret: _secret, next_attempt_ms, ...rest } = d;
  return { ...rest, next_attempt_at: next_attempt_ms === null ? null : new Date(next_attempt_ms).toISOString() };
}

/** The request body as read APIs show it: the app's secret options are masked. */
async function redactedBody(store: Store, secrets: SecretBox, d: Delivery): Promise<unknown> {
  let body: { data?: { app_options?: Record<string, unknown> } };
  try {
    body = JSON.parse(secrets.open(d.request_body)) as typeof body;
  } catch {
    // A body that cannot be opened fails its delivery (BAD_CONFIG); the log still shows the rest.
    return null;
  }
  const inst = await store.getInstallation(d.org_id, d.app_id);
  const manifest = inst && (await store.getAppVersion(d.app_id, inst.version))?.manifest;
  const options = manifest?.components.find((c) => c.id === d.component_id)?.options ?? [];
  const appOptions = body.data?.app_options ?? {};
  for (const key of Object.keys(appOptions)) {
    const type = options.find((o) => o.key === key)?.type;
    if (type === undefined || type === 'secret') appOptions[key] = '********';
  }
  return body;
}

/** ActionBridge's delivery log: every request series and each of its attempts. */
export function deliveryRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  const { store } = ctx;

  app.get<{
    Querystring: { execution_id?: string; app_id?: string; status?: string; size: number; from: number };
  }>(
    '/v1/deliveries',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            execution_id: { type: 'string' },
            app_id: { type: 'string' },
            status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'cancelled'] },
            ...pagingQuery,
          },
        },
      },
    },
    async (req) => {
      const page = await store.listDeliveries(requireOrgToken(await who(req)), req.query);
      return { total: page.total, results: page.results.map(summary) };
    },
  );

  app.post<{ Params: { id: string } }>('/v1/deliveries/:id/replay', async (req, reply) => {
    const d = await ctx.executions.replay(requireOrgToken(await who(req)), req.params.id);
    return reply.status(202).send(summary(d));
  });

  app.get<{ Params: { id: string } }>('/v1/deliveries/:id', async (req) => {
    const d = await store.getDelivery(requireOrgToken(await who(req)), req.params.id);
    if (!d) throw notFound(`delivery ${req.params.id}`);
    return {
      ...summary(d),
      request_body: await redactedBody(store, ctx.secrets, d),
      attempts: await store.listAttempts(d.id),
    };
  });
}
