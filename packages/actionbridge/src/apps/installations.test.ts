import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BACKENDS,
  type Client,
  finishedExecution,
  installFlow,
  manifest,
  useTestPlatform,
} from '../testing/harness.js';

/** The harness manifest with the custom action at `url` and its options replaced by `options`. */
function withOptions(url: string, options: Array<Record<string, unknown>>) {
  const m = manifest(url);
  return { ...m, components: [{ ...m.components[0], options }] };
}

const values = (options: Array<{ key: string; value: unknown }>) => [{ component_id: 'act', options }];

async function installation(c: Client, appId: string) {
  const r = await c.req('GET', `/v1/app/${appId}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as {
    installed_version: string;
    enabled: boolean;
    missing_options: string[];
    option_values: Array<{ component_id: string; options: Array<{ key: string; value: unknown }> }>;
  };
}

for (const backend of BACKENDS)
  describe(`installations (${backend})`, () => {
    const env = useTestPlatform({ backend });

    it('promoting keeps the values the new version declares, drops the others, and the flow runs the new version', async () => {
      const { client } = await env.p.newOrg();
      const { appId } = await installFlow(client, `${env.rx.url}/v1`);
      const v2 = withOptions(`${env.rx.url}/v2`, [
        { key: 'threshold', type: 'number', required: true },
        { key: 'region', type: 'text' },
      ]);
      const put = await client.req('PUT', `/v1/apps/${appId}`, v2);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.version_label, '2');

      const promoted = await client.req('POST', `/v1/app/${appId}/promote-to/2`);
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
      assert.equal(promoted.body.installed_version, '2');
      assert.deepEqual(promoted.body.option_values, values([{ key: 'threshold', value: 10 }]), 'api_key is gone');
      assert.equal(promoted.body.enabled, true);

      env.rx.respond = () => ({ status: 200, body: {} });
      const before = env.rx.received.length;
      const e = (await client.req('POST', '/v1/entity/opportunity', { name: 'O' })).body;
      await client.req('PATCH', `/v1/entity/opportunity/${e._id}`, { amount: 1 });
      assert.equal((await finishedExecution(client, e._id)).execution_status, 'success');
      const sent = env.rx.received.slice(before);
      assert.deepEqual(
        sent.map((r) => r.url),
        ['/v2'],
      );
      assert.deepEqual(JSON.parse(sent[0]!.body).data.app_options, { threshold: 10 });
    });

    it('a stored value that does not fit the new version is a 400 that changes nothing; a PATCH with version and value moves', async () => {
      const { client } = await env.p.newOrg();
      const { appId } = await installFlow(client, `${env.rx.url}/typed`);
      await client.req(
        'PUT',
        `/v1/apps/${appId}`,
        withOptions(`${env.rx.url}/typed`, [{ key: 'threshold', type: 'text' }]),
      );
      const refused = await client.req('POST', `/v1/app/${appId}/promote-to/2`);
      assert.equal(refused.status, 400);
      assert.match(refused.body.error, /act\.threshold is of type text in version 2/);
      assert.equal((await installation(client, appId)).installed_version, '1');

      const patched = await client.req('PATCH', `/v1/app/${appId}`, {
        version: '2',
        option_values: values([{ key: 'threshold', value: 'high' }]),
      });
      assert.equal(patched.status, 204, JSON.stringify(patched.body));
      const inst = await installation(client, appId);
      assert.equal(inst.installed_version, '2');
      assert.deepEqual(inst.option_values, values([{ key: 'threshold', value: 'high' }]));
    });

    it('a secret stays unreadable when a later version declares its option as text', async () => {
      const { client } = await env.p.newOrg();
      const { appId } = await installFlow(client, `${env.rx.url}/s`);
      await client.req(
        'PUT',
        `/v1/apps/${appId}`,
        withOptions(`${env.rx.url}/s`, [
          { key: 'threshold', type: 'number', required: true },
          { key: 'api_key', type: 'text' },
        ]),
      );
      const promoted = await client.req('POST', `/v1/app/${appId}/promote-to/2`);
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
      assert.ok(!JSON.stringify(promoted.body).includes('enc:v1:'));
      assert.deepEqual(promoted.body.option_values[0].options[1], { key: 'api_key', value: '********' });
    });

    it('an installation of a draft whose options changed still reads and patches', async () => {
      const { client } = await env.p.newOrg();
      const base = '/v1/app-configurations';
      const { app_id } = (await client.req('POST', base, { name: 'Draft app', description: { de: 'D' } })).body;
      const component = (options: Array<Record<string, unknown>>) => ({
        id: 'act',
        component_type: 'CUSTOM_FLOW_ACTION',
        options,
        configuration: { type: 'external_integration', external_integration_settings: { url: 'https://x.io/h' } },
      });
      await client.req(
        'POST',
        `${base}/${app_id}/versions/0.0.1/components`,
        component([
          { key: 'threshold', type: 'number' },
          { key: 'mode', type: 'text' },
        ]),
      );
      const installed = await client.req('POST', `/v1/app/${app_id}`, {
        option_values: values([
          { key: 'threshold', value: 1 },
          { key: 'mode', value: 'fast' },
        ]),
      });
      assert.equal(installed.status, 201, JSON.stringify(installed.body));
      assert.equal(installed.body.installed_version, '0.0.1');
      const changed = await client.req(
        'PATCH',
        `${base}/${app_id}/versions/0.0.1/components/act`,
        component([
          { key: 'threshold', type: 'number' },
          { key: 'region', type: 'text', required: true },
        ]),
      );
      assert.equal(changed.status, 204, JSON.stringify(changed.body));

      const read = await installation(client, app_id);
      assert.deepEqual(read.missing_options, ['act.region']);
      assert.deepEqual(
        read.option_values,
        values([
          { key: 'threshold', value: 1 },
          { key: 'mode', value: 'fast' },
        ]),
      );
      const kept = await client.req('PATCH', `/v1/app/${app_id}`, {});
      assert.equal(kept.status, 204, JSON.stringify(kept.body));
      assert.deepEqual((await installation(client, app_id)).option_values, values([{ key: 'threshold', value: 1 }]));
      const patched = await client.req('PATCH', `/v1/app/${app_id}`, {
        option_values: values([
          { key: 'threshold', value: 1 },
          { key: 'region', value: 'eu' },
        ]),
      });
      assert.equal(patched.status, 204, JSON.stringify(patched.body));
      const after = await installation(client, app_id);
      assert.equal(after.enabled, true);
      assert.deepEqual(after.missing_options, []);
    });

    it('installs with a body-less POST, as axios sends it without data', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = (await client.req('POST', '/v1/apps', manifest('https://x.io/h'))).body;
      const r = await client.req('POST', `/v1/app/${app_id}`, undefined, {
        'content-type': 'application/x-www-form-urlencoded',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.installed_version, '1');
      assert.deepEqual(r.body.missing_options, ['act.threshold']);
      const blueprint = await client.req('POST', `/v1/app/${app_id}`, {
        _manifest: ['123e4567-e89b-12d3-a456-426614174000'],
      });
      assert.equal(blueprint.status, 400, 'blueprint ids are refused, not ignored');
      assert.match(blueprint.body.error, /"_manifest" is not supported/);
    });

    it('PUT /v1/apps on an App API app adds the next published version after the latest, never a label in use', async () => {
      const { client } = await env.p.newOrg();
      const base = '/v1/app-configurations';
      const { app_id } = (await client.req('POST', base, { name: 'Mixed', description: { de: 'D' } })).body;
      await client.req('POST', `${base}/${app_id}/versions/0.0.1/clone-to/0.0.3`);
      const put = await client.req('PUT', `/v1/apps/${app_id}`, manifest('https://x.io/imported'));
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.version_label, '0.0.4');
      const got = (await client.req('GET', `${base}/${app_id}`)).body;
      assert.deepEqual(got.versions, ['0.0.1', '0.0.3', '0.0.4']);
      assert.deepEqual(got.public_versions, ['0.0.4']);
      assert.equal(got.name, 'Test app', 'the imported manifest names the app');
      const other = await env.p.newOrg();
      const installed = await other.client.req('POST', `/v1/app/${app_id}`, {});
      assert.equal(installed.status, 201, JSON.stringify(installed.body));
      assert.equal(installed.body.installed_version, '0.0.4');
    });
  });
