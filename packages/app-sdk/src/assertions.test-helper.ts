import assert from 'node:assert/strict';
import { SignatureError, type SignatureErrorCode } from './errors.js';

/** Awaits `promise` and asserts it rejected with a `SignatureError` of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: SignatureErrorCode): Promise<SignatureError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SignatureError, `expected a SignatureError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a SignatureError ${code}, but it verified`);
}
