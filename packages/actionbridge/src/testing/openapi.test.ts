import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertAnswer, OpenApiChecker, type OpenApiDocument } from './openapi.js';

/** A small definition exercising what the checker must understand. */
const doc: OpenApiDocument = {
  openapi: '3.0.3',
  info: { title: 'Tiny', version: '1' },
  paths: {
    '/things/{id}': {
      get: {
        operationId: 'getThing',
        responses: {
          200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
          404: { description: 'not found' },
        },
      },
      patch: { operationId: 'patchThing', responses: { 204: { description: 'patched' } } },
      delete: { operationId: 'deleteThing', responses: { default: { $ref: '#/components/responses/Gone' } } },
    },
  },
  components: {
    responses: {
      Gone: { content: { 'application/json': { schema: { type: 'object', required: ['gone'] } } } },
    },
    schemas: {
      Thing: {
        type: 'object',
        required: ['id', 'label', 'part'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          label: { $ref: '#/components/schemas/Label' },
          note: { type: 'string', nullable: true },
          kind: { type: 'string', enum: ['a', 'b'], nullable: true },
          part: { $ref: '#/components/schemas/Part' },
          at: { type: 'string', format: 'date-time' },
        },
      },
      Label: { type: 'object', required: ['de'], properties: { de: { type: 'string' }, en: { type: 'string' } } },
      Part: {
        type: 'object',
        discriminator: {
          propertyName: 'type',
          mapping: { wheel: '#/components/schemas/Wheel', bell: '#/components/schemas/Bell' },
        },
        oneOf: [{ $ref: '#/components/schemas/Wheel' }, { $ref: '#/components/schemas/Bell' }],
      },
      Wheel: {
        type: 'object',
        required: ['type', 'size'],
        properties: { type: { enum: ['wheel'] }, size: { type: 'number' } },
      },
      Bell: { type: 'object', required: ['type'], properties: { type: { enum: ['bell'] }, loud: { type: 'boolean' } } },
      Closed: { type: 'object', additionalProperties: false, properties: { a: { type: 'string' } } },
      Merged: {
        allOf: [{ type: 'object', properties: { id: { type: 'string' } } }, { $ref: '#/components/schemas/Closed' }],
      },
    },
  },
};

const thing = {
  id: '3b241101-e2bb-4255-8caf-4136c566a962',
  label: { de: 'Ding', en: 'thing' },
  part: { type: 'wheel', size: 26 },
  at: '2026-11-28T10:00:00.000Z',
};

