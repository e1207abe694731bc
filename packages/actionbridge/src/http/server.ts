import swagger from '@fastify/swagger';
import { Ajv, type ValidateFunction } from 'ajv';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Authenticator, Principal } from '../auth/principal.js';
import { badRequest, DomainError } from '../domain/errors.js';
import type { ActivityService } from '../entities/activity-service.js';
import type { RelationService } from '../entities/relation-service.js';
import type { EntityService } from '../entities/service.js';
import type { ExecutionService } from '../executions/service.js';
import type { AccessTokens } from '../keys/access-tokens.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Metrics } from '../metrics.js';
import type { SecretBox } from '../secrets/box.js';
import type { Store } from '../store/store.js';
import { unstorableJson } from '../util/json.js';
import { VERSION } from '../version.js';
import { recordRoutes } from './epilot-routes.js';
import { STATUS_OF } from './error-map.js';
import { refuseKeyElsewhere } from './idempotency.js';
import { activityRoutes } from './routes/activities.js';
import { adminRoutes } from './routes/admin.js';
import { appConfigurationRoutes } from './routes/app-configurations.js';
import { appRoutes } from './routes/apps.js';
import { automationRoutes } from './routes/automation.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { entityRoutes } from './routes/entities.js';
import { eventRoutes } from './routes/events.js';
import { publicRoutes } from './routes/public.js';
import { relationRoutes } from './routes/relations.js';

/** What route handlers need. */
export interface Context {
  store: Store;
  /** The store health checks read through (the engine's connections on PostgreSQL). */
  healthStore: Store;
  auth: Authenticator;
  entities: EntityService;
  relations: RelationService;
  activities: ActivityService;
  executions: ExecutionService;
  webhookKeys: KeyRing;
  tokenKeys: KeyRing;
  accessTokens: AccessTokens;
  publicUrl: () => string;
  metrics: Metrics;
  secrets: SecretBox;
  log: Logger;
}

export type Who = (req: FastifyRequest) => Promise<Principal>;

/** Query strings as epilot's clients send them: `x[]=a&x[]=b` becomes `x: ['a', 'b']`. */
function parseQuery(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const isArray = rawKey.endsWith('[]');
    const key = isArray ? rawKey.slice(0, -2) : rawKey;
    const prev = out[key];
    if (prev === undefined) out[key] = isArray ? [value] : value;
    else out[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

export async function buildServer(ctx: Context): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    // Two log lines per request cost more than the rest of an entity write; 500s are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    routerOptions: { querystringParser: parseQuery, ignoreTrailingSlash: true },
  });
  // Before any route: which epilot operations have a route is read from what gets registered.
  const answerTheRest = recordRoutes(app);

  // Bodies are checked strictly (a number is not a string); query strings and params are coerced.
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false });
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false });
  // Each validator is compiled on its route's first request: compiling them all when the server
  // starts was ~200 ms of its start-up (profiled), for routes most processes never serve.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    let compiled: ValidateFunction | undefined;
    const validate = (data: unknown) => {
      compiled ??= (httpPart === 'body' ? strict : coercing).compile(schema);
      const ok = compiled(data);
      validate.errors = compiled.errors;
      return ok;
    };
    validate.errors = null as ValidateFunction['errors'];
    return validate;
  });

  // JSON bodies: parsed here so that hostile shapes are refused before any route sees them.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(badRequest('the body is empty but content-type is application/json'));
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(badRequest(`the body is not valid JSON: ${(err as Error).message}`));
    }
    const why = unstorableJson(value);
    return why ? done(badRequest(`the body cannot be accepted: ${why}`)) : done(null, value);
  });
  // NUL in a path or query string is never a valid id and PostgreSQL text cannot hold it.
  app.addHook('onRequest', async (req) => {
    if (req.url.includes('\u0000') || /%00/i.test(req.url)) throw badRequest('the URL must not contain NUL (%00)');
  });
  // Writes that do not take an Idempotency-Key refuse one rather than ignore it.
  app.addHook('onRequest', refuseKeyElsewhere);

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    if (err instanceof DomainError) {
      const status = STATUS_OF[err.kind];
      return reply
        .status(status)
        .send({ status, error: err.message, ...(err.details ? { details: err.details } : {}) });
    }
    if (err.validation) {
      return reply.status(400).send({ status: 400, error: err.message, details: err.validation });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      req.log.error({ err }, 'unhandled error');
      return reply.status(500).send({ status: 500, error: 'internal error' });
    }
    return reply.status(status).send({ status, error: err.message });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ status: 404, error: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'ActionBridge', version: VERSION, description: 'Custom actions for automation flows' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  const who: Who = (req) => ctx.auth.authenticate(req.headers.authorization);
  await app.register(async (scope) => {
    publicRoutes(scope, ctx);
    adminRoutes(scope, ctx, who);
    appRoutes(scope, ctx, who);
    entityRoutes(scope, ctx, who);
    relationRoutes(scope, ctx, who);
    automationRoutes(scope, ctx, who);
    deliveryRoutes(scope, ctx, who);
    eventRoutes(scope, ctx, who);
    // Their own plugins: they accept the body-less requests epilot's clients send (see bodies.ts).
    await scope.register(async (apps) => appConfigurationRoutes(apps, ctx, who));
    await scope.register(async (activities) => activityRoutes(activities, ctx, who));
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Last: every epilot operation no route above answers is a 501 naming it.
  await answerTheRest();
  return app;
}
