import { badRequest } from '../domain/errors.js';
import type { EntityItem } from '../domain/types.js';
import { compileGlob, type Pattern, STAR } from './query.js';

/** epilot's `fields` (FieldsParam): which attributes a search returns. */
export const MAX_FIELDS = 100;
/** What a `fields` list always returns when it names fields to include, unless excluded with `!`. */
export const ALWAYS_RETURNED = ['_id', '_schema', '_org'];

type Segment = '**' | ((key: string) => boolean);

function compile(field: string): Segment[] {
  return field.split('.').map((seg): Segment => {
    if (seg === '**') return '**';
    if (!seg.includes('*')) return (k) => k === seg;
    const pattern: Pattern = [];
    seg.split('*').forEach((lit, i) => {
      if (i > 0 && pattern.at(-1) !== STAR) pattern.push(STAR);
      if (lit) pattern.push(lit);
    });
    return compileGlob(pattern, false);
  });
}

/** Whether `p` matches the whole `path` (`*` one key, `**` any number of keys). */
function matchesAll(p: Segment[], path: string[], i = 0, j = 0): boolean {
  if (i === p.length) return j === path.length;
  const s = p[i] as Segment;
  if (s === '**') return matchesAll(p, path, i + 1, j) || (j < path.length && matchesAll(p, path, i, j + 1));
  return j < path.length && s(path[j] as string) && matchesAll(p, path, i + 1, j + 1);
}

/** Whether something below `path` could match `p`. */
function leadsTo(p: Segment[], path: string[], i = 0, j = 0): boolean {
  if (j === path.length) return i < p.length;
  if (i === p.length) return false;
  const s = p[i] as Segment;
  if (s === '**') return true;
  return s(path[j] as string) && leadsTo(p, path, i + 1, j + 1);
}

/**
 * Compiles `fields`: names (dotted paths) to include, `!name` to exclude, `*` for one key and `**`
 * for any depth; arrays are transparent, as in Elasticsearch's source filtering. Naming fields to
 * include also returns `_id`, `_schema` and `_org`, as epilot does. Undefined when nothing filters.
 */
export function fieldProjection(fields: unknown): ((e: EntityItem) => Record<string, unknown>) | undefined {
  if (fields === undefined || fields === null) return undefined;
  if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string' || f === '' || f === '!')) {
    throw badRequest('fields must be an array of attribute names (use !name to exclude one)');
  }
  if (fields.length > MAX_FIELDS) throw badRequest(`fields may name at most ${MAX_FIELDS} attributes`);
  if (fields.length === 0) return undefined;
  const includes = (fields as string[]).filter((f) => !f.startsWith('!')).map(compile);
  const excludes = (fields as string[]).filter((f) => f.startsWith('!')).map((f) => compile(f.slice(1)));
  const forced = new Set(includes.length > 0 ? ALWAYS_RETURNED : []);

  const pick = (v: unknown, path: string[], all: boolean): unknown => {
    if (Array.isArray(v)) {
      const items = v.map((x) => pick(x, path, all)).filter((x) => x !== undefined);
      return all || items.length > 0 ? items : undefined;
    }
    if (v === null || typeof v !== 'object') return all ? v : undefined;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = [...path, k];
      if (excludes.some((ex) => matchesAll(ex, p))) continue;
      const included = all || (path.length === 0 && forced.has(k)) || includes.some((inc) => matchesAll(inc, p));
      if (!included && !includes.some((inc) => leadsTo(inc, p))) continue;
      const r = pick(x, p, included);
      if (r !== undefined) out[k] = r;
    }
    return all || Object.keys(out).length > 0 ? out : undefined;
  };
  return (e) => (pick(e, [], includes.length === 0) as Record<string, unknown> | undefined) ?? {};
}
