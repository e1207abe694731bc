/** Deepest nesting accepted in any JSON document: request bodies and apps' answers alike. */
export const MAX_JSON_DEPTH = 64;

/**
 * Why a parsed JSON value cannot be stored, or `undefined` when it can: nesting deeper than
 * `MAX_JSON_DEPTH` (it would overflow the stack when serialised again) or a NUL character
 * (PostgreSQL text cannot hold one). Iterative, so hostile input cannot overflow it either.
 */
export function unstorableJson(value: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return 'strings must not contain NUL (\\u0000) characters';
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) return `JSON nested deeper than ${MAX_JSON_DEPTH} levels`;
    if (Array.isArray(v)) {
      for (const item of v) stack.push([item, depth + 1]);
    } else {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes('\u0000')) return 'keys must not contain NUL (\\u0000) characters';
        stack.push([item, depth + 1]);
      }
    }
  }
  return undefined;
}
