import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { verifyCustomAction, verifyWebhook } from '../verify.js';
import {
  buildCustomActionPayload,
  createTestKit,
  generateTestKeyPair,
  generateTestSecret,
  generateWebhookId,
  signTestRequest,
} from './index.js';

describe('test kit', () => {
  test('createTestKit signs requests that its verifyOptions accept', async () => {
    const kit = createTestKit();
    const sent = kit.payload({ app_options: { threshold: 10 } });
    assert.deepEqual(await verifyCustomAction(kit.sign(sent), kit.verifyOptions), sent);
  });

  test('with a secret, requests carry v1a and v1', async () => {
    const kit = createTestKit({ secret: true });
    const signed = kit.sign();
    assert.match(signed.headers['webhook-signature'] ?? '', /^v1a,\S+ v1,\S+$/);
    const hmacOnly = await verifyWebhook(signed, { secret: kit.secret });
    assert.equal(hmacOnly.version, 'v1');
  });

  test('signTestRequest: id, timestamp, token and extra headers', () => {
    const { privateKey } = generateTestKeyPair();
    const signed = signTestRequest('{}', {
      privateKey,
      id: 'msg_fixed',
      timestamp: new Date('2026-11-27T10:00:00Z'),
      accessToken: 'tok',
      headers: { 'X-Custom': 'yes', 'webhook-id': 'cannot override' },
    });
    assert.equal(signed.headers['webhook-id'], 'msg_fixed');
    assert.equal(signed.headers['webhook-timestamp'], '1795773600');
    assert.equal(signed.headers['x-epilot-token'], 'tok');
    assert.equal(signed.headers['x-custom'], 'yes');
    assert.equal(signed.body, '{}');
  });

  test("ids and secrets look like the platform's", () => {
    assert.match(generateWebhookId(), /^msg_[0-9a-f]{32}$/);
    assert.match(generateTestSecret(), /^whsec_[A-Za-z0-9+/]{43}=$/);
  });

  test('buildCustomActionPayload fills every SPEC §1 field and keeps the two action id spellings equal', () => {
    const payload = buildCustomActionPayload({ execution_action_id: 'act_9' });
    assert.deepEqual(Object.keys(payload.data).sort(), [
      'action_config',
      'app_config',
      'app_options',
      'entity',
      'exection_action_id',
      'execution_action_id',
      'execution_id',
      'execution_status',
      'org_id',
      'trigger',
      'trigger_event',
    ]);
    assert.equal(payload.data.exection_action_id, 'act_9');
    assert.equal(payload.data.trigger.entity_id, payload.data.entity._id);
  });
});
