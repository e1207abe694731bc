/**
 * The bench's receiver, run in its own process (forked with an IPC channel by `server.bench.ts`).
 * The same receiver serves every variant: the platform, the bare relay and the sign+POST loop.
 *
 * It listens on `argv[2]` loopback ports (separate origins, so a hanging endpoint does not share a
 * per-origin limit with the endpoints other orgs use). On every port:
 * - `/ok`: answers 200 `{}` at once;
 * - `/hang`: never answers (the connection stays open until the parent says `release`);
 * - `/slow?ms=N`: answers 200 `{}` after N ms.
 * Each request's receipt time (once its body has fully arrived) is reported back over IPC in small
 * batches, keyed by the request id: `data.entity.bench_id` of the JSON body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export type Route = 'ok' | 'hang' | 'slow';

/** Messages the receiver sends to its parent. */
export type ReceiverMessage =
  | { type: 'ready'; ports: number[] }
  | { type: 'receipts'; route: Route; ids: string[]; at: number[] }
  | { type: 'pong'; n: number; at: number };

/** Messages the parent sends. */
export type ReceiverCommand = { type: 'ping'; n: number } | { type: 'release' } | { type: 'exit' };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

const send = (m: ReceiverMessage) => process.send?.(m);

const batches: Record<Route, { ids: string[]; at: number[] }> = {
  ok: { ids: [], at: [] },
  hang: { ids: [], at: [] },
  slow: { ids: [], at: [] },
};
/** Whether a flush is scheduled. */
let flushing = false;

function flush(): void {
  flushing = false;
  for (const route of Object.keys(batches) as Route[]) {
    const b = batches[route];
    if (b.ids.length === 0) continue;
    send({ type: 'receipts', route, ids: b.ids, at: b.at });
    batches[route] = { ids: [], at: [] };
  }
}

function record(route: Route, id: string, at: number): void {
  batches[route].ids.push(id);
  batches[route].at.push(at);
  if (!flushing) {
    flushing = true;
    setTimeout(flush, 5);
  }
}

function idOf(body: string): string {
  try {
    const id = (JSON.parse(body) as { data?: { entity?: { bench_id?: unknown } } })?.data?.entity?.bench_id;
    return typeof id === 'string' ? id : '';
  } catch {
    return '';
  }
}

const hanging = new Set<ServerResponse>();

function ok(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
  res.end('{}');
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = now();
    const url = req.url ?? '/';
    const id = idOf(Buffer.concat(chunks).toString('utf8'));
    if (url.startsWith('/hang')) {
      record('hang', id, at);
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (url.startsWith('/slow')) {
      record('slow', id, at);
      const ms = Number(new URL(url, 'http://x').searchParams.get('ms') ?? 10_000);
      const timer = setTimeout(() => ok(res), ms);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    record('ok', id, at);
    ok(res);
  });
}

async function listen(): Promise<Server> {
  const server = createServer(handle);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const count = Number(process.argv[2] ?? 1);
const servers = await Promise.all(Array.from({ length: count }, listen));

process.on('message', (m: ReceiverCommand) => {
  if (m.type === 'ping') send({ type: 'pong', n: m.n, at: now() });
  else if (m.type === 'release') {
    for (const res of hanging) res.destroy();
    hanging.clear();
  } else if (m.type === 'exit') process.exit(0);
});
// The parent is gone (or crashed): so are we.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready', ports: servers.map((s) => (s.address() as AddressInfo).port) });
