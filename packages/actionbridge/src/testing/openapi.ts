/**
 * Checks answers against the OpenAPI definitions epilot's published clients ship, so tests can
 * prove that what the server sends is what those clients were written against.
 *
 * The definitions are OpenAPI 3.0-style schemas (the app API says 3.1.0 but uses 3.0 keywords).
 * They are compiled with ajv as JSON Schema draft-07 after three rewrites that keep their meaning:
 * `nullable: true` becomes "or null", a `oneOf` with a fully mapped `discriminator` becomes "the
 * discriminator value selects the schema", and a member of an `allOf` loses `additionalProperties:
 * false` (read as JSON Schema it would forbid the other members' properties, so that e.g. the entity
 * API's `BaseActivityItem` = `{_id, timestamp}` + `Activity` (closed) + `{caller}` matched nothing;
 * OpenAPI tools and epilot's generated types read `allOf` as a merge). Every `$ref` resolves inside
 * its own definition.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/** The definitions of epilot's clients that ActionBridge answers to, by the package file that holds them. */
export const DEFINITIONS = {
  /** `@epilot/sdk`'s App API (`app` client; also what `@epilot/cli app …` calls). */
  app: '@epilot/sdk/app/openapi.json',
  /** `@epilot/entity-client`'s own copy of the entity API. */
  entity: '@epilot/entity-client/dist/openapi.json',
  /** `@epilot/automation-client`'s own copy of the automation API. */
  automation: '@epilot/automation-client/dist/openapi.json',
} as const;

export type DefinitionName = keyof typeof DEFINITIONS;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export interface OpenApiDocument {
  openapi: string;
  info?: { title?: string; version?: string };
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
  [k: string]: unknown;
}

export interface Operation {
  operationId: string;
  method: string;
  path: string;
  /** The documented statuses (`200`, `4XX`, `default`, …). */
  statuses: string[];
}

