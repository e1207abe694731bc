import { isAllowed } from '../auth/grants.js';
import { grantsOf, orgOf, type Principal } from '../auth/principal.js';
import { EPILOT_OPERATIONS } from '../domain/epilot-operations.js';
import { badRequest, conflict, forbidden, notFound } from '../domain/errors.js';
import type { EntityDiff, EntityItem, EntityOperation, GrantAction } from '../domain/types.js';
import type { Store } from '../store/store.js';
import { newUuid, nowIso } from '../util/ids.js';
import { diffAttributes, isEmptyDiff } from './diff.js';
import { planSearch, uniqueKeyMatch } from './planner.js';

/** Schemas every org has; any other valid slug works too. */
export const BUILTIN_SCHEMAS = ['opportunity', 'contact', 'contract'] as const;
export const SLUG = /^[a-z][a-z0-9_-]{0,63}$/;

/** System fields the server owns: sent values are ignored (`_schema` must match the path). */
const READ_ONLY = new Set(['_id', '_org', '_schema', '_created_at', '_updated_at', '_deleted_at', '_owners', '_acl']);

/**
 * Words epilot's entity API has in the place of a schema slug (`/v1/entity/activity`,
 * `/v1/entity/view/{id}`, `/v1/entity/schemas/…`, `/v1/entity/taxonomies`, `/v1/entity/views`): its
 * own operations answer there, so an entity schema of that name could not be created or read the
 * way every other one is. They are not schema slugs, in epilot's API or here.
 */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set(
  EPILOT_OPERATIONS.flatMap((op) => /^\/v\d+\/entity\/([a-z][a-z0-9_-]*)(?:\/|$)/.exec(op.path)?.[1] ?? []),
);

export function checkSlug(slug: string): string {
  if (!SLUG.test(slug))
    throw badRequest(`invalid entity schema slug "${slug}": use lowercase letters, digits, _ and -`);
  if (RESERVED_SLUGS.has(slug)) {
    throw badRequest(
      `"${slug}" is not an entity schema slug: epilot's entity API uses /v1/entity/${slug} for other operations`,
    );
  }
  return slug;
}

function userAttributes(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (!READ_ONLY.has(k)) out[k] = v;
  return out;
}

function titleOf(attrs: Record<string, unknown>): string {
  for (const k of ['_title', 'name', 'title', 'email']) {
    const v = attrs[k];
    if (typeof v === 'string' && v.trim()) return v;
  }
  const full = [attrs.first_name, attrs.last_name].filter((x) => typeof x === 'string' && x).join(' ');
  return full;
}

/** An entity as stored and returned: system fields first, then the user attributes. */
function compose(
  system: Pick<EntityItem, '_id' | '_org' | '_schema' | '_title' | '_created_at' | '_updated_at'>,
  attrs: Record<string, unknown>,
): EntityItem {
  const { _title: _t, _tags, ...rest } = attrs;
  return { ...system, _tags: Array.isArray(_tags) ? (_tags as string[]) : [], ...rest };
}

function checkBody(body: unknown, slug: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the body must be a JSON object of entity attributes');
  }
  const b = body as Record<string, unknown>;
  if (b._schema !== undefined && b._schema !== slug) {
    throw badRequest(`_schema "${String(b._schema)}" does not match the path's schema "${slug}"`);
  }
  if (
    b._tags !== undefined &&
    b._tags !== null &&
    (!Array.isArray(b._tags) || b._tags.some((t) => typeof t !== 'string'))
  ) {
    throw badRequest('_tags must be an array of strings');
  }
  if (b._title !== undefined && b._title !== null && typeof b._title !== 'string') {
    throw badRequest('_title must be a string');
  }
  return b;
}

function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    // Own properties only: `constructor` or `__proto__` must not match every entity.
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * The entity API: every write checks the caller's grants, stores the entity and its event (with the
 * diff) in one transaction, then wakes the engine.
 */
export class EntityService {
  constructor(
    private readonly store: Store,
    private readonly onEvent: () => void,
  ) {}

