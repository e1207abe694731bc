import { isAllowed } from '../auth/grants.js';
import { grantsOf, orgOf, type Principal } from '../auth/principal.js';
import { EPILOT_OPERATIONS } from '../domain/epilot-operations.js';
import { badRequest, conflict, forbidden, notAllowed, notFound, unprocessable } from '../domain/errors.js';
import type {
  ActivityOperation,
  EntityDiff,
  EntityEvent,
  EntityItem,
  EntityOperation,
  GrantAction,
  RelationItem,
} from '../domain/types.js';
import { type BatchSink, GroupCommit } from '../store/group-commit.js';
import type { Store } from '../store/store.js';
import { newUuid, nowIso } from '../util/ids.js';
import { diffAttributes, isEmptyDiff } from './diff.js';
import { type IdempotencyRequest, type Outcome, once } from './idempotency.js';
import { planSearch, uniqueKeyMatch } from './planner.js';
import { checkRelations, relationItems, sameRelations } from './relations.js';

export const SLUG = /^[a-z][a-z0-9_-]{0,63}$/;

/** System fields the server owns: sent values are ignored (`_schema` must match the path). */
const READ_ONLY = new Set(['_id', '_org', '_schema', '_created_at', '_updated_at', '_deleted_at']);

/**
 * System fields clients may set (epilot's `_owners`, `_acl`): checked, stored and returned. A PUT
 * that leaves them out keeps them, as it keeps the server's fields; a PATCH replaces one it sends.
 */
const KEPT_ON_PUT = ['_owners', '_acl'] as const;

/** Most owners, ACL entries per list, and characters per id or entry an entity may carry. */
const MAX_OWNERS = 100;
const MAX_ACL_ENTRIES = 1000;
const MAX_ID = 256;

const isId = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID;

/** epilot's `EntityOwner[]`: `[{org_id, user_id?}]`. */
function checkOwners(v: unknown): void {
  const shape = `_owners must be an array of at most ${MAX_OWNERS} {org_id, user_id?} (ids 1–${MAX_ID} characters)`;
  if (!Array.isArray(v) || v.length > MAX_OWNERS) throw badRequest(shape);
  v.forEach((o, i) => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw badRequest(`_owners[${i}]: ${shape}`);
    const owner = o as Record<string, unknown>;
    if (!isId(owner.org_id)) throw badRequest(`_owners[${i}].org_id must be a string of 1–${MAX_ID} characters`);
    if (owner.user_id !== undefined && !isId(owner.user_id)) {
      throw badRequest(`_owners[${i}].user_id must be a string of 1–${MAX_ID} characters`);
    }
  });
}

/** epilot's `EntityAcl`: `{view?, edit?, delete?}` lists of entries such as `org:456` (more keys allowed). */
function checkAcl(v: unknown): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw badRequest('_acl must be an object {view?, edit?, delete?} of lists such as ["org:456"]');
  }
  for (const list of ['view', 'edit', 'delete'] as const) {
    const entries = (v as Record<string, unknown>)[list];
    if (entries === undefined) continue;
    if (!Array.isArray(entries) || entries.length > MAX_ACL_ENTRIES || !entries.every(isId)) {
      throw badRequest(
        `_acl.${list} must be an array of at most ${MAX_ACL_ENTRIES} strings of 1–${MAX_ID} characters (e.g. "org:456")`,
      );
    }
  }
}

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
  if (b._owners !== undefined) checkOwners(b._owners);
  if (b._acl !== undefined) checkAcl(b._acl);
  checkRelations(userAttributes(b));
  return b;
}

/** epilot: "Deleted entities cannot be updated. You'll need to recover the entity first before updating." */
const deletedNotAllowed = (slug: string, id: string) =>
  notAllowed(`${slug} ${id} is deleted: restore it (PATCH /v1/entity/${slug}/${id}:restore) before changing it`);

/**
 * What an entity write is part of: epilot's `activity_id` query parameter, and the activity type a
 * relation operation gives its write (`RelationsAdded`, …). An activity's own type wins.
 */
export interface WriteActivity {
  id?: string;
  type?: string;
}

/**
 * How a write runs: epilot's `dry_run` (check and answer, write nothing), an `Idempotency-Key`,
 * and the activity it is part of.
 */
export interface WriteOptions {
  dryRun?: boolean;
  idempotency?: IdempotencyRequest | undefined;
  activity?: WriteActivity;
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
 * The entity API: every write checks the caller's grants and stores the entity and its event (with
 * the diff) in one transaction, where the engine carries the event out. A write sent with an
 * `Idempotency-Key` also stores its answer in that transaction (see `once`), and a retry gets that
 * answer back.
 */
