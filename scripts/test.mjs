#!/usr/bin/env node
// Runs every test with node's test runner. When TEST_DATABASE_URL is unset and PostgreSQL's server
// binaries are installed, starts a throwaway PostgreSQL cluster on loopback for the run, so the
// store conformance suite and the PostgreSQL platform tests run too; without them those suites
// report as skipped.
// It collects the test files itself (every `*.test.js` under the dist folders) and hands node the
// explicit list: node 20 reads a folder argument as "search it", node 22+ reads arguments as files or
// globs only, so listing files is what runs the same tests on every version.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs = ['packages/app-sdk/dist', 'packages/actionbridge/dist', 'examples/credit-check/dist'];

/** Every `*.test.js` under `dir`, sorted. */
function testFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') found.push(...testFiles(path));
    } else if (entry.name.endsWith('.test.js')) found.push(path);
  }
  return found.sort();
}

// Arguments name test files or folders to run instead of all of them.
const only = process.argv.slice(2);
const roots = only.length ? only : dirs;
const missing = roots.filter((root) => !existsSync(root));
const files = missing.length ? [] : roots.flatMap((root) => (statSync(root).isDirectory() ? testFiles(root) : [root]));
if (!files.length) {
  const why = missing.length ? `no such test file or folder: ${missing.join(', ')} (built? tsc -b)` : 'no *.test.js';
  process.stderr.write(`${why}\n`);
  process.exit(2);
}

function pgBin() {
  for (const dir of ['/usr/lib/postgresql']) {
    if (!existsSync(dir)) continue;
    const versions = readdirSync(dir).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(dir, v, 'bin', 'initdb'))) return join(dir, v, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return which.status === 0 ? join(which.stdout.trim(), '..') : undefined;
}

const freePort = () =>
  new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

async function startPostgres(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'ab-pg-'));
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root: run the server as the postgres user then.
  const run = (cmd, args) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  if (asRoot)
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres']).toString()),
      Number(execFileSync('id', ['-g', 'postgres']).toString()),
    );
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  // fsync off: a throwaway test cluster; durability is tested against SQLite's and the engine's own guarantees.
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let pg;
const env = { ...process.env };
if (!env.TEST_DATABASE_URL) {
  const bin = pgBin();
  if (bin) {
    pg = await startPostgres(bin);
    env.TEST_DATABASE_URL = pg.url;
    process.stdout.write(`# PostgreSQL for this run: ${pg.url}\n`);
  } else {
    process.stdout.write('# PostgreSQL is not installed: the PostgreSQL suites report as skipped (CI installs it)\n');
  }
}

process.stdout.write(`# node ${process.version}, ${files.length} test files\n`);
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  env,
  stdio: 'inherit',
});
// Interrupted (Ctrl-C, a CI timeout): pass it on to the tests, then stop the cluster all the same.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
const code = await new Promise((res) => child.on('exit', (c, sig) => res(c ?? (sig ? 1 : 0))));
pg?.stop();
process.exit(code);
