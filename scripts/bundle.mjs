#!/usr/bin/env node
// Bundles the platform (packages/actionbridge/dist, compiled by `tsc -b`) into one file with
// esbuild: dist/bundle/platform.js, and the WAL checkpoint thread next to it. The CLI starts from
// the bundle when it is at least as new as the compiled code (see src/cli.ts). Loading ~700 module
// files (Kysely alone is 263) was 250 ms of the 400 ms from start to healthy, measured on this
// 2-core machine; the bundle loads in ~90 ms. Native and optional modules stay outside it:
// better-sqlite3 (a native addon), pg (loaded only with DATABASE_URL), undici (loaded once the
// API listens). Whitespace and comments go: the bundle's source is held in memory as a string, and
// the comments' non-ASCII characters made it a two-byte string of 5.5 MB; now it is 1.9 MB of one-byte
// (idle RSS −3.3 MB, measured). Identifiers are kept, so stack traces name their functions, and the
// linked source map (node --enable-source-maps) gives their lines.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const dir = new URL('../packages/actionbridge/', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'));

await build({
  entryPoints: {
    platform: new URL('dist/platform.js', dir).pathname,
    'checkpoint-thread': new URL('dist/db/checkpoint-thread.js', dir).pathname,
  },
  outdir: new URL('dist/bundle', dir).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'pg', 'undici'],
  // CommonJS dependencies call require(): give the ES module bundle one.
  banner: {
    js: "import { createRequire as __actionbridgeRequire } from 'node:module'; const require = __actionbridgeRequire(import.meta.url);",
  },
  define: { ACTIONBRIDGE_VERSION: JSON.stringify(version) },
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
