import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BACKENDS, type Client, describeOn, finishedExecution, manifest, useTestPlatform } from '../testing/harness.js';

const base = '/v1/app-configurations';

/** A CUSTOM_FLOW_ACTION component as epilot's manifest.json declares it. */
function action(url: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'act',
    component_type: 'CUSTOM_FLOW_ACTION',
    name: { de: 'Prüfen', en: 'Check' },
    options: [{ key: 'threshold', type: 'number', required: true }],
    configuration: {
      type: 'external_integration',
      name: 'Check',
      external_integration_settings: { url, headers: { 'x-api-key': 'k-123' } },
    },
    ...extra,
  };
}

async function newApp(c: Client, name = 'Credit check') {
  const r = await c.req('POST', base, { name, description: { de: 'Prüft', en: 'Checks' }, category: 'finance' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as { app_id: string; version: string };
}

for (const backend of BACKENDS)
  describeOn(backend, `App API: configurations, versions, components (${backend})`, () => {
    const env = useTestPlatform({ backend });

    it('creates a configuration with a draft 0.0.1 that its org reads, lists and patches', async () => {
      const { client } = await env.p.newOrg();
      const created = await newApp(client);
      assert.equal(created.version, '0.0.1');
      const got = (await client.req('GET', `${base}/${created.app_id}`)).body;
      assert.equal(got.name, 'Credit check');
      assert.deepEqual(got.description, { de: 'Prüft', en: 'Checks' });
      assert.equal(got.latest_version, '0.0.1');
      assert.deepEqual(got.versions, ['0.0.1']);
      assert.deepEqual(got.public_versions, []);
      assert.equal(got.visibility, 'private');
      assert.deepEqual(got.components, []);

      const patched = await client.req('PATCH', `${base}/${created.app_id}`, {
        name: 'Renamed',
        support_email: 's@x.io',
      });
      assert.equal(patched.status, 204);
      const after = (await client.req('GET', `${base}/${created.app_id}`)).body;
      assert.equal(after.name, 'Renamed');
      assert.equal(after.support_email, 's@x.io');
      assert.equal(after.category, 'finance', 'a patch keeps what it does not name');

      await newApp(client, 'Second');
      const list = (await client.req('GET', `${base}?pageSize=1&page=2`)).body;
      assert.deepEqual(list.pagination, { total: 2, page: 2, pageSize: 1 });
      assert.deepEqual(
        list.configurations.map((c: { name: string }) => c.name),
        ['Second'],
      );
    });

    it('another org sees none of it: every read and write is a 404', async () => {
      const owner = (await env.p.newOrg()).client;
      const other = (await env.p.newOrg()).client;
      const { app_id } = await newApp(owner);
      assert.equal((await other.req('GET', `${base}/${app_id}`)).status, 404);
      assert.equal((await other.req('PATCH', `${base}/${app_id}`, { name: 'x' })).status, 404);
      assert.equal((await other.req('PATCH', `${base}/${app_id}/versions/0.0.1`, { changelog: 'x' })).status, 404);
      assert.equal(
        (await other.req('POST', `${base}/${app_id}/versions/0.0.1/components`, action('https://x.io'))).status,
        404,
      );
      assert.equal((await other.req('DELETE', `${base}/${app_id}`)).status, 404);
      assert.deepEqual((await other.req('GET', base)).body.configurations, []);
    });

    it('components: create, upsert by PATCH, delete; grants and changelog on the version', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = await newApp(client);
      const v = `${base}/${app_id}/versions/0.0.1`;
      const created = await client.req('POST', `${v}/components`, action('https://x.io/hook'));
      assert.equal(created.status, 200);
      assert.equal(created.body.component.id, 'act');
      assert.equal((await client.req('POST', `${v}/components`, action('https://x.io/hook'))).status, 400);

      const patch = await client.req('PATCH', `${v}/components/act`, {
        configuration: {
          type: 'external_integration',
          wait_for_callback: true,
          external_integration_settings: { url: 'https://x.io/v2' },
        },
      });
      assert.equal(patch.status, 204, JSON.stringify(patch.body));
      assert.equal(
        (await client.req('PATCH', `${v}/components/nope`, action('https://x.io', { id: 'nope' }))).status,
        404,
      );

      const grants = [{ action: 'entity:view', resource: 'opportunity' }];
      assert.equal((await client.req('PATCH', v, { grants, changelog: 'first', role_id: 'credit' })).status, 204);
      const got = (await client.req('GET', v)).body;
      assert.deepEqual(got.role, { id: 'credit', grants });
      assert.equal(got.changelog, 'first');
      assert.equal(got.components[0].configuration.external_integration_settings.url, 'https://x.io/v2');
      assert.equal(got.components[0].configuration.wait_for_callback, true);
      assert.deepEqual(got.components[0].name, { de: 'Prüfen', en: 'Check' }, 'PATCH merges over the stored component');

      assert.equal((await client.req('DELETE', `${v}/components/act`)).status, 204);
      assert.equal((await client.req('DELETE', `${v}/components/act`)).status, 404);
      assert.deepEqual((await client.req('GET', v)).body.components, []);
    });

    it('refuses what it cannot honour with a 400 naming the field', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = await newApp(client);
      const v = `${base}/${app_id}/versions/0.0.1`;
      const cases: Array<[string, string, unknown, RegExp]> = [
        ['POST', base, { name: 'x' }, /description/],
        ['POST', base, { name: 'x', description: { en: 'no de' } }, /de/],
        ['POST', base, { name: 'x', description: { de: 'd' }, logo_url_key: 'k' }, /logo_url_key/],
        ['PATCH', v, { grants: [{ action: 'user:invite' }] }, /grants\/0\/action must be one of entity:view/],
        ['PATCH', v, { options: [{ key: 'k', type: 'text' }] }, /app-level options are not supported/],
        [
          'POST',
          `${v}/components`,
          action('https://x.io', { configuration: { type: 'function', function_name: 'f' } }),
          /"function" \(app functions\) is not supported/,
        ],
        [
          'POST',
          `${v}/components`,
          action('ftp://x.io'),
          /component "act": configuration.external_integration_settings.url must be http\(s\)/,
        ],
        [
          'POST',
          `${v}/components`,
          action('https://x.io', { configuration: { type: 'external_integration' } }),
          /configuration must have required property 'external_integration_settings'/,
        ],
        [
          'POST',
          `${v}/components`,
          { ...action('https://x.io'), assets: { bundle: 'x' } },
          /"assets" is not supported/,
        ],
        [
          'POST',
          `${base}/${app_id}/versions/0.0.1/clone-to/not.a.version`,
          undefined,
          /invalid version "not.a.version"/,
        ],
      ];
      for (const [method, path, body, message] of cases) {
        const r = await client.req(method, path, body);
        assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, message);
      }
    });

    it('a published version is immutable; clone-to and clone make new drafts from it', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = await newApp(client);
      const v1 = `${base}/${app_id}/versions/0.0.1`;
      await client.req('POST', `${v1}/components`, action('https://x.io/hook'));
      const review = await client.req('POST', `${v1}/review`, {
        technical_contact: 'dev@x.io',
        marketing_contact: 'mkt@x.io',
      });
      assert.equal(review.status, 200);
      assert.equal(review.body.review.review_status, 'approved');
      assert.equal((await client.req('GET', `${v1}/review`)).body.review.technical_contact, 'dev@x.io');
      assert.deepEqual((await client.req('GET', `${base}/${app_id}`)).body.public_versions, ['0.0.1']);

      for (const [method, path, body] of [
        ['PATCH', v1, { changelog: 'x' }],
        ['POST', `${v1}/components`, action('https://x.io/b', { id: 'b' })],
        ['PATCH', `${v1}/components/act`, { name: { de: 'Neu' } }],
        ['DELETE', `${v1}/components/act`, undefined],
      ] as const) {
        const r = await client.req(method, path, body);
        assert.equal(r.status, 400, `${method} ${path}`);
        assert.match(r.body.error, /published and cannot change: clone it/);
      }

      const cloned = await client.req('POST', `${v1}/clone-to/1.0.0`, { changelog: 'major' });
      assert.equal(cloned.status, 201);
      assert.deepEqual(cloned.body, { app_id, version: '1.0.0', status: 'pending' });
      assert.equal((await client.req('POST', `${v1}/clone-to/1.0.0`)).status, 400, 'the target exists');
      const next = await client.req('POST', `${v1}/clone`, undefined, { 'content-type': 'application/json' });
      assert.equal(next.status, 201, JSON.stringify(next.body));
      assert.equal(next.body.version, '1.0.1', 'the next free version after the latest');

      const v2 = (await client.req('GET', `${base}/${app_id}/versions/1.0.0`)).body;
      assert.equal(v2.changelog, 'major');
      assert.equal(v2.visibility, 'private');
      assert.equal(v2.components[0].configuration.external_integration_settings.url, 'https://x.io/hook');
      assert.equal(
        (await client.req('PATCH', `${base}/${app_id}/versions/1.0.0/components/act`, { name: { de: 'Neu' } })).status,
        204,
      );
      assert.deepEqual((await client.req('GET', v1)).body.components[0].name, { de: 'Prüfen', en: 'Check' });

      const list = (await client.req('GET', `${base}/${app_id}/versions`)).body;
      assert.deepEqual(
        list.versions.map((x: { version: string; visibility: string }) => [x.version, x.visibility]),
        [
          ['0.0.1', 'public'],
          ['1.0.0', 'private'],
          ['1.0.1', 'private'],
        ],
      );
      assert.equal((await client.req('GET', `${base}/${app_id}`)).body.latest_version, '1.0.1');
    });

    it('public configuration: published versions only, without the custom action headers', async () => {
      const owner = (await env.p.newOrg()).client;
      const other = (await env.p.newOrg()).client;
      const { app_id } = await newApp(owner, 'Public app');
      const v1 = `${base}/${app_id}/versions/0.0.1`;
      await owner.req('POST', `${v1}/components`, action('https://x.io/hook'));
      assert.equal((await other.req('GET', `${base}/public/${app_id}`)).status, 404, 'nothing published yet');
      await owner.req('POST', `${v1}/review`, { technical_contact: 'd@x.io', marketing_contact: 'm@x.io' });
      await owner.req('POST', `${v1}/clone`);

      const pub = (await other.req('GET', `${base}/public/${app_id}`)).body;
      assert.equal(pub.version, '0.0.1');
      assert.deepEqual(
        pub.versions.map((x: { version: string }) => x.version),
        ['0.0.1'],
        'the draft 0.0.2 is not shown',
      );
      const settings = pub.components[0].configuration.external_integration_settings;
      assert.equal(settings.url, 'https://x.io/hook');
      assert.equal(settings.headers, undefined, 'another org never sees the headers');
      assert.equal((await other.req('GET', `${base}/public/${app_id}?version=0.0.2`)).status, 404);
      const listed = (await other.req('GET', `${base}/public?pageSize=100`)).body.configurations;
      assert.ok(listed.some((c: { app_id: string }) => c.app_id === app_id));
    });

    it('deleting: a version in use or the only one is refused; an installed app cannot be deleted', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = await newApp(client);
      const v1 = `${base}/${app_id}/versions/0.0.1`;
      await client.req('POST', `${v1}/components`, action('https://x.io/hook'));
      assert.equal((await client.req('DELETE', v1)).status, 400, 'the only version');
      await client.req('POST', `${v1}/clone`);
      assert.equal((await client.req('POST', `/v1/app/${app_id}`, { version: '0.0.1' })).status, 201);
      assert.equal((await client.req('DELETE', v1)).status, 409, 'installed at 0.0.1');
      const app = await client.req('DELETE', `${base}/${app_id}`);
      assert.equal(app.status, 409);
      assert.match(app.body.error, /installed in 1 org/);

      assert.equal((await client.req('DELETE', `${base}/${app_id}/versions/0.0.2`)).status, 204);
      assert.equal((await client.req('GET', `${base}/${app_id}`)).body.latest_version, '0.0.1');
      assert.equal((await client.req('DELETE', `/v1/app/${app_id}`)).status, 204);
      assert.equal((await client.req('DELETE', `${base}/${app_id}`)).status, 204);
      assert.equal((await client.req('GET', `${base}/${app_id}`)).status, 404);
    });

    it('an app made with POST /v1/apps reads as published versions "1", "2" and can be cloned', async () => {
      const { client } = await env.p.newOrg();
      const created = (await client.req('POST', '/v1/apps', manifest('https://x.io/a'))).body;
      await client.req('PUT', `/v1/apps/${created.app_id}`, manifest('https://x.io/b'));
      const got = (await client.req('GET', `${base}/${created.app_id}`)).body;
      assert.deepEqual(got.versions, ['1', '2']);
      assert.deepEqual(got.public_versions, ['1', '2']);
      assert.equal(got.latest_version, '2');
      assert.deepEqual(got.components[0].name, { de: 'Act' }, 'a plain name reads as a TranslatedString');
      assert.deepEqual(got.role.grants, manifest('').permissions);
      assert.equal((await client.req('PATCH', `${base}/${created.app_id}/versions/2`, { changelog: 'x' })).status, 400);
      const next = await client.req('POST', `${base}/${created.app_id}/versions/2/clone`);
      assert.equal(next.body.version, '3');
      assert.equal((await client.req('PATCH', `${base}/${created.app_id}`, { category: 'c' })).status, 204);
      const after = (await client.req('GET', `${base}/${created.app_id}`)).body;
      assert.deepEqual(
        [after.versions, after.public_versions],
        [
          ['1', '2', '3'],
          ['1', '2'],
        ],
      );
    });

    it('the engine runs what the App API defined: component URL and headers, the version grants', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = await newApp(client);
      const v1 = `${base}/${app_id}/versions/0.0.1`;
      await client.req('POST', `${v1}/components`, action(`${env.rx.url}/app-api`));
      await client.req('PATCH', v1, { grants: [{ action: 'entity:view', resource: 'opportunity' }] });
      const installed = await client.req('POST', `/v1/app/${app_id}`, {
        option_values: [{ component_id: 'act', options: [{ key: 'threshold', value: 5 }] }],
      });
      assert.equal(installed.status, 201, JSON.stringify(installed.body));
      const flow = await client.req('POST', '/v1/automation/flows', {
        flow_name: 'App API flow',
        triggers: [
          { type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['createEntity'] } },
        ],
        actions: [{ name: 'Check', type: 'custom-action', config: { app_id, component_id: 'act' } }],
      });
      assert.equal(flow.status, 201, JSON.stringify(flow.body));
      const before = env.rx.received.length;
      env.rx.respond = () => ({ status: 200, body: { checked: true } });
      const e = (await client.req('POST', '/v1/entity/opportunity', { name: 'O' })).body;
      const exec = await finishedExecution(client, e._id);
      assert.equal(exec.execution_status, 'success');
      const got = env.rx.received.slice(before).find((r) => r.url === '/app-api');
      assert.ok(got, 'the component URL received the action');
      assert.equal(got.headers['x-api-key'], 'k-123');
      assert.ok(got.headers['x-epilot-token'], 'the version grants make the app get a token');
      const body = JSON.parse(got.body);
      assert.deepEqual(body.data.app_options, { threshold: 5 });
      assert.equal(body.data.app_config.external_integration_settings.url, `${env.rx.url}/app-api`);
    });

    it('operations it does not implement answer 501 naming the operation', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = await newApp(client);
      const r = await client.req('POST', `${base}/${app_id}/events`, {});
      assert.equal(r.status, 501);
      assert.match(
        r.body.error,
        /^queryEvents \(POST \/v1\/app-configurations\/\{appId\}\/events\) is not implemented/,
      );
    });

    it('uploads (logo, bundle, zip) answer a 400 saying files are not kept; another org’s app is a 404', async () => {
      const { client } = await env.p.newOrg();
      const { app_id } = await newApp(client);
      const uploads: Array<[string, string, RegExp]> = [
        ['POST', 'logo', /^createLogoUploadUrl: ActionBridge stores no uploaded files/],
        ['DELETE', 'logo', /^deleteLogo: ActionBridge stores no uploaded files/],
        ['POST', 'bundle', /^createBundleUploadUrl: ActionBridge stores no uploaded files/],
        ['POST', 'zip', /^createZipUploadUrl: ActionBridge stores no uploaded files/],
      ];
      for (const [method, what, message] of uploads) {
        const r = await client.req(
          method,
          `${base}/${app_id}/${what}`,
          method === 'POST' ? { filename: 'l.png' } : undefined,
        );
        assert.equal(r.status, 400, `${method} ${what}`);
        assert.match(r.body.error, message);
      }
      const other = await env.p.newOrg();
      assert.equal((await other.client.req('POST', `${base}/${app_id}/logo`, { filename: 'l.png' })).status, 404);
      assert.equal((await client.req('POST', `${base}/no-such-app/logo`, { filename: 'l.png' })).status, 404);
    });
  });
