import { RELATION_ACTIVITY, RESERVED_ACTIVITY_TYPES } from '../domain/activities.js';
import type { EntityEvent, EntityOperation, Flow, FlowTrigger } from '../domain/types.js';
import { matchesPattern, triggerConditionsHold } from './conditions.js';

/** The entity operations ActionBridge emits events for (epilot's `EntityOperation`). */
export const OPERATIONS: readonly EntityOperation[] = [
  'createEntity',
  'updateEntity',
  'deleteEntity',
  'softDeleteEntity',
  'restoreEntity',
];

/** The activity type of each operation, as a filter's `activity.type` sees it (epilot's activity names). */
export const ACTIVITY_OF: Record<EntityOperation, string> = {
  createEntity: 'EntityCreated',
  updateEntity: 'EntityUpdated',
  deleteEntity: 'EntityDeleted',
  softDeleteEntity: 'EntitySoftDeleted',
  restoreEntity: 'EntityRestored',
};

/** The activity types of epilot's own that ActionBridge's writes carry. */
export const EMITTED_ACTIVITY_TYPES: readonly string[] = [
  ...Object.values(ACTIVITY_OF),
  ...Object.values(RELATION_ACTIVITY),
];

/**
 * Whether a flow filter's `activity.type` value can ever happen: one ActionBridge emits, or a
 * custom type (a write's `activity_id` of an activity created with that type). epilot's own types
 * that ActionBridge does not emit (portal ones, soft deletes, …) cannot: createActivity refuses them.
 */
export const activityTypeCanHappen = (type: string): boolean =>
  EMITTED_ACTIVITY_TYPES.includes(type) || !RESERVED_ACTIVITY_TYPES.includes(type);
/**
 * Whether a trigger listing `ops` listens to `op`. `deleteEntity` in a trigger means "the entity was
 * deleted": a soft delete (the default of `DELETE`, event `softDeleteEntity`) as well as a purge,
 * so flows on delete keep running when entities go to the trash; `softDeleteEntity` alone listens
 * to soft deletes only. A filter's `operation.operation` matches the event's own operation.
 */
export function listensTo(ops: readonly string[], op: EntityOperation): boolean {
  return ops.includes('*') || ops.includes(op) || (op === 'softDeleteEntity' && ops.includes('deleteEntity'));
}

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;

/**
 * The schemas an `entity_operation` trigger listens to: its own `schema`; else the exact values its
 * filter names in `payload._schema` (epilot's filters may name the schema there only); else the flow's.
 */
export function triggerSchemas(flow: Pick<Flow, 'entity_schema'>, t: FlowTrigger): string[] {
  const own = t.configuration.schema;
  if (own) return [own];
  const listed = strings(t.configuration.filter_config?.operation?.payload?._schema);
  if (listed) return [...new Set(listed)];
  return flow.entity_schema ? [flow.entity_schema] : [];
}

/**
 * The operations a trigger listens to ('*' = any): its `operations`, narrowed by the exact values of
 * its filter's `operation.operation` when that lists plain names (a matcher there filters at match time).
 */
export function triggerOperations(t: FlowTrigger): string[] {
  const own = t.configuration.operations?.length ? t.configuration.operations : undefined;
  const filtered = strings(t.configuration.filter_config?.operation?.operation);
  if (own && filtered) return own.filter((o) => filtered.includes(o));
  return own ?? filtered ?? ['*'];
}

/** The trigger index rows of a flow: one per (schema, operation) an `entity_operation` trigger listens to; '*' = any operation. */
export function triggerKeys(flow: Flow): Array<{ schema: string; operation: string }> {
  const keys = new Map<string, { schema: string; operation: string }>();
  for (const t of flow.triggers) {
    if (t.type !== 'entity_operation') continue;
    for (const schema of triggerSchemas(flow, t)) {
      for (const operation of triggerOperations(t)) keys.set(`${schema}\u0000${operation}`, { schema, operation });
    }
  }
  return [...keys.values()];
}

/** Flows events can reach: enabled ones, and those the system disabled as hot (they record `hot` runs). */
export function triggerable(flow: Flow): boolean {
  return flow.enabled || flow.disable_details?.disabled_by === 'system';
}

/**
 * The event a trigger's `filter_config` is matched against: the operation with the entity as its
 * `payload` and the `diff`, whose `updated` holds the values before the update (epilot's entity
 * events: "these values contain the previous values before the update"), and the activity type:
 * the write's activity's, or the relation operation's, or the entity operation's.
 */
export function filterEvent(ev: EntityEvent): Record<string, unknown> {
  return {
    operation: {
      operation: ev.operation,
      payload: ev.entity,
      // Events recorded before previous values were kept only have the new ones.
      diff: { added: ev.diff.added, updated: ev.previous ?? ev.diff.updated, deleted: ev.diff.deleted },
    },
    activity: { type: ev.activity_type ?? ACTIVITY_OF[ev.operation] },
  };
}

function triggerFires(flow: Flow, t: FlowTrigger, ev: EntityEvent, event: () => Record<string, unknown>): boolean {
  if (t.type !== 'entity_operation' || !triggerSchemas(flow, t).includes(ev.schema)) return false;
  if (!listensTo(triggerOperations(t), ev.operation)) return false;
  const attrs = t.configuration.attributes;
  if (attrs?.length && !attrs.some((a) => a in ev.diff.added || a in ev.diff.updated || a in ev.diff.deleted)) {
    return false;
  }
  const filter = t.configuration.filter_config;
  return !filter || matchesPattern(filter, event());
}

/**
 * Whether `flow` starts for `ev`: one of its triggers fires (schema, operation, changed attributes
 * when listed, its `filter_config` pattern) and every one of its `trigger_conditions` holds.
 */
export function fires(flow: Flow, ev: EntityEvent): boolean {
  let built: Record<string, unknown> | undefined;
  const event = () => {
    built ??= filterEvent(ev);
    return built;
  };
  return (
    flow.triggers.some((t) => triggerFires(flow, t, ev, event)) &&
    triggerConditionsHold(flow.trigger_conditions, ev.entity)
  );
}
