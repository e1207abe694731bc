/**
 * The rules of a flow that decide whether and when it acts, evaluated as epilot documents them.
 * Pure: no I/O, no clock (times are given).
 *
 * - Event patterns: an `entity_operation` trigger's `filter_config` is an EventBridge event pattern
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html) over
 *   `{operation: {operation, payload, diff}, activity: {type}}`. Matching follows AWS's Event Ruler
 *   (`rulesForJSONEvent`): fields AND, values OR, arrays match when one element does (array-
 *   consistently: two fields never match inside different elements of one array), `exists` only
 *   sees leaves, dotted keys are paths, `$or` lists alternatives.
 * - Trigger conditions (`trigger_conditions`): `{source, comparison, value}` on the entity.
 * - Action conditions (`conditions`, branching): statements on the trigger entity or an earlier
 *   action's outputs; an action whose condition does not hold is skipped.
 * - Schedules (`schedules`): when a delayed action may be sent.
 *
 * Every evaluation is linear in the size of the event for a pattern of bounded size (patterns are
 * bounded when a flow is saved), iterative where event data may nest, and wildcards match greedily
 * segment by segment (no backtracking).
 */
import type {
  EntityItem,
  Execution,
  FlowCondition,
  FlowConditionStatement,
  FlowSchedule,
  TriggerCondition,
} from '../domain/types.js';

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Event patterns

/** Limits a pattern must keep (checked when a flow is saved), so matching stays cheap. */
export const PATTERN_LIMITS = {
  depth: 12,
  /** Matchers in one pattern, all fields and alternatives together. */
  matchers: 1000,
  /** Values in one field's list, and strings in an anything-but list. */
  values: 200,
  /** Length of any string in a pattern. */
  string: 1024,
} as const;

/** Event Ruler's numeric range. */
const NUMERIC_LIMIT = 5e9;

type Matcher =
  | { k: 'literal'; v: string | number | boolean | null }
  | { k: 'exists'; v: boolean }
  | { k: 'prefix' | 'suffix'; v: string; ignoreCase: boolean }
  | { k: 'eqic'; v: string }
  | { k: 'wildcard'; w: Wildcard }
  | { k: 'numeric'; tests: Array<[op: string, n: number]> }
  | { k: 'anything-but'; not: Matcher[]; values?: Set<string | number> };

interface Node {
  /** Leaf fields: each list is an OR of matchers; several lists on one field (merged paths) AND. */
  leaves: Map<string, Matcher[][]>;
  children: Map<string, Node>;
  /** `$or`: each entry is a list of alternatives, one of which must match. */
  ors: Node[][];
}

const newNode = (): Node => ({ leaves: new Map(), children: new Map(), ors: [] });

/** A wildcard value: literal segments between `*`s. */
interface Wildcard {
  segments: string[];
}

function parseWildcard(text: string): Wildcard | string {
  const segments: string[] = [''];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== '*' && next !== '\\') return 'a backslash may only escape * or \\';
      segments[segments.length - 1] += next;
      i++;
    } else if (c === '*') {
      if (text[i + 1] === '*') return 'consecutive wildcard characters (**) are not allowed';
      segments.push('');
    } else segments[segments.length - 1] += c;
  }
  return { segments };
}

/**
 * Greedy: the first segment is a prefix, the last a suffix, and each one between is found at its
 * leftmost place after the previous. For `*`-only patterns the leftmost place is always a safe
 * choice, so there is no backtracking: one pass over the value per segment at most.
 */
function wildcardMatches(w: Wildcard, s: string): boolean {
  const seg = w.segments;
  if (seg.length === 1) return s === seg[0];
  const first = seg[0] as string;
  const last = seg[seg.length - 1] as string;
  if (s.length < first.length + last.length || !s.startsWith(first) || !s.endsWith(last)) return false;
  let pos = first.length;
  const end = s.length - last.length;
  for (let i = 1; i < seg.length - 1; i++) {
    const part = seg[i] as string;
    if (part === '') continue;
    const at = s.indexOf(part, pos);
    if (at === -1 || at + part.length > end) return false;
    pos = at + part.length;
  }
  return true;
}