describe('OpenAPI answer checker', () => {
  const c = new OpenApiChecker(doc, 'tiny');

  it('accepts an answer that matches its schema, through $refs, nullable fields and a discriminator', () => {
    assert.deepEqual(c.check('getThing', 200, thing), { ok: true, errors: [] });
    assert.equal(c.check('getThing', 200, { ...thing, note: null, kind: null }).ok, true);
    assert.equal(c.check('getThing', 200, { ...thing, part: { type: 'bell' } }).ok, true);
  });

  it('names each mismatch by its place in the body', () => {
    const { label: _l, ...noLabel } = thing;
    assert.deepEqual(c.check('getThing', 200, noLabel).errors, ["(body) must have required property 'label'"]);
    assert.deepEqual(c.check('getThing', 200, { ...thing, label: { en: 'x' } }).errors, [
      "/label must have required property 'de'",
    ]);
    assert.deepEqual(c.check('getThing', 200, { ...thing, id: 'not-a-uuid' }).errors, ['/id must match format "uuid"']);
    assert.deepEqual(c.check('getThing', 200, { ...thing, at: 'yesterday' }).errors, [
      '/at must match format "date-time"',
    ]);
    assert.deepEqual(c.check('getThing', 200, { ...thing, kind: 'c' }).errors, [
      '/kind must be equal to one of the allowed values (["a","b",null])',
    ]);
  });

  it('checks the branch the discriminator selects, and refuses an unmapped value', () => {
    assert.deepEqual(c.check('getThing', 200, { ...thing, part: { type: 'wheel' } }).errors, [
      "/part must have required property 'size'",
    ]);
    assert.deepEqual(c.check('getThing', 200, { ...thing, part: { type: 'horn' } }).errors, [
      '/part/type must be equal to one of the allowed values (["wheel","bell"])',
    ]);
  });

  it('refuses undocumented statuses, a body on a 204, and a missing body where one is documented', () => {
    assert.deepEqual(c.check('getThing', 201, thing).errors, [
      'status 201 is not documented for getThing (documented: 200, 404)',
    ]);
    assert.equal(c.check('patchThing', 204, undefined).ok, true);
    assert.equal(c.check('patchThing', 204, '').ok, true);
    assert.deepEqual(c.check('patchThing', 204, { id: 1 }).errors, ['patchThing answered 204 with a body']);
    assert.deepEqual(c.check('getThing', 200, undefined).errors, [
      'getThing documents a JSON body for 200, none was sent',
    ]);
    // A body the definition does not describe (here an error's) is not checked beyond its status.
    assert.equal(c.check('getThing', 404, { status: 404, error: 'thing x' }).ok, true);
  });

  it('reads an allOf as a merge: a closed member does not forbid the other members’ properties', () => {
    assert.deepEqual(c.checkSchema('Merged', { id: 'x', a: 'y' }), { ok: true, errors: [] });
    assert.deepEqual(c.checkSchema('Merged', { id: 'x', a: 1 }).errors, ['/a must be string']);
    assert.deepEqual(c.checkSchema('Closed', { a: 'y', id: 'x' }).errors, [
      '(body) must NOT have additional properties (id)',
    ]);
    const entity = OpenApiChecker.load('entity');
    const activity = {
      _id: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      timestamp: '2026-01-01T00:00:00.000Z',
      type: 'T',
      title: 't',
      message: 'm',
    };
    assert.deepEqual(entity.checkSchema('BaseActivityItem', { ...activity, caller: {} }), { ok: true, errors: [] });
    assert.deepEqual(entity.checkSchema('BaseActivityItem', { ...activity, title: 1 }).errors, [
      '/title must be string',
    ]);
  });

  it('follows a response $ref and falls back to `default`', () => {
    assert.equal(c.check('deleteThing', 200, { gone: true }).ok, true);
    assert.deepEqual(c.check('deleteThing', 500, {}).errors, ["(body) must have required property 'gone'"]);
  });

  it('assertAnswer throws an AssertionError naming the operation and the mismatch', () => {
    assert.doesNotThrow(() => assertAnswer(c, 'getThing', { status: 200, data: thing }));
    assert.throws(
      () => assertAnswer(c, 'getThing', { status: 200, body: { ...thing, id: 7 } }),
      (err: Error) =>
        err.name === 'AssertionError' &&
        /getThing answered 200/.test(err.message) &&
        /\/id must be string/.test(err.message),
    );
  });

  it('loads the definitions epilot’s clients ship, with every operation listed', () => {
    const app = OpenApiChecker.load('app');
    assert.match(app.title, /^App API /);
    assert.deepEqual(app.operation('install'), {
      operationId: 'install',
      method: 'POST',
      path: '/v1/app/{appId}',
      statuses: ['201', '404'],
    });
    const entity = OpenApiChecker.load('entity');
    assert.ok(entity.operations().some((o) => o.operationId === 'searchEntities' && o.path === '/v1/entity:search'));
    const automation = OpenApiChecker.load('automation');
    assert.equal(automation.operation('resumeExecutionWithToken').path, '/v1/automation/public/executions:resume');
  });

  it('checks a real schema of the App API: Installation needs installer_org_id and a string installed_version', () => {
    const app = OpenApiChecker.load('app');
    const inst = {
      app_id: 'a1',
      installer_org_id: 'org_1',
      enabled: true,
      name: 'Credit check',
      installed_version: '1',
      components: [
        {
          id: 'act',
          component_type: 'CUSTOM_FLOW_ACTION',
          name: { de: 'Prüfen', en: null },
          configuration: { type: 'external_integration', external_integration_settings: { url: 'https://x.io' } },
        },
      ],
    };
    assert.deepEqual(app.check('getInstallation', 200, inst), { ok: true, errors: [] });
    assert.deepEqual(app.check('getInstallation', 200, { ...inst, installed_version: 1 }).errors, [
      '/installed_version must be string',
    ]);
    const noType = { ...inst, components: [{ ...inst.components[0], configuration: { name: 'x' } }] };
    assert.deepEqual(app.check('getInstallation', 200, noType).errors, [
      "/components/0/configuration must have required property 'type'",
    ]);
  });
});
