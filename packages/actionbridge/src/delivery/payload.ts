import type { CustomActionPayload } from '@actionbridge/app-sdk';
import type { AppManifest, Execution, ExecutionAction, Installation, ManifestComponent } from '../domain/types.js';
import { SecretBox } from '../secrets/box.js';

const TRIGGER_SUFFIX = {
  createEntity: 'created',
  updateEntity: 'updated',
  deleteEntity: 'deleted',
  softDeleteEntity: 'deleted',
  restoreEntity: 'restored',
  manual: 'manual',
} as const;

/** The option values of one component as `key → value` (secrets included: only ever sent to the app). */
export function appOptions(inst: Installation, componentId: string, box: SecretBox): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of inst.option_values.find((v) => v.component_id === componentId)?.options ?? []) {
    out[o.key] = SecretBox.isSealed(o.value) ? box.open(o.value) : o.value;
  }
  return out;
}

export function findComponent(manifest: AppManifest, componentId: string): ManifestComponent | undefined {
  return manifest.components.find((c) => c.id === componentId);
}

/**
 * Builds the custom action request body of SPEC §1. The one payload builder: its bytes are stored
 * with the delivery and sent unchanged on every attempt, so `webhook-id` always names the same body.
 */
export function buildPayload(args: {
  execution: Execution;
  action: ExecutionAction;
  component: ManifestComponent;
  installation: Installation;
  /** Opens the installation's sealed secret options. */
  box: SecretBox;
  callback?: { resume_token: string; callback_url: string };
}): string {
  const { execution: exec, action, component, installation } = args;
  const t = exec.trigger;
  const payload: CustomActionPayload = {
    type: 'external_integration',
    timestamp: t.occurred_at,
    data: {
      org_id: exec.org_id,
      entity: exec.entity_snapshot,
      action_config: action.config,
      app_config: component.configuration,
      app_options: appOptions(installation, component.id, args.box),
      execution_id: exec.id,
      execution_status: 'in_progress',
      exection_action_id: action.id,
      execution_action_id: action.id,
      trigger_event: `${exec.entity_snapshot._schema}.${TRIGGER_SUFFIX[t.type === 'manual' ? 'manual' : (t.operation ?? 'updateEntity')]}`,
      trigger: {
        type: t.type,
        ...(t.operation ? { operation: t.operation } : {}),
        entity_id: t.entity_id,
        ...(t.diff ? { diff: t.diff } : {}),
      },
      ...(args.callback ?? {}),
    },
  };
  return JSON.stringify(payload);
}
