import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getAccessToken, getHeader } from './headers.js';

describe('getHeader', () => {
  test('plain objects in any case', () => {
    assert.equal(getHeader({ 'webhook-id': 'a' }, 'Webhook-Id'), 'a');
    assert.equal(getHeader({ 'Webhook-ID': 'b' }, 'webhook-id'), 'b');
    assert.equal(getHeader({ 'WEBHOOK-ID': 'c' }, 'webhook-id'), 'c');
    assert.equal(getHeader({ other: 'x' }, 'webhook-id'), undefined);
  });

  test('the lower-case key wins over other spellings', () => {
    assert.equal(getHeader({ 'Webhook-Id': 'upper', 'webhook-id': 'lower' }, 'webhook-id'), 'lower');
  });

  test('arrays give their first value; numbers become strings; null/undefined are absent', () => {
    assert.equal(getHeader({ 'webhook-id': ['first', 'second'] }, 'webhook-id'), 'first');
    assert.equal(getHeader({ 'content-length': 12 }, 'content-length'), '12');
    assert.equal(getHeader({ 'webhook-id': undefined }, 'webhook-id'), undefined);
    assert.equal(getHeader({ 'webhook-id': null }, 'webhook-id'), undefined);
    assert.equal(getHeader({ 'webhook-id': [] }, 'webhook-id'), undefined);
  });

  test('Fetch Headers and anything with get()', () => {
    assert.equal(getHeader(new Headers({ 'Webhook-Id': 'h' }), 'WEBHOOK-ID'), 'h');
    assert.equal(getHeader(new Headers(), 'webhook-id'), undefined);
    const map = new Map([['webhook-id', 'm']]);
    assert.equal(getHeader(map, 'Webhook-Id'), 'm');
  });

  test('inherited properties are not headers', () => {
    assert.equal(getHeader({}, 'constructor'), undefined);
    assert.equal(getHeader({}, '__proto__'), undefined);
  });

  test('no headers at all', () => {
    assert.equal(getHeader(undefined, 'webhook-id'), undefined);
    assert.equal(getHeader(null, 'webhook-id'), undefined);
  });
});

describe('getAccessToken', () => {
  test('reads x-epilot-token from every request shape', () => {
    assert.equal(getAccessToken({ headers: { 'x-epilot-token': 't1' } }), 't1');
    assert.equal(getAccessToken({ headers: new Headers({ 'X-Epilot-Token': 't2' }) }), 't2');
    assert.equal(getAccessToken(new Request('http://localhost/', { headers: { 'x-epilot-token': 't3' } })), 't3');
    assert.equal(getAccessToken({ request: { headers: { 'X-EPILOT-TOKEN': 't4' } } }), 't4');
    assert.equal(getAccessToken({ 'x-epilot-token': 't5' }), 't5');
    assert.equal(getAccessToken(new Headers({ 'x-epilot-token': 't6' })), 't6');
  });

  test('absent or blank is undefined', () => {
    assert.equal(getAccessToken({ headers: {} }), undefined);
    assert.equal(getAccessToken({ headers: { 'x-epilot-token': '  ' } }), undefined);
  });
});
