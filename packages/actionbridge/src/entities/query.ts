import { badRequest } from '../domain/errors.js';
import type { EntityItem } from '../domain/types.js';

/** A case-insensitive glob (`*` = any run of characters), matched without regex backtracking. */
interface Glob {
  test(s: string): boolean;
}

type Term = { kind: 'all' } | { kind: 'field'; path: string[]; pattern: Glob } | { kind: 'text'; pattern: Glob };

/** A parsed search `q`: the Lucene subset ActionBridge supports, terms joined by AND. */
export interface EntityQuery {
  terms: Term[];
  /** `_schema:<slug>` when the query pins one schema, so the store can narrow the scan. */
  schema?: string;
}

/**
 * Compiles a `*` pattern. Matching is the greedy two-pointer walk that backtracks only to the last
 * `*`: O(pattern × text) at worst, where a RegExp of `.*` chains is exponential
 * (`*a*a*a*a*a*a*a*a*a*a*b` against 40 `a`s blocked the event loop for 21 s as a RegExp).
 */
function wildcard(value: string): Glob {
  const p = value.toLowerCase();
  return {
    test(input: string) {
      const s = input.toLowerCase();
      let i = 0;
      let j = 0;
      let star = -1;
      let mark = 0;
      while (i < s.length) {
        if (j < p.length && p[j] !== '*' && p[j] === s[i]) {
          i++;
          j++;
        } else if (j < p.length && p[j] === '*') {
          star = j++;
          mark = i;
        } else if (star !== -1) {
          j = star + 1;
          i = ++mark;
        } else {
          return false;
        }
      }
      while (j < p.length && p[j] === '*') j++;
      return j === p.length;
    },
  };
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v.replace(/\\(.)/g, '$1');
}

/**
 * Parses `q`: `*`, `field:value` (value may be quoted or use `*` wildcards; `a.b` reaches into
 * nested objects; arrays match when any element does), bare words (match any string attribute),
 * joined by `AND`. Anything else (OR, NOT, ranges, groups) is refused with a 400 naming it.
 */
export function parseQuery(q: string): EntityQuery {
  const text = q.trim();
  if (text === '') throw badRequest('q must not be empty (use * to match everything)');
  const parts = text.split(/\s+AND\s+/);
  const terms: Term[] = [];
  let schema: string | undefined;
  for (const raw of parts) {
    const part = raw.trim();
    if (/^(OR|NOT)$|\s(OR|NOT)\s|^NOT\s|[()[\]{}]|\bTO\b/.test(part)) {
      throw badRequest(`unsupported query syntax in "${part}": only field:value, * and AND are supported`);
    }
    if (part === '*' || part === '*:*') {
      terms.push({ kind: 'all' });
      continue;
    }
    const m = /^([A-Za-z0-9_.$-]+):(.+)$/.exec(part);
    if (m?.[1] && m[2]) {
      const value = unquote(m[2].trim());
      if (m[1] === '_schema' && !value.includes('*')) schema = value;
      terms.push({ kind: 'field', path: m[1].split('.'), pattern: wildcard(value) });
      continue;
    }
    if (/\s/.test(unquote(part)) && !part.startsWith('"')) {
      throw badRequest(`unsupported query syntax in "${part}": join terms with AND`);
    }
    terms.push({ kind: 'text', pattern: wildcard(`*${unquote(part)}*`) });
  }
  return schema === undefined ? { terms } : { terms, schema };
}

function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  if (path.length === 0) return Array.isArray(value) ? value.flatMap((v) => valuesAt(v, [])) : [value];
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, path));
  if (value === null || typeof value !== 'object') return [];
  const [head, ...rest] = path as [string, ...string[]];
  return valuesAt((value as Record<string, unknown>)[head], rest);
}

const scalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

function anyString(value: unknown, pattern: Glob): boolean {
  if (scalar(value)) return pattern.test(String(value));
  if (Array.isArray(value)) return value.some((v) => anyString(v, pattern));
  if (value && typeof value === 'object') return Object.values(value).some((v) => anyString(v, pattern));
  return false;
}

export function matches(entity: EntityItem, query: EntityQuery): boolean {
  return query.terms.every((t) => {
    if (t.kind === 'all') return true;
    if (t.kind === 'text') return anyString(entity, t.pattern);
    return valuesAt(entity, t.path).some((v) => scalar(v) && t.pattern.test(String(v)));
  });
}

/** Sorts by `field[:asc|desc]` (default `_created_at:desc`); missing values sort last. */
export function sortEntities(list: EntityItem[], sort: string | undefined): EntityItem[] {
  const spec = (sort ?? '_created_at:desc').trim();
  const m = /^([A-Za-z0-9_.$-]+)(?::(asc|desc))?$/.exec(spec);
  if (!m?.[1]) throw badRequest(`sort must look like "field" or "field:asc|desc", got "${spec}"`);
  const path = m[1].split('.');
  const dir = m[2] === 'desc' ? -1 : 1;
  const key = (e: EntityItem) => valuesAt(e, path).find(scalar);
  return [...list].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir;
    return String(x).localeCompare(String(y)) * dir;
  });
}
