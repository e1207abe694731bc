import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
  name: string;
  dependencies?: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

const expected: Record<string, string[]> = {
  '.': [
    'verifyCustomAction',
    'verifyEpilotSignature',
    'SignatureError',
    'getAccessToken',
    'reportResult',
    'signWebhook',
  ],
  './node': ['customActionHandler', 'verifyRequest', 'readRawBody'],
  './express': ['customActionHandler', 'verifyRequest', 'captureRawBody'],
  './fastify': ['customActionHandler', 'verifyRequest', 'addRawBodyParser'],
  './fetch': ['customActionHandler', 'verifyRequest'],
  './lambda': ['customActionHandler', 'verifyEvent'],
  './testing': ['createTestKit', 'signTestRequest', 'serveKeyDocuments'],
  './signing': ['signWebhook', 'signedContent'],
};

describe('package', () => {
  test('has no runtime dependencies', () => {
    assert.equal(manifest.dependencies, undefined);
  });

  for (const [subpath, names] of Object.entries(expected)) {
    test(`exports ${subpath} with types and code`, async () => {
      const entry = manifest.exports[subpath];
      assert.ok(entry && typeof entry === 'object', `package.json exports ${subpath}`);
      assert.deepEqual(Object.keys(entry), ['types', 'default']);
      assert.ok(existsSync(path.join(packageDir, entry.types)), entry.types);
      const specifier = path.posix.join(manifest.name, subpath);
      const module = (await import(specifier)) as Record<string, unknown>;
      for (const name of names) assert.equal(typeof module[name], 'function', `${specifier} exports ${name}`);
    });
  }

  test('no non-test files in a folder named test', () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
      );
    const offenders = walk(path.join(packageDir, 'src')).filter(
      (file) => file.split(path.sep).includes('test') && !file.endsWith('.test.ts'),
    );
    assert.deepEqual(offenders, []);
  });
});
