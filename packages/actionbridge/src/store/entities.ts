import { createHash } from 'node:crypto';
import { type Kysely, type RawBuilder, type Selectable, sql, type Transaction } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import type { EntityItem } from '../domain/types.js';
import type { Q } from './context.js';
import { insertRows } from './insert-rows.js';

/**
 * Entity persistence: the `entities` rows and their search index, `entity_terms` (migration 0006).
 *
 * The index holds one row per scalar leaf of an entity: its dotted path (array positions left out,
 * as Elasticsearch does: `email.email` covers `email[*].email`), the value as lowercased text (cut at
 * {@link MAX_INDEXED_TEXT} characters) and, for JSON numbers, as a number. It is written in the same
 * transaction as the entity, so a search never sees one without the other.
 *
 * A search is a count and a page query driven by its most selective index lookup, the other terms
 * filtering those rows (see {@link searchEntities}). Patterns no index can answer (`*foo*`, bare
 * words) are matched in JS over the index rows of their path, in time slices that give the event
 * loop back every few milliseconds (better-sqlite3 runs SQL on the main thread: a LIKE over a big
 * org would hold it, and SQLite's LIKE/GLOB backtrack: `*a?a?…b*` took 360 ms over 2,000 rows).
 *
 * Measured (median of 15, this 2-core machine while other test suites loaded it; 100 vs 20,000
 * entities in the org; `store.test.ts` asserts the flat ones on SQLite):
 *   `email.email:x` 0.76 / 0.56 ms (SQLite), 10.6 / 17.2 ms (PostgreSQL: ~5 ms a round trip under
 *   that load; the plans are index scans executing in < 0.1 ms); `name:"…"` 0.40 / 0.53;
 *   prefix 0.72 / 0.54; `amount:[40 TO 43] AND status:won` 1.06 / 0.78; an upsert's key lookup
 *   0.61 / 0.33 (PostgreSQL 2.2 / 3.4); `amount:[40 TO 49] AND name:*3` (a pattern narrowed by an
 *   indexed sibling) 13.7 / 10.0; `_created_at` range AND a term 0.69 / 1.00.
 * Costs that grow with the matches, as in Elasticsearch: `*` 0.2 / 9.3 ms; `status:won` (6,667
 * hits) 0.6 / 15.9; `NOT status:won` 0.3 / 49; `status:won` sorted by `amount` 0.35 / 194.
 * Patterns with a leading wildcard and bare words read every index row of their path, in slices:
 * `name:*43` 0.8 / 202 ms, `user43` 11 / 554 ms wall time (measured with 250-row chunks and 8 ms
 * slices; now 150 and 5), the event loop free all along.
 */

/**
 * Text longer than this is indexed (and so found by equality, prefix and pattern) by its start
 * only, like Elasticsearch's `ignore_above: 256` keywords. Index keys this long are what a write
 * pays for: a 1,000-leaf entity took 175 ms to index with 400 characters, 110 ms with 256 (SQLite,
 * this machine under load).
 */
export const MAX_INDEXED_TEXT = 256;
/**
 * Leaves past this many per entity are not indexed (a 1 MB array of numbers would be 100k rows).
 * Each row costs ~35 µs to write on SQLite here (3 indexes), so this also bounds a write to ~35 ms.
 */
export const MAX_INDEXED_LEAVES = 1000;
/** Leaves at longer paths are not indexed. */
export const MAX_INDEXED_PATH = 200;

export interface EntityTermsTable {
  org_id: string;
  entity_id: string;
  path: string;
  value_text: string;
  value_num: number | null;
}
type IndexedDatabase = Database & { entity_terms: EntityTermsTable };
type Db = Kysely<Database> | Transaction<Database>;
type IDb = Kysely<IndexedDatabase>;
const idx = (db: Db) => db as unknown as IDb;

/** A path's variants: `.keyword` (Elasticsearch's exact sub-field) dropped, and without array positions. */
export function pathVariants(field: string): string[] {
  const f = field.endsWith('.keyword') ? field.slice(0, -'.keyword'.length) : field;
  const noPositions = f
    .split('.')
    .filter((s) => !/^\d+$/.test(s))
    .join('.');
  return [...new Set([f, noPositions])].filter((p) => p !== '');
}

/** How a value is stored in `value_text`: lowercased, cut at {@link MAX_INDEXED_TEXT} (never inside a surrogate pair). */
export function indexText(value: string): string {
  const s = value.toLowerCase();
  if (s.length <= MAX_INDEXED_TEXT) return s;
  const cut = s.charCodeAt(MAX_INDEXED_TEXT - 1);
  return s.slice(0, cut >= 0xd800 && cut <= 0xdbff ? MAX_INDEXED_TEXT - 1 : MAX_INDEXED_TEXT);
}

/** The scalar leaves of a value: `[relative path, value]`, arrays flattened, in document order. */
export function leaves(value: unknown, path = '', out: Array<[string, string | number | boolean]> = []) {
  if (out.length >= MAX_INDEXED_LEAVES) return out;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    out.push([path, value]);
  } else if (Array.isArray(value)) {
    for (const v of value) leaves(v, path, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out);
  }
  return out;
}

