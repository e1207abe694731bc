/**
 * epilot's operations that ActionBridge has no route for answer 501 naming the operation, so that
 * no request meant for one of them lands in a generic route (`POST /v1/entity/view`, createSavedView,
 * would otherwise create an entity of schema "view").
 *
 * Which operations have a route is read from the router itself: every route registered is recorded
 * (an `onRoute` hook, installed before the first route), and once every real route is in, each
 * operation whose method and path no route has gets a 501. A route added for an operation later
 * replaces its 501 without any change here.
 */
import type { FastifyInstance } from 'fastify';
import { EPILOT_OPERATIONS, type EpilotOperation } from '../domain/epilot-operations.js';
import { DomainError } from '../domain/errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The epilot operations this server answers with a 501 (filled in by `answerTheRest`). */
    notImplemented: readonly EpilotOperation[];
  }
}

/**
 * The router pattern of an epilot path. `{p}` is a parameter `:p`; a literal `:` is `::`. A
 * parameter followed by `:verb` in the same segment (`{slug}:validate`, `{id}:restore`) is a
 * parameter with a static suffix, `:slug(^.+)::validate`: the router tries such routes before the
 * plain parameter of the same segment, so `POST /v1/entity/contact:validate` is validateEntity, not
 * createEntity of schema "contact:validate". The proxy's last `{path}` holds the rest of the path
 * (slashes too): a wildcard.
 */
export function routeOf(path: string): string {
  return path
    .split('/')
    .map((segment, i, all) => {
      if (segment === '{path}' && i === all.length - 1) return '*';
      const m = /^\{(\w+)\}(.+)$/.exec(segment);
      if (m) return `:${m[1]}(^.+)${(m[2] as string).replaceAll(':', '::')}`;
      return segment.replaceAll(':', '::').replace(/^\{(\w+)\}$/, ':$1');
    })
    .join('/');
}

/**
 * What a route matches, with parameter names and patterns left out: `{}` for each parameter (with
 * or without a pattern) and for a wildcard, `:` for a literal colon. `/v1/entity/:slug(^.+)::upsert`
 * and `/v1/entity/:s([a-z]+)::upsert` are both `/v1/entity/{}:upsert`. The router refuses a second
 * route of the same method and shape whatever the parameters' patterns, so a real route of any
 * pattern is what keeps an operation's 501 out.
 */
export function shapeOf(route: string): string {
  let out = '';
  for (let i = 0; i < route.length; i++) {
    const c = route[i];
    if (c === ':' && route[i + 1] === ':') {
      out += ':';
      i++;
    } else if (c === ':') {
      // A parameter's name runs to `(`, `-`, `.`, `/` or the end (as the router reads it).
      while (i + 1 < route.length && !'(-./'.includes(route[i + 1] as string)) i++;
      if (route[i + 1] === '(') {
        for (let depth = 0; i + 1 < route.length; ) {
          const p = route[++i];
          if (p === '(') depth++;
          else if (p === ')' && --depth === 0) break;
        }
      }
      out += '{}';
    } else if (c === '*') out += '{}';
    else out += c;
  }
  return out;
}

const key = (method: string, shape: string) => `${method} ${shape}`;

/**
 * Starts recording the routes of `app`; call before any route is registered. The returned
 * function, called once every real route is registered, adds the 501s.
 */
export function recordRoutes(app: FastifyInstance): () => Promise<void> {
  const routes = new Set<string>();
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.add(key(method, shapeOf(r.url)));
  });
  app.decorate('notImplemented', [] as readonly EpilotOperation[]);
  return async () => {
    const missing = EPILOT_OPERATIONS.filter((op) => !routes.has(key(op.method, shapeOf(routeOf(op.path)))));
    app.notImplemented = missing;
    await app.register(async (scope) => {
      // The body is left unread, whatever it is (none, a form, JSON, not JSON): the answer is the 501.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_req, _body, done) => done(null));
      for (const op of missing) {
        const message = `${op.operationId} (${op.method} ${op.path}) is not implemented by ActionBridge`;
        scope.route({
          method: op.method,
          url: routeOf(op.path),
          exposeHeadRoute: false,
          schema: { hide: true },
          handler: async () => {
            throw new DomainError('not_implemented', message);
          },
        });
      }
    });
  };
}
