/** A header value as frameworks hand it over: Node gives arrays for repeated headers. */
export type HeaderValue = string | readonly string[] | number | null | undefined;

/** Anything with a case-insensitive `get`, such as Fetch `Headers`. */
export interface HeaderGetter {
  get(name: string): string | null | undefined;
}

/**
 * Request headers in any common shape: a Fetch `Headers` (or anything with `get(name)`), Node's
 * `IncomingHttpHeaders` (lower-case keys), or a plain object whose keys may have any case.
 */
export type HeaderBag = HeaderGetter | Readonly<Record<string, HeaderValue>>;

/** The Standard Webhooks headers and the access token header. */
export const HEADER = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
  accessToken: 'x-epilot-token',
} as const;

function first(value: HeaderValue | unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return first(value[0]);
  return undefined;
}

function joined(value: HeaderValue | unknown): string | undefined {
  if (Array.isArray(value)) {
    const parts = value.map(first).filter((v): v is string => v !== undefined);
    return parts.length ? parts.join(' ') : undefined;
  }
  return first(value);
}

/**
 * Reads one header, case-insensitively, from any {@link HeaderBag}. Array values (repeated headers)
 * give their first element, or with `all` every element joined by a space (for list-valued headers
 * such as `webhook-signature`). Returns `undefined` when the header is absent.
 *
 * This is the SDK's one header lookup; every verify function and adapter goes through it.
 */
export function getHeader(headers: HeaderBag | null | undefined, name: string, all = false): string | undefined {
  if (headers === null || headers === undefined || typeof headers !== 'object') return undefined;
  const pick = all ? joined : first;
  const lower = name.toLowerCase();
  if (typeof (headers as HeaderGetter).get === 'function') {
    return pick((headers as HeaderGetter).get(lower)) ?? undefined;
  }
  const record = headers as Readonly<Record<string, HeaderValue>>;
  if (Object.hasOwn(record, lower)) return pick(record[lower]);
  for (const key of Object.keys(record)) {
    if (key.length === lower.length && key.toLowerCase() === lower) return pick(record[key]);
  }
  return undefined;
}

/** What {@link getAccessToken} accepts: a request-like object or a header bag itself. */
export type HeaderSource =
  | { headers?: HeaderBag | null | undefined }
  | { request: { headers?: HeaderBag | null | undefined } }
  | HeaderBag;

/** Finds the headers of a request-like object (`req.headers`, `ctx.request.headers`) or a header bag. */
export function headersOf(source: HeaderSource | null | undefined): HeaderBag | undefined {
  if (source === null || source === undefined || typeof source !== 'object') return undefined;
  const withHeaders = source as { headers?: unknown };
  if (withHeaders.headers !== null && typeof withHeaders.headers === 'object') return withHeaders.headers as HeaderBag;
  const ctx = source as { request?: { headers?: unknown } };
  if (ctx.request !== null && typeof ctx.request === 'object' && typeof ctx.request.headers === 'object') {
    return (ctx.request.headers ?? undefined) as HeaderBag | undefined;
  }
  return source as HeaderBag;
}

/**
 * The access token the platform sent in `x-epilot-token` (only when the app declares permissions),
 * or `undefined`. Accepts a Node/Express/Fastify request, a Fetch `Request`, a Lambda event,
 * `{request: {headers}}`, or headers directly.
 *
 * The token is valid for 600 seconds and limited to the app's grants in the installer org; see the
 * README for writing back with `@epilot/entity-client`.
 */
export function getAccessToken(request: HeaderSource): string | undefined {
  const token = getHeader(headersOf(request), HEADER.accessToken)?.trim();
  return token ? token : undefined;
}
