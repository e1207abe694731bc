import { readFileSync } from 'node:fs';

/** Set by the bundler (scripts/bundle.mjs): the bundle does not sit next to package.json. */
declare const ACTIONBRIDGE_VERSION: string | undefined;

/** The package version: read once from package.json, or built into the bundle. */
export const VERSION: string =
  typeof ACTIONBRIDGE_VERSION === 'string'
    ? ACTIONBRIDGE_VERSION
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
