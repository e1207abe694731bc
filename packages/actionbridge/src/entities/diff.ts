import type { EntityDiff } from '../domain/types.js';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The change between two attribute sets: added keys, updated keys (new values), deleted keys (old values). */
export function diffAttributes(before: Record<string, unknown>, after: Record<string, unknown>): EntityDiff {
  const diff: EntityDiff = { added: {}, updated: {}, deleted: {} };
  for (const [k, v] of Object.entries(after)) {
    if (!(k in before)) diff.added[k] = v;
    else if (!same(before[k], v)) diff.updated[k] = v;
  }
  for (const [k, v] of Object.entries(before)) if (!(k in after)) diff.deleted[k] = v;
  return diff;
}

export const isEmptyDiff = (d: EntityDiff) =>
  Object.keys(d.added).length + Object.keys(d.updated).length + Object.keys(d.deleted).length === 0;
