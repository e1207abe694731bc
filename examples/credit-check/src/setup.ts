import type { Api } from './api.js';

/** The example app's manifest: one custom action, the grants it needs to write back, two options. */
export function creditCheckManifest(appUrl: string) {
  return {
    name: 'Credit Check (example)',
    description: 'Scores an opportunity and writes the result back to it',
    permissions: [
      { action: 'entity:view', resource: 'opportunity' },
      { action: 'entity:edit', resource: 'opportunity' },
    ],
    components: [
      {
        id: 'credit-check',
        component_type: 'CUSTOM_FLOW_ACTION',
        name: 'Credit check',
        options: [
          { key: 'threshold', type: 'number', required: true, label: 'Score needed for approval' },
          { key: 'bureau_api_key', type: 'secret', required: false, label: 'Credit bureau API key' },
        ],
        configuration: {
          type: 'external_integration',
          external_integration_settings: { url: `${appUrl}/credit-check` },
        },
      },
    ],
  };
}

export interface DemoIds {
  org_id: string;
  org_token: string;
  app_id: string;
  flow_id: string;
}

/**
 * Creates an org with an owner token, publishes the example app, installs it with its options,
 * and creates a flow that runs the credit check whenever an opportunity is updated.
 */
export async function setUpCreditCheck(admin: Api, appUrl: string, orgName = 'Demo Org'): Promise<DemoIds> {
  const org = await admin.ok<{ id: string }>('POST', '/v1/orgs', { name: orgName });
  const { token } = await admin.ok<{ token: string }>('POST', `/v1/orgs/${org.id}/tokens`, {
    name: 'demo',
    role: 'owner',
  });
  const api = admin.as(token);
  const { app_id } = await api.ok<{ app_id: string }>('POST', '/v1/apps', creditCheckManifest(appUrl));
  await api.ok('POST', `/v1/app/${app_id}`, {
    option_values: [
      {
        component_id: 'credit-check',
        options: [
          { key: 'threshold', value: 650 },
          { key: 'bureau_api_key', value: 'demo-bureau-key' },
        ],
      },
    ],
  });
  const flow = await api.ok<{ id: string }>('POST', '/v1/automation/flows', {
    flow_name: 'Credit check on opportunity update',
    triggers: [{ type: 'entity_operation', configuration: { schema: 'opportunity', operations: ['updateEntity'] } }],
    actions: [{ name: 'Credit check', type: 'custom-action', config: { app_id, component_id: 'credit-check' } }],
  });
  return { org_id: org.id, org_token: token, app_id, flow_id: flow.id };
}

/** Waits until an execution of `entityId` newer than `after` has ended (or `timeoutMs` passes). */
export async function waitForExecution(
  api: Api,
  entityId: string,
  after: string,
  timeoutMs = 30_000,
): Promise<Record<string, unknown> & { id: string; execution_status: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { results } = await api.ok<{ results: { id: string; execution_status: string; created_at: string }[] }>(
      'GET',
      `/v1/automation/executions?entity_id=${encodeURIComponent(entityId)}`,
    );
    const exec = results.find((e) => e.created_at >= after);
    if (exec && !['pending', 'starting', 'in_progress'].includes(exec.execution_status)) return exec;
    if (Date.now() > deadline) throw new Error(`no finished execution for ${entityId} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