/** System fields kept as columns of `entities` (searched and sorted there), so not in the index. */
export const COLUMN_FIELDS = {
  _id: 'id',
  _schema: 'schema',
  _created_at: 'created_at',
  _updated_at: 'updated_at',
} as const;
export type EntityColumn = (typeof COLUMN_FIELDS)[keyof typeof COLUMN_FIELDS];

/**
 * The `org_id` of a soft-deleted entity's index rows: its org's trash, a key no org id can be (org
 * ids have no `/`). Default searches read the org's own key only, so the trash costs them nothing
 * (not even in counts answered from the index alone); searches that include deleted entities
 * read this key too.
 */
export const trashKey = (orgId: string) => `${orgId}/trash`;

/** Whose index rows these are: the entity's org, or its org's trash while it is soft-deleted. */
const termsOrg = (e: Pick<EntityItem, '_org' | '_deleted_at'>) => (e._deleted_at ? trashKey(e._org) : e._org);

/** The index rows of an entity: its leaves but `_org` and the {@link COLUMN_FIELDS}. */
export function indexRows(e: EntityItem): EntityTermsTable[] {
  const { _org, _id, _schema, _created_at, _updated_at, ...rest } = e;
  const seen = new Set<string>();
  const rows: EntityTermsTable[] = [];
  for (const [path, v] of leaves(rest)) {
    if (path.length > MAX_INDEXED_PATH) continue;
    const value_text = indexText(String(v));
    const value_num = typeof v === 'number' ? v : null;
    const key = `${path}\u0000${value_text}\u0000${value_num}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({ org_id: termsOrg(e), entity_id: e._id, path, value_text, value_num });
  }
  return rows;
}

/** Writes an entity's index rows (after its old ones were deleted). */
export async function writeIndexRows(db: Db, e: EntityItem) {
  const rows = indexRows(e);
  for (let i = 0; i < rows.length; i += 200) await insertRows(idx(db), 'entity_terms', rows.slice(i, i + 200));
}

/** Runs `fn` in a transaction unless `db` already is one. */
function atomically<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : (db as Kysely<Database>).transaction().execute(fn);
}

const toEntity = (row: Pick<Selectable<Database['entities']>, 'data'>): EntityItem =>
  JSON.parse(row.data) as EntityItem;

export async function getEntity(db: Db, dialect: Dialect, orgId: string, id: string, lock = false) {
  let q = db.selectFrom('entities').select('data').where('org_id', '=', orgId).where('id', '=', id);
  if (lock && dialect === 'postgres') q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row && toEntity(row);
}

/** Ids per statement in the batched lookups below. */
const ID_CHUNK = 500;

/** The entities of an org among `ids` (missing and other orgs' ones left out), in no particular order. */
export async function getEntities(db: Db, orgId: string, ids: readonly string[]): Promise<EntityItem[]> {
  const out: EntityItem[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += ID_CHUNK) {
    const rows = await db
      .selectFrom('entities')
      .select('data')
      .where('org_id', '=', orgId)
      .where('id', 'in', unique.slice(i, i + ID_CHUNK))
      .execute();
    out.push(...rows.map(toEntity));
  }
  return out;
}

/**
 * The schema of each entity of an org among `ids` (missing ones, other orgs' and those in the trash
 * are not in the map: a relation to them is a relation to nothing).
 */
export async function getEntitySchemas(db: Db, orgId: string, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += ID_CHUNK) {
    const rows = await db
      .selectFrom('entities')
      .select(['id', 'schema'])
      .where('org_id', '=', orgId)
      .where('id', 'in', unique.slice(i, i + ID_CHUNK))
      .where('deleted_at', 'is', null)
      .execute();
    for (const r of rows) out.set(r.id, r.schema);
  }
  return out;
}

/** Every entity of an org (of one schema): a scan, for tests and tools; searches use {@link searchEntities}. */
export async function listEntities(db: Db, orgId: string, schema?: string) {
  let q = db.selectFrom('entities').select('data').where('org_id', '=', orgId);
  if (schema) q = q.where('schema', '=', schema);
  const rows = await q.orderBy('created_at', 'desc').orderBy('id').execute();
  return rows.map(toEntity);
}

export async function listEntitySchemas(db: Db, orgId: string) {
  const rows = await db
    .selectFrom('entities')
    .select('schema')
    .distinct()
    .where('org_id', '=', orgId)
    .orderBy('schema')
    .execute();
  return rows.map((r) => r.schema);
}

/** Whether the org has an entity of `schema` (in the trash too): one probe of the (org_id, schema) index. */
export async function hasEntitiesOf(db: Db, orgId: string, schema: string): Promise<boolean> {
  const row = await db
    .selectFrom('entities')
    .select('id')
    .where('org_id', '=', orgId)
    .where('schema', '=', schema)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export function insertEntity(db: Db, e: EntityItem) {
  return atomically(db, async (tx) => {
    await insertRows(tx, 'entities', [
      {
        id: e._id,
        org_id: e._org,
        schema: e._schema,
        data: JSON.stringify(e),
        created_at: e._created_at,
        updated_at: e._updated_at,
        deleted_at: e._deleted_at ?? null,
      },
    ]);
    await writeIndexRows(tx, e);
  });
}

/**
 * Rewrites an entity (its `_deleted_at` decides whether it is in the trash) and its index rows.
 * Moving into or out of the trash moves every index row to the trash key or back in one UPDATE.
 */
export function replaceEntity(db: Db, e: EntityItem) {
  return atomically(db, async (tx) => {
    const r = await tx
      .updateTable('entities')
      .set({ data: JSON.stringify(e), updated_at: e._updated_at, deleted_at: e._deleted_at ?? null })
      .where('org_id', '=', e._org)
      .where('id', '=', e._id)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return;
    // Rewrite only the rows that changed: a PATCH of one attribute touches one or two rows, not all.
    const key = (x: Pick<EntityTermsTable, 'path' | 'value_text' | 'value_num'>) =>
      `${x.path}\u0000${x.value_text}\u0000${x.value_num}`;
    const old = await idx(tx)
      .selectFrom('entity_terms')
      .select(['org_id', 'path', 'value_text', 'value_num'])
      .where('entity_id', '=', e._id)
      .execute();
    const owner = termsOrg(e);
    if (old.some((x) => x.org_id !== owner)) {
      await idx(tx).updateTable('entity_terms').set({ org_id: owner }).where('entity_id', '=', e._id).execute();
    }
    const next = indexRows(e);
    const keep = new Set(next.map(key));
    const have = new Set(old.map(key));
    const gone = old.filter((x) => !keep.has(key(x)));
    for (let i = 0; i < gone.length; i += 100) {
      const part = gone.slice(i, i + 100);
      await idx(tx)
        .deleteFrom('entity_terms')
        .where('entity_id', '=', e._id)
        .where((eb) =>
          eb.or(
            part.map((x) =>
              eb.and([
                eb('path', '=', x.path),
                eb('value_text', '=', x.value_text),
                x.value_num === null ? eb('value_num', 'is', null) : eb('value_num', '=', x.value_num),
              ]),
            ),
          ),
        )
        .execute();
    }
    const added = next.filter((x) => !have.has(key(x)));
    for (let i = 0; i < added.length; i += 200) await insertRows(idx(tx), 'entity_terms', added.slice(i, i + 200));
  });
}

export function deleteEntity(db: Db, orgId: string, id: string) {
  return atomically(db, async (tx) => {
    const r = await tx.deleteFrom('entities').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) > 0) await idx(tx).deleteFrom('entity_terms').where('entity_id', '=', id).execute();
  });
}

/**
 * Holds a lock on `key` until the transaction ends, so that two upserts of the same unique key run
 * one after the other (PostgreSQL: `pg_advisory_xact_lock` on a 64-bit hash of the key). SQLite
 * needs none: Kysely runs its one connection's transactions one at a time.
 */
export async function lockEntityKey(db: Db, dialect: Dialect, key: string) {
  if (!db.isTransaction) throw new Error('lockEntityKey needs a transaction');
  if (dialect !== 'postgres') return;
  const h = createHash('sha256').update(key).digest().readBigInt64BE(0);
  await sql`select pg_advisory_xact_lock(${h.toString()}::bigint)`.execute(db);
}

// ---------------------------------------------------------------------------------------------
// Search

/** Which entities a search selects: a boolean tree of index lookups (built by entities/planner.ts). */
export type EntityMatch =
  | { op: 'all' }
  | { op: 'none' }
  | { op: 'and'; items: EntityMatch[] }
  | { op: 'or'; items: EntityMatch[] }
  | { op: 'not'; item: EntityMatch }
  /** A column of `entities` (a system field), compared exactly. */
  | { op: 'column'; column: EntityColumn; value: string }
  /** A column of `entities` in a range (prefixes are ranges too). */
  | {
      op: 'columnRange';
      column: EntityColumn;
      lo?: { value: string; incl: boolean };
      hi?: { value: string; incl: boolean };
    }
  /** A leaf at one of `paths` whose text (see {@link indexText}) is `text`, or whose number is `num`. */
  | { op: 'eq'; paths: string[]; text: string; num?: number }
  /** A leaf whose text starts with `prefix` (already lowercased). */
  | { op: 'prefix'; paths: string[]; prefix: string }
  /** A leaf whose number (`on: 'num'`) or text lies in a range (text bounds already lowercased). */
  | {
      op: 'range';
      paths: string[];
      on: 'num' | 'text';
      lo?: { value: number | string; incl: boolean };
      hi?: { value: number | string; incl: boolean };
    }
  /** Any leaf at one of `paths` or below them. */
  | { op: 'exists'; paths: string[] }
  /**
   * A leaf (at one of `paths`; `null`: at any path) whose text passes `test`; `prefix` (lowercased)
   * narrows the rows read when the pattern starts with literal text.
   */
  | { op: 'scan'; paths: string[] | null; prefix: string; test: (text: string) => boolean };

/** Who may see what: any `allow` rule and no `deny` rule (grants, see auth/grants.ts). */
export interface EntityScope {
  allow: Array<{ schema?: string; id?: string }>;
  deny: Array<{ schema?: string; id?: string }>;
}

export interface EntitySort {
  key: { column: 'created_at' | 'updated_at' | 'id' | 'schema' } | { path: string };
  desc: boolean;
}

/**
 * Which entities a search sees: live ones (default), live and soft-deleted ones, or only the
 * soft-deleted ones (epilot's `include_deleted`: false, true, only).
 */
export type DeletedMode = 'exclude' | 'include' | 'only';

export interface EntitySearch {
  match: EntityMatch;
  scope?: EntityScope;
  /** Default `exclude`. */
  deleted?: DeletedMode;
  /** Empty: newest first. */
  sort: EntitySort[];
  from: number;
  size: number;
}

/**
 * Rows read per statement while scanning index rows (~2.5 ms for 150 rows of 256 characters on
 * SQLite, here), and milliseconds of scanning per loop turn: with 250 and 8, twelve hostile
 * searches delayed a GET /healthz by up to 100 ms on this loaded machine, with 150 and 5 by 30–85.
 */
const SCAN_CHUNK = 150;
const SLICE_MS = 5;
/** An AND whose indexed part selects at most this many entities scans only their rows for its patterns. */
const NARROW_LIMIT = 2000;

/**
 * The event loop's time, shared by every scan in the process: once scans have used
 * {@link SLICE_MS} of a loop turn, all of them wait for the next turn (`setImmediate`, after the
 * loop has polled for I/O). Per-scan slices were not enough: eight concurrent scans each taking
 * their 8 ms slice in the same turn held other requests for 190 ms.
 */
let turn: { start: number; next?: Promise<void> } = { start: performance.now() };
let scanning = 0;
let lane: Promise<void> = Promise.resolve();

/**
 * Runs one chunk of a scan (a read and its matching) when the chunks of other scans are done:
 * scans take turns chunk by chunk, so at most one scan statement waits for the database at any
 * time. Twelve concurrent scans each queueing theirs made a GET /healthz wait behind all of them
 * (SQLite's one connection, PostgreSQL's pool): 150–300 ms on a loaded machine.
 */
async function inLane<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(); // it holds the connection: waiting for other scans could deadlock
  const before = lane;
  let release = () => {};
  lane = new Promise((resolve) => {
    release = resolve;
  });
  await before;
  try {
    await shareLoop();
    return await fn();
  } finally {
    release();
  }
}

async function shareLoop() {
  while (performance.now() - turn.start >= SLICE_MS) {
    if (!turn.next) {
      turn.next = new Promise((resolve) =>
        setImmediate(() => {
          turn = { start: performance.now() };
          resolve();
        }),
      );
    }
    await turn.next;
  }
}

/** The smallest string above every string that starts with `prefix` (code-point order, as SQLite BINARY and PostgreSQL "C" compare). */
export function prefixEnd(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const last = (cps.pop() as string).codePointAt(0) as number;
    if (last < 0x10ffff) return cps.join('') + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
  }
  return undefined;
}

const TRUE = sql<boolean>`1 = 1`;
const FALSE = sql<boolean>`1 = 0`;
const and = (parts: RawBuilder<unknown>[]) => (parts.length === 0 ? TRUE : sql`(${sql.join(parts, sql` and `)})`);
const or = (parts: RawBuilder<unknown>[]) => (parts.length === 0 ? FALSE : sql`(${sql.join(parts, sql` or `)})`);

/** Leaves at one of `paths` (and, with `children`, below them); `a` is the entity_terms alias. */
function pathCond(a: 't' | 'f', paths: string[], children = false): RawBuilder<unknown> {
  const path = sql.ref(`${a}.path`);
  return or(
    paths.map((p) =>
      children ? sql`(${path} = ${p} or (${path} >= ${`${p}.`} and ${path} < ${`${p}/`}))` : sql`${path} = ${p}`,
    ),
  );
}

function prefixCond(a: 't' | 'f', prefix: string): RawBuilder<unknown> {
  if (prefix === '') return TRUE;
  const text = sql.ref(`${a}.value_text`);
  const end = prefixEnd(prefix);
  return end === undefined ? sql`${text} >= ${prefix}` : sql`${text} >= ${prefix} and ${text} < ${end}`;
}

type Leaf = Extract<EntityMatch, { op: 'eq' | 'prefix' | 'range' | 'exists' }>;

function columnRange(a: 'c' | 'e', m: Extract<EntityMatch, { op: 'columnRange' }>): RawBuilder<unknown> {
  const col = sql.ref(`${a}.${m.column}`);
  const parts: RawBuilder<unknown>[] = [];
  if (m.lo) parts.push(m.lo.incl ? sql`${col} >= ${m.lo.value}` : sql`${col} > ${m.lo.value}`);
  if (m.hi) parts.push(m.hi.incl ? sql`${col} <= ${m.hi.value}` : sql`${col} < ${m.hi.value}`);
  return and(parts);
}
type Scan = Extract<EntityMatch, { op: 'scan' }>;
type Scanned = Map<EntityMatch, string[]>;

/** Index rows (alias `a`) under one of `keys` (an org, its trash). */
function termsOf(a: 't', keys: string[]): RawBuilder<unknown> {
  const col = sql.ref(`${a}.org_id`);
  return keys.length === 1 ? sql`${col} = ${keys[0]}` : sql`${col} in (${sql.join(keys)})`;
}

/** The index keys a search reads, and what it requires of the entity rows, by {@link DeletedMode}. */
function deletedFilter(orgId: string, mode: DeletedMode): { keys: string[]; entity: RawBuilder<unknown> } {
  if (mode === 'only') return { keys: [trashKey(orgId)], entity: sql`e.deleted_at is not null` };
  if (mode === 'include') return { keys: [orgId, trashKey(orgId)], entity: TRUE };
  return { keys: [orgId], entity: sql`e.deleted_at is null` };
}

/** What a leaf lookup requires of an index row (alias `a`); `eq` on a number has a second form. */
function leafConds(a: 't' | 'f', m: Leaf): RawBuilder<unknown>[] {
  const text = sql.ref(`${a}.value_text`);
  const num = sql.ref(`${a}.value_num`);
  switch (m.op) {
    case 'eq': {
      const forms = [sql`${pathCond(a, m.paths)} and ${text} = ${m.text}`];
      if (m.num !== undefined) forms.push(sql`${pathCond(a, m.paths)} and ${num} is not null and ${num} = ${m.num}`);
      return forms;
    }
    case 'prefix':
      return [sql`${pathCond(a, m.paths)} and ${prefixCond(a, m.prefix)}`];
    case 'range': {
      const col = m.on === 'num' ? num : text;
      const parts: RawBuilder<unknown>[] = [pathCond(a, m.paths)];
      if (m.on === 'num') parts.push(sql`${num} is not null`);
      if (m.lo) parts.push(m.lo.incl ? sql`${col} >= ${m.lo.value}` : sql`${col} > ${m.lo.value}`);
      if (m.hi) parts.push(m.hi.incl ? sql`${col} <= ${m.hi.value}` : sql`${col} < ${m.hi.value}`);
      return [and(parts)];
    }
    case 'exists':
      return [pathCond(a, m.paths, true)];
  }
}

/**
 * The condition that a row (alias `a`, with the entity's schema and id in `schema` and `id`) is an
 * entity `scope` lets the caller view: `1 = 1` when the scope allows everything. Searches, relation
 * lists and activities use it alike.
 */
export function scopeCondition(s: EntityScope | undefined, a = 'e', idColumn = 'id'): RawBuilder<unknown> {
  if (!s) return TRUE;
  const rule = (r: { schema?: string; id?: string }) =>
    and([
      ...(r.schema !== undefined ? [sql`${sql.ref(`${a}.schema`)} = ${r.schema}`] : []),
      ...(r.id !== undefined ? [sql`${sql.ref(`${a}.${idColumn}`)} = ${r.id}`] : []),
    ]);
  const allow = s.allow.some((r) => r.schema === undefined && r.id === undefined) ? TRUE : or(s.allow.map(rule));
  return s.deny.length === 0 ? allow : sql`(${allow} and not ${or(s.deny.map(rule))})`;
}

/**
 * Compiles a match two ways. `set`: a query of the distinct ids it selects, straight from an index
 * (only for lookups that can drive a search: not for NOT, `*` or a schema). `filter`: a condition
 * on an entity row `e`, each lookup a correlated probe of that entity's own index rows.
 *
 * A search drives from the most selective `set` of its top-level AND and filters the rest, so its
 * cost follows that set, not the org. (Written as `(set) d CROSS JOIN entities e` on SQLite, which
 * makes `d` the outer loop: with `e.id IN (set)`, SQLite's planner, having no statistics, walked
 * the org's `entities` index instead: 30–50 ms at 20,000 entities against 0.3 ms.)
 */
class Compiler {
  constructor(
    private readonly dialect: Dialect,
    private readonly orgId: string,
    /** Whose index rows the search reads: the org's, its trash's, or both (see {@link trashKey}). */
    private readonly termKeys: string[],
    private readonly scanned: Scanned,
  ) {}

  /** Index rows (alias `a`) of the entities the search sees. */
  terms(a: 't'): RawBuilder<unknown> {
    return termsOf(a, this.termKeys);
  }

  private idList(list: string[]): RawBuilder<unknown> {
    return this.dialect === 'postgres'
      ? sql`select unnest(${list}::text[]) as id`
      : sql`select value as id from json_each(${JSON.stringify(list)})`;
  }

  /** Whether `m` can drive a search; `set` is defined exactly for these. */
  drives(m: EntityMatch): boolean {
    switch (m.op) {
      case 'eq':
      case 'prefix':
      case 'range':
      case 'exists':
      case 'scan':
        return true;
      case 'column':
        return m.column === 'id';
      case 'columnRange':
        return m.column !== 'schema';
      case 'or':
        return m.items.length > 0 && m.items.every((x) => this.drives(x));
      case 'and':
        return m.items.some((x) => this.drives(x));
      default:
        return false;
    }
  }

  set(m: EntityMatch): RawBuilder<unknown> {
    switch (m.op) {
      case 'eq':
      case 'prefix':
      case 'range':
      case 'exists':
        return sql.join(
          leafConds('t', m).map(
            (cond) => sql`select t.entity_id as id from entity_terms t where ${this.terms('t')} and ${cond}`,
          ),
          sql` union `,
        );
      case 'scan':
        return this.idList(this.scanned.get(m) ?? []);
      case 'column':
        return this.dialect === 'postgres' ? sql`select ${m.value}::text as id` : sql`select ${m.value} as id`;
      case 'columnRange':
        return sql`select c.id from entities c where c.org_id = ${this.orgId} and ${columnRange('c', m)}`;
      case 'or':
        return sql.join(
          m.items.map((x) => sql`select id from (${this.set(x)}) u`),
          sql` union `,
        );
      case 'and': {
        const [driver, ...rest] = [...m.items].sort((a, b) => Number(this.drives(b)) - Number(this.drives(a)));
        return sql`select e.id from ${this.from(driver as EntityMatch)} where ${this.join()} and ${this.filter({ op: 'and', items: rest })}`;
      }
      default:
        throw new Error(`${m.op} cannot drive a search`);
    }
  }

  /** The rows of a search driven by `driver` (or all the org's entities). */
  from(driver: EntityMatch | undefined): RawBuilder<unknown> {
    if (!driver) return sql`entities e`;
    const d = sql`(select distinct id from (${this.set(driver)}) s)`;
    return this.dialect === 'postgres' ? sql`${d} d join entities e on e.id = d.id` : sql`${d} d cross join entities e`;
  }
  join(): RawBuilder<unknown> {
    return this.dialect === 'postgres' ? TRUE : sql`e.id = d.id`;
  }

  /**
   * `probe`: each lookup a correlated EXISTS on the entity's own index rows (cheap per row: for the
   * few rows a driver yields). `set`: each lookup's ids gathered once (for scans of the whole org,
   * e.g. `NOT status:won`: 20,000 correlated probes took 290 ms, one set 15 ms).
   */
  filter(m: EntityMatch, mode: 'probe' | 'set' = 'probe'): RawBuilder<unknown> {
    switch (m.op) {
      case 'all':
        return TRUE;
      case 'none':
        return FALSE;
      case 'and':
        return and(m.items.map((x) => this.filter(x, mode)));
      case 'or':
        return or(m.items.map((x) => this.filter(x, mode)));
      case 'not':
        return sql`not ${this.filter(m.item, mode)}`;
      case 'column':
        return sql`${sql.ref(`e.${m.column}`)} = ${m.value}`;
      case 'columnRange':
        return columnRange('e', m);
      case 'scan': {
        const list = this.scanned.get(m) ?? [];
        return list.length === 0 ? FALSE : sql`e.id in (${this.idList(list)})`;
      }
      default:
        if (mode === 'set') return sql`e.id in (${this.set(m)})`;
        return or(
          leafConds('f', m).map(
            (cond) => sql`exists (select 1 from entity_terms f where f.entity_id = e.id and ${cond})`,
          ),
        );
    }
  }

  scope(s: EntityScope | undefined): RawBuilder<unknown> {
    return scopeCondition(s);
  }

  orderBy(sort: EntitySort[]): RawBuilder<unknown> {
    const keys = sort.length > 0 ? sort : [{ key: { column: 'created_at' as const }, desc: true }];
    const parts = keys.flatMap(({ key, desc }) => {
      const dir = desc ? sql`desc` : sql`asc`;
      if ('column' in key) return [sql`${sql.ref(`e.${key.column}`)} ${dir}`];
      // Like Elasticsearch: a list sorts by its smallest value ascending, its largest descending;
      // numbers before text; entities without the attribute last.
      const agg = desc ? sql`max` : sql`min`;
      const num = sql`(select ${agg}(s.value_num) from entity_terms s where s.entity_id = e.id and s.path = ${key.path})`;
      const text = sql`(select ${agg}(s.value_text) from entity_terms s where s.entity_id = e.id and s.path = ${key.path})`;
      return [sql`${num} ${dir} nulls last`, sql`${text} ${dir} nulls last`];
    });
    return sql.join([...parts, sql`e.id asc`]);
  }
}

function scans(m: EntityMatch, out: Scan[] = []): Scan[] {
  if (m.op === 'scan') out.push(m);
  else if (m.op === 'and' || m.op === 'or') for (const x of m.items) scans(x, out);
  else if (m.op === 'not') scans(m.item, out);
  return out;
}

/** The ids of entities with a leaf that passes a scan, reading the org's index rows in slices. */
async function runScan(db: Db, keys: string[], m: Scan, within?: string[]): Promise<string[]> {
  // The first scan of an idle loop starts a fresh turn (the last one may have ended long ago).
  if (scanning++ === 0 && !turn.next) turn = { start: performance.now() };
  try {
    return await scanRows(db, keys, m, within);
  } finally {
    scanning--;
  }
}

async function scanRows(db: Db, keys: string[], m: Scan, within?: string[]): Promise<string[]> {
  const found = new Set<string>();
  const check = async (rows: Array<{ entity_id: string; value_text: string }>) => {
    for (const r of rows) {
      if (!found.has(r.entity_id) && m.test(r.value_text)) found.add(r.entity_id);
      await shareLoop();
    }
  };
  if (within) {
    for (let i = 0; i < within.length; i += SCAN_CHUNK) {
      const ids = within.slice(i, i + SCAN_CHUNK);
      await inLane(db, async () => {
        const { rows } = await sql<{ entity_id: string; value_text: string }>`
          select t.entity_id, t.value_text from entity_terms t
          where t.entity_id in (${sql.join(ids)})
          and ${m.paths === null ? TRUE : pathCond('t', m.paths)} and ${prefixCond('t', m.prefix)}`.execute(db);
        await check(rows);
      });
    }
    return [...found];
  }
  // Keyset pagination along the (org_id, path, value_text, entity_id) index: each chunk is a short
  // index range, whatever the org's size.
  for (const orgKey of keys) {
    for (const path of m.paths ?? [null]) {
      let after: { path: string; value_text: string; entity_id: string } | undefined;
      for (;;) {
        const keyset = after
          ? path === null
            ? sql`(t.path, t.value_text, t.entity_id) > (${after.path}, ${after.value_text}, ${after.entity_id})`
            : sql`(t.value_text, t.entity_id) > (${after.value_text}, ${after.entity_id})`
          : TRUE;
        const rows = await inLane(db, async () => {
          const chunk = await sql<{ path: string; entity_id: string; value_text: string }>`
          select t.path, t.value_text, t.entity_id from entity_terms t
          where t.org_id = ${orgKey} and ${path === null ? TRUE : sql`t.path = ${path}`} and ${prefixCond('t', m.prefix)}
          and ${keyset}
          order by ${path === null ? sql`t.path, ` : sql``}t.value_text, t.entity_id
          limit ${SCAN_CHUNK}`.execute(db);
          await check(chunk.rows);
          return chunk.rows;
        });
        if (rows.length < SCAN_CHUNK) break;
        after = rows.at(-1);
      }
    }
  }
  return [...found];
}

/** At most this many ids are counted to compare candidate drivers. */
const ESTIMATE_CAP = 1000;
/** A candidate this small is taken without estimating the others. */
const SMALL_ENOUGH = 100;
/** Which candidates to estimate first: those that tend to select few. */
const RANK: Partial<Record<EntityMatch['op'], number>> = { column: 0, eq: 1, columnRange: 2, range: 3, prefix: 4 };

/** How many distinct ids a driving set holds, counting at most {@link ESTIMATE_CAP}. */
async function estimate(db: Db, c: Compiler, m: EntityMatch, scanned: Scanned): Promise<number> {
  if (m.op === 'scan') return scanned.get(m)?.length ?? 0;
  if (m.op === 'column') return 1;
  const { rows } = await sql<{ n: number | string }>`
    select count(*) as n from (select distinct id from (${c.set(m)}) s limit ${ESTIMATE_CAP}) x`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Picks the conjunct to drive from: an `_id`, else the smallest (by a count capped at
 * {@link ESTIMATE_CAP}, so each estimate is bounded too) of those that can drive. `n`: its
 * estimate, when one was made.
 */
async function pickDriver(db: Db, c: Compiler, conjuncts: EntityMatch[], scanned: Scanned) {
  const candidates = conjuncts.filter((x) => c.drives(x)).sort((a, b) => (RANK[a.op] ?? 9) - (RANK[b.op] ?? 9));
  const [first] = candidates;
  if (!first) return undefined;
  if (candidates.length === 1 || first.op === 'column') return { m: first, n: undefined as number | undefined };
  let best: { m: EntityMatch; n: number } | undefined;
  for (const m of candidates) {
    const n = await estimate(db, c, m, scanned);
    if (!best || n < best.n) best = { m, n };
    if (n <= SMALL_ENOUGH) break;
  }
  return best;
}

/** Leaves and ORs of leaves: their driving set alone answers a count, from the index only. */
const countable = (m: EntityMatch): boolean =>
  ['eq', 'prefix', 'range', 'exists'].includes(m.op) || (m.op === 'or' && m.items.every(countable));

/**
 * Searches an org's entities: `hits` counts every match the scope allows, `results` is the page.
 *
 * Plan: the most selective index lookup of the top-level AND drives (a capped estimate per
 * candidate picks it when there are several) and the other conjuncts filter its rows; the count
 * and the page read only those. Broad lookups (≥ {@link ESTIMATE_CAP} entities) page the other
 * way round when sorted by date: newest first along `(org_id, created_at)`, filtering, until the
 * page is full. A lone lookup is counted from the index alone. Patterns no index answers are
 * matched by a sliced scan of their path's index rows first, narrowed to the candidates of their
 * indexed AND-siblings when those are few.
 */
export async function searchEntities(
  db: Db,
  dialect: Dialect,
  orgId: string,
  q: EntitySearch,
): Promise<{ hits: number; results: EntityItem[] }> {
  const scanned: Scanned = new Map();
  const deleted = deletedFilter(orgId, q.deleted ?? 'exclude');
  const c = new Compiler(dialect, orgId, deleted.keys, scanned);
  const conjuncts = q.match.op === 'and' ? q.match.items : [q.match];
  const scope = c.scope(q.scope);
  const plan = async (match: EntityMatch[]) => {
    const driver = await pickDriver(db, c, match, scanned);
    const rest = match.filter((x) => x !== driver?.m);
    return {
      driver,
      rest,
      from: c.from(driver?.m),
      where: and([
        ...(driver ? [c.join()] : []),
        sql`e.org_id = ${orgId}`,
        deleted.entity,
        c.filter({ op: 'and', items: rest }, driver ? 'probe' : 'set'),
        scope,
      ]),
    };
  };
  const pending = scans(q.match);
  if (pending.length > 0) {
    // Narrowing: in `A AND B AND pattern`, read only the candidates' rows when A AND B select few.
    const siblings = conjuncts.filter((x) => scans(x).length === 0);
    let within: string[] | undefined;
    if (siblings.some((x) => c.drives(x))) {
      const s = await plan(siblings);
      const { rows: ids } = await sql<{ id: string }>`
        select e.id from ${s.from} where ${s.where} limit ${NARROW_LIMIT + 1}`.execute(db);
      if (ids.length <= NARROW_LIMIT) within = ids.map((r) => r.id);
    }
    for (const m of pending) scanned.set(m, await runScan(db, deleted.keys, m, within));
  }
  const s = await plan(conjuncts);
  const [key] = q.sort.map((x) => x.key);
  const dateSorted = !key || (q.sort.length === 1 && 'column' in key && key.column !== 'id' && key.column !== 'schema');
  if (s.driver && s.driver.n === undefined && (dateSorted || (s.rest.length === 0 && scope === TRUE))) {
    s.driver.n = await estimate(db, c, s.driver.m, scanned);
  }
  // A lone index lookup reads only the index rows of the entities the search sees (live ones under
  // the org's key, deleted ones under its trash key): its count needs no entity rows.
  const lone = s.driver && s.rest.length === 0 && scope === TRUE && countable(s.driver.m);
  let hits: number;
  if (lone && s.driver && (s.driver.n as number) < ESTIMATE_CAP) hits = s.driver.n as number;
  else if (lone && s.driver) {
    const { rows } = await sql<{ n: number | string }>`
      select count(*) as n from (select distinct id from (${c.set(s.driver.m)}) s) d`.execute(db);
    hits = Number(rows[0]?.n ?? 0);
  } else {
    const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${s.from} where ${s.where}`.execute(
      db,
    );
    hits = Number(rows[0]?.n ?? 0);
  }
  if (q.size === 0 || q.from >= hits) return { hits, results: [] };
  const broad = s.driver !== undefined && (s.driver.n ?? 0) >= ESTIMATE_CAP && dateSorted;
  const page = broad
    ? await sql<{ data: string }>`
        select e.data from entities e where e.org_id = ${orgId} and ${deleted.entity}
        and ${c.filter({ op: 'and', items: conjuncts })} and ${scope} order by ${c.orderBy(q.sort)} limit ${q.size} offset ${q.from}`.execute(
        db,
      )
    : await sql<{ data: string }>`
        select e.data from ${s.from} where ${s.where}
        order by ${c.orderBy(q.sort)} limit ${q.size} offset ${q.from}`.execute(db);
  return { hits, results: page.rows.map(toEntity) };
}

