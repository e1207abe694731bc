import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../domain/errors.js';
import type { EntityItem } from '../domain/types.js';
import { checkRelations, hydrateInPlace, relationItems } from './relations.js';

const A = '3b241101-e2bb-4255-8caf-4136c566a962';
const B = '9f1c7a52-6a51-4b7e-9d67-2a0b1c3d4e5f';

const entity = (attrs: Record<string, unknown>): EntityItem => ({
  _id: '11111111-2222-4333-8444-555555555555',
  _org: 'org_1',
  _schema: 'opportunity',
  _title: 'Deal',
  _created_at: '2026-01-01T00:00:00.000Z',
  _updated_at: '2026-01-01T00:00:00.000Z',
  ...attrs,
});

/** The 400 a body gets, as its message. */
function refused(attrs: Record<string, unknown>): string {
  try {
    checkRelations(attrs);
  } catch (err) {
    assert.ok(err instanceof DomainError && err.kind === 'bad_request', String(err));
    return err.message;
  }
  assert.fail('accepted');
}

describe('relation attributes', () => {
  it('reads the items of $relation attributes in document order, with their tags', () => {
    const attrs = {
      name: 'x',
      contacts: { $relation: [{ entity_id: A, _tags: ['primary'] }, { entity_id: B }] },
      owner: { $relation: [{ entity_id: A, _schema: 'contact' }] },
      plain: { nested: 1 },
    };
    const expected = [
      { attribute: 'contacts', entity_id: A, _tags: ['primary'] },
      { attribute: 'contacts', entity_id: B },
      { attribute: 'owner', entity_id: A, _schema: 'contact' },
    ];
    assert.deepEqual(checkRelations(attrs), expected);
    assert.deepEqual(relationItems(entity(attrs)), expected);
  });

  it('refuses malformed relation values, naming the field', () => {
    assert.match(refused({ c: { $relation: {} } }), /^c\.\$relation must be an array/);
    assert.match(refused({ c: { $relation: [A] } }), /^c\.\$relation\[0\] must be an object/);
    assert.match(refused({ c: { $relation: [{ entity_id: A.toUpperCase() }] } }), /lowercase UUID/);
    assert.match(refused({ c: { $relation: [{ entity_id: A, _tags: 'x' }] } }), /_tags must be an array/);
    assert.match(refused({ c: { $relation: [{ entity_id: A, _tags: Array(51).fill('t') }] } }), /at most 50 tags/);
    assert.match(refused({ c: { $relation: [{ entity_id: A, _tags: ['t'.repeat(257)] }] } }), /at most 256/);
    assert.match(refused({ c: { $relation: [{ entity_id: A, _schema: 'a b' }] } }), /_schema must be an entity schema/);
    assert.match(refused({ c: { $relation: [{ entity_id: A, x: 1 }] } }), /\[0\]\.x is not supported/);
    assert.match(
      refused({ c: { $relation: [{ entity_id: A }, { entity_id: A }] } }),
      /\[1\]: entity .* is listed twice/,
    );
    assert.match(refused({ c: { $relation: [], x: 1 } }), /^c\.x: a relation attribute holds only \$relation$/);
    assert.match(refused({ c: { $relation_ref: [] } }), /^c\.\$relation_ref is not supported/);
    assert.match(refused({ _c: { $relation: [] } }), /system field/);
    assert.match(
      refused({ deep: { a: [{ b: { $relation: [] } }] } }),
      /^deep\.a\[0\]\.b\.\$relation: relations are only supported/,
    );
    const many = Array.from({ length: 1001 }, (_, i) => ({ entity_id: `${String(i).padStart(8, '0')}${A.slice(8)}` }));
    assert.match(refused({ c: { $relation: many } }), /at most 1000 relations/);
    assert.match(
      refused({ c: { $relation: many.slice(0, 600) }, d: { $relation: many.slice(600, 1001) } }),
      /at most 1000 relations/,
      'counted over all attributes',
    );
  });

  it('hydrates in place: visible related entities merged into their items, others left as the reference', () => {
    const e = entity({ contacts: { $relation: [{ entity_id: A, _tags: ['p'] }, { entity_id: B }] }, n: 1 });
    const ada = { ...entity({ first_name: 'Ada' }), _id: A, _schema: 'contact' };
    assert.deepEqual(hydrateInPlace(e, new Map([[A, ada]])), {
      ...e,
      contacts: [{ $relation: { entity_id: A, _tags: ['p'] }, ...ada }, { $relation: { entity_id: B } }],
    });
    assert.deepEqual(e.contacts, { $relation: [{ entity_id: A, _tags: ['p'] }, { entity_id: B }] }, 'a copy');
  });
});
