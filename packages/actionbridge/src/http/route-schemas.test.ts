import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { type TestPlatform, testPlatform } from '../testing/harness.js';

/**
 * The server compiles each route's validators on the route's first request (start-up time), so a
 * schema that cannot compile would only show then. This compiles every request schema the routes
 * declare, as published in /openapi.json, with the server's own Ajv settings.
 */
describe('route schemas', () => {
  let p: TestPlatform;
  before(async () => {
    p = await testPlatform();
  });
  after(() => p.stop());

  it('every route’s body, query, path and header schema compiles', async () => {
    const doc = (await (await fetch(`${p.url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { requestBody?: unknown; parameters?: Array<{ name: string; schema?: unknown }> }>
      >;
    };
    const ajv = new Ajv({ coerceTypes: false, useDefaults: true, strict: false, allErrors: false });
    let compiled = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const body = (op.requestBody as { content?: Record<string, { schema?: object }> } | undefined)?.content;
        const schemas = [
          ...Object.values(body ?? {}).map((c) => c.schema),
          ...(op.parameters ?? []).map((prm) => prm.schema),
        ].filter((s): s is object => s !== undefined);
        for (const schema of schemas) {
          assert.doesNotThrow(() => ajv.compile(schema), `${method.toUpperCase()} ${path}`);
          compiled++;
        }
      }
    }
    // The API has well over a hundred of them: an empty document would prove nothing.
    assert.ok(compiled > 100, `only ${compiled} schemas found`);
  });
});
