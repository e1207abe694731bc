import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPlatform } from 'actionbridge';
import { Api } from './api.js';
import { createCreditCheckApp } from './server.js';
import { type DemoIds, setUpCreditCheck, waitForExecution } from './setup.js';

/**
 * The main job: ActionBridge on its embedded default (SQLite in a data folder) with the example
 * app, a demo org, app, installation and flow (created once), then one demo entity change, printed
 * end to end. Keeps serving until stopped; a second start on the same data folder reuses everything.
 */
const dataDir = process.env.ACTIONBRIDGE_DATA_DIR ?? './actionbridge-data';
const port = Number(process.env.PORT ?? 4000);
const appPort = Number(process.env.APP_PORT ?? 4100);

// The example app runs on this machine: let deliveries reach loopback (refused by default).
const platform = await startPlatform({
  port,
  dataDir,
  logLevel: process.env.LOG_LEVEL ?? 'warn',
  egressAllow: ['127.0.0.0/8', '::1/128'],
});
const api = new Api(platform.url, platform.adminToken);
const app = createCreditCheckApp({
  apiUrl: platform.url,
  publicKeyUrl: `${platform.url}/v1/public/.well-known/public-key`,
});
await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
const appUrl = `http://localhost:${appPort}`;

// Demo state lives next to the database, so a restart on the same folder finds it again.
const stateFile = join(dataDir, 'demo.json');
let ids: DemoIds | undefined = existsSync(stateFile)
  ? (JSON.parse(readFileSync(stateFile, 'utf8')) as DemoIds)
  : undefined;
if (ids && (await api.as(ids.org_token).call('GET', `/v1/automation/flows/${ids.flow_id}`)).status !== 200)
  ids = undefined;
const reused = ids !== undefined;
if (!ids) {
  ids = await setUpCreditCheck(api, appUrl);
  writeFileSync(stateFile, `${JSON.stringify(ids, null, 2)}\n`, { mode: 0o600 });
}
const org = api.as(ids.org_token);

// The demo entity: found by name, or created (creating does not trigger the flow; updating does).
const found = await org.ok<{ results: { _id: string }[] }>('POST', '/v1/entity:search', {
  q: '_schema:opportunity AND name:"Solar roof for ACME"',
  size: 1,
});
const entityId =
  found.results[0]?._id ??
  (await org.ok<{ _id: string }>('POST', '/v1/entity/opportunity', { name: 'Solar roof for ACME', income: 120000 }))
    ._id;

const before = new Date().toISOString();
const amount = 20000 + Math.floor(Math.random() * 60000);
await org.ok('PATCH', `/v1/entity/opportunity/${entityId}`, { amount, debts: 15000 });
const exec = await waitForExecution(org, entityId, before);
const deliveries = await org.ok<{ results: { id: string }[] }>('GET', `/v1/deliveries?execution_id=${exec.id}`);
const delivery = deliveries.results[0]
  ? await org.ok<{
      attempts: { request_headers: Record<string, string>; status_code: number | null }[];
      request_body: unknown;
    }>('GET', `/v1/deliveries/${deliveries.results[0].id}`)
  : undefined;
const { entity } = await org.ok<{ entity: Record<string, unknown> }>('GET', `/v1/entity/opportunity/${entityId}`);

const line = (s = '') => process.stdout.write(`${s}\n`);
const json = (v: unknown) => JSON.stringify(v, null, 2).replace(/\n/g, '\n    ');
line();
line(`ActionBridge demo ${reused ? '(reusing the demo data in ' : '(created demo data in '}${dataDir})`);
line();
line(`1. Updated opportunity ${entityId}: amount=${amount}, debts=15000`);
line(
  `2. Flow "Credit check on opportunity update" ran: execution ${exec.id} is ${exec.execution_status.toUpperCase()}`,
);
for (const a of exec.actions as {
  name?: string;
  execution_status: string;
  outputs?: unknown;
  error_output?: unknown;
}[]) {
  line(`   action "${a.name}": ${a.execution_status} ${json(a.outputs ?? a.error_output ?? {})}`);
}
if (delivery) {
  const last = delivery.attempts.at(-1);
  line('3. The signed request the app received and verified:');
  line(`    POST ${appUrl}/credit-check  →  HTTP ${last?.status_code ?? '-'}`);
  for (const [k, v] of Object.entries(last?.request_headers ?? {})) line(`    ${k}: ${v}`);
  line(`    ${json(delivery.request_body)}`);
}
line('4. The entity as the app wrote it back (with its x-epilot-token, through @epilot/entity-client):');
line(`    ${json(entity)}`);
line();
line('Explore:');
line(`  API              ${platform.url}   (OpenAPI: ${platform.url}/openapi.json)`);
line(`  Public key       ${platform.url}/v1/public/.well-known/public-key`);
line(`  Example app      ${appUrl}/credit-check`);
line(`  Admin token      ${platform.adminToken}`);
line(`  Demo org token   ${ids.org_token}   (org ${ids.org_id})`);
line('Try:');
line(`  curl -s -H "authorization: Bearer ${ids.org_token}" ${platform.url}/v1/automation/executions/${exec.id}`);
line(`  curl -s -H "authorization: Bearer ${ids.org_token}" "${platform.url}/v1/deliveries?execution_id=${exec.id}"`);
line('  # run the flow again: change the opportunity');
line(
  `  curl -s -X PATCH -H "authorization: Bearer ${ids.org_token}" -H 'content-type: application/json' ` +
    `-d '{"amount": 90000}' ${platform.url}/v1/entity/opportunity/${entityId}`,
);
line();
line('Serving until Ctrl-C.');

const stop = async () => {
  app.close();
  await platform.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
