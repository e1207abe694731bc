import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DeliveryClient } from './client.js';
import { EgressPolicy } from './egress.js';

/** An endpoint that answers 200 at once, then sends its body one byte every 100 ms, forever. */
function drippingEndpoint(): Promise<{ url: string; server: Server; open: Set<ServerResponse> }> {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    open.add(res);
    const drip = setInterval(() => res.write(' '), 100);
    res.on('close', () => {
      clearInterval(drip);
      open.delete(res);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/drip`, server, open }),
    ),
  );
}

describe('delivery client deadlines', () => {
  let endpoint: Awaited<ReturnType<typeof drippingEndpoint>>;
  const client = new DeliveryClient(new EgressPolicy(['127.0.0.0/8']));

  before(async () => {
    endpoint = await drippingEndpoint();
  });
  after(async () => {
    for (const res of endpoint.open) res.destroy();
    await client.close();
    await new Promise((resolve) => endpoint.server.close(resolve));
  });

  it('ends an attempt whose body drips past the timeout as a timeout, at the timeout', { timeout: 5000 }, async () => {
    const started = performance.now();
    const result = await client.send(endpoint.url, {}, '{}', 600);
    const tookMs = performance.now() - started;
    assert.equal(result.kind, 'error');
    assert.equal(result.kind === 'error' && result.timeout, true, 'a timeout, not a network error');
    assert.match(result.kind === 'error' ? result.error : '', /no response within 0\.6 s/);
    // The bytes keep coming every 100 ms, so only the overall deadline can end it.
    assert.ok(tookMs >= 550 && tookMs < 2000, `ended after ${Math.round(tookMs)} ms`);
  });

  it('ends an attempt at once when its signal aborts (shutdown hands it back), long before the timeout', {
    timeout: 5000,
  }, async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    const started = performance.now();
    const result = await client.send(endpoint.url, {}, '{}', 30_000, abort.signal);
    const tookMs = performance.now() - started;
    assert.equal(result.kind, 'error');
    assert.ok(tookMs >= 150 && tookMs < 2000, `ended after ${Math.round(tookMs)} ms`);
  });

  it('ends an attempt whose signal was aborted before it started without waiting for the endpoint', {
    timeout: 5000,
  }, async () => {
    const abort = new AbortController();
    abort.abort();
    const started = performance.now();
    const result = await client.send(endpoint.url, {}, '{}', 30_000, abort.signal);
    assert.equal(result.kind, 'error');
    assert.ok(performance.now() - started < 1000);
  });
});