export interface AnswerCheck {
  ok: boolean;
  /** What does not match, one line each (`/installed_version must be string`). */
  errors: string[];
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const pointer = (parts: string[]) => `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * `oneOf` with a `discriminator` whose mapping names every branch becomes "the discriminator property
 * is one of the mapped values, and the value's schema applies": what the discriminator means, and
 * errors then name the mismatch in the chosen branch instead of listing every branch.
 */
function discriminate(out: JsonObject, d: JsonObject): void {
  const prop = d.propertyName as string;
  const mapping = isObject(d.mapping) ? (d.mapping as Record<string, string>) : undefined;
  const branches = Array.isArray(out.oneOf) ? out.oneOf : undefined;
  const refs = branches?.map((b) => (isObject(b) && typeof b.$ref === 'string' ? b.$ref : undefined));
  if (!mapping || !branches || !refs?.every((r) => r && Object.values(mapping).includes(r))) return;
  delete out.oneOf;
  const values = Object.keys(mapping);
  out.allOf = [
    ...(Array.isArray(out.allOf) ? out.allOf : []),
    { required: [prop], properties: { [prop]: { enum: values } } },
    ...values.map((v) => {
      return {
        if: { required: [prop], properties: { [prop]: { const: v } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
        then: { $ref: mapping[v] as string },
      };
    }),
  ];
}

/** Rewrites `nullable` and `discriminator` (see `discriminate`) everywhere in a copy of the document. */
function toDraft07(value: Json): Json {
  if (Array.isArray(value)) return value.map(toDraft07);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  let discriminator: JsonObject | undefined;
  for (const [k, v] of Object.entries(value)) {
    // `discriminator` of OpenAPI is an object naming a property; a property *called* discriminator is a schema.
    if (k === 'discriminator' && isObject(v) && typeof v.propertyName === 'string') {
      discriminator = v;
      continue;
    }
    out[k] = toDraft07(v);
  }
  if (discriminator) discriminate(out, discriminator);
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      return out;
    }
    return { anyOf: [{ type: 'null' }, out] };
  }
  if (out.nullable === false) delete out.nullable;
  return out;
}

/**
 * Drops `additionalProperties: false` from the members of every `allOf` in `doc` (a copy, changed in
 * place): inline members lose it, and a member that is a `$ref` to a closed schema becomes a copy of
 * that schema without it (the schema itself stays closed where it is used on its own).
 */
function openAllOfMembers(doc: JsonObject): void {
  const schemas = (isObject(doc.components ?? null) ? (doc.components as JsonObject).schemas : undefined) as
    | JsonObject
    | undefined;
  const open = (member: Json): Json => {
    if (!isObject(member)) return member;
    const ref = typeof member.$ref === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(member.$ref)?.[1] : undefined;
    const target = ref && schemas ? schemas[ref] : undefined;
    const closed = ref ? target : member;
    if (!isObject(closed ?? null) || (closed as JsonObject).additionalProperties !== false) return member;
    const { additionalProperties: _closed, ...rest } = closed as JsonObject;
    return rest;
  };
  const stack: Json[] = [doc];
  while (stack.length > 0) {
    const v = stack.pop() as Json;
    if (Array.isArray(v)) stack.push(...v);
    else if (isObject(v)) {
      if (Array.isArray(v.allOf)) v.allOf = v.allOf.map(open);
      stack.push(...Object.values(v));
    }
  }
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The formats the three definitions use; any other format is reported by ajv and ignored. */
const FORMATS = {
  'date-time': (s: string) => ISO_DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)),
  date: /^\d{4}-\d{2}-\d{2}$/,
  uuid: UUID,
  UUID: UUID,
  ulid: /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i,
  email: /^[^\s@]+@[^\s@]+$/,
  uri: (s: string) => URL.canParse(s),
};

function describe(e: ErrorObject): string {
  const at = e.instancePath || '(body)';
  const extra =
    e.keyword === 'additionalProperties'
      ? ` (${String(e.params.additionalProperty)})`
      : e.keyword === 'enum'
        ? ` (${JSON.stringify(e.params.allowedValues)})`
        : '';
  return `${at} ${e.message ?? e.keyword}${extra}`;
}

/** An answer is empty when there is no body at all (or an empty string, as a 204 reads). */
const isEmpty = (body: unknown) => body === undefined || body === '' || body === null;

/** One client's OpenAPI definition, ready to check answers against. */
export class OpenApiChecker {
  private readonly ajv: Ajv;
  private readonly id: string;
  private readonly doc: OpenApiDocument;
  private readonly ops = new Map<string, Operation & { pointer: string[] }>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(doc: OpenApiDocument, name = 'definition') {
    this.doc = toDraft07(doc as unknown as Json) as unknown as OpenApiDocument;
    openAllOfMembers(this.doc as unknown as JsonObject);
    this.id = `openapi:${name}`;
    this.ajv = new Ajv({ strict: false, allErrors: true, formats: FORMATS, logger: false });
    this.ajv.addSchema(this.doc as object, this.id);
    for (const [path, item] of Object.entries(this.doc.paths ?? {})) {
      for (const method of METHODS) {
        const op = item[method] as { operationId?: string; responses?: Record<string, unknown> } | undefined;
        if (!op?.operationId) continue;
        this.ops.set(op.operationId, {
          operationId: op.operationId,
          method: method.toUpperCase(),
          path,
          statuses: Object.keys(op.responses ?? {}),
          pointer: ['paths', path, method],
        });
      }
    }
  }

  /** Loads a client's definition from node_modules (`app`, `entity`, `automation`, or a package file). */
  static load(which: DefinitionName | string): OpenApiChecker {
    const file = which in DEFINITIONS ? DEFINITIONS[which as DefinitionName] : which;
    const path = createRequire(import.meta.url).resolve(file);
    return new OpenApiChecker(JSON.parse(readFileSync(path, 'utf8')) as OpenApiDocument, which);
  }

  get title(): string {
    return `${this.doc.info?.title ?? 'API'} ${this.doc.info?.version ?? ''}`.trim();
  }

  /** Every operation of the definition, in document order. */
  operations(): Operation[] {
    return [...this.ops.values()].map(({ pointer: _p, ...op }) => op);
  }

  operation(operationId: string): Operation {
    const op = this.ops.get(operationId);
    if (!op) throw new Error(`${this.id} has no operation ${operationId}`);
    const { pointer: _p, ...rest } = op;
    return rest;
  }

  /** A named schema of the definition (`#/components/schemas/<name>`), for checking a value directly. */
  checkSchema(name: string, value: unknown): AnswerCheck {
    if (!isObject(this.doc.components?.schemas?.[name] as Json)) throw new Error(`${this.id} has no schema ${name}`);
    return this.run(pointer(['components', 'schemas', name]), value);
  }