export class EntityService {
  constructor(
    private readonly store: Store,
    /**
     * This process's engine: carries the events out in the transaction that wrote them. Without
     * one (an API-only process), other processes are notified of each event.
     */
    private readonly engine?: BatchSink<EntityEvent>,
  ) {
    this.writes = new GroupCommit(store, engine);
  }

  /** API writes share commits on SQLite (group commit); each still settles after its commit. */
  private readonly writes: GroupCommit<EntityEvent>;

  /** Runs a write; the events it emits go to the engine in its transaction. */
  private write<T>(fn: (tx: Store, emitted: EntityEvent[]) => Promise<T>): Promise<T> {
    return this.writes.run(fn);
  }

  private check(p: Principal, action: GrantAction, schema: string, id?: string) {
    if (!isAllowed(grantsOf(p), action, schema, id)) {
      throw forbidden(`missing grant ${action} on ${id ? `${schema}:${id}` : schema}`);
    }
  }

  /**
   * Loads an entity of the caller's org and path schema; another org's or schema's is a 404, and so
   * is a soft-deleted one (it is in the trash: searches with `include_deleted` find it).
   */
  private async load(p: Principal, slug: string, id: string): Promise<EntityItem> {
    const e = await this.store.getEntity(orgOf(p), id);
    if (!e || e._schema !== slug || e._deleted_at) throw notFound(`${slug} ${id}`);
    return e;
  }

