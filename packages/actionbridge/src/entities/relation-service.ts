import { isAllowed } from '../auth/grants.js';
import { grantsOf, orgOf, type Principal } from '../auth/principal.js';
import { RELATION_ACTIVITY } from '../domain/activities.js';
import { badRequest, forbidden, notFound, unprocessable } from '../domain/errors.js';
import type { EntityItem, RelationItem } from '../domain/types.js';
import type { ListedRelation, Store } from '../store/store.js';
import { viewScope } from './planner.js';
import { hydrateInPlace, isRelationValue, MAX_RELATIONS, relationItems, storedItem } from './relations.js';
import type { EntityService } from './service.js';

/** How a relation list is asked for (epilot's `getRelations`, `getRelationsV2`, `getRelationsV3`). */
export interface RelationListing {
  hydrate: boolean;
  direction: 'direct' | 'reverse' | 'both';
  includeSchemas?: string[];
  excludeSchemas?: string[];
  from: number;
  size: number;
  /** `fields` of V2/V3: a projection of each hydrated entity. */
  project?: (e: EntityItem) => Record<string, unknown>;
}

/** A relation as epilot's `RelationItem`, or hydrated as its `RelationEntity` (with `attribute` and `entity_id`, as epilot's example shows). */
function present(r: ListedRelation, hydrate: boolean, project?: RelationListing['project']) {
  const item: RelationItem = {
    entity_id: r.entity_id,
    attribute: r.attribute,
    ...(r._tags ? { _tags: r._tags } : {}),
    _schema: r._schema,
    ...(r.reverse ? { reverse: true } : {}),
  };
  if (!hydrate || !r.entity) return item;
  const entity = project ? project(r.entity) : r.entity;
  return { ...entity, attribute: r.attribute, entity_id: r.entity_id, $relation: item };
}

/**
 * epilot's Relations API over the `$relation` attributes of entities: reads go through the store's
 * relation rows (only related entities the caller may view are ever listed or hydrated: a missing
 * one, another org's and one its grants hide look the same); changes are PATCHes of the relation
 * attribute through the entity service (its event, grants and activity like any update).
 */
export class RelationService {
  constructor(
    private readonly store: Store,
    private readonly entities: EntityService,
  ) {}

  /** One page of an entity's relations (`hits`: how many there are). */
  async list(p: Principal, slug: string, id: string, q: RelationListing) {
    await this.entities.get(p, slug, id);
    const { hits, results } = await this.store.listRelations(orgOf(p), id, {
      direction: q.direction,
      scope: viewScope(grantsOf(p)),
      ...(q.includeSchemas ? { includeSchemas: q.includeSchemas } : {}),
      ...(q.excludeSchemas ? { excludeSchemas: q.excludeSchemas } : {}),
      from: q.from,
      size: q.size,
      withEntities: q.hydrate,
    });
    return { hits, relations: results.map((r) => present(r, q.hydrate, q.project)) };
  }

  /** How many distinct entities the caller may view are related to the entity, either way (epilot's `getRelatedEntitiesCount`). */
  async count(p: Principal, slug: string, id: string, excludeSchemas?: string[]): Promise<number> {
    await this.entities.get(p, slug, id);
    return this.store.countRelatedEntities(orgOf(p), id, {
      scope: viewScope(grantsOf(p)),
      ...(excludeSchemas ? { excludeSchemas } : {}),
    });
  }

  /** The entities an entity points at that the caller may view (getEntity's `relations`). */
  async relatedEntities(p: Principal, entity: EntityItem): Promise<EntityItem[]> {
    if (relationItems(entity).length === 0) return [];
    const { results } = await this.store.listRelations(orgOf(p), entity._id, {
      direction: 'direct',
      scope: viewScope(grantsOf(p)),
      from: 0,
      size: MAX_RELATIONS,
      withEntities: true,
    });
    const seen = new Set<string>();
    return results.flatMap((r) => (r.entity && !seen.has(r.entity_id) && seen.add(r.entity_id) ? [r.entity] : []));
  }

  /** getEntity's `hydrate=true`: relation attributes replaced in place by the related entities. */
  hydrate(entity: EntityItem, related: EntityItem[]): EntityItem {
    return hydrateInPlace(entity, new Map(related.map((e) => [e._id, e])));
  }

