import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';

/** The PostgreSQL server tests may use (`TEST_DATABASE_URL`), if any. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

/** Why PostgreSQL suites do not run here, or undefined when they do. */
export const POSTGRES_SKIP = TEST_DATABASE_URL
  ? undefined
  : 'PostgreSQL is not available: set TEST_DATABASE_URL or install postgresql';

/**
 * Declares a suite that runs on `backend`. A PostgreSQL suite without a test server is reported as
 * one skipped test of the same title with the reason (node's summary counts skipped tests, not
 * skipped suites), so a run without PostgreSQL says what it left out instead of dropping it.
 */
export function describeOn(backend: 'sqlite' | 'postgres', title: string, fn: () => void): void {
  if (backend === 'postgres' && POSTGRES_SKIP) it(title, { skip: POSTGRES_SKIP }, () => {});
  else describe(title, fn);
}

/** Creates an empty database on the test server; `drop` removes it. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error(`${POSTGRES_SKIP} (declare the suite with describeOn)`);
  const name = `ab_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
