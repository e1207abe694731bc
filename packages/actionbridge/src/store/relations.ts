import { type RawBuilder, sql } from 'kysely';
import type { EntityItem, RelationItem } from '../domain/types.js';
import { parse, type Q } from './context.js';
import { type EntityScope, scopeCondition } from './entities.js';

/**
 * Relations: the `entity_relations` rows mirror the items of each entity's `$relation` attributes
 * (migration 0009), written by the entity service in the transaction of the entity's write. They
 * answer "what does this entity point at" and, through `entity_relations_reverse`, "what points at
 * it", joined to the related entities so that missing ones, other orgs', those in the trash
 * (soft-deleted) and those the caller's grants do not let it view are left out by the same query
 * that pages.
 */

export interface RelationQuery {
  /** `direct`: what the entity points at; `reverse`: what points at it; `both`: direct first. */
  direction: 'direct' | 'reverse' | 'both';
  /** Which related entities the caller may view (grants, see entities/planner.ts `viewScope`). */
  scope: EntityScope;
  includeSchemas?: readonly string[];
  excludeSchemas?: readonly string[];
  from: number;
  size: number;
  /** Also read each related entity's document (hydration). */
  withEntities: boolean;
}

/** A relation as listed: the related entity's id and schema, and for `withEntities` the entity. */
export interface ListedRelation {
  attribute: string;
  entity_id: string;
  _schema: string;
  _tags?: string[];
  reverse: boolean;
  entity?: EntityItem;
}

const ROWS_PER_INSERT = 200;

type Row = {
  attribute: string;
  id: string;
  tags: string | null;
  reverse: number | string;
  schema: string;
  data?: string;
};

export function relationQueries(q: Q) {
  const { db } = q;

  /** The part of a relation list on one side: direct rows (r.entity_id = id) or reverse ones (r.related_id = id). */
  const side = (orgId: string, entityId: string, reverse: boolean, o: RelationQuery, columns: RawBuilder<unknown>) => {
    const related = reverse ? sql.ref('r.entity_id') : sql.ref('r.related_id');
    const mine = reverse ? sql.ref('r.related_id') : sql.ref('r.entity_id');
    const schemas = [
      ...(o.includeSchemas?.length ? [sql`e.schema in (${sql.join([...o.includeSchemas])})`] : []),
      ...(o.excludeSchemas?.length ? [sql`e.schema not in (${sql.join([...o.excludeSchemas])})`] : []),
    ];
    return sql`select ${columns}, ${reverse ? sql`1` : sql`0`} as reverse,
        ${reverse ? sql`0` : sql.ref('r.position')} as pos, ${reverse ? related : sql`''`} as src
      from entity_relations r join entities e on e.id = ${related} and e.org_id = r.org_id
      where r.org_id = ${orgId} and ${mine} = ${entityId} and ${scopeCondition(o.scope)}
        and e.deleted_at is null
      ${schemas.length ? sql`and ${sql.join(schemas, sql` and `)}` : sql``}`;
  };

  const union = (orgId: string, entityId: string, o: RelationQuery, columns: RawBuilder<unknown>) => {
    const parts = [
      ...(o.direction !== 'reverse' ? [side(orgId, entityId, false, o, columns)] : []),
      ...(o.direction !== 'direct' ? [side(orgId, entityId, true, o, columns)] : []),
    ];
    return sql.join(parts, sql` union all `);
  };

  return {
    /**
     * Makes `items` the entity's relation rows, in their order (its `$relation` attributes as the
     * entity service wrote them): deletes the old rows, inserts the new ones.
     */
    async setEntityRelations(orgId: string, entityId: string, items: readonly RelationItem[]): Promise<void> {
      await db.deleteFrom('entity_relations').where('org_id', '=', orgId).where('entity_id', '=', entityId).execute();
      const rows = items.map((item, position) => ({
        org_id: orgId,
        entity_id: entityId,
        attribute: item.attribute,
        related_id: item.entity_id,
        position,
        tags: item._tags ? JSON.stringify(item._tags) : null,
      }));
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        await db
          .insertInto('entity_relations')
          .values(rows.slice(i, i + ROWS_PER_INSERT))
          .execute();
      }
    },

    /**
     * One page of an entity's relations to entities the scope lets the caller view, and how many
     * there are: direct ones in document order, then reverse ones by the pointing entity's id.
     */
    async listRelations(
      orgId: string,
      entityId: string,
      o: RelationQuery,
    ): Promise<{ hits: number; results: ListedRelation[] }> {
      const columns = o.withEntities
        ? sql`r.attribute, ${sql.ref('e.id')} as id, r.tags, e.schema, e.data`
        : sql`r.attribute, ${sql.ref('e.id')} as id, r.tags, e.schema`;
      const count = await sql<{ n: number | string }>`
        select count(*) as n from (${union(orgId, entityId, o, sql`r.attribute`)}) x`.execute(db);
      const hits = Number(count.rows[0]?.n ?? 0);
      if (o.size === 0 || o.from >= hits) return { hits, results: [] };
      const page = await sql<Row>`
        select * from (${union(orgId, entityId, o, columns)}) x
        order by reverse, pos, src, attribute limit ${o.size} offset ${o.from}`.execute(db);
      const results = page.rows.map((r): ListedRelation => {
        const tags = r.tags ? parse<string[]>(r.tags) : undefined;
        return {
          attribute: r.attribute,
          entity_id: r.id,
          _schema: r.schema,
          ...(tags ? { _tags: tags } : {}),
          reverse: Number(r.reverse) === 1,
          ...(r.data ? { entity: parse<EntityItem>(r.data) } : {}),
        };
      });
      return { hits, results };
    },

    /** How many distinct entities the scope lets the caller view are related to the entity, either way. */
    async countRelatedEntities(
      orgId: string,
      entityId: string,
      o: Pick<RelationQuery, 'scope' | 'excludeSchemas'>,
    ): Promise<number> {
      const all: RelationQuery = { ...o, direction: 'both', from: 0, size: 0, withEntities: false };
      const { rows } = await sql<{ n: number | string }>`
        select count(distinct id) as n from (${union(orgId, entityId, all, sql`${sql.ref('e.id')} as id`)}) x`.execute(
        db,
      );
      return Number(rows[0]?.n ?? 0);
    },
  };
}
