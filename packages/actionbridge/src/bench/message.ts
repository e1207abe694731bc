/**
 * The message the baselines send: the same shape as the platform's custom action request (SPEC §1)
 * around the written entity, signed with Ed25519 (a cached `KeyObject`) and Standard Webhooks headers
 * by the SDK's signer, the one the platform uses too.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { signWebhook } from '@actionbridge/app-sdk';

/** A fresh Ed25519 private key, parsed once. */
export function signingKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** What a write of `attributes` becomes, and the signed request carrying it. */
export function signedMessage(
  attributes: Record<string, unknown>,
  key: KeyObject,
): { entity: Record<string, unknown>; body: string; headers: Record<string, string> } {
  const now = new Date().toISOString();
  const entity = {
    ...attributes,
    _id: randomUUID(),
    _org: 'org_bench',
    _schema: 'opportunity',
    _title: typeof attributes._title === 'string' ? attributes._title : 'Bench',
    _tags: [],
    _created_at: now,
    _updated_at: now,
  };
  const actionId = randomUUID();
  const body = JSON.stringify({
    type: 'external_integration',
    timestamp: now,
    data: {
      org_id: 'org_bench',
      entity,
      action_config: { app_id: 'app_bench', component_id: 'act' },
      app_config: { type: 'external_integration', external_integration_settings: { url: 'http://receiver' } },
      app_options: { threshold: 10, api_key: 's3cret' },
      execution_id: randomUUID(),
      execution_status: 'in_progress',
      exection_action_id: actionId,
      execution_action_id: actionId,
      trigger_event: 'opportunity.created',
      trigger: { type: 'entity_operation', operation: 'createEntity', entity_id: entity._id },
    },
  });
  const id = `msg_${randomBytes(16).toString('hex')}`;
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    entity,
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'ActionBridge-bench',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook({ id, timestamp, body }, { ed25519: [key] }),
    },
  };
}