  private check(p: Principal, action: GrantAction, schema: string, id?: string) {
    if (!isAllowed(grantsOf(p), action, schema, id)) {
      throw forbidden(`missing grant ${action} on ${id ? `${schema}:${id}` : schema}`);
    }
  }

  /** Loads an entity of the caller's org and path schema; another org's or schema's is a 404. */
  private async load(p: Principal, slug: string, id: string): Promise<EntityItem> {
    const e = await this.store.getEntity(orgOf(p), id);
    if (!e || e._schema !== slug) throw notFound(`${slug} ${id}`);
    return e;
  }

  async get(p: Principal, slug: string, id: string): Promise<EntityItem> {
    checkSlug(slug);
    const e = await this.load(p, slug, id);
    this.check(p, 'entity:view', slug, id);
    return e;
  }

  /** `dryRun`: check and compute the result, write nothing, trigger nothing (epilot's `dry_run`). */
  async create(p: Principal, slug: string, body: unknown, dryRun = false): Promise<EntityItem> {
    checkSlug(slug);
    const attrs = userAttributes(checkBody(body, slug));
    if (dryRun) return this.createIn(this.store, p, slug, attrs, true);
    const entity = await this.store.transaction((tx) => this.createIn(tx, p, slug, attrs, false));
    this.onEvent();
    return entity;
  }

  private compose(p: Principal, slug: string, attrs: Record<string, unknown>): EntityItem {
    const now = nowIso();
    return compose(
      { _id: newUuid(), _org: orgOf(p), _schema: slug, _title: titleOf(attrs), _created_at: now, _updated_at: now },
      attrs,
    );
  }

  private async createIn(tx: Store, p: Principal, slug: string, attrs: Record<string, unknown>, dryRun: boolean) {
    this.check(p, 'entity:create', slug);
    const entity = this.compose(p, slug, attrs);
    if (dryRun) return entity;
    await tx.insertEntity(entity);
    await this.emit(tx, p, 'createEntity', entity, diffAttributes({}, userAttributes(entity)));
    return entity;
  }

  /** PUT replaces the user attributes; PATCH merges them. */
  async update(
    p: Principal,
    slug: string,
    id: string,
    body: unknown,
    mode: 'put' | 'patch',
    dryRun = false,
  ): Promise<EntityItem> {
    checkSlug(slug);
    const b = checkBody(body, slug);
    const updated = await this.store.transaction((tx) => this.updateIn(tx, p, slug, id, b, mode, dryRun));
    this.onEvent();
    return updated;
  }

  private async updateIn(
    tx: Store,
    p: Principal,
    slug: string,
    id: string,
    b: Record<string, unknown>,
    mode: 'put' | 'patch',
    dryRun: boolean,
  ): Promise<EntityItem> {
    const before = await tx.getEntity(orgOf(p), id, true);
    if (!before || before._schema !== slug) throw notFound(`${slug} ${id}`);
    this.check(p, 'entity:edit', slug, id);
    if (mode === 'patch' && typeof b._updated_at === 'string') {
      const sent = Date.parse(b._updated_at);
      if (Number.isNaN(sent)) throw badRequest('_updated_at must be an ISO date-time');
      if (sent < Date.parse(before._updated_at)) {
        throw conflict(
          `entity was updated at ${before._updated_at}, after the _updated_at you sent (${b._updated_at})`,
        );
      }
    }
    const attrs = mode === 'put' ? userAttributes(b) : { ...userAttributes(before), ...userAttributes(b) };
    const after = compose(
      {
        _id: before._id,
        _org: before._org,
        _schema: before._schema,
        _title: typeof attrs._title === 'string' ? attrs._title : titleOf(attrs) || before._title,
        _created_at: before._created_at,
        _updated_at: nowIso(),
      },
      attrs,
    );
    const prior = userAttributes(before);
    const diff = diffAttributes(prior, userAttributes(after));
    if (isEmptyDiff(diff)) return before;
    if (dryRun) return after;
    await tx.replaceEntity(after);
    // Flow filters see the values before the update as `diff.updated` (epilot's entity events).
    const previous = Object.fromEntries(Object.keys(diff.updated).map((k) => [k, prior[k]]));
    await this.emit(tx, p, 'updateEntity', after, diff, previous);
    return after;
  }

