/**
 * Baseline 1, the bare relay: an HTTP server that takes an entity write, signs the message it
 * becomes and POSTs it to the receiver before answering; nothing is stored. Run as its own process:
 * `node relay.js <port> <receiver url>`. `GET /healthz` answers 200 once it listens.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { signedMessage, signingKey } from './message.js';

const port = Number(process.argv[2]);
const target = new URL(process.argv[3] ?? 'http://127.0.0.1:1/ok');
const key = signingKey();
// As many connections to one origin as the platform allows by default (originConcurrency).
const pool = new Pool(target.origin, { connections: 16, keepAliveTimeout: 60_000 });

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url === '/healthz') return answer(res, 200, { status: 'ok' });
  if (req.method !== 'POST' || !req.url?.startsWith('/v1/entity/')) return answer(res, 404, { error: 'not found' });
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const msg = signedMessage(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>, key);
  const sent = await pool.request({ method: 'POST', path: target.pathname, headers: msg.headers, body: msg.body });
  await sent.body.text();
  if (sent.statusCode >= 300) return answer(res, 502, { error: `receiver answered ${sent.statusCode}` });
  answer(res, 201, msg.entity);
}

const server = createServer((req, res) => {
  relay(req, res).catch((err: unknown) => answer(res, 500, { error: String(err) }));
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
