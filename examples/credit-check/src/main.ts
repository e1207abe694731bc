import { createCreditCheckApp } from './server.js';

/** Runs the example app on its own: `PORT`, `ACTIONBRIDGE_API_URL`, `ACTIONBRIDGE_PUBLIC_KEY_URL`. */
const apiUrl = (process.env.ACTIONBRIDGE_API_URL ?? 'http://localhost:4000').replace(/\/+$/, '');
const port = Number(process.env.PORT ?? 4100);
const server = createCreditCheckApp({
  apiUrl,
  publicKeyUrl: process.env.ACTIONBRIDGE_PUBLIC_KEY_URL ?? `${apiUrl}/v1/public/.well-known/public-key`,
});
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  process.stdout.write(`credit-check app listening on http://localhost:${actual}/credit-check\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
