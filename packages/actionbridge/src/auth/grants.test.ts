import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Grant, GrantAction } from '../domain/types.js';
import { GRANT_ACTIONS, isAllowed } from './grants.js';

const ID = '4f1c2b7e-0000-4000-8000-000000000001';
const OTHER = '4f1c2b7e-0000-4000-8000-000000000002';
const actions = ['entity:view', 'entity:create', 'entity:edit', 'entity:delete'] as const;

describe('grants: isAllowed', () => {
  it('knows the five grant actions', () => {
    assert.deepEqual(GRANT_ACTIONS, ['entity:view', 'entity:create', 'entity:edit', 'entity:delete', 'entity:*']);
  });

  it('allows nothing without a grant', () => {
    for (const a of actions) assert.equal(isAllowed([], a, 'opportunity', ID), false, a);
  });

  it('allows just the granted action on the granted schema', () => {
    const grants: Grant[] = [{ action: 'entity:view', resource: 'opportunity' }];
    assert.equal(isAllowed(grants, 'entity:view', 'opportunity', ID), true);
    assert.equal(isAllowed(grants, 'entity:view', 'opportunity'), true, 'a search has no id');
    assert.equal(isAllowed(grants, 'entity:edit', 'opportunity', ID), false, 'another action');
    assert.equal(isAllowed(grants, 'entity:view', 'contact', ID), false, 'another schema');
    assert.equal(isAllowed(grants, 'entity:view', 'opportunity2', ID), false, 'a schema that starts alike');
    assert.equal(isAllowed(grants, 'entity:view', 'opp', ID), false, 'a prefix of the schema');
  });

  it('entity:* grants every action, and only on its resource', () => {
    const grants: Grant[] = [{ action: 'entity:*', resource: 'contact' }];
    for (const a of actions) {
      assert.equal(isAllowed(grants, a, 'contact', ID), true, a);
      assert.equal(isAllowed(grants, a, 'opportunity', ID), false, a);
    }
  });

  it('an omitted resource or * means every schema', () => {
    for (const grants of [[{ action: 'entity:edit' }], [{ action: 'entity:edit', resource: '*' }]] as Grant[][]) {
      assert.equal(isAllowed(grants, 'entity:edit', 'contact', ID), true);
      assert.equal(isAllowed(grants, 'entity:edit', 'opportunity'), true);
      assert.equal(isAllowed(grants, 'entity:view', 'contact', ID), false);
    }
  });

  it('<schema>:* covers every entity of the schema, creates included', () => {
    const grants: Grant[] = [{ action: 'entity:create', resource: 'contact:*' }];
    assert.equal(isAllowed(grants, 'entity:create', 'contact'), true);
    assert.equal(isAllowed(grants, 'entity:create', 'contact', ID), true);
    assert.equal(isAllowed(grants, 'entity:create', 'opportunity'), false);
  });

  it('<schema>:<id> names one entity; a create (no id yet) never matches it', () => {
    const grants: Grant[] = [{ action: 'entity:edit', resource: `opportunity:${ID}` }];
    assert.equal(isAllowed(grants, 'entity:edit', 'opportunity', ID), true);
    assert.equal(isAllowed(grants, 'entity:edit', 'opportunity', OTHER), false, 'another entity');
    assert.equal(isAllowed(grants, 'entity:edit', 'contact', ID), false, 'the same id in another schema');
    assert.equal(isAllowed(grants, 'entity:edit', 'opportunity'), false, 'no id');
    assert.equal(
      isAllowed([{ action: 'entity:create', resource: `opportunity:${ID}` }], 'entity:create', 'opportunity'),
      false,
    );
  });

  it('*:<id> names one entity in whatever schema', () => {
    const grants: Grant[] = [{ action: 'entity:view', resource: `*:${ID}` }];
    assert.equal(isAllowed(grants, 'entity:view', 'contact', ID), true);
    assert.equal(isAllowed(grants, 'entity:view', 'opportunity', ID), true);
    assert.equal(isAllowed(grants, 'entity:view', 'contact', OTHER), false);
    assert.equal(isAllowed(grants, 'entity:view', 'contact'), false);
  });

  it('an explicit deny beats any allow, before or after it', () => {
    const allow: Grant = { action: 'entity:*', resource: '*' };
    const deny: Grant = { action: 'entity:delete', resource: `opportunity:${ID}`, effect: 'deny' };
    for (const grants of [
      [allow, deny],
      [deny, allow],
    ]) {
      assert.equal(isAllowed(grants, 'entity:delete', 'opportunity', ID), false);
      assert.equal(isAllowed(grants, 'entity:delete', 'opportunity', OTHER), true, 'the deny names one entity');
      assert.equal(isAllowed(grants, 'entity:edit', 'opportunity', ID), true, 'the deny names one action');
    }
    const denyAll: Grant = { action: 'entity:*', resource: 'contact', effect: 'deny' };
    for (const a of actions) {
      assert.equal(isAllowed([allow, denyAll], a, 'contact', ID), false, a);
      assert.equal(isAllowed([allow, denyAll], a, 'opportunity', ID), true, a);
    }
  });

  it('a deny alone allows nothing, and an effect other than deny allows', () => {
    const only: Grant[] = [{ action: 'entity:view', resource: 'contact', effect: 'deny' }];
    assert.equal(isAllowed(only, 'entity:view', 'contact', ID), false);
    assert.equal(isAllowed(only, 'entity:view', 'opportunity', ID), false);
    const explicit: Grant[] = [{ action: 'entity:view', resource: 'contact', effect: 'allow' }];
    assert.equal(isAllowed(explicit, 'entity:view', 'contact', ID), true);
  });

  it('a deny that does not match leaves the allow standing', () => {
    const grants: Grant[] = [
      { action: 'entity:view', resource: 'contact', effect: 'deny' },
      { action: 'entity:view', resource: 'opportunity' },
    ];
    assert.equal(isAllowed(grants, 'entity:view', 'opportunity', ID), true);
    const otherAction: Grant[] = [
      { action: 'entity:edit', resource: 'opportunity', effect: 'deny' },
      { action: 'entity:view', resource: 'opportunity' },
    ];
    assert.equal(isAllowed(otherAction, 'entity:view', 'opportunity', ID), true);
  });

  it('matches the action exactly, not by prefix', () => {
    const grants = [{ action: 'entity:vie' as GrantAction, resource: 'opportunity' }];
    assert.equal(isAllowed(grants, 'entity:view', 'opportunity', ID), false);
  });
});
