import type { EntityEvent, Flow } from '../domain/types.js';

/** The trigger index rows of a flow: one per (schema, operation) an `entity_operation` trigger listens to; '*' = any operation. */
export function triggerKeys(flow: Flow): Array<{ schema: string; operation: string }> {
  const keys = new Map<string, { schema: string; operation: string }>();
  for (const t of flow.triggers) {
    if (t.type !== 'entity_operation') continue;
    const schema = t.configuration.schema ?? flow.entity_schema;
    if (!schema) continue;
    const ops = t.configuration.operations?.length ? t.configuration.operations : ['*'];
    for (const operation of ops) keys.set(`${schema}\u0000${operation}`, { schema, operation });
  }
  return [...keys.values()];
}

/** Flows events can reach: enabled ones, and those the system disabled as hot (they record `hot` runs). */
export function triggerable(flow: Flow): boolean {
  return flow.enabled || flow.disable_details?.disabled_by === 'system';
}

/** Whether one of `flow`'s triggers fires for `ev` (schema, operation, and changed attributes when listed). */
export function fires(flow: Flow, ev: EntityEvent): boolean {
  return flow.triggers.some(
    (t) =>
      t.type === 'entity_operation' &&
      (t.configuration.schema ?? flow.entity_schema) === ev.schema &&
      (!t.configuration.operations?.length || t.configuration.operations.includes(ev.operation)) &&
      (!t.configuration.attributes?.length ||
        t.configuration.attributes.some((a) => a in ev.diff.added || a in ev.diff.updated || a in ev.diff.deleted)),
  );
}