/** The entity module of the store (see store.ts): these functions over the store's database. */
export function entityQueries({ db, dialect }: Q) {
  return {
    /** `lock`: hold the row until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite writes are serial anyway). */
    getEntity: (orgId: string, id: string, lock = false) => getEntity(db, dialect, orgId, id, lock),
    /** The org's entities among `ids`; missing ones (and other orgs') are left out. */
    getEntities: (orgId: string, ids: readonly string[]) => getEntities(db, orgId, ids),
    /** The schema of each of the org's entities among `ids`. */
    getEntitySchemas: (orgId: string, ids: readonly string[]) => getEntitySchemas(db, orgId, ids),
    /** Entities of an org, optionally of one schema, newest first: a scan, for tests and tools. */
    listEntities: (orgId: string, schema?: string) => listEntities(db, orgId, schema),
    listEntitySchemas: (orgId: string) => listEntitySchemas(db, orgId),
    hasEntitiesOf: (orgId: string, schema: string) => hasEntitiesOf(db, orgId, schema),
    /** Writes keep the entity's search index in the same transaction. */
    insertEntity: (e: EntityItem) => insertEntity(db, e),
    replaceEntity: (e: EntityItem) => replaceEntity(db, e),
    deleteEntity: (orgId: string, id: string) => deleteEntity(db, orgId, id),
    /** Entities matching a planned search (entities/planner.ts), on the index: the count and one page. */
    searchEntities: (orgId: string, search: EntitySearch) => searchEntities(db, dialect, orgId, search),
    /** Serialises writers of one unique key until the transaction ends (PostgreSQL advisory lock). */
    lockEntityKey: (key: string) => lockEntityKey(db, dialect, key),
  };
}