const NUMERIC_OPS = new Set(['=', '<', '<=', '>', '>=']);

function str(v: unknown, at: string): string {
  if (typeof v !== 'string') throw new PatternError(`${at} must be a string`);
  if (v.length > PATTERN_LIMITS.string) throw new PatternError(`${at} is longer than ${PATTERN_LIMITS.string}`);
  return v;
}

/** Why a pattern is refused: names the field. */
export class PatternError extends Error {}

/** Compiles a matcher value (one entry of a field's list). */
function matcher(m: unknown, at: string, budget: { left: number }): Matcher {
  if (--budget.left < 0) throw new PatternError(`${at}: the pattern has more than ${PATTERN_LIMITS.matchers} matchers`);
  if (m === null || typeof m === 'boolean') return { k: 'literal', v: m };
  if (typeof m === 'string') return { k: 'literal', v: str(m, at) };
  if (typeof m === 'number') {
    if (!Number.isFinite(m)) throw new PatternError(`${at} must be a finite number`);
    return { k: 'literal', v: m };
  }
  if (!isObject(m)) throw new PatternError(`${at} must be a string, number, boolean, null or a matcher object`);
  const keys = Object.keys(m);
  if (keys.length !== 1) throw new PatternError(`${at} must have exactly one matcher key, got ${keys.length}`);
  const key = keys[0] as string;
  const v = m[key];
  const here = `${at}.${key}`;
  switch (key) {
    case 'exists':
      if (typeof v !== 'boolean') throw new PatternError(`${here} must be true or false`);
      return { k: 'exists', v };
    case 'equals-ignore-case':
      return { k: 'eqic', v: str(v, here).toLowerCase() };
    case 'prefix':
    case 'suffix': {
      if (isObject(v)) {
        const inner = Object.keys(v);
        if (inner.length !== 1 || inner[0] !== 'equals-ignore-case') {
          throw new PatternError(`${here} must be a string or {"equals-ignore-case": "…"}`);
        }
        return {
          k: key,
          v: str(v['equals-ignore-case'], `${here}.equals-ignore-case`).toLowerCase(),
          ignoreCase: true,
        };
      }
      return { k: key, v: str(v, here), ignoreCase: false };
    }
    case 'wildcard': {
      const w = parseWildcard(str(v, here));
      if (typeof w === 'string') throw new PatternError(`${here}: ${w}`);
      return { k: 'wildcard', w };
    }
    case 'numeric':
      return numeric(v, here);
    case 'anything-but':
      return anythingBut(v, here, budget);
    case 'cidr':
      throw new PatternError(`${here}: cidr matching is not supported (epilot does not document it for flows)`);
    default:
      throw new PatternError(
        `${here}: unknown matcher (use equals-ignore-case, anything-but, numeric, exists, prefix, suffix or wildcard)`,
      );
  }
}

function numeric(v: unknown, at: string): Matcher {
  if (!Array.isArray(v) || (v.length !== 2 && v.length !== 4)) {
    throw new PatternError(`${at} must be [operator, number] or a range [">"|">=", low, "<"|"<=", high]`);
  }
  const tests: Array<[string, number]> = [];
  for (let i = 0; i < v.length; i += 2) {
    const op = v[i];
    const n = v[i + 1];
    if (typeof op !== 'string' || !NUMERIC_OPS.has(op)) {
      throw new PatternError(`${at}[${i}] must be one of =, <, <=, >, >=`);
    }
    if (typeof n !== 'number' || !Number.isFinite(n) || Math.abs(n) > NUMERIC_LIMIT) {
      throw new PatternError(`${at}[${i + 1}] must be a number between -5e9 and 5e9`);
    }
    tests.push([op, n]);
  }
  if (tests.length === 2) {
    const [[lowOp, low], [highOp, high]] = tests as [[string, number], [string, number]];
    if (!(lowOp === '>' || lowOp === '>=') || !(highOp === '<' || highOp === '<=') || !(low < high)) {
      throw new PatternError(`${at} must be a range: [">" or ">=", low, "<" or "<=", high] with low < high`);
    }
  }
  return { k: 'numeric', tests };
}

