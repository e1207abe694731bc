import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  type CustomActionPayload,
  createDeduplicator,
  getAccessToken,
  SignatureError,
  verifyCustomAction,
} from '@actionbridge/app-sdk';
import { readRawBody } from '@actionbridge/app-sdk/node';
import { createClient } from '@epilot/entity-client';
import { type CreditResult, creditCheck } from './credit.js';

export interface CreditCheckAppOptions {
  /** Where ActionBridge's API is: the app writes back there. */
  apiUrl: string;
  /** Where the platform's public key is served (`…/v1/public/.well-known/public-key`). */
  publicKeyUrl: string;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

/**
 * The example app: `POST /credit-check` verifies ActionBridge's signature over the raw bytes
 * (`verifyCustomAction` with the Node adapter's `readRawBody`), scores the entity, writes the result
 * back with the request's `x-epilot-token` through epilot's own entity client, and answers with the
 * result, which becomes the action's outputs. A resent delivery (same `webhook-id`) gets the first
 * answer without scoring twice.
 */
export function createCreditCheckApp(opts: CreditCheckAppOptions): Server {
  const dedupe = createDeduplicator();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let payload: CustomActionPayload<{ threshold?: number }>;
    try {
      payload = await verifyCustomAction(
        { headers: req.headers, body: await readRawBody(req) },
        { publicKeyUrl: opts.publicKeyUrl },
      );
    } catch (err) {
      if (err instanceof SignatureError) return send(res, 401, { error_reason: err.message, code: err.code });
      throw err;
    }
    const token = getAccessToken(req);
    if (!token) return send(res, 422, { error_reason: 'no x-epilot-token: the app needs entity:edit to write back' });

    const outcome = await dedupe.run<CreditResult>(String(req.headers['webhook-id']), async () => {
      const { entity, app_options } = payload.data;
      const result = creditCheck(entity, app_options.threshold);
      const client = createClient();
      client.defaults.baseURL = opts.apiUrl;
      client.defaults.headers.common.authorization = `Bearer ${token}`;
      await client.patchEntity(
        { slug: entity._schema, id: entity._id },
        { ...result, credit_checked_at: new Date().toISOString() },
      );
      return result;
    });
    if (outcome.duplicate && outcome.state === 'processing') return send(res, 425, { error_reason: 'being handled' });
    return send(res, 200, outcome.value ?? { duplicate: true });
  }

  return createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'POST' && path === '/credit-check') {
      handle(req, res).catch((err: unknown) => {
        console.error('credit-check failed:', err);
        send(res, 500, { error_reason: 'internal error' }); // the platform retries
      });
      return;
    }
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' });
    send(res, 404, { error: `no route ${req.method} ${path}` });
  });
}
