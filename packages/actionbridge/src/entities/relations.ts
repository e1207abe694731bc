import { badRequest } from '../domain/errors.js';
import type { EntityItem, RelationItem } from '../domain/types.js';

/**
 * epilot's relations as entity attributes: `{ <attribute>: { $relation: [{ entity_id, _tags? }] } }`
 * on a top-level attribute. Pure functions: checking what a write sends, reading an entity's
 * relation items, changing them (the Relations API) and hydrating them in place.
 */

/** Relation items one entity may hold, over all its relation attributes. */
export const MAX_RELATIONS = 1000;
/** `_tags` per relation item, and the longest tag. */
export const MAX_RELATION_TAGS = 50;
export const MAX_TAG_LENGTH = 256;
/** Entity ids are lowercase UUIDs (`newUuid`); anything else can never name one. */
export const ENTITY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What a relation attribute may be called: letters, digits, `_`, `.`, `-`; not a system field (`_…`); at most 200. */
export const RELATION_ATTRIBUTE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

const ITEM_KEYS = new Set(['entity_id', '_tags', '_schema']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Whether an attribute value is a relation value (`{ $relation: [...] }`). */
export const isRelationValue = (v: unknown): v is { $relation: unknown[] } => isObject(v) && Array.isArray(v.$relation);

/** Finds `$relation` / `$relation_ref` keys anywhere inside `v` (iteratively: bodies are at most 64 levels deep). */
function nestedRelationKey(v: unknown, path: string): string | undefined {
  const stack: Array<[unknown, string]> = [[v, path]];
  while (stack.length > 0) {
    const [x, at] = stack.pop() as [unknown, string];
    if (Array.isArray(x)) {
      for (const [i, item] of x.entries()) stack.push([item, `${at}[${i}]`]);
    } else if (isObject(x)) {
      for (const [k, item] of Object.entries(x)) {
        if (k === '$relation' || k === '$relation_ref') return `${at}.${k}`;
        stack.push([item, `${at}.${k}`]);
      }
    }
  }
  return undefined;
}

function checkItem(item: unknown, at: string): RelationItem & { attribute: string } {
  if (!isObject(item)) throw badRequest(`${at} must be an object {entity_id, _tags?}`);
  for (const k of Object.keys(item)) {
    if (!ITEM_KEYS.has(k))
      throw badRequest(`${at}.${k} is not supported (a relation item has entity_id, _tags, _schema)`);
  }
  const id = item.entity_id;
  if (typeof id !== 'string' || !ENTITY_ID.test(id))
    throw badRequest(`${at}.entity_id must be an entity id (a lowercase UUID)`);
  const tags = item._tags;
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t.length > MAX_TAG_LENGTH)) {
      throw badRequest(`${at}._tags must be an array of strings of at most ${MAX_TAG_LENGTH} characters`);
    }
    if (tags.length > MAX_RELATION_TAGS) throw badRequest(`${at}._tags may hold at most ${MAX_RELATION_TAGS} tags`);
  }
  const schema = item._schema;
  if (schema !== undefined && (typeof schema !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(schema))) {
    throw badRequest(`${at}._schema must be an entity schema slug`);
  }
  return {
    attribute: '',
    entity_id: id,
    ...(Array.isArray(tags) ? { _tags: tags as string[] } : {}),
    ...(typeof schema === 'string' ? { _schema: schema } : {}),
  };
}

/**
 * Checks the relation attributes of a write's user attributes: each is `{ $relation: [items] }`
 * with well-formed items, no entity twice in one attribute, at most {@link MAX_RELATIONS} in all;
 * `$relation` anywhere else, and `$relation_ref` (references into another entity's attribute), are
 * refused. Returns the items, in document order. 400 naming the field otherwise.
 */
export function checkRelations(attrs: Record<string, unknown>): RelationItem[] {
  const out: RelationItem[] = [];
  for (const [attribute, value] of Object.entries(attrs)) {
    if (isObject(value) && ('$relation' in value || '$relation_ref' in value)) {
      if ('$relation_ref' in value) {
        throw badRequest(`${attribute}.$relation_ref is not supported: relation references are not resolved here`);
      }
      if (attribute.startsWith('_') || !RELATION_ATTRIBUTE.test(attribute)) {
        throw badRequest(
          `${attribute.slice(0, 200)}: a relation attribute is named with letters, digits, _ . - (at most 200), and is not a system field (_…)`,
        );
      }
      const extra = Object.keys(value).find((k) => k !== '$relation');
      if (extra) throw badRequest(`${attribute}.${extra}: a relation attribute holds only $relation`);
      const list = value.$relation;
      if (!Array.isArray(list)) throw badRequest(`${attribute}.$relation must be an array of {entity_id, _tags?}`);
      const seen = new Set<string>();
      list.forEach((item, i) => {
        const checked = checkItem(item, `${attribute}.$relation[${i}]`);
        if (seen.has(checked.entity_id)) {
          throw badRequest(`${attribute}.$relation[${i}]: entity ${checked.entity_id} is listed twice`);
        }
        seen.add(checked.entity_id);
        out.push({ ...checked, attribute });
        if (out.length > MAX_RELATIONS) throw badRequest(`an entity may hold at most ${MAX_RELATIONS} relations`);
      });
      continue;
    }
    const nested = nestedRelationKey(value, attribute);
    if (nested) {
      throw badRequest(
        `${nested}: relations are only supported as the value of a top-level attribute ({"<attribute>": {"$relation": [...]}})`,
      );
    }
  }
  return out;
}

/** The relation items of a stored entity, in document order (items that are not well formed are skipped). */
export function relationItems(e: Record<string, unknown>): RelationItem[] {
  const out: RelationItem[] = [];
  for (const [attribute, value] of Object.entries(e)) {
    if (attribute.startsWith('_') || !isRelationValue(value)) continue;
    for (const item of value.$relation) {
      if (!isObject(item) || typeof item.entity_id !== 'string') continue;
      out.push({
        attribute,
        entity_id: item.entity_id,
        ...(Array.isArray(item._tags) ? { _tags: item._tags as string[] } : {}),
        ...(typeof item._schema === 'string' ? { _schema: item._schema } : {}),
      });
    }
  }
  return out;
}

export const sameRelations = (a: readonly RelationItem[], b: readonly RelationItem[]) =>
  JSON.stringify(a) === JSON.stringify(b);

/** An item as stored inside `$relation` (without its attribute). */
export const storedItem = (r: RelationItem) => ({
  entity_id: r.entity_id,
  ...(r._tags ? { _tags: r._tags } : {}),
  ...(r._schema ? { _schema: r._schema } : {}),
});

/**
 * Replaces each relation attribute of `entity` with its items, each `{ $relation: item }` merged
 * with the related entity when `related` has it (epilot's in-place hydration); items whose entity
 * is not in `related` (missing, another org's, not visible to the caller) keep only `$relation`.
 */
export function hydrateInPlace(entity: EntityItem, related: ReadonlyMap<string, EntityItem>): EntityItem {
  const out: EntityItem = { ...entity };
  for (const [attribute, value] of Object.entries(entity)) {
    if (attribute.startsWith('_') || !isRelationValue(value)) continue;
    out[attribute] = value.$relation.map((item) => {
      const id = isObject(item) && typeof item.entity_id === 'string' ? item.entity_id : undefined;
      const hit = id ? related.get(id) : undefined;
      return hit ? { $relation: item, ...hit } : { $relation: item };
    });
  }
  return out;
}
