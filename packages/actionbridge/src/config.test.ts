import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, platformOptions } from './config.js';
import { startPlatform } from './platform.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/actionbridge.js');

describe('platformOptions', () => {
  it('takes flags first, then the environment, with the documented defaults', () => {
    assert.deepEqual(platformOptions([], {}), { dataDir: './actionbridge-data' });
    const o = platformOptions(['--port', '5000', '--data', '/tmp/x'], {
      PORT: '6000',
      ACTIONBRIDGE_RETRY_SCHEDULE: '0, 1.5,10',
      ACTIONBRIDGE_DELIVERY_TIMEOUT: '12',
      ACTIONBRIDGE_PUBLIC_URL: 'https://ab.example.com/',
      ACTIONBRIDGE_EGRESS_ALLOW: '10.0.0.0/8',
      ACTIONBRIDGE_WORKER: 'false',
    });
    assert.equal(o.port, 5000);
    assert.equal(o.dataDir, '/tmp/x');
    assert.deepEqual(o.retrySchedule, [0, 1.5, 10]);
    assert.equal(o.deliveryTimeoutS, 12);
    assert.equal(o.publicUrl, 'https://ab.example.com');
    assert.deepEqual(o.egressAllow, ['10.0.0.0/8']);
    assert.equal(o.worker, false);
  });

  it('reads the callback timeout from --callback-timeout or ACTIONBRIDGE_CALLBACK_TIMEOUT', () => {
    assert.equal(platformOptions([], {}).callbackTimeoutS, undefined, 'unset: the platform default (24 h)');
    assert.equal(platformOptions([], { ACTIONBRIDGE_CALLBACK_TIMEOUT: '90' }).callbackTimeoutS, 90);
    assert.equal(
      platformOptions(['--callback-timeout', '120'], { ACTIONBRIDGE_CALLBACK_TIMEOUT: '90' }).callbackTimeoutS,
      120,
      'the flag wins',
    );
    assert.equal(platformOptions([], { ACTIONBRIDGE_CALLBACK_TIMEOUT: '2592000' }).callbackTimeoutS, 30 * 24 * 3600);
    for (const bad of ['0', '2592001', 'soon', '1.5'])
      assert.throws(
        () => platformOptions([], { ACTIONBRIDGE_CALLBACK_TIMEOUT: bad }),
        (e: Error) => e instanceof ConfigError && /--callback-timeout \/ ACTIONBRIDGE_CALLBACK_TIMEOUT/.test(e.message),
        bad,
      );
  });

  it('reads secrets from *_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-cfg-'));
    try {
      writeFileSync(join(dir, 'token'), 'from-a-file-0123456789\n');
      assert.equal(
        platformOptions([], { ACTIONBRIDGE_ADMIN_TOKEN_FILE: join(dir, 'token') }).adminToken,
        'from-a-file-0123456789',
      );
      assert.throws(
        () => platformOptions([], { DATABASE_URL_FILE: join(dir, 'missing') }),
        /DATABASE_URL_FILE: cannot read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the setting that is wrong', () => {
    const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--port', 'abc'], {}, /--port \/ PORT must be a whole number/],
      [[], { PORT: '70000' }, /between 0 and 65535/],
      [[], { ACTIONBRIDGE_RETRY_SCHEDULE: '0,soon' }, /ACTIONBRIDGE_RETRY_SCHEDULE/],
      [[], { ACTIONBRIDGE_PUBLIC_URL: 'ftp://x' }, /must be an http\(s\) URL/],
      [[], { DATABASE_URL: 'mysql://x' }, /DATABASE_URL must start with postgres/],
      [[], { ACTIONBRIDGE_ADMIN_TOKEN: 'short' }, /at least 16/],
      [[], { ACTIONBRIDGE_EGRESS_ALLOW: '10.0.0.0/99' }, /ACTIONBRIDGE_EGRESS_ALLOW/],
    ];
    for (const [argv, env, message] of bad)
      assert.throws(
        () => platformOptions(argv, env),
        (e: Error) => e instanceof ConfigError && message.test(e.message),
      );
  });

  it('requires a shared secret key with PostgreSQL, and checks its shape', async () => {
    await assert.rejects(
      startPlatform({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }),
      /ACTIONBRIDGE_SECRET_KEY is required/,
    );
    assert.throws(() => platformOptions([], { ACTIONBRIDGE_SECRET_KEY: 'c2hvcnQ=' }), /base64 of 32 bytes/);
  });

  it('the CLI exits 2 with the message on a bad setting or flag', () => {
    const r = spawnSync(process.execPath, [bin, 'start'], { env: { ...process.env, PORT: 'abc' }, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /actionbridge: --port \/ PORT must be a whole number, got "abc"/);
    const flag = spawnSync(process.execPath, [bin, 'start', '--frobnicate'], { encoding: 'utf8' });
    assert.equal(flag.status, 2);
    assert.match(flag.stderr, /frobnicate/);
    const v = spawnSync(process.execPath, [bin, 'version'], { encoding: 'utf8' });
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
