/**
 * The whole epilot journey, with epilot's own tools only, against the real server: an app deployed
 * with `epilot app deploy` (`@epilot/cli`, unchanged), installed with `@epilot/sdk`'s app client, a
 * flow made with `@epilot/automation-client`, an entity written with `@epilot/entity-client`; the
 * custom action arrives signed (verified with the app SDK and the platform's published key), and
 * its access token can do exactly what the manifest's permissions say, in the installer org only.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyCustomAction } from '@actionbridge/app-sdk';
import { createClient as automationClient } from '@epilot/automation-client';
import { createClient as entityClient } from '@epilot/entity-client';
import { createClient as appClient } from '@epilot/sdk/app';
import { useTestPlatform } from '../testing/harness.js';
import { call, pointed } from '../testing/openapi.js';

const CLI = createRequire(import.meta.url).resolve('@epilot/cli/bin/epilot.js');

/** The status of an epilot client's answer, errors included (the clients throw on a 4xx). */
const status = async (p: Promise<{ status: number; data: unknown }>) => (await call(p)).status;

describe('the epilot journey: deploy with @epilot/cli, install with @epilot/sdk, run a flow, write back with the token', () => {
  const env = useTestPlatform();
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ab-journey-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers the deployed app’s action signed, and its token has exactly the manifest’s permissions', async () => {
    const org = await env.p.newOrg();
    const other = await env.p.newOrg();
    const path = join(dir, 'manifest.json');
    writeFileSync(
      path,
      JSON.stringify({
        manifest_version: 1,
        name: 'Credit check',
        description: { de: 'Prüft die Bonität', en: 'Scores an opportunity' },
        category: 'finance',
        permissions: [
          { action: 'entity:view', resource: 'opportunity' },
          { action: 'entity:edit', resource: 'opportunity' },
        ],
        components: [
          {
            id: 'credit-check',
            component_type: 'CUSTOM_FLOW_ACTION',
            name: { de: 'Bonität prüfen', en: 'Credit check' },
            options: [{ key: 'threshold', type: 'number', required: true, label: 'Score needed' }],
            configuration: {
              type: 'external_integration',
              external_integration_settings: { url: `${env.rx.url}/journey` },
            },
          },
        ],
      }),
    );

    // 1. epilot app deploy, unchanged, as a developer runs it.
    const { EPILOT_TOKEN: _t, EPILOT_PROFILE: _p, ...rest } = process.env;
    const deployed = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        process.execPath,
        [CLI, 'app', 'deploy', path, '--server', env.p.url, '--token', org.token],
        { env: { ...rest, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      ),
    );
    assert.equal(deployed.code, 0, deployed.out);
    const appId = (JSON.parse(readFileSync(path, 'utf8')) as { app_id: string }).app_id;
    assert.ok(appId, 'the CLI wrote app_id back');

    // 2. Installed, a flow made and an entity written with epilot's clients.
    const [app, automation, entities] = [appClient(), automationClient(), entityClient()];
    for (const c of [app, automation, entities]) pointed(c, env.p.url, org.token);
    const installed = await app.install({ appId }, {
      version: '0.0.1',
      option_values: [{ component_id: 'credit-check', options: [{ key: 'threshold', value: 650 }] }],
    } as never);
    assert.equal(installed.status, 201);
    await automation.createFlow(null, {
      flow_name: 'Credit check on create',
      triggers: [{ type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['createEntity'] } }],
      actions: [
        { name: 'Credit check', type: 'custom-action', config: { app_id: appId, component_id: 'credit-check' } },
      ],
    } as never);
    const before = env.rx.received.length;
    const deal = (await entities.createEntity({ slug: 'opportunity' }, { name: 'Solar roof' })).data as { _id: string };
    const contact = (await entities.createEntity({ slug: 'contact' }, { first_name: 'Ada' })).data as { _id: string };
    const elsewhere = (await other.client.req('POST', '/v1/entity/opportunity', { name: 'Not yours' })).body as {
      _id: string;
    };
    await env.rx.waitFor(before + 1);
    const got = env.rx.received.slice(before).find((r) => r.url === '/journey');
    assert.ok(got, 'the component URL received the action');

    // 3. Signed: the app SDK verifies it with the platform's published key.
    const payload = await verifyCustomAction(
      { headers: got.headers as Record<string, string>, body: got.body },
      { publicKeyUrl: `${env.p.url}/v1/public/.well-known/public-key` },
    );
    assert.equal(payload.data.entity._id, deal._id);
    assert.deepEqual(payload.data.app_options, { threshold: 650 });
    const tampered = got.body.replace('Solar roof', 'Solar roog');
    await assert.rejects(
      verifyCustomAction(
        { headers: got.headers as Record<string, string>, body: tampered },
        { publicKeyUrl: `${env.p.url}/v1/public/.well-known/public-key` },
      ),
    );

    // 4. The token: view and edit opportunities of the installer org, nothing else.
    const token = got.headers['x-epilot-token'] as string;
    assert.ok(token, 'the manifest’s permissions give the app a token');
    const asApp = pointed(entityClient(), env.p.url, token);
    assert.equal(await status(asApp.getEntity({ slug: 'opportunity', id: deal._id })), 200);
    assert.equal(await status(asApp.patchEntity({ slug: 'opportunity', id: deal._id }, { credit_score: 700 })), 200);
    assert.equal(await status(asApp.getEntity({ slug: 'contact', id: contact._id })), 403, 'no grant on contacts');
    assert.equal(await status(asApp.createEntity({ slug: 'opportunity' }, { name: 'x' })), 403, 'no create grant');
    assert.equal(await status(asApp.deleteEntity({ slug: 'opportunity', id: deal._id })), 403, 'no delete grant');
    assert.equal(
      await status(asApp.getEntity({ slug: 'opportunity', id: elsewhere._id })),
      404,
      'another org’s entity reads as missing',
    );
    const written = (await entities.getEntity({ slug: 'opportunity', id: deal._id })).data as {
      entity: { credit_score?: number };
    };
    assert.equal(written.entity.credit_score, 700, 'the write-back landed');
  });
});