  /**
   * Relates entities to this one (epilot's `addRelations`): each item goes to the end of its
   * attribute (created when missing); an item already there keeps its place and takes the sent
   * `_tags`. Every related entity must be one of the org's (404 otherwise) the caller may view (403).
   * Answers the first item as stored.
   */
  async add(p: Principal, slug: string, id: string, items: RelationItem[], activityId?: string): Promise<RelationItem> {
    const orgId = orgOf(p);
    for (const [i, item] of items.entries()) {
      if (item.reverse) throw badRequest(`[${i}].reverse: a reverse relation is added on the entity that points`);
      if (item.org_id !== undefined && item.org_id !== orgId) {
        throw badRequest(`[${i}].org_id: relations never leave the org (${orgId})`);
      }
    }
    let schemas = new Map<string, string>();
    const after = await this.entities.modify(
      p,
      slug,
      id,
      async (before, tx) => {
        schemas = await tx.getEntitySchemas(
          orgId,
          items.map((x) => x.entity_id),
        );
        for (const item of items) {
          const schema = schemas.get(item.entity_id);
          if (!schema) throw notFound(`entity ${item.entity_id}`);
          if (!isAllowed(grantsOf(p), 'entity:view', schema, item.entity_id)) {
            throw forbidden(`missing grant entity:view on ${schema}:${item.entity_id}`);
          }
          if (item._schema !== undefined && item._schema !== schema) {
            throw unprocessable(`related entity ${item.entity_id} is a ${schema}, not a ${item._schema}`);
          }
        }
        const patch: Record<string, { $relation: Array<Record<string, unknown>> }> = {};
        for (const item of items) {
          const value = patch[item.attribute] ?? { $relation: this.itemsOf(before, item.attribute) };
          patch[item.attribute] = value;
          const stored = { entity_id: item.entity_id, ...(item._tags ? { _tags: item._tags } : {}) };
          const at = value.$relation.findIndex((x) => x.entity_id === item.entity_id);
          if (at === -1) value.$relation.push(stored);
          else if (item._tags) value.$relation[at] = { ...value.$relation[at], _tags: item._tags };
        }
        const total = relationItems({ ...before, ...patch }).length;
        if (total > MAX_RELATIONS) {
          throw unprocessable(`${slug} ${id} would hold ${total} relations; at most ${MAX_RELATIONS}`);
        }
        return patch;
      },
      { ...(activityId ? { id: activityId } : {}), type: RELATION_ACTIVITY.added },
    );
    const [head] = items as [RelationItem];
    const stored = relationItems(after).find((r) => r.attribute === head.attribute && r.entity_id === head.entity_id);
    return { ...(stored ?? head), _schema: schemas.get(head.entity_id) as string };
  }

  /** Removes relations (epilot's `removeRelations`, `deleteRelation`): each must exist (404 naming it), all go at once. */
  async remove(
    p: Principal,
    slug: string,
    id: string,
    items: Array<Pick<RelationItem, 'attribute' | 'entity_id'>>,
    activityId?: string,
  ): Promise<void> {
    await this.entities.modify(
      p,
      slug,
      id,
      async (before) => {
        const patch: Record<string, { $relation: Array<Record<string, unknown>> }> = {};
        for (const item of items) {
          const value = patch[item.attribute] ?? { $relation: this.itemsOf(before, item.attribute, true) };
          patch[item.attribute] = value;
          const at = value.$relation.findIndex((x) => x.entity_id === item.entity_id);
          if (at === -1) throw notFound(`relation ${item.attribute} → ${item.entity_id} of ${slug} ${id}`);
          value.$relation.splice(at, 1);
        }
        return patch;
      },
      { ...(activityId ? { id: activityId } : {}), type: RELATION_ACTIVITY.removed },
    );
  }

  /** Sets the `_tags` of one relation (epilot's `updateRelation`); 404 when it does not exist. */
  async update(
    p: Principal,
    slug: string,
    id: string,
    attribute: string,
    entityId: string,
    tags: string[] | undefined,
    activityId?: string,
  ): Promise<RelationItem> {
    let item: RelationItem | undefined;
    await this.entities.modify(
      p,
      slug,
      id,
      async (before, tx) => {
        const list = this.itemsOf(before, attribute, true);
        const at = list.findIndex((x) => x.entity_id === entityId);
        if (at === -1) throw notFound(`relation ${attribute} → ${entityId} of ${slug} ${id}`);
        const { _tags: _old, ...rest } = list[at] as Record<string, unknown>;
        list[at] = { ...rest, ...(tags ? { _tags: tags } : {}) };
        const schema = (await tx.getEntitySchemas(orgOf(p), [entityId])).get(entityId);
        item = {
          entity_id: entityId,
          attribute,
          ...(tags ? { _tags: tags } : {}),
          ...(schema && isAllowed(grantsOf(p), 'entity:view', schema, entityId) ? { _schema: schema } : {}),
        };
        return { [attribute]: { $relation: list } };
      },
      activityId ? { id: activityId } : {},
    );
    return item as RelationItem;
  }

  /**
   * A copy of the items of a relation attribute of `e` (none when it has no such attribute); an
   * attribute holding anything else is a 422, and with `existing` a missing one is a 404.
   */
  private itemsOf(e: EntityItem, attribute: string, existing = false): Array<Record<string, unknown>> {
    const value = e[attribute];
    if (value === undefined || value === null) {
      if (existing) throw notFound(`relation attribute ${attribute} of ${e._schema} ${e._id}`);
      return [];
    }
    if (!isRelationValue(value)) {
      throw unprocessable(`${attribute} of ${e._schema} ${e._id} is not a relation attribute`);
    }
    return relationItems({ [attribute]: value }).map(storedItem);
  }
}
