import { badRequest, notFound } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { newUuid, nowIso } from '../util/ids.js';
import { BUILTIN_SCHEMA_DEFINITIONS, BUILTIN_SCHEMAS, type BuiltinSchema } from './builtin-schemas.js';
import { checkSlug } from './service.js';

/** epilot's `EntitySchemaItem`: an `EntitySchema` with the server's id, version and times. */
export interface EntitySchemaItem {
  slug: string;
  name: string;
  plural: string;
  attributes: Array<{ name: string; label: string; type: string; [k: string]: unknown }>;
  capabilities: Array<{ name: string; [k: string]: unknown }>;
  id?: string;
  version?: number;
  created_at?: string;
  updated_at?: string;
  published?: boolean;
  [k: string]: unknown;
}

/**
 * epilot's `EntitySchema` fields that would change how the server treats entities or schemas, and
 * that ActionBridge does not apply: refused by name instead of stored and ignored.
 */
const REFUSED: Record<string, string> = {
  title_template: 'title_template is not supported: _title comes from _title, name, title, email or first/last name',
  explicit_search_mappings: 'explicit_search_mappings is not supported: every attribute is indexed as it is',
  feature_flag: 'feature_flag is not supported: ActionBridge has no feature flags, every schema is active',
  enable_setting: 'enable_setting is not supported: ActionBridge has no organization settings, every schema is active',
};
/** Fields of an `EntitySchemaItem` read back and sent again: the server's, replaced on every put. */
const SERVER_FIELDS = ['id', 'version', 'created_at', 'updated_at', 'frozen', 'latest', '_summary'];

const isBuiltin = (slug: string): slug is BuiltinSchema => (BUILTIN_SCHEMAS as string[]).includes(slug);

/** A built-in schema's definition (a copy), if `slug` names one. */
const builtin = (slug: string): EntitySchemaItem | undefined =>
  isBuiltin(slug) ? (structuredClone(BUILTIN_SCHEMA_DEFINITIONS[slug]) as unknown as EntitySchemaItem) : undefined;

/** A slug in use that no schema describes: what its entities are called, no attributes. */
function undescribed(slug: string): EntitySchemaItem {
  return {
    slug,
    name: slug.charAt(0).toUpperCase() + slug.slice(1).replace(/[_-]/g, ' '),
    plural: `${slug}s`,
    attributes: [],
    capabilities: [],
  };
}

/** Query parameters of `listSchemas` as epilot's clients send them: `a,b` or `a[]=…` lists. */
export interface ListSchemasQuery {
  unpublished?: boolean;
  include?: string | string[];
  exclude?: string | string[];
}

const slugList = (v: string | string[] | undefined): string[] | undefined =>
  v === undefined
    ? undefined
    : (Array.isArray(v) ? v : [v])
        .flatMap((x) => x.split(','))
        .map((x) => x.trim())
        .filter((x) => x !== '');

/**
 * epilot's entity schemas (`listSchemas`, `getSchema`, `putSchema`, `deleteSchema`): each org may
 * put its own; the built-in ones (`opportunity`, `contact`, `contract`, with attributes) answer until
 * it does, and again once it deletes its own. A slug with entities but no schema reads as a schema
 * without attributes. One version is kept per schema (each put is the next `version`, with a new
 * `id`); entity writes are not validated against attributes.
 */
export class EntitySchemas {
  constructor(private readonly store: Store) {}

