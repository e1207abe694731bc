import { badRequest } from '../domain/errors.js';
import type { EntityItem, Grant } from '../domain/types.js';
import {
  COLUMN_FIELDS,
  type DeletedMode,
  type EntityMatch,
  type EntityScope,
  type EntitySearch,
  type EntitySort,
  indexText,
  leaves,
  pathVariants,
  prefixEnd,
} from '../store/entities.js';
import { fieldProjection } from './fields.js';
import { compileGlob, type Pattern, parseQuery, type QueryNode, STAR } from './query.js';

/** epilot: "Max search size is 1000 with higher values defaulting to 1000". */
export const MAX_SIZE = 1000;
const DEFAULT_SIZE = 10;
const MAX_FROM = 1_000_000;
const MAX_SORT_KEYS = 8;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const asNumber = (v: string) => (NUMBER.test(v) ? Number(v) : undefined);

/** The parameters of epilot's `EntitySearchParams` we know, and why some are refused. */
const REFUSED: Record<string, (v: unknown) => string | undefined> = {
  aggs: () => 'aggs (aggregations) is not supported',
  highlight: () => 'highlight is not supported',
  search_after: () => 'search_after is not supported: page with from and size',
  stable_for: () => 'stable_for (stable query contexts) is not supported',
  stable_query_id: () => 'stable_query_id (stable query contexts) is not supported',
  hydrate: (v) =>
    v === true || v === 'true'
      ? 'hydrate is not supported on searchEntities: read relations with getEntity or getRelations (hydrate=true)'
      : undefined,
  include_scores: (v) =>
    v === true || v === 'true' ? 'include_scores is not supported: results are not scored' : undefined,
};
const KNOWN = new Set(['q', 'sort', 'from', 'size', 'fields', 'include_deleted', ...Object.keys(REFUSED)]);

/** epilot's `include_deleted` ("true", "false", "only"; booleans too): which entities a search sees. */
function deletedMode(v: unknown): DeletedMode {
  if (v === undefined || v === null || v === false || v === 'false') return 'exclude';
  if (v === true || v === 'true') return 'include';
  if (v === 'only') return 'only';
  throw badRequest('include_deleted must be "true", "false" or "only"');
}

/** Term values longer than the index keeps compare by their indexed start (see store/entities.ts). */
function eqMatch(paths: string[], value: string | number | boolean): EntityMatch {
  const num = typeof value === 'number' ? value : typeof value === 'string' ? asNumber(value) : undefined;
  return { op: 'eq', paths, text: indexText(String(value)), ...(num === undefined ? {} : { num }) };
}

function literal(pattern: Pattern): string | undefined {
  return pattern.every((p) => typeof p === 'string') ? (pattern as string[]).join('') : undefined;
}

const columnOf = (field: string) =>
  Object.hasOwn(COLUMN_FIELDS, field) ? COLUMN_FIELDS[field as keyof typeof COLUMN_FIELDS] : undefined;

/**
 * `_id`, `_schema`, `_created_at` and `_updated_at` are columns: exact values (ids and slugs
 * lowercased), prefixes and ranges. A date without a time matches by prefix, so
 * `_created_at:2026-01-31` is that day, as in Elasticsearch.
 */
function columnMatch(node: QueryNode, column: NonNullable<ReturnType<typeof columnOf>>): EntityMatch {
  const norm = (v: string) => (column === 'id' || column === 'schema' ? v.toLowerCase() : v);
  const prefix = (p: string): EntityMatch => {
    const end = prefixEnd(p);
    return {
      op: 'columnRange',
      column,
      lo: { value: p, incl: true },
      ...(end ? { hi: { value: end, incl: false } } : {}),
    };
  };
  if (node.type === 'exists') return { op: 'all' };
  if (node.type === 'range') {
    return {
      op: 'columnRange',
      column,
      ...(node.lo === null ? {} : { lo: { value: norm(node.lo), incl: node.loIncl } }),
      ...(node.hi === null ? {} : { hi: { value: norm(node.hi), incl: node.hiIncl } }),
    };
  }
  if (node.type !== 'term') throw new Error(`not a field node: ${node.type}`);
  const text = literal(node.pattern);
  if (text !== undefined) {
    return column === 'created_at' || column === 'updated_at'
      ? prefix(text)
      : { op: 'column', column, value: norm(text) };
  }
  const [head, star] = node.pattern;
  if (node.pattern.length === 2 && typeof head === 'string' && star === STAR) return prefix(norm(head));
  const field = Object.keys(COLUMN_FIELDS).find((k) => COLUMN_FIELDS[k as keyof typeof COLUMN_FIELDS] === column);
  throw badRequest(`unsupported search syntax: on ${field}, only exact values, prefixes (value*) and ranges`);
}

