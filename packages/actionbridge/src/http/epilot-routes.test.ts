/**
 * The table of epilot's operations and the routes made of it: the vendored table is what the
 * clients' definitions hold, epilot paths become router patterns that route as epilot's do, and a
 * route registered for an operation keeps its 501 out, whatever the pattern of its parameters.
 * These run on a bare Fastify instance (so errors show as its default 500 with the message); the
 * real server's answers, 501 and all, to every operation: `compat.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { EPILOT_OPERATIONS } from '../domain/epilot-operations.js';
import { DEFINITIONS, OpenApiChecker } from '../testing/openapi.js';
import { recordRoutes, routeOf, shapeOf } from './epilot-routes.js';

describe('epilot operations table', () => {
  it("is the clients' definitions, operation for operation (else run npm run epilot-operations)", () => {
    const fromDefinitions = Object.keys(DEFINITIONS).flatMap((api) =>
      OpenApiChecker.load(api)
        .operations()
        .map((o) => `${api} ${o.operationId} ${o.method} ${o.path}`),
    );
    const vendored = EPILOT_OPERATIONS.map((o) => `${o.api} ${o.operationId} ${o.method} ${o.path}`);
    assert.deepEqual(vendored, fromDefinitions);
    assert.equal(vendored.length, 136);
  });
});

describe('routeOf: epilot paths as router patterns', () => {
  it('parameters, literal colons, a parameter with a :verb suffix, the proxy path', () => {
    const cases: Array<[string, string]> = [
      ['/v1/entity/{slug}', '/v1/entity/:slug'],
      ['/v1/entity/{slug}/{id}', '/v1/entity/:slug/:id'],
      ['/v1/entity:search', '/v1/entity::search'],
      ['/v1/automation/public/executions:resume', '/v1/automation/public/executions::resume'],
      ['/v1/entity/taxonomies/classifications:move', '/v1/entity/taxonomies/classifications::move'],
      ['/v1/entity/{slug}:validate', '/v1/entity/:slug(^.+)::validate'],
      ['/v1/entity/{slug}/{id}:restore', '/v1/entity/:slug/:id(^.+)::restore'],
      ['/v1/public/app/{appId}/proxy/{proxyName}/{path}', '/v1/public/app/:appId/proxy/:proxyName/*'],
    ];
    for (const [path, route] of cases) assert.equal(routeOf(path), route, path);
  });

  it('shapeOf leaves out parameter names and patterns, keeps static parts and literal colons', () => {
    const cases: Array<[string, string]> = [
      ['/v1/entity/:slug', '/v1/entity/{}'],
      ['/v1/entity::search', '/v1/entity:search'],
      ['/v1/entity/:slug(^.+)::upsert', '/v1/entity/{}:upsert'],
      ['/v1/entity/:s([a-z]+)::upsert', '/v1/entity/{}:upsert'],
      ['/v1/entity/activity/:id(^(a|b)+)::attach', '/v1/entity/activity/{}:attach'],
      ['/v1/public/app/:appId/proxy/:proxyName/*', '/v1/public/app/{}/proxy/{}/{}'],
      // The router reads `:id::attach` as one parameter named "id::attach".
      ['/v1/entity/activity/:id::attach', '/v1/entity/activity/{}'],
    ];
    for (const [route, shape] of cases) assert.equal(shapeOf(route), shape, route);
  });

  it('routes as epilot does: a static word before a parameter, a :verb route before the plain parameter', async () => {
    const app = Fastify();
    const answerTheRest = recordRoutes(app);
    app.post('/v1/entity/:slug', async (req) => ({ createEntity: req.params }));
    app.get('/v1/entity/:slug/:id', async (req) => ({ getEntity: req.params }));
    await answerTheRest();
    const hit = async (method: 'GET' | 'POST' | 'PATCH', url: string) => {
      const r = await app.inject({ method, url, payload: method === 'GET' ? undefined : {} });
      return r.statusCode === 200 ? r.json() : (r.json() as { message: string }).message;
    };
    assert.deepEqual(await hit('POST', '/v1/entity/contact'), { createEntity: { slug: 'contact' } });
    assert.match(await hit('POST', '/v1/entity/view'), /^createSavedView \(POST \/v1\/entity\/view\)/);
    assert.match(await hit('POST', '/v1/entity/contact:validate'), /^validateEntity /);
    assert.match(await hit('GET', '/v1/entity/view/v1'), /^getSavedView /);
    assert.match(await hit('GET', '/v1/entity/schemas/blueprints'), /^listSchemaBlueprints /);
    assert.match(await hit('PATCH', '/v1/entity/contact/c1:restore'), /^restoreEntity /);
    assert.match(await hit('GET', '/v1/public/app/a/proxy/p/some/deep/path'), /^publicProxyGet /);
    assert.deepEqual(await hit('GET', '/v1/entity/contact/c1'), { getEntity: { slug: 'contact', id: 'c1' } });
    await app.close();
  });

  it('a route registered for an operation, with any pattern for its parameters, replaces its 501', async () => {
    const app = Fastify();
    const answerTheRest = recordRoutes(app);
    await app.register(async (scope) => {
      scope.post('/v1/entity/activity', async () => ({ createActivity: true }));
      // Another pattern than routeOf's: the router would refuse a second route of this shape.
      scope.post('/v1/entity/activity/:activityId([0-9a-z-]+)::attach', async () => ({ attachActivity: true }));
    });
    await answerTheRest();
    const names = app.notImplemented.map((o) => o.operationId);
    assert.ok(!names.includes('createActivity') && !names.includes('attachActivity'));
    assert.ok(names.includes('getActivity') && names.includes('createSavedView'));
    assert.equal(names.length, EPILOT_OPERATIONS.length - 2);
    assert.deepEqual((await app.inject({ method: 'POST', url: '/v1/entity/activity', payload: {} })).json(), {
      createActivity: true,
    });
    const attach = await app.inject({ method: 'POST', url: '/v1/entity/activity/a-1:attach', payload: {} });
    assert.deepEqual(attach.json(), { attachActivity: true });
    const get = await app.inject({ method: 'GET', url: '/v1/entity/activity/a-1' });
    assert.match((get.json() as { message: string }).message, /^getActivity \(GET \/v1\/entity\/activity\/\{id\}\)/);
    await app.close();
  });
});
