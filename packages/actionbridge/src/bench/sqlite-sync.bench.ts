/**
 * SQLite commit cost by `synchronous` setting, in WAL mode (the choice in db/connect.ts):
 * single-row write transactions per second, and the longest a commit blocked the event loop.
 * Run: `node packages/actionbridge/dist/bench/sqlite-sync.bench.js`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';

function run(sync: 'NORMAL' | 'FULL', n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ab-sync-'));
  const db = new SQLite(join(dir, 'b.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  db.exec('create table t (id integer primary key, v text)');
  const insert = db.prepare('insert into t (v) values (?)');
  const tx = db.transaction((v: string) => insert.run(v));
  const body = 'x'.repeat(500);
  let worst = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    tx(body);
    worst = Math.max(worst, performance.now() - t);
  }
  const s = (performance.now() - start) / 1000;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { perSecond: Math.round(n / s), worstMs: Number(worst.toFixed(2)) };
}

const n = Number(process.env.BENCH_SQLITE_COMMITS ?? 2000);
const full = run('FULL', n);
const normal = run('NORMAL', n);
console.log('SQLite WAL single-row commits');
console.log(`  synchronous=FULL    ${full.perSecond}/s, worst commit ${full.worstMs} ms`);
console.log(`  synchronous=NORMAL  ${normal.perSecond}/s, worst commit ${normal.worstMs} ms`);
console.log(`  NORMAL ÷ FULL       ${(normal.perSecond / full.perSecond).toFixed(1)}×`);