function anythingBut(v: unknown, at: string, budget: { left: number }): Matcher {
  if (typeof v === 'string' || typeof v === 'number') return anythingBut([v], at, budget);
  if (Array.isArray(v)) {
    if (v.length === 0 || v.length > PATTERN_LIMITS.values) {
      throw new PatternError(`${at} must list 1 to ${PATTERN_LIMITS.values} values`);
    }
    const allStrings = v.every((x) => typeof x === 'string');
    const allNumbers = v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!allStrings && !allNumbers) throw new PatternError(`${at} must list only strings or only numbers`);
    if (allStrings) for (const [i, x] of v.entries()) str(x, `${at}[${i}]`);
    return { k: 'anything-but', not: [], values: new Set(v as Array<string | number>) };
  }
  if (isObject(v)) {
    const keys = Object.keys(v);
    const key = keys[0];
    if (keys.length !== 1 || !['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(key as string)) {
      throw new PatternError(
        `${at} must be a value, a list, or one of {prefix}, {suffix}, {equals-ignore-case}, {wildcard}`,
      );
    }
    const inner = v[key as string];
    const list = Array.isArray(inner) && (key === 'equals-ignore-case' || key === 'wildcard') ? inner : [inner];
    if (list.length === 0 || list.length > PATTERN_LIMITS.values) {
      throw new PatternError(`${at}.${key} must list 1 to ${PATTERN_LIMITS.values} values`);
    }
    return { k: 'anything-but', not: list.map((x, i) => matcher({ [key as string]: x }, `${at}[${i}]`, budget)) };
  }
  throw new PatternError(
    `${at} must be a value, a list, or one of {prefix}, {suffix}, {equals-ignore-case}, {wildcard}`,
  );
}

function fieldPath(key: string, at: string): string[] {
  const path = key.split('.');
  if (path.some((p) => p === '')) throw new PatternError(`${at}: "${key}" is not a field name or dotted path`);
  return path;
}

function childOf(node: Node, key: string): Node {
  let child = node.children.get(key);
  if (!child) {
    child = newNode();
    node.children.set(key, child);
  }
  return child;
}

