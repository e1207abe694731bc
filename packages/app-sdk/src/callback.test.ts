import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CallbackError, reportResult } from './callback.js';
import { buildCustomActionPayload } from './testing/index.js';

interface Received {
  method: string | undefined;
  path: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

describe('reportResult', () => {
  const received: Received[] = [];
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      received.push({ method: req.method, path: req.url, contentType: req.headers['content-type'], body });
      // ActionBridge's answer to a used token.
      const used = body.resume_token === 'used';
      res.writeHead(used ? 404 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(used ? { status: 404, error: 'resume token is unknown, already used, or timed out' } : {}),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const payload = (resume_token: string) =>
    buildCustomActionPayload({ resume_token, callback_url: `${base}/v1/automation/public/executions:resume` });

  test('POSTs {resume_token} to callback_url for a plain success', async () => {
    await reportResult(payload('rt_1'));
    assert.deepEqual(received.at(-1), {
      method: 'POST',
      path: '/v1/automation/public/executions:resume',
      contentType: 'application/json',
      body: { resume_token: 'rt_1' },
    });
  });

  test('sends status, outputs and error_reason', async () => {
    await reportResult(payload('rt_2'), { status: 'success', outputs: { score: 712 } });
    assert.deepEqual(received.at(-1)?.body, { resume_token: 'rt_2', status: 'success', outputs: { score: 712 } });
    await reportResult(
      { callback_url: `${base}/cb`, resume_token: 'rt_3' },
      { status: 'failed', error_reason: 'bureau unreachable' },
    );
    assert.deepEqual(received.at(-1)?.body, {
      resume_token: 'rt_3',
      status: 'failed',
      error_reason: 'bureau unreachable',
    });
  });

  test('a non-2xx answer is a CallbackError with status and body', async () => {
    await assert.rejects(reportResult(payload('used')), (error) => {
      assert.ok(error instanceof CallbackError);
      assert.equal(error.status, 404);
      assert.match(error.body, /already used/);
      return true;
    });
  });

  test('a payload without a callback, or an invalid result, is a TypeError (nothing sent)', async () => {
    const count = received.length;
    await assert.rejects(reportResult(buildCustomActionPayload()), /does not wait for a callback/);
    await assert.rejects(reportResult(payload('rt'), { status: 'done' as never }), /status must be/);
    await assert.rejects(reportResult(payload('rt'), { outputs: [] as never }), /outputs must be a JSON object/);
    await assert.rejects(reportResult({ callback_url: 'ftp://x/', resume_token: 'rt' }), /not an http\(s\) URL/);
    await assert.rejects(reportResult(payload('rt'), {}, { timeoutMs: -1 }), /timeoutMs/);
    assert.equal(received.length, count);
  });
});
