/**
 * Request parts epilot's entity API shares between operations: their JSON schemas (Fastify checks
 * them and names the failing field in the 400) and how a route reads them.
 */
import { badRequest } from '../domain/errors.js';
import { ENTITY_ID, MAX_RELATION_TAGS, MAX_TAG_LENGTH, RELATION_ATTRIBUTE } from '../entities/relations.js';
import type { WriteActivity } from '../entities/service.js';

/** epilot's `ActivityId`: a ULID (`^01[0-9a-zA-Z]{24}$`). */
export const ACTIVITY_ID = '^01[0-9a-zA-Z]{24}$';

/** epilot's `activity_id` (an activity id, or empty for none) and `fill_activity` on entity writes. */
export const activityQuery = {
  activity_id: {
    anyOf: [
      { type: 'string', pattern: ACTIVITY_ID },
      { type: 'string', maxLength: 0 },
    ],
  },
  fill_activity: { type: 'boolean' },
} as const;

/** The activity of a write's query string; `fill_activity=true` is refused by name. */
export function activityOf(query: unknown): WriteActivity {
  const q = (query ?? {}) as { activity_id?: string; fill_activity?: boolean };
  if (q.fill_activity === true) {
    throw badRequest('fill_activity is not supported: activities are never pending here, and keep their own payload');
  }
  return q.activity_id ? { id: q.activity_id } : {};
}

/** Most values a list parameter may hold. */
export const MAX_LIST = 100;

/**
 * A list parameter as epilot's clients send it: repeated (`x[]=a&x[]=b`) or comma-separated
 * (`x=a,b`); at most {@link MAX_LIST} values (400 naming `name` otherwise).
 */
export function listOf(v: string[] | string | undefined, name = 'the list'): string[] | undefined {
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).filter((x) => x !== '');
  if (list.length > MAX_LIST) throw badRequest(`${name} may hold at most ${MAX_LIST} values`);
  return list.length ? list : undefined;
}

const slugList = {
  type: 'array',
  maxItems: MAX_LIST,
  items: { type: 'string', pattern: '^[A-Za-z0-9_,-]{1,640}$' },
} as const;

/** `include_schemas` / `exclude_schemas` of the relation reads. */
export const schemasQuery = { include_schemas: slugList, exclude_schemas: slugList } as const;

/** epilot's `RelationItem` as the Relations API's writes take it. */
export const relationItemSchema = {
  type: 'object',
  required: ['entity_id', 'attribute'],
  additionalProperties: false,
  properties: {
    entity_id: { type: 'string', pattern: ENTITY_ID.source },
    attribute: { type: 'string', pattern: RELATION_ATTRIBUTE.source },
    _tags: { type: 'array', maxItems: MAX_RELATION_TAGS, items: { type: 'string', maxLength: MAX_TAG_LENGTH } },
    _schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    org_id: { type: 'string', maxLength: 200 },
    reverse: { type: 'boolean' },
  },
} as const;

/** Entity ids of a list parameter (`entities` of the Activity API): each a UUID. */
export function entityIdsOf(name: string, v: string[] | string | undefined): string[] {
  const ids = listOf(v, name) ?? [];
  const bad = ids.find((id) => !ENTITY_ID.test(id));
  if (bad !== undefined) throw badRequest(`${name}: "${bad.slice(0, 100)}" is not an entity id`);
  return [...new Set(ids)];
}
