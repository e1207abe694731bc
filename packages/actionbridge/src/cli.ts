#!/usr/bin/env node
import { statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { ConfigError, platformOptions } from './config.js';
import { VERSION } from './version.js';

const HELP = `actionbridge ${VERSION}: signed custom actions for automation flows

Usage:
  actionbridge start [options]     run the platform (API, engine, deliveries)
  actionbridge version

Options (flag, or environment variable):
  -p, --port <n>              PORT                            listen port (default 4000)
      --host <addr>           HOST                            listen address (default 127.0.0.1)
  -d, --data <dir>            ACTIONBRIDGE_DATA_DIR           data folder (default ./actionbridge-data)
      --public-url <url>      ACTIONBRIDGE_PUBLIC_URL         URL apps reach this server at
      --retry-schedule <s,…>  ACTIONBRIDGE_RETRY_SCHEDULE     retry delays in seconds (default 0,5,30,120,600,1800,3600)
      --delivery-timeout <s>  ACTIONBRIDGE_DELIVERY_TIMEOUT   per-attempt timeout in seconds (default 30)
      --callback-timeout <s>  ACTIONBRIDGE_CALLBACK_TIMEOUT   wait_for_callback deadline in seconds (default 86400)
      --egress-allow <cidrs>  ACTIONBRIDGE_EGRESS_ALLOW       internal CIDRs deliveries may reach, e.g. 127.0.0.0/8
                                                              (loopback, private and link-local are refused otherwise)
      --no-worker             ACTIONBRIDGE_WORKER=false        serve the API only; other processes run the engine
      --concurrency <n>       ACTIONBRIDGE_CONCURRENCY        requests in flight per process, shared fairly by orgs (default 128)
      --origin-concurrency <n> ACTIONBRIDGE_ORIGIN_CONCURRENCY requests in flight per endpoint origin (default 16)
      --shutdown-timeout <s>  ACTIONBRIDGE_SHUTDOWN_TIMEOUT   on SIGTERM, how long requests in flight may finish (default 10)
                              ACTIONBRIDGE_LEASE_SECONDS      work leases, renewed while work runs (default 5)
                              ACTIONBRIDGE_SQLITE_SYNC        normal (survives kill -9; default) or full (also power loss)
      --log-level <level>     LOG_LEVEL                       pino level (default info)
  Secrets come only from the environment, or from files named by *_FILE:
      ACTIONBRIDGE_ADMIN_TOKEN[_FILE]   platform admin token (generated and saved in the data folder when unset)
      DATABASE_URL[_FILE]               postgres://… to use PostgreSQL instead of SQLite
      ACTIONBRIDGE_SECRET_KEY[_FILE]    base64 of 32 bytes: encrypts secret options and delivery bodies at rest
                                        (generated in the data folder on SQLite; required with DATABASE_URL)
`;

/**
 * The platform from its bundle (scripts/bundle.mjs; ~150 ms less from start to healthy than its
 * ~700 module files), unless the bundle is older than the last compile (a developer ran `tsc -b`
 * alone): then from the compiled modules.
 */
function loadPlatform(): Promise<typeof import('./platform.js')> {
  const bundle = new URL('./bundle/platform.js', import.meta.url);
  let fresh = false;
  try {
    const compiled = statSync(new URL('./.tsbuildinfo', import.meta.url), { throwIfNoEntry: false });
    fresh = statSync(bundle).mtimeMs >= (compiled?.mtimeMs ?? 0);
  } catch {
    fresh = false; // no bundle
  }
  return fresh ? import(bundle.href) : import('./platform.js');
}

/**
 * Starting allocates ~30 MB, nearly all of it short-lived. V8 meanwhile grows its young generation
 * to its 16 MB maximum and keeps it until its memory reducer runs, ~8 s after the process went
 * idle: 7 MB more resident while idle. Growing it is switched off while the platform starts and
 * back on once it listens, so a busy process grows it as before. Measured (`npm run bench`, idle
 * RSS): 80 MB → 76 MB, start to healthy unchanged. Left alone when the user set the flag.
 */
function holdYoungGeneration(): { release(): void } {
  const flag = '--semi-space-growth-factor';
  const set = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) =>
    a.replaceAll('_', '-').includes(flag.slice(2)),
  );
  if (set) return { release() {} };
  setFlagsFromString(`${flag}=1`);
  return { release: () => setFlagsFromString(`${flag}=2`) };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command !== 'start') {
    process.stdout.write(HELP);
    return command === undefined || command === 'help' || command === '--help' || command === '-h' ? 0 : 2;
  }
  const opts = platformOptions(rest, process.env);
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // Loaded only here: `version` and `--help` answer in ~40 ms instead of ~350 ms.
  const youngGrowth = holdYoungGeneration();
  const { startPlatform } = await loadPlatform();
  const platform = await startPlatform(opts);
  youngGrowth.release();
  process.stderr.write(
    `ActionBridge ${VERSION} listening on ${platform.url} (public URL ${platform.publicUrl})\n` +
      (platform.adminTokenGenerated
        ? `Generated the platform admin token (saved in ${opts.dataDir}/admin-token):\n  ${platform.adminToken}\n`
        : ''),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // Close drains in-flight requests for the shutdown timeout, then hands the rest back. A second
  // signal, or a close that overruns the timeout by 5 s, exits at once: leases then return the work.
  const drainS = opts.shutdownTimeoutS ?? 10;
  const force = () => {
    process.stderr.write('actionbridge: shutdown overran its deadline; exiting now\n');
    process.exit(1);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  setTimeout(force, (drainS + 5) * 1000).unref();
  await platform.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (
      err instanceof ConfigError ||
      (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`actionbridge: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`actionbridge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
