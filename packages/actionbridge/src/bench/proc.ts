/**
 * Child processes of the bench: the platform (spawned through its CLI), the bare relay, a throwaway
 * PostgreSQL cluster; their CPU time and RSS from /proc. Every child is registered so that it is
 * killed when the bench ends, however it ends.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** Wall-clock milliseconds with sub-millisecond resolution (the receiver's clock too). */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const cleanups: Array<() => void> = [];
/** Runs `fn` (synchronous) when the bench exits, in reverse order of registration. */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}
export function cleanupAll(): void {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch {
      // best effort: the rest still runs
    }
  }
}
process.on('exit', cleanupAll);

/** Kills `child` (SIGKILL) when the bench exits unless it has exited already. */
export function ownChild(child: ChildProcess): ChildProcess {
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** One GET; resolves to the status, or 0 when the connection fails. */
function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export interface ServerProc {
  name: string;
  pid: number;
  url: string;
  /** Spawn to first 200 from `GET /healthz`, in ms. */
  startMs: number;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log, for error messages. */
  tail(lines?: number): string;
}

/**
 * Spawns `node <args>` whose HTTP server will listen on `port`, writing its output to `logFile`, and
 * waits for its first 200 from `GET /healthz` (polled every 5 ms on fresh connections).
 */
export async function spawnServer(o: {
  name: string;
  args: string[];
  port: number;
  env: NodeJS.ProcessEnv;
  logFile: string;
  timeoutMs?: number;
}): Promise<ServerProc> {
  const fd = openSync(o.logFile, 'a');
  const t0 = now();
  const child = ownChild(spawn(process.execPath, o.args, { env: o.env, stdio: ['ignore', fd, fd] }));
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const tail = (lines = 20) => {
    try {
      return readFileSync(o.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const deadline = t0 + (o.timeoutMs ?? 20_000);
  let startMs = -1;
  while (startMs < 0) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${o.name} exited before it was healthy (${child.exitCode ?? child.signalCode}):\n${tail()}`);
    }
    if ((await getStatus(o.port, '/healthz')) === 200) startMs = now() - t0;
    else if (now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${o.name} was not healthy within ${o.timeoutMs ?? 20_000} ms:\n${tail()}`);
    } else await sleep(5);
  }
  return {
    name: o.name,
    pid: child.pid as number,
    url: `http://127.0.0.1:${o.port}`,
    startMs,
    logFile: o.logFile,
    tail,
    async stop(graceMs = 2000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The environment without any ActionBridge setting of the caller's (a DATABASE_URL would change the backend). */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ACTIONBRIDGE_|DATABASE_URL|PORT$|HOST$|LOG_LEVEL$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export const BIN = fileURLToPath(new URL('../../bin/actionbridge.js', import.meta.url));

export const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), starting at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime (14), stime (15)
}

/** The machine's CPU time so far, in clock ticks: busy (all but idle and iowait) and in all, summed over its cores. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { busy: total - idle, total };
}

/** Processes whose command name is `comm` (e.g. every process of a PostgreSQL server). */
export function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds of processes, those that ended meanwhile counted as 0 (read again: what they used until then is lost). */
export function cpuSecondsOf(pids: readonly number[]): number {
  let s = 0;
  for (const pid of pids) {
    try {
      s += cpuSeconds(pid);
    } catch {
      // ended
    }
  }
  return s;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ? Number(m[1]) * 1024 : Number.NaN;
}

/** PostgreSQL's server binaries, if installed (the same search as scripts/test.mjs). */
export function pgBin(): string | undefined {
  const dir = '/usr/lib/postgresql';
  if (existsSync(dir)) {
    const versions = readdirSync(dir).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(dir, v, 'bin', 'initdb'))) return join(dir, v, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return which.status === 0 ? join(which.stdout.trim(), '..') : undefined;
}

/**
 * A throwaway PostgreSQL cluster on loopback (as scripts/test.mjs starts one: run as the postgres
 * user when we are root), with the server's default durability: fsync and synchronous_commit on.
 */
export async function startPostgres(bin: string): Promise<{ url: string; stop: () => void }> {
  // Its own folder in the system's temporary folder: the postgres user must be able to reach it.
  const dir = mkdtempSync(join(tmpdir(), 'ab-bench-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  if (asRoot) {
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres']).toString()),
      Number(execFileSync('id', ['-g', 'postgres']).toString()),
    );
  }
  const data = join(dir, 'data');
  // --no-sync only skips flushing initdb's own files; the running server keeps fsync on.
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  let running = true;
  const stop = () => {
    if (!running) return;
    running = false;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  onCleanup(stop);
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on -c synchronous_commit=on`,
    'start',
  ]);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}

/** A temporary folder removed when the bench exits (kept with BENCH_KEEP=1). */
export function tempDir(parent: string, prefix: string): string {
  const dir = mkdtempSync(join(parent, prefix));
  if (process.env.BENCH_KEEP !== '1') onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
