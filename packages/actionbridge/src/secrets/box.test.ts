import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretBox } from './box.js';

const KEY = Buffer.alloc(32, 7);
const box = new SecretBox(KEY);
const PREFIX = 'enc:v1:';

/** Every way the plaintext could show through a thin disguise. */
function disguises(plaintext: string): string[] {
  const bytes = Buffer.from(plaintext, 'utf8');
  const out = [plaintext, bytes.toString('hex')];
  // Base64 of the plaintext at each of the three alignments it could start at inside a longer buffer.
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    // Drop the characters that mix in neighbouring bytes: what is left is fixed by the plaintext alone.
    const inner = b64.slice(Math.ceil((pad * 4) / 3) + 1, -4);
    out.push(inner, inner.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return out;
}

describe('SecretBox (secrets at rest)', () => {
  const secret = 'sk_live_the-customers-api-key-0123456789';

  it('round-trips any text, empty and non-ASCII included', () => {
    for (const text of ['', 's3cret', secret, 'ünïcødé ✓ 🔑', 'x'.repeat(100_000), '{"a":"\\u0000"}'])
      assert.equal(box.open(box.seal(text)), text);
  });

  it('hides the plaintext: no copy of it, its base64 or its hex in the sealed text or its bytes', () => {
    const sealed = box.seal(secret);
    assert.ok(sealed.startsWith(PREFIX));
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    assert.equal(raw.toString('base64'), sealed.slice(PREFIX.length), 'the payload is plain base64');
    for (const d of disguises(secret)) assert.ok(!sealed.includes(d), `sealed text contains ${d}`);
    assert.equal(raw.indexOf(Buffer.from(secret)), -1, 'decoded bytes contain the plaintext');
    assert.equal(raw.indexOf(Buffer.from(secret.slice(8, 24))), -1, 'decoded bytes contain part of it');
  });

  it('is AES-256-GCM: 12-byte IV, 16-byte tag, then ciphertext as long as the plaintext', () => {
    const sealed = box.seal(secret);
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    assert.equal(raw.length, 12 + 16 + Buffer.byteLength(secret));
    // An independent decryption with the same key reads it.
    const d = createDecipheriv('aes-256-gcm', KEY, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    assert.equal(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8'), secret);
    // And it reads what an independent encryption wrote in that layout.
    const iv = Buffer.alloc(12, 1);
    const c = createCipheriv('aes-256-gcm', KEY, iv);
    const ct = Buffer.concat([c.update('written elsewhere', 'utf8'), c.final()]);
    const foreign = PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
    assert.equal(box.open(foreign), 'written elsewhere');
  });

  it('uses a fresh IV each time: the same text never seals the same way twice', () => {
    const seals = new Set(Array.from({ length: 50 }, () => box.seal(secret)));
    assert.equal(seals.size, 50);
    const ivs = new Set(
      [...seals].map((s) => Buffer.from(s.slice(PREFIX.length), 'base64').subarray(0, 12).toString('hex')),
    );
    assert.equal(ivs.size, 50);
  });

  it('refuses tampering with any byte: IV, tag or ciphertext', () => {
    const sealed = box.seal('pay 10 EUR');
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    for (let i = 0; i < raw.length; i++) {
      const bad = Buffer.from(raw);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      assert.throws(() => box.open(PREFIX + bad.toString('base64')), `byte ${i} flipped`);
    }
    assert.throws(() => box.open(PREFIX + raw.subarray(0, raw.length - 1).toString('base64')), 'truncated');
    assert.throws(() => box.open(PREFIX + Buffer.concat([raw, Buffer.from([0])]).toString('base64')), 'extended');
    assert.throws(() => box.open(PREFIX), 'empty');
  });

  it('refuses a value sealed with another key', () => {
    const sealed = box.seal(secret);
    for (const other of [Buffer.alloc(32, 8), Buffer.from(KEY).fill(0, 31)])
      assert.throws(() => new SecretBox(other).open(sealed));
    assert.equal(new SecretBox(Buffer.from(KEY)).open(sealed), secret, 'the same key bytes in another Buffer work');
  });

  it('passes unsealed values through, and tells sealed from unsealed', () => {
    assert.equal(box.open('plain old value'), 'plain old value');
    assert.equal(box.open('ENC:V1:abc'), 'ENC:V1:abc');
    assert.equal(SecretBox.isSealed(box.seal('x')), true);
    assert.equal(SecretBox.isSealed('enc:v1:'), true);
    assert.equal(SecretBox.isSealed('enc:v2:abc'), false);
    assert.equal(SecretBox.isSealed(' enc:v1:abc'), false);
    assert.equal(SecretBox.isSealed(42), false);
    assert.equal(SecretBox.isSealed(undefined), false);
  });

  it('takes exactly 32 key bytes, given as base64', () => {
    for (const n of [0, 16, 31, 33, 64])
      assert.throws(() => new SecretBox(Buffer.alloc(n)), {
        name: 'TypeError',
        message: 'the secret key must be 32 bytes (base64 of 32 random bytes)',
      });
    const text = KEY.toString('base64');
    assert.deepEqual(SecretBox.parseKey(text), KEY);
    assert.deepEqual(SecretBox.parseKey(`  ${text}\n`), KEY, 'surrounding whitespace (a file’s newline) is ignored');
    for (const bad of ['', 'c2hvcnQ=', Buffer.alloc(33).toString('base64'), 'not base64 at all!'])
      assert.throws(() => SecretBox.parseKey(bad), {
        name: 'TypeError',
        message: 'ACTIONBRIDGE_SECRET_KEY must be base64 of 32 bytes (openssl rand -base64 32)',
      });
  });
});
