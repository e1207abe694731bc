import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client, installFlow, manifest, Receiver, type TestPlatform, testPlatform } from '../testing/harness.js';

describe('bad input gets a clear 4xx JSON error, never a 500', () => {
  let p: TestPlatform;
  let rx: Receiver;
  let org: Client;
  let appId: string;
  let flowId: string;
  let entityId: string;

  before(async () => {
    p = await testPlatform();
    rx = await new Receiver().start();
    org = (await p.newOrg()).client;
    const f = await installFlow(org, `${rx.url}/x`);
    appId = f.appId;
    flowId = f.flow.id;
    entityId = (await org.req('POST', '/v1/entity/opportunity', { name: 'E' })).body._id;
  });
  after(async () => {
    await rx.close();
    await p.stop();
  });

  async function expectError(r: Promise<{ status: number; body: any }>, status: number, message?: RegExp) {
    const res = await r;
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.status, status);
    assert.equal(typeof res.body.error, 'string');
    if (message) assert.match(res.body.error, message);
  }

  it('names the field of an invalid app manifest', async () => {
    await expectError(org.req('POST', '/v1/apps', {}), 400, /name/);
    await expectError(org.req('POST', '/v1/apps', { name: 'x', components: [] }), 400, /components/);
    const m = manifest('http://x') as any;
    m.components[0].configuration.external_integration_settings.url = 5;
    await expectError(org.req('POST', '/v1/apps', m), 400, /url must be string/);
    m.components[0].configuration.external_integration_settings.url = 'ftp://x';
    await expectError(
      org.req('POST', '/v1/apps', m),
      422,
      /components\[0\].configuration.external_integration_settings.url/,
    );
    const bad = manifest('http://x') as any;
    bad.permissions = [{ action: 'entity:fly' }];
    await expectError(org.req('POST', '/v1/apps', bad), 400, /permissions\/0\/action/);
    const dup = manifest('http://x') as any;
    dup.components.push(dup.components[0]);
    await expectError(org.req('POST', '/v1/apps', dup), 422, /used by two components/);
    const wrongType = manifest('http://x') as any;
    wrongType.components[0].configuration.type = 'webhook';
    await expectError(org.req('POST', '/v1/apps', wrongType), 422, /external_integration/);
  });

  it('checks installations and option values against the manifest', async () => {
    await expectError(org.req('POST', '/v1/app/nope', {}), 404);
    await expectError(org.req('POST', `/v1/app/${appId}`, { version: '9' }), 404, /no version 9 of app/);
    await expectError(org.req('POST', `/v1/app/${appId}`, { version: 1 }), 400, /version must be string/);
    await expectError(
      org.req('POST', `/v1/app/${appId}`, { option_values: [{ component_id: 'zzz', options: [] }] }),
      422,
      /component_id "zzz"/,
    );
    await expectError(
      org.req('POST', `/v1/app/${appId}`, {
        option_values: [{ component_id: 'act', options: [{ key: 'threshold', value: 'ten' }] }],
      }),
      422,
      /type number/,
    );
    await expectError(
      org.req('PATCH', `/v1/app/${appId}`, {
        option_values: [{ component_id: 'act', options: [{ key: 'nope', value: 1 }] }],
      }),
      422,
      /not an option/,
    );
    await expectError(org.req('POST', `/v1/app/${appId}`, { option_values: 'x' }), 400, /option_values/);
    await expectError(org.req('GET', '/v1/app/unknown'), 404);
    await expectError(org.req('DELETE', '/v1/app/unknown'), 404);
    // Nothing half-written: the installation kept its values.
    const inst = (await org.req('GET', `/v1/app/${appId}`)).body;
    assert.equal(inst.enabled, true);
    assert.deepEqual(inst.option_values[0].options[0], { key: 'threshold', value: 10 });
  });

  it('refuses malformed, oversized and mistyped entity writes', async () => {
    await expectError(org.req('POST', '/v1/entity/opportunity', '{"name":'), 400, /JSON/);
    await expectError(org.req('POST', '/v1/entity/opportunity', [1, 2]), 400, /JSON object/);
    await expectError(org.req('POST', '/v1/entity/Bad Slug!', {}), 400, /slug/);
    await expectError(org.req('POST', '/v1/entity/opportunity', { _schema: 'contact' }), 400, /_schema/);
    await expectError(org.req('POST', '/v1/entity/opportunity', { _tags: 'x' }), 400, /_tags/);
    await expectError(org.req('POST', '/v1/entity/opportunity', { blob: 'x'.repeat(2 * 1024 * 1024) }), 413);
    await expectError(org.req('GET', '/v1/entity/opportunity/nope'), 404);
    await expectError(org.req('GET', `/v1/entity/contact/${entityId}`), 404, /contact/);
    await expectError(org.req('PUT', '/v1/entity/opportunity/nope', { a: 1 }), 404);
    await expectError(org.req('DELETE', '/v1/entity/opportunity/nope'), 404);
    await expectError(
      org.req('PATCH', `/v1/entity/opportunity/${entityId}`, { _updated_at: '2000-01-01T00:00:00Z' }),
      409,
    );
    await expectError(org.req('PATCH', `/v1/entity/opportunity/${entityId}`, { _updated_at: 'yesterday' }), 400);
    await expectError(org.req('PATCH', '/v1/entity/opportunity:upsert', { entity: {} }), 400, /unique_key/);
    await expectError(
      org.req('PATCH', '/v1/entity/opportunity:upsert', { unique_key: ['email'], entity: { name: 'x' } }),
      400,
      /email/,
    );
    await expectError(org.req('PATCH', '/v1/entity/opportunity:frobnicate', {}), 404);
  });

  it('refuses hostile JSON (deep nesting, NUL) and NUL in URLs before any write', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    await expectError(org.req('POST', '/v1/entity/opportunity', deep), 400, /nested deeper than 64/);
    await expectError(
      org.req('POST', '/v1/apps', `{"name":"x","components":[{"configuration":${deep}}]}`),
      400,
      /nested/,
    );
    await expectError(org.req('POST', '/v1/entity/opportunity', { name: 'a\u0000b' }), 400, /NUL/);
    await expectError(org.req('GET', '/v1/entity/opportunity/%00'), 400, /NUL/);
    await expectError(org.req('GET', '/v1/automation/executions?entity_id=%00'), 400, /NUL/);
    await expectError(org.req('POST', '/v1/entity/opportunity', ''), 400);
    const before = (await org.req('POST', '/v1/entity:search', { q: '_schema:opportunity' })).body.hits;
    assert.equal(before, 1, 'nothing was written by the refused requests');
  });

  it('refuses an upsert key that only exists on the prototype', async () => {
    await expectError(
      org.req('PATCH', '/v1/entity/opportunity:upsert', { unique_key: ['constructor'], entity: { name: 'x' } }),
      400,
      /no value for unique_key "constructor"/,
    );
  });

  it('answers a pathological wildcard search without stalling', async () => {
    await org.req('POST', '/v1/entity/contact', { name: 'a'.repeat(40) });
    const r = await org.req('POST', '/v1/entity:search', { q: `name:${'*a'.repeat(30)}*b` });
    assert.equal(r.status, 200);
    assert.equal(r.body.hits, 0);
    const hit = await org.req('POST', '/v1/entity:search', { q: `name:${'*a'.repeat(30)}*` });
    assert.equal(hit.body.hits, 1);
  });

  it('refuses unsupported search syntax and bad paging', async () => {
    await expectError(org.req('POST', '/v1/entity:search', {}), 400, /q/);
    const search = (body: Record<string, unknown>) => org.req('POST', '/v1/entity:search', body);
    await expectError(search({ q: 'name:ada~2' }), 400, /unsupported search syntax: fuzzy/);
    await expectError(search({ q: '"ada lovelace"~3' }), 400, /unsupported search syntax: fuzzy and proximity/);
    await expectError(search({ q: 'name:/ad.*/' }), 400, /unsupported search syntax: regular expressions/);
    await expectError(search({ q: 'name:ada^2' }), 400, /unsupported search syntax: boosting/);
    await expectError(search({ q: 'na*e:ada' }), 400, /wildcards in field names/);
    await expectError(search({ q: 'a:1 b:2' }), 400, /without AND or OR between them/);
    await expectError(search({ q: 'a:1 AND b:2 OR c:3' }), 400, /add parentheses/);
    await expectError(search({ q: 'a:1 OR NOT b:2' }), 400, /a OR \(NOT b\)/);
    await expectError(search({ q: '(a:1' }), 400, /missing \)/);
    await expectError(search({ q: 'amount:[1 TO' }), 400, /range/);
    await expectError(search({ q: 'at:[now-1d TO *]' }), 400, /date math/);
    await expectError(search({ q: `name:${'*a'.repeat(2000)}` }), 400, /at most 256/);
    await expectError(search({ q: '*', aggs: { x: {} } }), 400, /aggs/);
    await expectError(search({ q: '*', hydrate: true }), 400, /hydrate/);
    await expectError(
      search({ q: '*', include_deleted: 'maybe' }),
      400,
      /include_deleted must be "true", "false" or "only"/,
    );
    await expectError(search({ q: '*', frobnicate: 1 }), 400, /unknown search parameter "frobnicate"/);
    await expectError(search({ q: '*', sort: '_score' }), 400, /_score/);
    await expectError(search({ q: '*', fields: 'name' }), 400, /fields/);
    await expectError(org.req('POST', '/v1/entity:search', { q: '*', size: -1 }), 400, /size/);
    await expectError(org.req('POST', '/v1/entity:search', { q: '*', sort: 'a:sideways' }), 400, /sort/);
  });

  it('checks flows: schema, referenced app and component, ids', async () => {
    await expectError(
      org.req('POST', '/v1/automation/flows', { flow_name: 'x', triggers: [], actions: [] }),
      400,
      /triggers/,
    );
    const base = {
      flow_name: 'x',
      triggers: [{ type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['updateEntity'] } }],
    };
    await expectError(
      org.req('POST', '/v1/automation/flows', {
        ...base,
        actions: [{ type: 'send-email', config: { app_id: appId, component_id: 'act' } }],
      }),
      400,
      /type/,
    );
    await expectError(
      org.req('POST', '/v1/automation/flows', {
        ...base,
        actions: [{ type: 'custom-action', config: { app_id: 'nope', component_id: 'act' } }],
      }),
      422,
      /actions\[0\].config.app_id/,
    );
    await expectError(
      org.req('POST', '/v1/automation/flows', {
        ...base,
        actions: [{ type: 'custom-action', config: { app_id: appId, component_id: 'zz' } }],
      }),
      422,
      /component_id/,
    );
    await expectError(
      org.req('POST', '/v1/automation/flows', {
        flow_name: 'x',
        triggers: [{ type: 'entity_operation', configuration: { operations: ['updateEntity'] } }],
        actions: [],
      }),
      422,
      /schema/,
    );
    await expectError(
      org.req('POST', '/v1/automation/flows', {
        ...base,
        triggers: [{ type: 'entity_operation', configuration: { schema: 'x', operations: ['explode'] } }],
        actions: [],
      }),
      400,
      /operations/,
    );
    await expectError(org.req('GET', '/v1/automation/flows/nope'), 404);
    await expectError(org.req('PUT', '/v1/automation/flows/nope', { ...base, actions: [] }), 404);
    await expectError(org.req('DELETE', '/v1/automation/flows/nope'), 404);
    await expectError(org.req('GET', '/v1/automation/flows?size=abc'), 400, /size/);
    await expectError(org.req('GET', '/v1/automation/flows?from=1e20'), 400, /from/);
  });

  it('shows an app’s component headers to its owner only', async () => {
    const m = manifest('http://example.test/x') as any;
    m.components[0].configuration.external_integration_settings.headers = { 'x-api-key': 'sekret' };
    const { app_id } = (await org.req('POST', '/v1/apps', m)).body;
    const own = (await org.req('GET', `/v1/apps/${app_id}`)).body;
    assert.equal(own.manifest.components[0].configuration.external_integration_settings.headers['x-api-key'], 'sekret');
    const other = (await p.newOrg()).client;
    const seen = (await other.req('GET', `/v1/apps/${app_id}`)).body;
    assert.equal(seen.manifest.components[0].configuration.external_integration_settings.url, 'http://example.test/x');
    assert.equal(seen.manifest.components[0].configuration.external_integration_settings.headers, undefined);
    assert.equal(seen.manifest.components[0].options.length, 2);
  });

  it('checks executions, deliveries, orgs and tokens', async () => {
    await expectError(org.req('POST', '/v1/automation/executions', { flow_id: flowId }), 400, /entity_id/);
    await expectError(
      org.req('POST', '/v1/automation/executions', { flow_id: flowId, entity_id: 'nope' }),
      404,
      /entity/,
    );
    await expectError(
      org.req('POST', '/v1/automation/executions', { flow_id: 'nope', entity_id: entityId }),
      404,
      /flow/,
    );
    await expectError(org.req('GET', '/v1/automation/executions/nope'), 404);
    await expectError(org.req('GET', '/v1/deliveries/nope'), 404);
    await expectError(org.req('GET', '/v1/deliveries?status=weird'), 400, /status/);
    await expectError(p.admin.req('POST', '/v1/orgs', { name: '' }), 400, /name/);
    await expectError(p.admin.req('POST', '/v1/orgs', { name: 'x', extra: 1 }), 400);
    await expectError(p.admin.req('POST', '/v1/orgs/nope/tokens', { name: 'x', role: 'owner' }), 404);
    const o = (await p.admin.req('POST', '/v1/orgs', { name: 'x' })).body;
    await expectError(p.admin.req('POST', `/v1/orgs/${o.id}/tokens`, { name: 'x', role: 'god' }), 400, /role/);
    await expectError(p.admin.req('GET', '/v1/nothing-here'), 404, /no route/);
    await expectError(p.admin.req('GET', '/v1/entity/schemas'), 403, /org API token/);
  });
});