/** Plans one node of a parsed query as index lookups. */
function toMatch(node: QueryNode, orgId: string): EntityMatch {
  const column = 'field' in node && node.field !== null ? columnOf(node.field) : undefined;
  if (column) return columnMatch(node, column);
  switch (node.type) {
    case 'all':
      return { op: 'all' };
    case 'and':
    case 'or':
      return { op: node.type, items: node.items.map((x) => toMatch(x, orgId)) };
    case 'not':
      return { op: 'not', item: toMatch(node.item, orgId) };
    case 'exists':
      return node.field === '_org' ? { op: 'all' } : { op: 'exists', paths: pathVariants(node.field) };
    case 'range': {
      if (node.field === '_org') throw badRequest('_org can only be matched exactly');
      const { lo, hi } = node;
      const numeric = (lo === null || asNumber(lo) !== undefined) && (hi === null || asNumber(hi) !== undefined);
      const bound = (v: string | null, incl: boolean) =>
        v === null ? undefined : { value: numeric ? (asNumber(v) as number) : v.toLowerCase(), incl };
      const l = bound(lo, node.loIncl);
      const h = bound(hi, node.hiIncl);
      return {
        op: 'range',
        paths: pathVariants(node.field),
        on: numeric ? 'num' : 'text',
        ...(l ? { lo: l } : {}),
        ...(h ? { hi: h } : {}),
      };
    }
    case 'term': {
      const { field, pattern } = node;
      const text = literal(pattern);
      if (field === null) {
        // A bare word or phrase: inside any value, as a substring.
        return { op: 'scan', paths: null, prefix: '', test: compileGlob([STAR, ...pattern, STAR]) };
      }
      if (field === '_org') {
        if (text === undefined) throw badRequest('_org can only be matched exactly');
        return text === orgId ? { op: 'all' } : { op: 'none' };
      }
      if (text !== undefined) return eqMatch(pathVariants(field), text);
      const paths = pathVariants(field);
      const [head] = pattern;
      const lead = typeof head === 'string' ? head.toLowerCase() : '';
      if (pattern.length === 2 && pattern[1] === STAR && lead) return { op: 'prefix', paths, prefix: lead };
      return { op: 'scan', paths, prefix: lead, test: compileGlob(pattern) };
    }
  }
}

/** `sort`: `"field"`, `"field:asc"`, `"field:desc"`, comma-separated or an array of them. */
export function parseSort(sort: unknown): EntitySort[] {
  if (sort === undefined || sort === null) return [];
  const list = typeof sort === 'string' ? [sort] : sort;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) {
    throw badRequest('sort must be a string or an array of strings like "field:asc"');
  }
  const specs = (list as string[])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (specs.length > MAX_SORT_KEYS) throw badRequest(`sort may name at most ${MAX_SORT_KEYS} fields`);
  return specs.map((spec) => {
    const m = /^([^:\s]+)(?::(asc|desc))?$/i.exec(spec);
    if (!m?.[1]) throw badRequest(`sort must look like "field", "field:asc" or "field:desc", got "${spec}"`);
    const field = m[1];
    if (field === '_score') throw badRequest('sort by _score is not supported: results are not scored');
    const desc = m[2]?.toLowerCase() === 'desc';
    const column = columnOf(field);
    if (column) return { key: { column }, desc };
    return { key: { path: pathVariants(field).at(-1) ?? field }, desc };
  });
}

/** The entities `grants` let a principal view, as a store scope (the same rules as auth/grants.ts). */
export function viewScope(grants: readonly Grant[]): EntityScope {
  const scope: EntityScope = { allow: [], deny: [] };
  for (const g of grants) {
    if (g.action !== 'entity:view' && g.action !== 'entity:*') continue;
    const r = g.resource;
    let rule: { schema?: string; id?: string } = {};
    if (r !== undefined && r !== '*') {
      const colon = r.indexOf(':');
      if (colon === -1) rule = { schema: r };
      else {
        const [s, id] = [r.slice(0, colon), r.slice(colon + 1)];
        rule = { ...(s !== '*' ? { schema: s } : {}), ...(id !== '*' ? { id } : {}) };
      }
    }
    (g.effect === 'deny' ? scope.deny : scope.allow).push(rule);
  }
  return scope;
}

const int = (v: unknown, name: string, max: number, dflt: number) => {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badRequest(`${name} must be an integer ≥ 0`);
  if (v > max) throw badRequest(`${name} must be at most ${max}`);
  return v;
};

/**
 * Checks a `POST /v1/entity:search` body (epilot's `EntitySearchParams`) and plans it: the store
 * search and the projection of `fields`. Unknown and unsupported parameters are a 400 naming them.
 */
export function planSearch(
  body: unknown,
  grants: readonly Grant[],
  orgId: string,
): { search: EntitySearch; project?: (e: EntityItem) => Record<string, unknown> } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the body must be a JSON object with q');
  }
  const b = body as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    if (!KNOWN.has(k)) throw badRequest(`unknown search parameter "${k}"`);
    const why = REFUSED[k]?.(v);
    if (why) throw badRequest(why);
  }
  if (typeof b.q !== 'string') throw badRequest('q must be a string (a Lucene query; * matches everything)');
  const match = toMatch(parseQuery(b.q), orgId);
  const size = Math.min(int(b.size, 'size', Number.MAX_SAFE_INTEGER, DEFAULT_SIZE), MAX_SIZE);
  const from = int(b.from, 'from', MAX_FROM, 0);
  const project = fieldProjection(b.fields);
  return {
    search: {
      match,
      scope: viewScope(grants),
      deleted: deletedMode(b.include_deleted),
      sort: parseSort(b.sort),
      from,
      size,
    },
    ...(project ? { project } : {}),
  };
}

/**
 * The lookup of an upsert's `unique_key`: entities of the schema with, for each key, a leaf equal
 * (as indexed) to the first scalar of the sent value. The service then compares the candidates
 * exactly; keys whose value holds no scalar (null, [], {}) cannot be looked up and are a 400.
 */
export function uniqueKeyMatch(slug: string, wanted: ReadonlyArray<readonly [string, unknown]>): EntityMatch {
  const items: EntityMatch[] = [{ op: 'column', column: 'schema', value: slug }];
  for (const [key, value] of wanted) {
    const column = columnOf(key);
    if (column) {
      if (typeof value !== 'string') throw badRequest(`unique_key "${key}" must be a string`);
      items.push({ op: 'column', column, value });
      continue;
    }
    const first = leaves(value).at(0);
    if (!first) throw badRequest(`unique_key "${key}" is null or empty: it cannot identify an entity`);
    const [rel, leaf] = first;
    items.push(eqMatch(pathVariants(rel ? `${key}.${rel}` : key), leaf));
  }
  return { op: 'and', items };
}