  async remove(p: Principal, slug: string, id: string): Promise<EntityItem> {
    checkSlug(slug);
    const removed = await this.store.transaction(async (tx) => {
      const before = await tx.getEntity(orgOf(p), id, true);
      if (!before || before._schema !== slug) throw notFound(`${slug} ${id}`);
      this.check(p, 'entity:delete', slug, id);
      await tx.deleteEntity(before._org, id);
      await this.emit(tx, p, 'deleteEntity', before, diffAttributes(userAttributes(before), {}));
      return before;
    });
    this.onEvent();
    return removed;
  }

  /**
   * Finds the entity whose `unique_key` attributes equal the sent ones: patches it, or creates one.
   * The lookup (on the search index) and the write are one transaction, and transactions for the
   * same key take a lock first: two concurrent upserts of a new key create one entity. With
   * several matches, the newest is patched; `strict` (epilot's `?strict=true`) makes that a 409.
   */
  async upsert(
    p: Principal,
    slug: string,
    body: unknown,
    dryRun = false,
    strict = false,
  ): Promise<{ entity: EntityItem; created: boolean }> {
    checkSlug(slug);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw badRequest('the body must be {"unique_key": [...], "entity": {...}}');
    }
    const { unique_key, entity } = body as { unique_key?: unknown; entity?: unknown };
    if (!Array.isArray(unique_key) || unique_key.length === 0 || unique_key.some((k) => typeof k !== 'string')) {
      throw badRequest('unique_key must be a non-empty array of attribute paths');
    }
    const attrs = checkBody(entity, slug);
    const wanted = [...new Set(unique_key as string[])].sort().map((k) => [k, getPath(attrs, k)] as const);
    const missing = wanted.find(([, v]) => v === undefined);
    if (missing) throw badRequest(`entity has no value for unique_key "${missing[0]}"`);
    const orgId = orgOf(p);
    const match = uniqueKeyMatch(slug, wanted);
    const same = (e: EntityItem) => wanted.every(([k, v]) => JSON.stringify(getPath(e, k)) === JSON.stringify(v));
    const result = await this.store.transaction(async (tx) => {
      await tx.lockEntityKey(JSON.stringify([orgId, slug, wanted]));
      const found: EntityItem[] = [];
      for (let from = 0; ; from += 100) {
        const page = await tx.searchEntities(orgId, { match, sort: [], from, size: 100 });
        found.push(...page.results.filter(same));
        if ((found.length > 0 && !strict) || found.length > 1 || from + 100 >= page.hits) break;
      }
      if (found.length > 1 && strict) {
        throw conflict(`${found.length} ${slug} entities match unique_key ${JSON.stringify(unique_key)}`);
      }
      const hit = found[0];
      if (hit) return { entity: await this.updateIn(tx, p, slug, hit._id, attrs, 'patch', dryRun), created: false };
      return { entity: await this.createIn(tx, p, slug, userAttributes(attrs), dryRun), created: true };
    });
    if (!dryRun) this.onEvent();
    return result;
  }

  /** epilot's `searchEntities`: Lucene `q`, `sort`, `from`, `size` (at most 1000), `fields`. */
  async search(p: Principal, body: unknown): Promise<{ hits: number; results: Array<Record<string, unknown>> }> {
    const orgId = orgOf(p);
    const { search, project } = planSearch(body, grantsOf(p), orgId);
    const { hits, results } = await this.store.searchEntities(orgId, search);
    return { hits, results: project ? results.map(project) : results };
  }

  private async emit(
    tx: Store,
    p: Principal,
    operation: EntityOperation,
    entity: EntityItem,
    diff: EntityDiff,
    previous?: Record<string, unknown>,
  ) {
    await tx.insertEvent({
      id: newUuid(),
      org_id: entity._org,
      entity_id: entity._id,
      schema: entity._schema,
      operation,
      entity,
      diff,
      ...(previous && Object.keys(previous).length ? { previous } : {}),
      caused_by_execution: p.kind === 'app' ? p.execution_id : null,
      occurred_at: nowIso(),
    });
  }
}
