/**
 * Verifications per second: the SDK (keys parsed once and cached as `KeyObject`) against a baseline
 * that hands the PEM string to `crypto.verify` on every call, the way epilot's app SDK does.
 *
 * Run: `npm run bench -w @actionbridge/app-sdk` (after `npx tsc -b packages/app-sdk`).
 * Environment: `BENCH_ITERATIONS` (per round, default 4000), `BENCH_ROUNDS` (default 5).
 *
 * Both sides get the same signed request and do the same work around the signature check (read
 * three headers, check the timestamp, split the signature header, build the signed content); the
 * rounds alternate so that CPU frequency drift hits both alike, and the median round counts.
 */
import { verify as cryptoVerify } from 'node:crypto';
import { createVerifier, verifyCustomAction, verifyEpilotSignature } from '../index.js';
import type { VerifyOptions } from '../options.js';
import { buildCustomActionPayload, generateTestKeyPair, signTestRequest } from '../testing/index.js';

const REQUIRED_RATIO = 1.8;

function positiveInt(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer, got ${value}`);
  return n;
}

const iterations = positiveInt('BENCH_ITERATIONS', 4000);
const rounds = positiveInt('BENCH_ROUNDS', 5);

const keys = generateTestKeyPair();
const signed = signTestRequest(buildCustomActionPayload({ app_options: { api_key: 'k_live_123', threshold: 10 } }), {
  privateKey: keys.privateKey,
  timestamp: 1_764_000_000,
});
const request = { headers: signed.headers, body: signed.body };
const options: VerifyOptions = { publicKey: keys.publicKeyPem, now: signed.timestamp };

/** The baseline: epilot's approach, with the PEM string cached but parsed by `crypto.verify` on every call. */
const cachedPem: string = keys.publicKeyPem;
async function baselineVerify(req: { headers: Record<string, string>; body: string }): Promise<boolean> {
  try {
    const id = req.headers['webhook-id'] as string;
    const timestamp = req.headers['webhook-timestamp'] as string;
    const signatureHeader = req.headers['webhook-signature'] as string;
    if (Math.abs(signed.timestamp - Number.parseInt(timestamp, 10)) > 300) return false;
    const signatures: Record<string, string> = {};
    for (const part of signatureHeader.split(' ')) {
      const [version, value] = part.split(',', 2);
      if (version && value) signatures[version] = value;
    }
    if (!signatures.v1a) return false;
    const content = Buffer.from([id, timestamp, req.body].join('.'), 'utf8');
    return cryptoVerify(null, content, cachedPem, Buffer.from(signatures.v1a, 'base64'));
  } catch {
    return false;
  }
}

const verifier = createVerifier(options);

interface Case {
  name: string;
  run: () => Promise<unknown>;
}

const baseline: Case = { name: 'baseline: crypto.verify with the PEM string', run: () => baselineVerify(request) };
const cases: Case[] = [
  baseline,
  { name: 'SDK verifyEpilotSignature(req, options)', run: () => verifyEpilotSignature(request, options) },
  { name: 'SDK verifyCustomAction(req, options)', run: () => verifyCustomAction(request, options) },
  { name: 'SDK createVerifier(options).verifyCustomAction', run: () => verifier.verifyCustomAction(request) },
];

async function opsPerSecond(c: Case): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await c.run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return iterations / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  for (const c of cases) {
    if ((await c.run()) === false) throw new Error(`${c.name} does not verify the bench request`);
  }
  // Warm-up: one short round each, not counted.
  for (const c of cases) for (let i = 0; i < Math.min(500, iterations); i++) await c.run();

  const results = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) results.get(c)?.push(await opsPerSecond(c));
  }

  const base = median(results.get(baseline) ?? []);
  console.log(
    `Ed25519 webhook verification, ${rounds} rounds x ${iterations} iterations, median round, node ${process.version}`,
  );
  console.log(`body ${Buffer.byteLength(signed.body)} bytes`);
  for (const c of cases) {
    const ops = median(results.get(c) ?? []);
    console.log(
      `${c.name.padEnd(50)} ${Math.round(ops).toString().padStart(8)} verifications/s  ${(ops / base).toFixed(2)}x`,
    );
  }
  const ratio = median(results.get(cases[1] as Case) ?? []) / base;
  const verdict = ratio >= REQUIRED_RATIO ? 'ok' : 'BELOW TARGET';
  console.log(
    `ratio verifyEpilotSignature / baseline: ${ratio.toFixed(2)}x (target >= ${REQUIRED_RATIO}x: ${verdict})`,
  );
  if (ratio < REQUIRED_RATIO) process.exitCode = 1;
}

await main();
