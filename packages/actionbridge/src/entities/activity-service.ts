import { isAllowed } from '../auth/grants.js';
import { grantsOf, orgOf, type Principal } from '../auth/principal.js';
import { RESERVED_ACTIVITY_TYPES } from '../domain/activities.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import type { Activity, ActivityOperation } from '../domain/types.js';
import type { FeedQuery, Store } from '../store/store.js';
import { newUlid } from '../util/ids.js';
import { viewScope } from './planner.js';
import type { RelationService } from './relation-service.js';
import type { EntityService } from './service.js';

/** Entities one activity may be attached to in one request (`entities`). */
export const MAX_ACTIVITY_ENTITIES = 100;
/** The longest `payload`, as JSON. */
export const MAX_ACTIVITY_PAYLOAD = 64 * 1024;

export interface ActivityBody {
  type: string;
  title: string;
  message: string;
  payload?: Record<string, unknown>;
  pending?: boolean;
}

/** epilot's `getEntityActivityFeed` parameters, checked for type by the route. */
export interface FeedParams {
  after?: string;
  before?: string;
  start_date?: string;
  end_date?: string;
  preset_range?: 'today' | 'this_week' | 'last_week';
  from: number;
  size: number;
  type?: string[];
  include_relations?: boolean;
}

const DAY_MS = 86_400_000;

/** An ISO time in the form the store compares (`toISOString`), or a 400 naming the parameter. */
function isoOf(name: string, v: string): string {
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw badRequest(`${name} must be an ISO date-time, got "${v}"`);
  return new Date(ms).toISOString();
}

/** The time range of a feed query: `after`/`before` (strict), a `start_date`..`end_date` range or a preset (UTC days, weeks from Monday). */
export function feedRange(q: FeedParams, nowMs = Date.now()): Pick<FeedQuery, 'after' | 'before' | 'start' | 'end'> {
  const relative = q.after !== undefined || q.before !== undefined;
  const range = q.start_date !== undefined || q.end_date !== undefined;
  const preset = q.preset_range !== undefined;
  if ([relative, range, preset].filter(Boolean).length > 1) {
    throw badRequest('use one of after/before, start_date with end_date, or preset_range');
  }
  if (range && (q.start_date === undefined || q.end_date === undefined)) {
    throw badRequest('start_date and end_date go together');
  }
  if (preset) {
    const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
    const monday = today - ((new Date(today).getUTCDay() + 6) % 7) * DAY_MS;
    const [start, end] =
      q.preset_range === 'today'
        ? [today, nowMs]
        : q.preset_range === 'this_week'
          ? [monday, nowMs]
          : [monday - 7 * DAY_MS, monday - 1];
    return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
  }
  return {
    ...(q.after !== undefined ? { after: isoOf('after', q.after) } : {}),
    ...(q.before !== undefined ? { before: isoOf('before', q.before) } : {}),
    ...(q.start_date !== undefined ? { start: isoOf('start_date', q.start_date) } : {}),
    ...(q.end_date !== undefined ? { end: isoOf('end_date', q.end_date) } : {}),
  };
}

/**
 * epilot's Activity API: activities with a custom type, shown in the feeds of the entities they
 * concern, and the entity writes made as part of them (a write's `activity_id`, see EntityService).
 * Attaching an activity to an entity's feed takes `entity:edit` on it; reading a feed, `entity:view`.
 * An app token reads only activities it created or that concern an entity it may view.
 */
export class ActivityService {
  constructor(
    private readonly store: Store,
    private readonly entities: EntityService,
    private readonly relations: RelationService,
  ) {}

