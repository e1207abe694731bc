import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntityItem, Execution, ExecutionAction, FlowSchedule } from '../domain/types.js';
import {
  compilePattern,
  conditionHolds,
  matchesPattern,
  PatternError,
  scheduledTime,
  statementHolds,
  triggerConditionsHold,
  valuesAt,
} from './conditions.js';

/** `pattern` matches `event` (a fresh pattern object each time: no compiled copy is shared). */
const m = (pattern: unknown, event: unknown) => matchesPattern(structuredClone(pattern) as object, event);

/** The message a refused pattern gets. */
function refusal(pattern: unknown, at = 'filter'): string {
  try {
    compilePattern(pattern, at);
  } catch (err) {
    assert.ok(err instanceof PatternError, String(err));
    return err.message;
  }
  assert.fail(`pattern was accepted: ${JSON.stringify(pattern)}`);
}

/** Milliseconds `fn` takes. */
function took(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

describe('event patterns (EventBridge, as epilot documents them for filter_config)', () => {
  const contact = {
    first_name: 'John',
    last_name: '',
    email: 'j.doe@doe.com',
    middle_name: null,
    age: 30,
    price: 20,
    PaymentType: 'SEPA',
    status: 'placed',
    opportunity_number: 'OPP-123',
    filename: 'scan.png',
    vip: true,
    tags: ['a', 'b'],
    address: { country: 'Germany', city: 'Köln' },
  };

  it('matches every row of epilot’s comparison table', () => {
    const rows: Array<[string, unknown, unknown]> = [
      ['null', { middle_name: [null] }, { middle_name: 'X' }],
      ['empty', { last_name: [''] }, { last_name: 'Doe' }],
      ['equals', { email: ['j.doe@doe.com'] }, { email: 'x@doe.com' }],
      ['equals (ignore case)', { first_name: [{ 'equals-ignore-case': 'john' }] }, { first_name: 'Johnny' }],
      ['and', { first_name: ['John'], status: ['placed'] }, { first_name: 'John', status: 'open' }],
      ['or', { PaymentType: ['Invoice', 'SEPA'] }, { PaymentType: 'Cash' }],
      ['or (multiple fields)', { $or: [{ first_name: ['Jane'] }, { status: ['placed'] }] }, { first_name: 'J' }],
      ['not', { status: [{ 'anything-but': ['cancelled'] }] }, { status: 'cancelled' }],
      ['numeric (equals)', { price: [{ numeric: ['=', 20] }] }, { price: 21 }],
      ['numeric (range)', { price: [{ numeric: ['>', 10, '<=', 20] }] }, { price: 10 }],
      ['exists', { email: [{ exists: true }] }, { name: 'x' }],
      ['does not exist', { ProductName: [{ exists: false }] }, { ProductName: 'P' }],
      ['begins with', { opportunity_number: [{ prefix: 'OPP-' }] }, { opportunity_number: 'X-OPP-1' }],
      ['ends with', { filename: [{ suffix: '.png' }] }, { filename: 'scan.jpg' }],
      ['wildcard', { email: [{ wildcard: '*@doe.com' }] }, { email: 'j.doe@doe.org' }],
    ];
    for (const [name, pattern, other] of rows) {
      assert.equal(m(pattern, contact), true, `${name} matches`);
      assert.equal(m(pattern, other), false, `${name} does not match ${JSON.stringify(other)}`);
    }
  });

  it('nested objects, arrays as "one of", and dotted keys as paths', () => {
    assert.ok(m({ address: { country: ['Germany'] } }, contact));
    assert.ok(m({ 'address.country': ['Germany'] }, contact));
    assert.ok(!m({ address: { country: ['France'] } }, contact));
    assert.ok(m({ tags: ['b', 'z'] }, contact), 'an array value matches when one of its elements does');
    assert.ok(!m({ tags: ['z'] }, contact));
    assert.ok(m({ vip: [true] }, contact));
    assert.ok(!m({ vip: ['true'] }, contact), 'a string never equals a boolean');
    assert.ok(!m({ age: ['30'] }, contact), 'a string never equals a number');
    assert.ok(m({ age: [30.0] }, contact));
    assert.ok(!m({ middle_name: [{ exists: false }] }, contact), 'null is a value: the field exists');
  });

  it('exists only sees leaves; an empty array has none', () => {
    assert.ok(!m({ address: [{ exists: true }] }, contact), 'an object is not a leaf');
    assert.ok(m({ address: [{ exists: false }] }, contact));
    assert.ok(m({ tags: [{ exists: true }] }, contact));
    assert.ok(m({ tags: [{ exists: false }] }, { tags: [] }));
    assert.ok(m({ a: { b: [{ exists: false }] } }, {}), 'a missing parent: the leaf does not exist');
  });

  it('arrays of objects match element by element, never across elements', () => {
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        [{ firstName: 'Peter', lastName: 'Jones' }],
      ],
    };
    assert.ok(m({ employees: { firstName: ['Anna'] } }, event));
    assert.ok(m({ employees: { firstName: ['Peter'], lastName: ['Jones'] } }, event), 'nested arrays are crushed');
    assert.ok(!m({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event));
    assert.ok(!m({ 'employees.firstName': ['Anna'], 'employees.lastName': ['Jones'] } as unknown, event));
  });

  it('anything-but: values, numbers, prefix, suffix, equals-ignore-case, wildcard; a missing field never matches', () => {
    assert.ok(m({ status: [{ 'anything-but': 'open' }] }, contact));
    assert.ok(!m({ age: [{ 'anything-but': [30, 40] }] }, contact));
    assert.ok(m({ age: [{ 'anything-but': [31] }] }, contact));
    assert.ok(!m({ opportunity_number: [{ 'anything-but': { prefix: 'OPP' } }] }, contact));
    assert.ok(m({ filename: [{ 'anything-but': { suffix: '.pdf' } }] }, contact));
    assert.ok(!m({ first_name: [{ 'anything-but': { 'equals-ignore-case': ['JOHN', 'jane'] } }] }, contact));
    assert.ok(!m({ email: [{ 'anything-but': { wildcard: '*@doe.com' } }] }, contact));
    assert.ok(!m({ nothing: [{ 'anything-but': 'x' }] }, contact));
    assert.ok(m({ tags: [{ 'anything-but': 'a' }] }, contact), 'one element that is not excluded is enough');
  });

  it('prefix and suffix ignoring case; numeric bounds', () => {
    assert.ok(m({ opportunity_number: [{ prefix: { 'equals-ignore-case': 'opp-' } }] }, contact));
    assert.ok(m({ filename: [{ suffix: { 'equals-ignore-case': '.PNG' } }] }, contact));
    assert.ok(!m({ age: [{ numeric: ['>=', 31] }] }, contact));
    assert.ok(m({ age: [{ numeric: ['>=', 30, '<', 31] }] }, contact));
    assert.ok(!m({ first_name: [{ numeric: ['>', 0] }] }, contact), 'numeric only matches numbers');
    assert.ok(!m({ price: [{ numeric: ['>', 20, '<', 30] }] }, contact));
  });

  it('wildcards: several stars, escapes, and a match that needs a later occurrence', () => {
    assert.ok(m({ s: [{ wildcard: 'Simple*Service' }] }, { s: 'SimpleStorageService' }));
    assert.ok(m({ s: [{ wildcard: '*a*b*c' }] }, { s: 'xaxbxc' }));
    assert.ok(m({ s: [{ wildcard: 'a*ab' }] }, { s: 'aaab' }));
    assert.ok(!m({ s: [{ wildcard: 'a*ab' }] }, { s: 'ab' }), 'prefix and suffix must not overlap');
    assert.ok(m({ s: [{ wildcard: 'a\\*b' }] }, { s: 'a*b' }));
    assert.ok(!m({ s: [{ wildcard: 'a\\*b' }] }, { s: 'axb' }));
    assert.ok(m({ s: [{ wildcard: 'a\\\\b' }] }, { s: 'a\\b' }));
    assert.ok(m({ s: [{ wildcard: '*' }] }, { s: '' }));
  });

  it('$or nests with and inside it (the EventBridge examples)', () => {
    const p = {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization'] },
        { metricType: ['MetricType'], namespace: ['AWS/EC2'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
        { scope: ['Service'] },
      ],
    };
    assert.ok(m(p, { source: 'aws.cloudwatch', scope: 'Service' }));
    assert.ok(m(p, { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1000 }));
    assert.ok(!m(p, { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1 }));
    assert.ok(!m(p, { source: 'other', scope: 'Service' }));
  });

  it('epilot’s diff example: a change of an attribute, by dotted keys under $or', () => {
    const diff = {
      $or: [
        { 'added.first_name': [{ exists: true }] },
        { 'updated.first_name': [{ exists: true }] },
        { 'deleted.first_name': [{ exists: true }] },
      ],
    };
    assert.ok(m(diff, { added: {}, updated: { first_name: 'Old' }, deleted: {} }));
    assert.ok(m(diff, { added: {}, updated: {}, deleted: { first_name: 'Gone' } }));
    assert.ok(!m(diff, { added: { last_name: 'New' }, updated: {}, deleted: {} }));
  });

  it('never matches through inherited properties', () => {
    assert.ok(!m({ constructor: [{ exists: true }] }, {}));
    assert.ok(!m({ toString: [{ exists: true }] }, { a: 1 }));
    assert.ok(m({ __proto__: ['x'] }, JSON.parse('{"__proto__": "x"}')));
  });

  it('refuses malformed patterns, naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ a: [] }, /filter\.a must list 1 to/],
      [{ a: 'x' }, /filter\.a must be a list of values or an object of fields/],
      [{ a: [{ cidr: '10.0.0.0/8' }] }, /filter\.a\[0\]\.cidr: cidr matching is not supported/],
      [{ a: [{ regex: 'x' }] }, /filter\.a\[0\]\.regex: unknown matcher/],
      [{ a: [{ prefix: 'x', suffix: 'y' }] }, /filter\.a\[0\] must have exactly one matcher key/],
      [{ a: [{ exists: 'yes' }] }, /filter\.a\[0\]\.exists must be true or false/],
      [{ a: [{ numeric: ['>', 1, '>', 2] }] }, /filter\.a\[0\]\.numeric must be a range/],
      [{ a: [{ numeric: ['<', 5, '>', 1] }] }, /must be a range/],
      [{ a: [{ numeric: ['>', 5, '<', 1] }] }, /low < high/],
      [{ a: [{ numeric: ['~', 1] }] }, /numeric\[0\] must be one of/],
      [{ a: [{ numeric: ['>', '1'] }] }, /numeric\[1\] must be a number/],
      [{ a: [{ numeric: ['>', 6e9] }] }, /between -5e9 and 5e9/],
      [{ a: [{ wildcard: 'a**b' }] }, /consecutive wildcard/],
      [{ a: [{ wildcard: 'a\\b' }] }, /backslash may only escape/],
      [{ a: [{ 'anything-but': ['x', 1] }] }, /only strings or only numbers/],
      [{ a: [{ 'anything-but': [] }] }, /must list 1 to/],
      [{ a: [{ 'anything-but': { exists: true } }] }, /anything-but must be a value, a list, or one of/],
      [{ a: [{ prefix: { suffix: 'x' } }] }, /prefix must be a string or \{"equals-ignore-case"/],
      [{ $or: {} }, /filter\.\$or must be a list of patterns/],
      [{ $or: [{ a: ['x'] }, 'b'] }, /filter\.\$or\[1\] must be an object of fields/],
      [{ 'a..b': ['x'] }, /"a\.\.b" is not a field name or dotted path/],
      [{ a: [{ 'equals-ignore-case': 'x'.repeat(2000) }] }, /longer than 1024/],
      [[], /filter must be an object of fields/],
    ];
    for (const [p, re] of cases) assert.match(refusal(p), re, JSON.stringify(p).slice(0, 80));
  });

  it('refuses patterns beyond their limits: depth, values, matchers', () => {
    let deep: Record<string, unknown> = { leaf: ['x'] };
    for (let i = 0; i < 20; i++) deep = { n: deep };
    assert.match(refusal(deep), /nests deeper than 12 levels/);
    assert.match(refusal({ a: Array.from({ length: 201 }, (_, i) => `v${i}`) }), /filter\.a must list 1 to 200/);
    const wide = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}`, Array(100).fill('x')]));
    assert.match(refusal(wide), /more than 1000 matchers/);
    const ors = { $or: Array.from({ length: 1001 }, () => ({ a: ['x'] })) };
    assert.match(refusal(ors), /more than 1000 matchers/);
  });

  it('stays linear on hostile input: huge strings, huge and deeply nested arrays, wide objects', () => {
    // Backtracking wildcard matchers take quadratic or exponential time here.
    const long = 'a'.repeat(2_000_000);
    const stars = { s: [{ wildcard: `${'*a'.repeat(40)}*b` }] };
    assert.ok(took(() => assert.ok(!m(stars, { s: long }))) < 500, 'wildcard on 2 MB');
    const strings = {
      s: [
        { prefix: `${'a'.repeat(1000)}b` },
        { 'equals-ignore-case': 'A'.repeat(1024) },
        { suffix: `b${'a'.repeat(1000)}` },
      ],
    };
    assert.ok(took(() => assert.ok(!m(strings, { s: long }))) < 500, 'prefix, suffix, equals-ignore-case on 2 MB');

    const big = Array.from({ length: 100_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: [`t${i}`] }));
    const needle = { items: { name: ['n99999'], tags: [{ prefix: 't9999' }] } };
    assert.ok(took(() => assert.ok(m(needle, { items: big }))) < 1000, '100k elements');
    assert.ok(took(() => assert.ok(!m({ items: { id: [-1] } }, { items: big }))) < 1000);

    // 100k levels of nested arrays: recursion would overflow the stack.
    let nested: unknown = ['deep'];
    for (let i = 0; i < 100_000; i++) nested = [nested];
    assert.ok(took(() => assert.ok(m({ v: ['deep'] }, { v: nested }))) < 1000, 'nested arrays');
    assert.ok(m({ v: { w: [{ exists: false }] } }, { v: nested }));

    const wide = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]));
    assert.ok(took(() => assert.ok(m({ k49999: [49999] }, wide))) < 500, 'wide object');
  });

  it('a pattern that matches is compiled once per object; an invalid one matches nothing', () => {
    const p = { a: ['x'] };
    assert.ok(matchesPattern(p, { a: 'x' }));
    assert.ok(!matchesPattern(p, { a: 'y' }));
    assert.ok(!matchesPattern({ a: [{ cidr: '1.2.3.4/32' }] }, { a: '1.2.3.4' }));
  });
});

describe('values by path', () => {
  it('reads dotted paths through arrays, flattening them', () => {
    const e = { contacts: [{ email: ['a@x.io', 'b@x.io'] }, { email: 'c@x.io' }], n: 0 };
    assert.deepEqual(valuesAt(e, 'contacts.email'), ['a@x.io', 'b@x.io', 'c@x.io']);
    assert.deepEqual(valuesAt(e, 'n'), [0]);
    assert.deepEqual(valuesAt(e, 'missing.x'), []);
    assert.deepEqual(valuesAt(e, 'constructor'), []);
  });
});

const entity = (attrs: Record<string, unknown>): EntityItem => ({
  _id: 'e1',
  _org: 'o',
  _schema: 'opportunity',
  _title: 't',
  _created_at: '2026-01-01T00:00:00.000Z',
  _updated_at: '2026-01-01T00:00:00.000Z',
  ...attrs,
});

describe('trigger conditions (epilot’s TriggerCondition)', () => {
  const e = entity({ status: 'open', amount: 10, billing_contact: { email: 'a@x.io' }, tags: [], note: '' });

  it('equals, any_of, not_empty, is_empty on dotted paths; all must hold', () => {
    const ok = (c: unknown[]) => triggerConditionsHold(c as never, e);
    assert.ok(ok([{ source: 'status', comparison: 'equals', value: 'open' }]));
    assert.ok(!ok([{ source: 'status', comparison: 'equals', value: 'won' }]));
    assert.ok(ok([{ source: 'amount', comparison: 'equals', value: '10' }]), 'form values are strings');
    assert.ok(ok([{ source: 'amount', comparison: 'any_of', value: [5, 10] }]));
    assert.ok(!ok([{ source: 'status', comparison: 'any_of', value: ['won', 'lost'] }]));
    assert.ok(ok([{ source: 'billing_contact.email', comparison: 'not_empty' }]));
    assert.ok(ok([{ source: 'tags', comparison: 'is_empty' }]));
    assert.ok(ok([{ source: 'note', comparison: 'is_empty' }]));
    assert.ok(ok([{ source: 'missing', comparison: 'is_empty' }]));
    assert.ok(!ok([{ source: 'billing_contact.email', comparison: 'is_empty' }]));
    assert.ok(
      !ok([
        { source: 'status', comparison: 'equals', value: 'open' },
        { source: 'note', comparison: 'not_empty' },
      ]),
    );
    assert.ok(ok([]));
  });
});

const action = (over: Partial<ExecutionAction>): ExecutionAction => ({
  id: 'a1',
  type: 'custom-action',
  config: { app_id: 'app', component_id: 'c' },
  execution_status: 'success',
  ...over,
});

describe('action conditions (branching statements)', () => {
  const exec = {
    entity_snapshot: entity({
      status: 'open',
      amount: 120,
      email: 'Ada@Example.com',
      tags: ['vip', 'new'],
      due: '2026-03-01',
      empty: '',
    }),
    actions: [action({ id: 'check', outputs: { score: 700, result: { approved: true } } })],
  };
  const holds = (s: Record<string, unknown>) => statementHolds(s as never, exec);
  const on = (attribute: string, extra: Record<string, unknown> = {}) => ({
    source: { origin: 'trigger', attribute, ...extra },
  });

  it('compares the trigger entity’s attributes', () => {
    assert.ok(holds({ ...on('status'), operation: 'equals', values: ['open'] }));
    assert.ok(holds({ ...on('status'), operation: 'not_equals', values: ['won'] }));
    assert.ok(holds({ ...on('status'), operation: 'any_of', values: ['won', 'open'] }));
    assert.ok(holds({ ...on('status'), operation: 'none_of', values: ['won', 'lost'] }));
    assert.ok(holds({ ...on('email'), operation: 'contains', values: ['@Example'] }));
    assert.ok(holds({ ...on('email'), operation: 'not_contains', values: ['@example'] }), 'case-sensitive');
    assert.ok(holds({ ...on('email'), operation: 'starts_with', values: ['Ada'] }));
    assert.ok(holds({ ...on('email'), operation: 'ends_with', values: ['.com'] }));
    assert.ok(holds({ ...on('amount'), operation: 'greater_than', values: ['100'] }));
    assert.ok(!holds({ ...on('amount'), operation: 'less_than', values: ['100'] }));
    assert.ok(holds({ ...on('amount'), operation: 'greater_than_or_equals', values: ['120'] }));
    assert.ok(holds({ ...on('amount'), operation: 'less_than_or_equals', values: ['120'] }));
    assert.ok(holds({ ...on('amount', { attributeType: 'number' }), operation: 'equals', values: ['120.0'] }));
    assert.ok(!holds({ ...on('amount'), operation: 'equals', values: ['120.0'] }), 'as text unless a number type');
    assert.ok(holds({ ...on('due', { attributeType: 'date' }), operation: 'less_than', values: ['2026-04-01'] }));
    assert.ok(!holds({ ...on('status'), operation: 'greater_than', values: ['1'] }), 'text never orders');
    assert.ok(holds({ ...on('empty'), operation: 'is_empty' }));
    assert.ok(holds({ ...on('missing'), operation: 'is_empty' }));
    assert.ok(holds({ ...on('tags'), operation: 'is_not_empty' }));
  });

  it('a list holds when one item does, or each with repeatableItemOp', () => {
    assert.ok(holds({ ...on('tags'), operation: 'equals', values: ['vip'] }));
    assert.ok(!holds({ ...on('tags', { repeatableItemOp: true }), operation: 'equals', values: ['vip'] }));
    assert.ok(holds({ ...on('tags', { repeatableItemOp: true }), operation: 'any_of', values: ['vip', 'new'] }));
    assert.ok(!holds({ ...on('tags'), operation: 'none_of', values: ['vip'] }));
  });

  it('reads an earlier action’s outputs', () => {
    const out = (attribute: string) => ({ source: { origin: 'action', id: 'check', attribute } });
    assert.ok(holds({ ...out('score'), operation: 'greater_than', values: ['650'] }));
    assert.ok(holds({ ...out('result.approved'), operation: 'equals', values: ['true'] }));
    assert.ok(holds({ ...{ source: { origin: 'action', id: 'nope', attribute: 'score' } }, operation: 'is_empty' }));
  });

  it('a condition holds when all its statements do', () => {
    const c = {
      id: 'c',
      statements: [
        { ...on('status'), operation: 'equals', values: ['open'] },
        { ...on('amount'), operation: 'greater_than', values: ['1000'] },
      ],
    };
    assert.ok(!conditionHolds(c as never, exec));
    assert.ok(conditionHolds({ id: 'empty' }, exec));
  });
});

describe('schedules', () => {
  const exec: Pick<Execution, 'entity_snapshot' | 'actions' | 'trigger' | 'created_at'> = {
    entity_snapshot: entity({ end_date: '2026-03-31', start: '2026-01-31T12:00:00.000Z', bad: 'soon' }),
    actions: [
      action({ id: 'first', updated_at: '2026-02-01T00:00:00.000Z' }),
      action({ id: 'running', execution_status: 'in_progress', updated_at: '2026-02-01T00:00:00.000Z' }),
    ],
    trigger: { type: 'entity_operation', entity_id: 'e1', occurred_at: '2026-01-15T10:00:00.000Z' },
    created_at: '2026-01-15T10:00:01.000Z',
  };
  const at = (s: Omit<FlowSchedule, 'id'>) => {
    const r = scheduledTime({ id: 's', ...s }, exec);
    return 'at' in r ? new Date(r.at).toISOString() : r.error;
  };

  it('counts from the trigger, a date of the entity, the execution or an earlier action', () => {
    const src = { id: 't', origin: 'trigger' } as const;
    assert.equal(
      at({ numberOfUnits: 2, timePeriod: 'hours', timeRelation: 'after', source: src }),
      '2026-01-15T12:00:00.000Z',
    );
    assert.equal(
      at({ numberOfUnits: 1, timePeriod: 'weeks', timeRelation: 'before', source: { ...src, attribute: 'end_date' } }),
      '2026-03-24T00:00:00.000Z',
    );
    assert.equal(
      at({
        numberOfUnits: 30,
        timePeriod: 'minutes',
        timeRelation: 'after',
        source: { id: 'x', origin: 'automation' },
      }),
      '2026-01-15T10:30:01.000Z',
    );
    assert.equal(
      at({ numberOfUnits: 3, timePeriod: 'days', timeRelation: 'after', source: { id: 'first', origin: 'action' } }),
      '2026-02-04T00:00:00.000Z',
    );
  });

  it('adds calendar months, keeping the day within the month', () => {
    const src = { id: 't', origin: 'trigger', attribute: 'start' } as const;
    assert.equal(
      at({ numberOfUnits: 1, timePeriod: 'months', timeRelation: 'after', source: src }),
      '2026-02-28T12:00:00.000Z',
    );
    assert.equal(
      at({ numberOfUnits: 13, timePeriod: 'months', timeRelation: 'after', source: src }),
      '2027-02-28T12:00:00.000Z',
    );
    assert.equal(
      at({ numberOfUnits: 2, timePeriod: 'months', timeRelation: 'before', source: src }),
      '2025-11-30T12:00:00.000Z',
    );
  });

  it('says why a time cannot be computed', () => {
    const t = { id: 't', origin: 'trigger' } as const;
    const rel = { numberOfUnits: 1, timePeriod: 'days', timeRelation: 'before' } as const;
    assert.match(at({ ...rel, source: { ...t, attribute: 'bad' } }), /the entity's bad is not a date \("soon"\)/);
    assert.match(at({ ...rel, source: { ...t, attribute: 'missing' } }), /the entity's missing is not a date \(null\)/);
    assert.match(at({ ...rel, source: { id: 'running', origin: 'action' } }), /action running has not ended/);
    assert.match(
      at({ numberOfUnits: 1e9, timePeriod: 'days', timeRelation: 'after', source: { ...t, attribute: 'end_date' } }),
      /out of range/,
      'beyond what a saved flow allows (numberOfUnits ≤ 100000), still no invalid date',
    );
  });
});