/** Compiles a pattern object into `node`, merging dotted keys into the same tree as nested ones. */
function compileInto(node: Node, p: unknown, at: string, depth: number, budget: { left: number }): void {
  if (!isObject(p)) throw new PatternError(`${at} must be an object of fields`);
  if (depth > PATTERN_LIMITS.depth) throw new PatternError(`${at} nests deeper than ${PATTERN_LIMITS.depth} levels`);
  for (const [key, value] of Object.entries(p)) {
    const here = at ? `${at}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length === 0) throw new PatternError(`${here} must be a list of patterns`);
      node.ors.push(
        value.map((alt, i) => {
          const n = newNode();
          compileInto(n, alt, `${here}[${i}]`, depth + 1, budget);
          return n;
        }),
      );
      continue;
    }
    const path = fieldPath(key, here);
    let target = node;
    for (const seg of path.slice(0, -1)) {
      target = childOf(target, seg);
    }
    const last = path[path.length - 1] as string;
    if (Array.isArray(value)) {
      if (value.length === 0 || value.length > PATTERN_LIMITS.values) {
        throw new PatternError(`${here} must list 1 to ${PATTERN_LIMITS.values} values`);
      }
      const list = value.map((m, i) => matcher(m, `${here}[${i}]`, budget));
      const lists = target.leaves.get(last) ?? [];
      lists.push(list);
      target.leaves.set(last, lists);
    } else if (isObject(value)) {
      compileInto(childOf(target, last), value, here, depth + 1, budget);
    } else {
      throw new PatternError(`${here} must be a list of values or an object of fields`);
    }
  }
}

/** A checked, compiled event pattern. Throws `PatternError` naming the field (`at` prefixes it). */
export function compilePattern(pattern: unknown, at = ''): Node {
  const node = newNode();
  compileInto(node, pattern, at, 1, { left: PATTERN_LIMITS.matchers });
  return node;
}

/** The leaf values of a field: arrays flattened (iteratively), objects left out (they are not leaves). */
function leafValues(v: unknown): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return isObject(v) ? [] : [v];
  const out: unknown[] = [];
  const stack: unknown[] = [v];
  while (stack.length) {
    const x = stack.pop();
    if (Array.isArray(x)) for (let i = x.length - 1; i >= 0; i--) stack.push(x[i]);
    else if (x !== undefined && !isObject(x)) out.push(x);
  }
  return out;
}

/** The elements of a (possibly nested) array, flattened iteratively. */
function elements(v: unknown[]): unknown[] {
  const out: unknown[] = [];
  const stack: unknown[] = [v];
  while (stack.length) {
    const x = stack.pop();
    if (Array.isArray(x)) for (let i = x.length - 1; i >= 0; i--) stack.push(x[i]);
    else out.push(x);
  }
  return out;
}

function matchOne(m: Matcher, values: unknown[]): boolean {
  switch (m.k) {
    case 'exists':
      return m.v ? values.length > 0 : values.length === 0;
    case 'literal':
      return values.some((x) => x === m.v);
    case 'eqic':
      return values.some((x) => typeof x === 'string' && x.toLowerCase() === m.v);
    case 'prefix':
      return values.some((x) => typeof x === 'string' && (m.ignoreCase ? x.toLowerCase() : x).startsWith(m.v));
    case 'suffix':
      return values.some((x) => typeof x === 'string' && (m.ignoreCase ? x.toLowerCase() : x).endsWith(m.v));
    case 'wildcard':
      return values.some((x) => typeof x === 'string' && wildcardMatches(m.w, x));
    case 'numeric':
      return values.some((x) => typeof x === 'number' && m.tests.every(([op, n]) => compare(x, op, n)));
    case 'anything-but':
      return values.some((x) =>
        m.values ? !m.values.has(x as string | number) : !m.not.some((inner) => matchOne(inner, [x])),
      );
  }
}

function compare(x: number, op: string, n: number): boolean {
  switch (op) {
    case '=':
      return x === n;
    case '<':
      return x < n;
    case '<=':
      return x <= n;
    case '>':
      return x > n;
    default:
      return x >= n;
  }
}

function own(v: unknown, key: string): unknown {
  return isObject(v) && Object.hasOwn(v, key) ? v[key] : undefined;
}

/** Whether `node` matches `value`: an array matches when one of its elements does. */
function matchNode(node: Node, value: unknown): boolean {
  if (Array.isArray(value)) {
    const items = elements(value);
    return items.length === 0 ? matchFields(node, undefined) : items.some((x) => matchFields(node, x));
  }
  return matchFields(node, value);
}

function matchFields(node: Node, value: unknown): boolean {
  for (const [key, lists] of node.leaves) {
    const values = leafValues(own(value, key));
    for (const list of lists) if (!list.some((m) => matchOne(m, values))) return false;
  }
  for (const [key, child] of node.children) if (!matchNode(child, own(value, key))) return false;
  for (const alts of node.ors) if (!alts.some((alt) => matchFields(alt, value))) return false;
  return true;
}

const compiled = new WeakMap<object, Node>();

/**
 * Whether `event` matches the EventBridge `pattern`. A pattern is compiled once per object (flows
 * are read once per batch of events); an invalid pattern (never saved: flows are checked) matches nothing.
 */
export function matchesPattern(pattern: object, event: unknown): boolean {
  let node = compiled.get(pattern);
  if (!node) {
    try {
      node = compilePattern(pattern);
    } catch {
      return false;
    }
    compiled.set(pattern, node);
  }
  return matchNode(node, event);
}

// ---------------------------------------------------------------------------------------------
// Reading values by path

/** Every value at a dotted `path` of `root`: arrays on the way (and at the end) are flattened. */
export function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const seg of path.split('.')) {
    const next: unknown[] = [];
    for (const v of current) {
      for (const x of Array.isArray(v) ? elements(v) : [v]) {
        const got = own(x, seg);
        if (got !== undefined) next.push(got);
      }
    }
    current = next;
    if (current.length === 0) return [];
  }
  return current.flatMap((v) => (Array.isArray(v) ? elements(v) : [v]));
}

const isEmptyValue = (v: unknown) =>
  v === undefined || v === null || v === '' || (isObject(v) && Object.keys(v).length === 0);

const scalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Loose scalar equality: form values are strings, entity values may be numbers or booleans. */
const sameScalar = (a: unknown, b: unknown) => scalar(a) && scalar(b) && String(a) === String(b);

// ---------------------------------------------------------------------------------------------
// Trigger conditions

/** Whether every one of the flow's `trigger_conditions` holds for the entity. */
export function triggerConditionsHold(
  conditions: readonly TriggerCondition[] | undefined,
  entity: EntityItem,
): boolean {
  return (conditions ?? []).every((c) => {
    const values = valuesAt(entity, c.source);
    const empty = values.every(isEmptyValue);
    switch (c.comparison) {
      case 'is_empty':
        return empty;
      case 'not_empty':
        return !empty;
      case 'equals':
        return values.some((v) => sameScalar(v, c.value));
      case 'any_of': {
        const wanted = Array.isArray(c.value) ? c.value : [c.value];
        return values.some((v) => wanted.some((w) => sameScalar(v, w)));
      }
      default:
        return false;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Action conditions (branching)

const POSITIVE: Record<string, string> = {
  not_equals: 'equals',
  none_of: 'any_of',
  not_contains: 'contains',
  is_not_empty: 'is_empty',
};

function number(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function time(v: unknown): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const t = typeof v === 'number' ? v : Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

/** Orders `item` against `wanted` by the attribute's type: dates as times, everything else as numbers. */
function order(item: unknown, wanted: string, type: string | undefined): number | undefined {
  const [a, b] = type === 'date' || type === 'datetime' ? [time(item), time(wanted)] : [number(item), number(wanted)];
  return a === undefined || b === undefined ? undefined : a - b;
}

function itemHolds(op: string, item: unknown, values: readonly string[], type: string | undefined): boolean {
  const text = scalar(item) ? String(item) : undefined;
  switch (op) {
    case 'equals':
    case 'any_of':
      return values.some((v) =>
        type === 'number' || type === 'price'
          ? number(item) !== undefined && number(item) === number(v)
          : text !== undefined && text === v,
      );
    case 'contains':
      return text !== undefined && values.some((v) => text.includes(v));
    case 'starts_with':
      return text !== undefined && values.some((v) => text.startsWith(v));
    case 'ends_with':
      return text !== undefined && values.some((v) => text.endsWith(v));
    case 'greater_than':
    case 'less_than':
    case 'greater_than_or_equals':
    case 'less_than_or_equals': {
      const d = order(item, values[0] as string, type);
      if (d === undefined) return false;
      return op === 'greater_than'
        ? d > 0
        : op === 'less_than'
          ? d < 0
          : op === 'greater_than_or_equals'
            ? d >= 0
            : d <= 0;
    }
    default:
      return false;
  }
}

/** The operand of a statement: the trigger entity's attribute, or an earlier action's output. */
function operand(s: FlowConditionStatement, exec: Pick<Execution, 'entity_snapshot' | 'actions'>): unknown[] {
  const attribute = s.source?.attribute ?? '';
  if (s.source?.origin === 'action') {
    const action = exec.actions.find((a) => a.id === s.source?.id || a.flow_action_id === s.source?.id);
    return action?.outputs ? valuesAt(action.outputs, attribute) : [];
  }
  return valuesAt(exec.entity_snapshot, attribute);
}

/** Whether one statement holds. An operand with several values (a list) holds for one of them, or each with `repeatableItemOp`. */
export function statementHolds(
  s: FlowConditionStatement,
  exec: Pick<Execution, 'entity_snapshot' | 'actions'>,
): boolean {
  const items = operand(s, exec);
  const op = s.operation ?? '';
  const positive = POSITIVE[op] ?? op;
  let held: boolean;
  if (positive === 'is_empty') held = items.every(isEmptyValue);
  else {
    const test = (x: unknown) => itemHolds(positive, x, s.values ?? [], s.source?.attributeType);
    held = s.source?.repeatableItemOp ? items.length > 0 && items.every(test) : items.some(test);
  }
  return positive === op ? held : !held;
}

/** Whether a condition holds: all its statements do (an empty condition holds). */
export function conditionHolds(c: FlowCondition, exec: Pick<Execution, 'entity_snapshot' | 'actions'>): boolean {
  return (c.statements ?? []).every((s) => statementHolds(s, exec));
}

// ---------------------------------------------------------------------------------------------
// Schedules

const UNIT_MS = { minutes: 60_000, hours: 3_600_000, days: 86_400_000, weeks: 604_800_000 } as const;

function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d.getTime();
}

/**
 * When a scheduled action may be sent (ms), or why that cannot be computed. The source time is the
 * trigger's moment or a date attribute of the trigger entity (`origin: trigger`), the execution's
 * start (`origin: automation`), or when an earlier action ended (`origin: action`); the schedule
 * adds or subtracts `numberOfUnits` `timePeriod`s (months are calendar months, in UTC).
 */
export function scheduledTime(
  s: FlowSchedule,
  exec: Pick<Execution, 'entity_snapshot' | 'actions' | 'trigger' | 'created_at'>,
): { at: number } | { error: string } {
  const src = s.source;
  let base: number | undefined;
  if (src.origin === 'trigger' && src.attribute) {
    const raw = valuesAt(exec.entity_snapshot, src.attribute)[0];
    base = typeof raw === 'string' ? time(raw) : undefined;
    if (base === undefined) {
      return {
        error: `schedule ${s.id}: the entity's ${src.attribute} is not a date (${JSON.stringify(raw ?? null)})`,
      };
    }
  } else if (src.origin === 'trigger') base = time(exec.trigger.occurred_at);
  else if (src.origin === 'automation') base = time(exec.created_at);
  else if (src.origin === 'action') {
    const action = exec.actions.find((a) => a.id === src.id || a.flow_action_id === src.id);
    base =
      action?.updated_at && ['success', 'failed', 'skipped'].includes(action.execution_status)
        ? time(action.updated_at)
        : undefined;
    if (base === undefined) return { error: `schedule ${s.id}: action ${src.id} has not ended` };
  }
  if (base === undefined) return { error: `schedule ${s.id}: source ${src.origin} is not supported` };
  const n = s.numberOfUnits ?? 0;
  const sign = s.timeRelation === 'before' ? -1 : 1;
  const period = s.timePeriod ?? 'minutes';
  const at = period === 'months' ? addMonths(base, sign * n) : base + sign * n * UNIT_MS[period];
  if (!Number.isFinite(at) || Math.abs(at) > 8.64e15) return { error: `schedule ${s.id}: the time is out of range` };
  return { at };
}
