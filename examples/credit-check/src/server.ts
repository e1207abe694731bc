import { createServer, type Server } from 'node:http';
import { CustomActionError } from '@actionbridge/app-sdk';
import { customActionHandler } from '@actionbridge/app-sdk/node';
import { createClient } from '@epilot/entity-client';
import { creditCheck } from './credit.js';

export interface CreditCheckAppOptions {
  /** Where ActionBridge's API is: the app writes back there. */
  apiUrl: string;
  /** Where the platform's public key is served (`…/v1/public/.well-known/public-key`). */
  publicKeyUrl: string;
}

/**
 * The example app: `POST /credit-check` verifies ActionBridge's signature, scores the entity, writes
 * the result back with the request's `x-epilot-token` through epilot's own entity client, and
 * answers with the result as the action's outputs.
 */
export function createCreditCheckApp(opts: CreditCheckAppOptions): Server {
  const handle = customActionHandler(
    async (payload, ctx) => {
      const { entity, app_options } = payload.data;
      const threshold = typeof app_options.threshold === 'number' ? app_options.threshold : undefined;
      const result = creditCheck(entity, threshold);
      if (!ctx.accessToken) throw new CustomActionError('no x-epilot-token: the app needs entity:edit to write back');

      const client = createClient();
      client.defaults.baseURL = opts.apiUrl;
      client.defaults.headers.common.authorization = `Bearer ${ctx.accessToken}`;
      await client.patchEntity(
        { slug: entity._schema, id: entity._id },
        { ...result, credit_checked_at: new Date().toISOString() },
      );
      return result;
    },
    { publicKeyUrl: opts.publicKeyUrl, dedupe: true },
  );

  return createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'POST' && path === '/credit-check') return void handle(req, res);
    if (req.method === 'GET' && path === '/healthz') {
      res.setHeader('content-type', 'application/json');
      return void res.end('{"status":"ok"}');
    }
    res.statusCode = 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error: `no route ${req.method} ${path}` }));
  });
}
