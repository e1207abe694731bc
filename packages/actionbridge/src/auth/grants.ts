import type { Grant, GrantAction } from '../domain/types.js';

export const GRANT_ACTIONS: readonly GrantAction[] = [
  'entity:view',
  'entity:create',
  'entity:edit',
  'entity:delete',
  'entity:*',
];

function resourceMatches(resource: string | undefined, schema: string, id: string | undefined): boolean {
  if (resource === undefined || resource === '*') return true;
  const colon = resource.indexOf(':');
  if (colon === -1) return resource === schema;
  const [s, rid] = [resource.slice(0, colon), resource.slice(colon + 1)];
  if (s !== schema && s !== '*') return false;
  // `<schema>:<id>` names one entity; a create has no id yet, so it never matches.
  return rid === '*' || (id !== undefined && rid === id);
}

/**
 * Whether `grants` allow `action` on an entity of `schema` (with `id`, when it exists).
 * An explicit deny beats any allow; no matching allow means no.
 */
export function isAllowed(grants: readonly Grant[], action: GrantAction, schema: string, id?: string): boolean {
  let allowed = false;
  for (const g of grants) {
    if (g.action !== action && g.action !== 'entity:*') continue;
    if (!resourceMatches(g.resource, schema, id)) continue;
    if (g.effect === 'deny') return false;
    allowed = true;
  }
  return allowed;
}