  /** Built-in schemas first, then the org's own and the slugs in use, by slug. */
  async list(orgId: string, q: ListSchemasQuery = {}): Promise<EntitySchemaItem[]> {
    const stored = await this.store.listEntitySchemaDefinitions<EntitySchemaItem>(orgId);
    const used = await this.store.listEntitySchemas(orgId);
    const bySlug = new Map(stored.map((s) => [s.slug, s]));
    const others = [...new Set([...bySlug.keys(), ...used])].filter((s) => !isBuiltin(s)).sort();
    const include = slugList(q.include);
    const exclude = new Set(slugList(q.exclude) ?? []);
    const items: EntitySchemaItem[] = [];
    for (const slug of [...BUILTIN_SCHEMAS, ...others]) {
      if ((include && !include.includes(slug)) || exclude.has(slug)) continue;
      const item = bySlug.get(slug) ?? builtin(slug) ?? undescribed(slug);
      // epilot's (deprecated) `unpublished`: drafts (`published: false`) are listed only when asked for.
      if (item.published === false && !q.unpublished) continue;
      items.push(item);
    }
    return items;
  }

  /**
   * The current version; `id` names a version, and only the current one is kept. `latest` needs no
   * handling: schemas are never frozen here, so the current version is the latest.
   */
  async get(orgId: string, slug: string, id?: string): Promise<EntitySchemaItem> {
    checkSlug(slug);
    const item =
      (await this.store.getEntitySchema<EntitySchemaItem>(orgId, slug)) ??
      builtin(slug) ??
      ((await this.store.hasEntitiesOf(orgId, slug)) ? undescribed(slug) : undefined);
    if (!item) throw notFound(`entity schema ${slug}`);
    if (id !== undefined && item.id !== id) {
      throw notFound(`version ${id} of entity schema ${slug} (only the current version is kept)`);
    }
    return item;
  }

  /** Creates or replaces the org's schema of `slug` (its next version). */
  async put(orgId: string, slug: string, body: Record<string, unknown>, draft = false): Promise<EntitySchemaItem> {
    checkSlug(slug);
    if (draft) throw badRequest('draft is deprecated and not supported: send "published": false instead');
    for (const [field, why] of Object.entries(REFUSED)) if (body[field] !== undefined) throw badRequest(why);
    if (body.draft === true) throw badRequest('draft is deprecated and not supported: send "published": false instead');
    if (body.slug !== undefined && body.slug !== slug) {
      throw badRequest(`slug "${String(body.slug)}" does not match the path's schema "${slug}"`);
    }
    const doc = body as unknown as EntitySchemaItem;
    const names = new Set<string>();
    doc.attributes.forEach((a, i) => {
      if (names.has(a.name)) throw badRequest(`attributes[${i}].name "${a.name}" is used by an earlier attribute`);
      names.add(a.name);
    });
    const capabilities = new Set<string>();
    doc.capabilities.forEach((c, i) => {
      if (capabilities.has(c.name))
        throw badRequest(`capabilities[${i}].name "${c.name}" is used by an earlier capability`);
      capabilities.add(c.name);
    });
    return this.store.transaction(async (tx) => {
      const before = await tx.getEntitySchema<EntitySchemaItem>(orgId, slug);
      const previous = before ?? builtin(slug);
      const now = nowIso();
      const kept = Object.fromEntries(Object.entries(body).filter(([k]) => !SERVER_FIELDS.includes(k)));
      const item: EntitySchemaItem = {
        ...(kept as unknown as EntitySchemaItem),
        id: newUuid(),
        slug,
        version: (previous?.version ?? 0) + 1,
        created_at: before?.created_at ?? now,
        updated_at: now,
      };
      await tx.putEntitySchema({
        org_id: orgId,
        slug,
        data: JSON.stringify(item),
        created_at: item.created_at as string,
        updated_at: now,
      });
      return item;
    });
  }

  /** Deletes the org's own schema of `slug` (a built-in one then answers again); entities stay. */
  async remove(orgId: string, slug: string): Promise<EntitySchemaItem> {
    checkSlug(slug);
    return this.store.transaction(async (tx) => {
      const before = await tx.getEntitySchema<EntitySchemaItem>(orgId, slug);
      if (!before || !(await tx.deleteEntitySchema(orgId, slug))) {
        throw notFound(
          isBuiltin(slug)
            ? `entity schema ${slug}: the built-in schema has no stored definition to delete`
            : `entity schema ${slug}`,
        );
      }
      return before;
    });
  }
}
