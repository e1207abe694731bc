/**
 * `epilot app deploy` from epilot's own CLI (`@epilot/cli`), run unchanged as a child process
 * against the real server: it creates the app, syncs later changes, locks published versions, and
 * `--dry-run` changes nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../testing/harness.js';
import { useTestPlatform } from '../testing/harness.js';

const CLI = createRequire(import.meta.url).resolve('@epilot/cli/bin/epilot.js');

interface Manifest {
  app_id?: string;
  [k: string]: unknown;
}

function manifestJson(url: string): Manifest {
  return {
    manifest_version: 1,
    name: 'Credit check',
    description: { de: 'Prüft die Bonität', en: 'Checks credit' },
    category: 'finance',
    permissions: [{ action: 'entity:view', resource: 'opportunity' }],
    components: [
      {
        id: 'check',
        component_type: 'CUSTOM_FLOW_ACTION',
        name: { de: 'Bonität prüfen', en: 'Check credit' },
        options: [{ key: 'api_key', type: 'secret', required: true }],
        configuration: {
          type: 'external_integration',
          name: 'Check credit',
          wait_for_callback: false,
          external_integration_settings: { url, headers: { 'x-tenant': 't1' } },
        },
      },
    ],
  };
}

describe('epilot app deploy (@epilot/cli, unchanged) against the server', () => {
  const env = useTestPlatform();
  let dir: string;
  let path: string;
  let org: { client: Client; token: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ab-cli-'));
    path = join(dir, 'manifest.json');
    org = await env.p.newOrg();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the CLI with its own empty config folder (no profile, no stored credentials). */
  function deploy(...args: string[]): Promise<{ code: number; out: string }> {
    const { EPILOT_TOKEN: _t, EPILOT_PROFILE: _p, ...rest } = process.env;
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [CLI, 'app', 'deploy', path, '--server', env.p.url, '--token', org.token, ...args],
        { env: { ...rest, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  }
  const read = () => JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  const write = (m: Manifest) => writeFileSync(path, `${JSON.stringify(m, null, 2)}\n`);
  const config = async (appId: string, version = '') =>
    (await org.client.req('GET', `/v1/app-configurations/${appId}${version ? `/versions/${version}` : ''}`)).body;

  it('--dry-run of a new app creates nothing', async () => {
    write(manifestJson(`${env.rx.url}/v1`));
    const r = await deploy('--dry-run');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Would create new app configuration/);
    assert.equal(read().app_id, undefined);
    assert.deepEqual((await org.client.req('GET', '/v1/app-configurations')).body.configurations, []);
  });

  it('creates the app: metadata, version 0.0.1 with its grants and components; writes app_id back', async () => {
    const r = await deploy();
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Deployed v0\.0\.1 of Credit check/);
    const appId = read().app_id as string;
    assert.ok(appId, 'app_id written back to manifest.json');
    const c = await config(appId);
    assert.equal(c.name, 'Credit check');
    assert.deepEqual(c.description, { de: 'Prüft die Bonität', en: 'Checks credit' });
    assert.equal(c.latest_version, '0.0.1');
    assert.deepEqual(c.role.grants, [{ action: 'entity:view', resource: 'opportunity' }]);
    assert.equal(c.components.length, 1);
    assert.equal(c.components[0].configuration.external_integration_settings.url, `${env.rx.url}/v1`);
    assert.deepEqual(c.components[0].configuration.external_integration_settings.headers, { 'x-tenant': 't1' });
  });

  it('--dry-run of changes reads but changes nothing', async () => {
    const m = read();
    const appId = m.app_id as string;
    const before = await config(appId);
    const changed = { ...manifestJson(`${env.rx.url}/v2`), app_id: appId, name: 'Credit check 2' };
    write(changed);
    const r = await deploy('--dry-run');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Would upsert component check/);
    const afterDry = await config(appId);
    assert.deepEqual(afterDry, before);
  });

  it('syncs: metadata, changed components, new ones, and deletes remote ones the manifest no longer has', async () => {
    const appId = read().app_id as string;
    const extra = {
      id: 'extra',
      component_type: 'CUSTOM_FLOW_ACTION',
      configuration: { type: 'external_integration', external_integration_settings: { url: 'https://x.io' } },
    };
    const added = await org.client.req('POST', `/v1/app-configurations/${appId}/versions/0.0.1/components`, extra);
    assert.equal(added.status, 200);
    const m = read();
    const second = {
      id: 'score',
      component_type: 'CUSTOM_FLOW_ACTION',
      configuration: {
        type: 'external_integration',
        wait_for_callback: true,
        external_integration_settings: { url: `${env.rx.url}/score` },
      },
    };
    write({ ...m, components: [...(m.components as unknown[]), second] });
    const r = await deploy();
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Deleted remote component extra/);
    const c = await config(appId);
    assert.equal(c.name, 'Credit check 2');
    assert.equal(c.latest_version, '0.0.1', 'a draft is updated in place');
    assert.deepEqual(
      c.components.map((x: { id: string }) => x.id),
      ['check', 'score'],
    );
    assert.equal(c.components[0].configuration.external_integration_settings.url, `${env.rx.url}/v2`);
  });

  it('a published version stays as it was: the next deploy creates 0.0.2 and changes only that', async () => {
    const appId = read().app_id as string;
    const review = await org.client.req('POST', `/v1/app-configurations/${appId}/versions/0.0.1/review`, {
      technical_contact: 'dev@example.com',
      marketing_contact: 'mkt@example.com',
    });
    assert.equal(review.status, 200);
    const published = await config(appId, '0.0.1');
    const m = read();
    write({ ...m, components: [(m.components as unknown[])[0]], permissions: [{ action: 'entity:*' }] });
    const r = await deploy();
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Version 0\.0\.1 is public and locked/);
    assert.match(r.out, /Deployed v0\.0\.2/);
    const versioned = ({ components, role, visibility, version_audit }: Record<string, unknown>) => ({
      components,
      role,
      visibility,
      version_audit,
    });
    assert.deepEqual(
      versioned(await config(appId, '0.0.1')),
      versioned(published),
      'the published version is unchanged',
    );
    const next = await config(appId, '0.0.2');
    assert.deepEqual(
      next.components.map((x: { id: string }) => x.id),
      ['check'],
    );
    assert.deepEqual(next.role.grants, [{ action: 'entity:*' }]);
    assert.equal(next.latest_version, '0.0.2');
  });

  it('a refusal reaches the developer: the CLI fails with the server’s message', async () => {
    const m = read();
    const bad = JSON.parse(JSON.stringify(m)) as { components: Array<{ configuration: Record<string, unknown> }> };
    bad.components[0]!.configuration = {
      type: 'external_integration',
      external_integration_settings: { url: 'ftp://x' },
    };
    write(bad as Manifest);
    const r = await deploy();
    assert.notEqual(r.code, 0);
    assert.match(r.out, /failed \(400\).*url must be http\(s\)/);
    write(m);
  });
});