  async create(p: Principal, body: ActivityBody, entityIds: string[]): Promise<Activity> {
    const orgId = orgOf(p);
    if (body.pending === true) {
      throw badRequest('pending activities are not supported: an activity is visible and its writes trigger at once');
    }
    if (RESERVED_ACTIVITY_TYPES.includes(body.type)) {
      throw badRequest(
        `type "${body.type}" is one of epilot's own activity types: give the activity a type of your own`,
      );
    }
    if (body.payload !== undefined && JSON.stringify(body.payload).length > MAX_ACTIVITY_PAYLOAD) {
      throw badRequest(`payload must be at most ${MAX_ACTIVITY_PAYLOAD} bytes of JSON`);
    }
    const now = Date.now();
    const activity: Activity = {
      _id: newUlid(now),
      timestamp: new Date(now).toISOString(),
      type: body.type,
      title: body.title,
      message: body.message,
      ...(body.payload !== undefined ? { payload: body.payload } : {}),
      caller: callerOf(p),
    };
    await this.store.transaction(async (tx) => {
      await this.checkEntities(tx, p, entityIds);
      await tx.insertActivity(orgId, activity);
      await tx.attachActivity(orgId, activity, entityIds);
    });
    return activity;
  }

  /** An activity with a page of its operations on entities the caller may view (epilot's `ActivityItem`). */
  async get(
    p: Principal,
    id: string,
    page: { from: number; size: number },
  ): Promise<Activity & { operations_total: number; operations: ActivityOperation[] }> {
    const activity = await this.load(this.store, p, id);
    const { total, results } = await this.store.listActivityOperations(orgOf(p), id, {
      scope: viewScope(grantsOf(p)),
      ...page,
    });
    return { ...activity, operations_total: total, operations: results };
  }

  /** Shows an existing activity in more entities' feeds (epilot's `attachActivity`). */
  async attach(p: Principal, id: string, entityIds: string[]): Promise<Activity> {
    return this.store.transaction(async (tx) => {
      const activity = await this.load(tx, p, id);
      await this.checkEntities(tx, p, entityIds);
      await tx.attachActivity(orgOf(p), activity, entityIds);
      return activity;
    });
  }

  /** An entity's activity feed, newest first; `include_relations` adds the feeds of the entities it points at. */
  async feed(p: Principal, slug: string, id: string, q: FeedParams): Promise<{ total: number; results: Activity[] }> {
    const entity = await this.entities.get(p, slug, id);
    const ids = [id];
    if (q.include_relations) ids.push(...(await this.relations.relatedEntities(p, entity)).map((e) => e._id));
    return this.store.listEntityFeed(orgOf(p), [...new Set(ids)], {
      ...feedRange(q),
      ...(q.type?.length ? { types: q.type } : {}),
      from: q.from,
      size: q.size,
    });
  }

  /** An activity of the caller's org it may read; any other is a 404, like a missing one. */
  private async load(tx: Store, p: Principal, id: string): Promise<Activity> {
    const orgId = orgOf(p);
    const activity = await tx.getActivity(orgId, id);
    if (!activity) throw notFound(`activity ${id}`);
    if (p.kind === 'app' && activity.caller?.app_id !== p.app_id) {
      if (!(await tx.activityConcernsVisible(orgId, id, viewScope(grantsOf(p))))) throw notFound(`activity ${id}`);
    }
    return activity;
  }

  /** Entities an activity is attached to: the org's (404 otherwise), and ones the caller may edit (403). */
  private async checkEntities(tx: Store, p: Principal, ids: string[]): Promise<void> {
    if (ids.length > MAX_ACTIVITY_ENTITIES) {
      throw badRequest(`entities may name at most ${MAX_ACTIVITY_ENTITIES} entities`);
    }
    if (ids.length === 0) return;
    const schemas = await tx.getEntitySchemas(orgOf(p), ids);
    for (const id of ids) {
      const schema = schemas.get(id);
      if (!schema) throw notFound(`entity ${id}`);
      if (!isAllowed(grantsOf(p), 'entity:edit', schema, id)) {
        throw forbidden(`missing grant entity:edit on ${schema}:${id}`);
      }
    }
  }
}

/** epilot's `ActivityCallerContext` (additional properties): who created the activity. */
function callerOf(p: Principal): Record<string, unknown> {
  if (p.kind === 'app') return { org_id: p.org_id, token_type: 'app', app_id: p.app_id, execution_id: p.execution_id };
  if (p.kind === 'org') return { org_id: p.org_id, token_type: 'org' };
  return {};
}