  /** The entity to write, locked for the transaction; another org's or schema's is a 404. */
  private async lockedIn(tx: Store, p: Principal, slug: string, id: string): Promise<EntityItem> {
    const e = await tx.getEntity(orgOf(p), id, true);
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
  async create(p: Principal, slug: string, body: unknown, opts: WriteOptions = {}): Promise<Outcome> {
    checkSlug(slug);
    const attrs = userAttributes(checkBody(body, slug));
    const activity = opts.activity ?? {};
    if (opts.dryRun)
      return {
        status: 201,
        body: await this.createIn(this.store, p, slug, attrs, true, activity, []),
        replayed: false,
      };
    return this.write((tx, emitted) =>
      once(tx, orgOf(p), opts.idempotency, async () => ({
        status: 201,
        body: await this.createIn(tx, p, slug, attrs, false, activity, emitted),
      })),
    );
  }

  private compose(p: Principal, slug: string, attrs: Record<string, unknown>): EntityItem {
    const now = nowIso();
    return compose(
      { _id: newUuid(), _org: orgOf(p), _schema: slug, _title: titleOf(attrs), _created_at: now, _updated_at: now },
      attrs,
    );
  }

  private async createIn(
    tx: Store,
    p: Principal,
    slug: string,
    attrs: Record<string, unknown>,
    dryRun: boolean,
    activity: WriteActivity,
    emitted: EntityEvent[],
  ) {
    this.check(p, 'entity:create', slug);
    const entity = this.compose(p, slug, attrs);
    const relations = relationItems(entity);
    await this.checkTargets(tx, p, [], relations);
    const act = await this.activityOf(tx, p, activity);
    if (dryRun) return entity;
    await tx.insertEntity(entity);
    if (relations.length) await tx.setEntityRelations(entity._org, entity._id, relations);
    await this.emit(tx, emitted, p, 'createEntity', entity, diffAttributes({}, userAttributes(entity)), undefined, act);
    return entity;
  }

  /** PUT replaces the user attributes; PATCH merges them. */
  async update(
    p: Principal,
    slug: string,
    id: string,
    body: unknown,
    mode: 'put' | 'patch',
    opts: WriteOptions = {},
  ): Promise<Outcome> {
    checkSlug(slug);
    const b = checkBody(body, slug);
    const dryRun = opts.dryRun === true;
    const activity = opts.activity ?? {};
    return this.write((tx, emitted) =>
      once(tx, orgOf(p), opts.idempotency, async () => ({
        status: 200,
        body: await this.updateIn(tx, p, slug, id, b, mode, dryRun, activity, emitted),
      })),
    );
  }

  /**
   * Changes an entity by a PATCH body that `change` computes from the entity as stored (the
   * Relations API), in one transaction: the entity is read locked, then patched as `update` does.
   */
  async modify(
    p: Principal,
    slug: string,
    id: string,
    change: (before: EntityItem, tx: Store) => Promise<Record<string, unknown>>,
    activity: WriteActivity = {},
  ): Promise<EntityItem> {
    checkSlug(slug);
    return this.write(async (tx, emitted) => {
      const before = await this.lockedIn(tx, p, slug, id);
      this.check(p, 'entity:edit', slug, id);
      if (before._deleted_at) throw deletedNotAllowed(slug, id);
      return this.updateIn(tx, p, slug, id, await change(before, tx), 'patch', false, activity, emitted);
    });
  }

  private async updateIn(
    tx: Store,
    p: Principal,
    slug: string,
    id: string,
    b: Record<string, unknown>,
    mode: 'put' | 'patch',
    dryRun: boolean,
    activity: WriteActivity,
    emitted: EntityEvent[],
  ): Promise<EntityItem> {
    const before = await this.lockedIn(tx, p, slug, id);
    this.check(p, 'entity:edit', slug, id);
    if (before._deleted_at) throw deletedNotAllowed(slug, id);
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
    for (const k of KEPT_ON_PUT) if (attrs[k] === undefined && before[k] !== undefined) attrs[k] = before[k];
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
    const [had, has] = [relationItems(before), relationItems(after)];
    await this.checkTargets(tx, p, had, has);
    const act = await this.activityOf(tx, p, activity);
    if (dryRun) return after;
    await tx.replaceEntity(after);
    if (!sameRelations(had, has)) await tx.setEntityRelations(after._org, after._id, has);
    // Flow filters see the values before the update as `diff.updated` (epilot's entity events).
    const previous = Object.fromEntries(Object.keys(diff.updated).map((k) => [k, prior[k]]));
    await this.emit(tx, emitted, p, 'updateEntity', after, diff, previous, act);
    return after;
  }

  /**
   * epilot's `deleteEntity`: a soft delete by default (the entity goes to the trash: `_deleted_at`
   * set, out of reads and default searches, restorable; event `softDeleteEntity`). `purge` deletes
   * it for good, also from the trash: its row, its search index rows and the stored answers of
   * writes that returned it (event `deleteEntity`). Soft-deleting an entity already in the trash is
   * a 404, as reading it is.
   */
  async remove(p: Principal, slug: string, id: string, purge: boolean, opts: WriteOptions = {}): Promise<Outcome> {
    checkSlug(slug);
    const activity = opts.activity ?? {};
    return this.write((tx, emitted) =>
      once(tx, orgOf(p), opts.idempotency, async () => ({
        status: 200,
        body: await this.removeIn(tx, p, slug, id, purge, activity, emitted),
      })),
    );
  }

  private async removeIn(
    tx: Store,
    p: Principal,
    slug: string,
    id: string,
    purge: boolean,
    activity: WriteActivity,
    emitted: EntityEvent[],
  ): Promise<EntityItem> {
    const before = await this.lockedIn(tx, p, slug, id);
    if (!purge && before._deleted_at) throw notFound(`${slug} ${id}`);
    this.check(p, 'entity:delete', slug, id);
    const act = await this.activityOf(tx, p, activity);
    const diff = diffAttributes(userAttributes(before), {});
    if (purge) {
      await tx.deleteEntity(before._org, id);
      await tx.deleteIdempotencyRecordsOf(before._org, id);
      // Its own relations go with it; other entities' relations to it stay theirs (and read as missing).
      if (relationItems(before).length) await tx.setEntityRelations(before._org, id, []);
      await this.emit(tx, emitted, p, 'deleteEntity', before, diff, undefined, act);
      return before;
    }
    const trashed: EntityItem = { ...before, _deleted_at: nowIso() };
    await tx.replaceEntity(trashed);
    await this.emit(tx, emitted, p, 'softDeleteEntity', trashed, diff, undefined, act);
    return trashed;
  }

  /**
   * epilot's `restoreEntity`: takes a soft-deleted entity out of the trash as it was (event
   * `restoreEntity`, its attributes as added). One that is not deleted is a 400, as epilot
   * documents. Needs the grant to delete it: restoring undoes a delete.
   */
  async restore(p: Principal, slug: string, id: string, opts: WriteOptions = {}): Promise<Outcome> {
    checkSlug(slug);
    return this.write((tx, emitted) =>
      once(tx, orgOf(p), opts.idempotency, async () => ({
        status: 200,
        body: await this.restoreIn(tx, p, slug, id, emitted),
      })),
    );
  }

  private async restoreIn(
    tx: Store,
    p: Principal,
    slug: string,
    id: string,
    emitted: EntityEvent[],
  ): Promise<EntityItem> {
    const before = await this.lockedIn(tx, p, slug, id);
    this.check(p, 'entity:delete', slug, id);
    if (!before._deleted_at) throw badRequest(`${slug} ${id} is not deleted: there is nothing to restore`);
    const { _deleted_at: _d, ...restored } = before;
    await tx.replaceEntity(restored);
    await this.emit(tx, emitted, p, 'restoreEntity', restored, diffAttributes({}, userAttributes(restored)));
    return restored;
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
    opts: WriteOptions & { strict?: boolean } = {},
  ): Promise<Outcome> {
    const dryRun = opts.dryRun === true;
    const strict = opts.strict === true;
    const activity = opts.activity ?? {};
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
    return this.write((tx, emitted) =>
      once(tx, orgId, opts.idempotency, async () => {
        await tx.lockEntityKey(JSON.stringify([orgId, slug, wanted]));
        // One lookup sees the trash too: epilot's "Deleted entities cannot be updated" (405 below).
        const found: EntityItem[] = [];
        let trashed: EntityItem | undefined;
        for (let from = 0; ; from += 100) {
          const page = await tx.searchEntities(orgId, { match, deleted: 'include', sort: [], from, size: 100 });
          for (const e of page.results.filter(same)) {
            if (!e._deleted_at) found.push(e);
            else trashed ??= e;
          }
          if ((found.length > 0 && !strict) || found.length > 1 || from + 100 >= page.hits) break;
        }
        if (found.length > 1 && strict) {
          throw conflict(`${found.length} ${slug} entities match unique_key ${JSON.stringify(unique_key)}`);
        }
        const hit = found[0];
        if (hit) {
          const body = await this.updateIn(tx, p, slug, hit._id, attrs, 'patch', dryRun, activity, emitted);
          return { status: 200 as const, body };
        }
        // A key that matches only entities in the trash is a 405: restore one, or purge them, first.
        if (trashed) throw deletedNotAllowed(slug, trashed._id);
        const body = await this.createIn(tx, p, slug, userAttributes(attrs), dryRun, activity, emitted);
        return { status: 201 as const, body };
      }),
    );
  }

  /** epilot's `searchEntities`: Lucene `q`, `sort`, `from`, `size` (at most 1000), `fields`. */
  async search(p: Principal, body: unknown): Promise<{ hits: number; results: Array<Record<string, unknown>> }> {
    const orgId = orgOf(p);
    const { search, project } = planSearch(body, grantsOf(p), orgId);
    const { hits, results } = await this.store.searchEntities(orgId, search);
    return { hits, results: project ? results.map(project) : results };
  }

  /**
   * The entities a write newly relates to (items of `has` not in `had`) must be entities of the caller's
   * org (a missing one and another org's are the same 422) that it may view (403, as reading it is).
   */
  private async checkTargets(tx: Store, p: Principal, had: RelationItem[], has: RelationItem[]): Promise<void> {
    const key = (r: RelationItem) => `${r.attribute}\u0000${r.entity_id}`;
    const known = new Set(had.map(key));
    const fresh = has.filter((r) => !known.has(key(r)));
    if (fresh.length === 0) return;
    const schemas = await tx.getEntitySchemas(
      orgOf(p),
      fresh.map((r) => r.entity_id),
    );
    for (const r of fresh) {
      const schema = schemas.get(r.entity_id);
      if (!schema) throw unprocessable(`${r.attribute}: related entity ${r.entity_id} not found`);
      this.check(p, 'entity:view', schema, r.entity_id);
      if (r._schema !== undefined && r._schema !== schema) {
        throw unprocessable(`${r.attribute}: related entity ${r.entity_id} is a ${schema}, not a ${r._schema}`);
      }
    }
  }

  /** The write's activity: an activity of the caller's org (422 when `activity_id` names none). */
  private async activityOf(tx: Store, p: Principal, a: WriteActivity) {
    if (!a.id) return a.type ? { type: a.type } : undefined;
    const found = await tx.getActivity(orgOf(p), a.id);
    if (!found) throw unprocessable(`activity_id ${a.id}: no such activity`);
    return { id: found._id, type: found.type, activity: found };
  }

  private async emit(
    tx: Store,
    emitted: EntityEvent[],
    p: Principal,
    operation: EntityOperation,
    entity: EntityItem,
    diff: EntityDiff,
    previous?: Record<string, unknown>,
    activity?: Awaited<ReturnType<EntityService['activityOf']>>,
  ) {
    const id = newUuid();
    const occurred_at = nowIso();
    const ev: EntityEvent = {
      id,
      org_id: entity._org,
      entity_id: entity._id,
      schema: entity._schema,
      operation,
      entity,
      diff,
      ...(previous && Object.keys(previous).length ? { previous } : {}),
      caused_by_execution: p.kind === 'app' ? p.execution_id : null,
      occurred_at,
      ...(activity?.id ? { activity_id: activity.id } : {}),
      ...(activity?.type ? { activity_type: activity.type } : {}),
    };
    // With an engine, the event is written with the batch's others, by the engine (see GroupCommit).
    if (!this.engine) await tx.insertEvent(ev);
    emitted.push(ev);
    if (!activity?.activity) return;
    // The write is one of the activity's operations, and the activity shows in the entity's feed.
    const op: ActivityOperation = {
      entity: entity._id,
      org: entity._org,
      activity_id: activity.activity._id,
      activity_type: activity.activity.type,
      operation,
      params: { id: entity._id, slug: entity._schema },
      payload: entity,
      diff: { added: diff.added, updated: previous ?? {}, deleted: diff.deleted },
    };
    await tx.insertActivityOperation(id, op, occurred_at);
    await tx.attachActivity(entity._org, activity.activity, [entity._id]);
  }
}
