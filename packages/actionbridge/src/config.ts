import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseCidrs } from './delivery/egress.js';
import type { PlatformOptions } from './platform.js';
import { SecretBox } from './secrets/box.js';

/** A setting that cannot be used as given; the CLI prints it and exits with status 2. */
export class ConfigError extends Error {}

function int(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(`${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function url(name: string, value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    return value.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
  }
}

/** Retry delays in seconds, comma-separated (`ACTIONBRIDGE_RETRY_SCHEDULE`). */
export function parseRetrySchedule(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) {
    throw new ConfigError(`ACTIONBRIDGE_RETRY_SCHEDULE must be comma-separated seconds like "0,5,30", got "${value}"`);
  }
  const list = parts.map(Number);
  if (list.length > 50) throw new ConfigError('ACTIONBRIDGE_RETRY_SCHEDULE allows at most 50 attempts');
  return list;
}

export const START_FLAGS = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  data: { type: 'string', short: 'd' },
  'public-url': { type: 'string' },
  'retry-schedule': { type: 'string' },
  'delivery-timeout': { type: 'string' },
  'callback-timeout': { type: 'string' },
  'no-worker': { type: 'boolean' },
  'egress-allow': { type: 'string' },
  concurrency: { type: 'string' },
  'origin-concurrency': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A secret from `NAME`, or from the file named by `NAME_FILE` (container secrets). */
function secret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`${name}_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  return env[name];
}

/** Settings from flags first, then the environment. Secrets (admin token, database URL) only from the environment. */
export function platformOptions(argv: string[], env: NodeJS.ProcessEnv): PlatformOptions & { help?: boolean } {
  const { values } = parseArgs({ args: argv, options: START_FLAGS, strict: true, allowPositionals: false });
  const opts: PlatformOptions & { help?: boolean } = {};
  if (values.help) opts.help = true;
  const port = values.port ?? env.PORT;
  if (port !== undefined) opts.port = int('--port / PORT', port, 0, 65535);
  const host = values.host ?? env.HOST;
  if (host) opts.host = host;
  opts.dataDir = values.data ?? env.ACTIONBRIDGE_DATA_DIR ?? './actionbridge-data';
  const databaseUrl = secret(env, 'DATABASE_URL');
  if (databaseUrl) {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL must start with postgres://');
    opts.databaseUrl = databaseUrl;
  }
  const adminToken = secret(env, 'ACTIONBRIDGE_ADMIN_TOKEN');
  if (adminToken) {
    if (adminToken.length < 16) throw new ConfigError('ACTIONBRIDGE_ADMIN_TOKEN must be at least 16 characters');
    opts.adminToken = adminToken;
  }
  const secretKey = secret(env, 'ACTIONBRIDGE_SECRET_KEY');
  if (secretKey) {
    try {
      SecretBox.parseKey(secretKey);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    opts.secretKey = secretKey;
  }
  const publicUrl = values['public-url'] ?? env.ACTIONBRIDGE_PUBLIC_URL;
  if (publicUrl) opts.publicUrl = url('--public-url / ACTIONBRIDGE_PUBLIC_URL', publicUrl);
  const schedule = values['retry-schedule'] ?? env.ACTIONBRIDGE_RETRY_SCHEDULE;
  if (schedule) opts.retrySchedule = parseRetrySchedule(schedule);
  const timeout = values['delivery-timeout'] ?? env.ACTIONBRIDGE_DELIVERY_TIMEOUT;
  if (timeout) opts.deliveryTimeoutS = int('--delivery-timeout / ACTIONBRIDGE_DELIVERY_TIMEOUT', timeout, 1, 600);
  const cb = values['callback-timeout'] ?? env.ACTIONBRIDGE_CALLBACK_TIMEOUT;
  if (cb) opts.callbackTimeoutS = int('--callback-timeout / ACTIONBRIDGE_CALLBACK_TIMEOUT', cb, 1, 30 * 24 * 3600);
  const egress = values['egress-allow'] ?? env.ACTIONBRIDGE_EGRESS_ALLOW;
  if (egress) {
    try {
      opts.egressAllow = parseCidrs(egress);
    } catch (err) {
      throw new ConfigError(`--egress-allow / ACTIONBRIDGE_EGRESS_ALLOW: ${(err as Error).message}`);
    }
  }
  if (values['no-worker'] || env.ACTIONBRIDGE_WORKER === 'false') opts.worker = false;
  const concurrency = values.concurrency ?? env.ACTIONBRIDGE_CONCURRENCY;
  if (concurrency) opts.concurrency = int('--concurrency / ACTIONBRIDGE_CONCURRENCY', concurrency, 1, 10_000);
  const perOrigin = values['origin-concurrency'] ?? env.ACTIONBRIDGE_ORIGIN_CONCURRENCY;
  if (perOrigin) {
    opts.originConcurrency = int('--origin-concurrency / ACTIONBRIDGE_ORIGIN_CONCURRENCY', perOrigin, 1, 10_000);
  }
  const drain = values['shutdown-timeout'] ?? env.ACTIONBRIDGE_SHUTDOWN_TIMEOUT;
  if (drain) opts.shutdownTimeoutS = int('--shutdown-timeout / ACTIONBRIDGE_SHUTDOWN_TIMEOUT', drain, 0, 3600);
  if (env.ACTIONBRIDGE_LEASE_SECONDS) {
    opts.leaseS = int('ACTIONBRIDGE_LEASE_SECONDS', env.ACTIONBRIDGE_LEASE_SECONDS, 1, 3600);
  }
  const sync = env.ACTIONBRIDGE_SQLITE_SYNC;
  if (sync) {
    if (sync !== 'normal' && sync !== 'full') {
      throw new ConfigError(`ACTIONBRIDGE_SQLITE_SYNC must be "normal" or "full", got "${sync}"`);
    }
    opts.sqliteSync = sync;
  }
  const level = values['log-level'] ?? env.LOG_LEVEL;
  if (level) opts.logLevel = level;
  return opts;
}