  /** Checks one answer of an operation: a documented status, and a body that matches its schema. */
  check(operationId: string, status: number, body: unknown): AnswerCheck {
    const op = this.ops.get(operationId);
    if (!op) throw new Error(`${this.id} has no operation ${operationId}`);
    const code = String(status);
    const key = [code, `${code[0]}XX`, `${code[0]}xx`, 'default'].find((k) => op.statuses.includes(k));
    if (!key) {
      return {
        ok: false,
        errors: [`status ${status} is not documented for ${operationId} (documented: ${op.statuses.join(', ')})`],
      };
    }
    let at = [...op.pointer, 'responses', key];
    let response = this.at(at) as JsonObject;
    while (typeof response?.$ref === 'string') {
      at = response.$ref.replace(/^#\//, '').split('/').map(unescapePointer);
      response = this.at(at) as JsonObject;
    }
    const content = isObject(response?.content) ? response.content : undefined;
    const type = content && Object.keys(content).find((t) => /json/i.test(t));
    const schema = type && content ? (content[type] as JsonObject | undefined)?.schema : undefined;
    if (!schema) {
      // No body described: nothing to check, except that 204 (No Content) and 205 never carry one.
      if ((status === 204 || status === 205) && !isEmpty(body)) {
        return { ok: false, errors: [`${operationId} answered ${status} with a body`] };
      }
      return { ok: true, errors: [] };
    }
    if (isEmpty(body)) return { ok: false, errors: [`${operationId} documents a JSON body for ${key}, none was sent`] };
    return this.run(pointer([...at, 'content', type as string, 'schema']), body);
  }

  private run(ref: string, value: unknown): AnswerCheck {
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${this.id}${ref}` });
      this.compiled.set(ref, validate);
    }
    const ok = validate(value) as boolean;
    // A failed `if`/`then` also reports "must match then": the errors inside `then` already say why.
    const errors = (validate.errors ?? []).filter((e, _i, all) => e.keyword !== 'if' || all.length === 1);
    return { ok, errors: ok ? [] : [...new Set(errors.map(describe))] };
  }

  private at(parts: string[]): unknown {
    let cur: unknown = this.doc;
    for (const p of parts) cur = isObject(cur as Json) ? (cur as JsonObject)[p] : undefined;
    return cur;
  }
}

function unescapePointer(p: string): string {
  return decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Throws an AssertionError naming every mismatch when an answer does not match the operation's schema. */
export function assertAnswer(
  checker: OpenApiChecker,
  operationId: string,
  answer: { status: number; data?: unknown; body?: unknown },
): void {
  const body = 'data' in answer ? answer.data : answer.body;
  const r = checker.check(operationId, answer.status, body);
  if (!r.ok) {
    const err = new Error(
      `${operationId} answered ${answer.status}, which does not match ${checker.title}:\n  ${r.errors.slice(0, 12).join('\n  ')}`,
    );
    err.name = 'AssertionError';
    throw err;
  }
}

/** An epilot client's answer: its status, body and headers. `data` is what the test reads of it. */
export type ClientAnswer = { status: number; data: any; headers?: Record<string, unknown> };

/** Calls an epilot client operation and returns its answer, also when it is an HTTP error (axios throws those). */
export async function call(p: Promise<{ status: number; data: unknown; headers?: unknown }>): Promise<ClientAnswer> {
  try {
    const r = await p;
    return { status: r.status, data: r.data, headers: (r.headers ?? {}) as Record<string, unknown> };
  } catch (err) {
    const res = (err as { response?: { status: number; data: unknown; headers?: unknown } }).response;
    if (!res) throw err;
    return { status: res.status, data: res.data, headers: (res.headers ?? {}) as Record<string, unknown> };
  }
}

/** An epilot client (an axios instance) pointed at `url` and authorised with `token`. */
export function pointed<C extends { defaults: { baseURL?: string; headers: { common: object } } }>(
  client: C,
  url: string,
  token: string,
): C {
  client.defaults.baseURL = url;
  (client.defaults.headers.common as Record<string, string>).authorization = `Bearer ${token}`;
  return client;
}
