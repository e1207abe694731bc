import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob, ONE, type Pattern, parseQuery, STAR } from './query.js';

/** `*` and `?` in a string as a Pattern (the parser's output for an unquoted term). */
function pattern(s: string): Pattern {
  const out: Pattern = [];
  let lit = '';
  for (const c of s) {
    if (c !== '*' && c !== '?') {
      lit += c;
      continue;
    }
    if (lit) out.push(lit);
    lit = '';
    out.push(c === '*' ? STAR : ONE);
  }
  if (lit) out.push(lit);
  return out;
}

/** The reference: a RegExp (fine for tiny inputs, exponential for hostile ones). */
const reference = (p: string, s: string) =>
  new RegExp(
    `^${p
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[\\s\\S]*')
      .replace(/\?/g, '[\\s\\S]')}$`,
  ).test(s);

describe('compileGlob', () => {
  it('agrees with a regular expression on 50,000 random patterns and values', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let k = 0; k < 50_000; k++) {
      const long = k % 10 === 0;
      let p = '';
      // Long ones (pieces of 32+ characters with ?, several words of shift-and) have a star at each
      // end only, so that the reference RegExp stays polynomial.
      for (let i = 0, n = 1 + rand(long ? 60 : 7); i < n; i++) p += (long ? 'a?' : 'ab*?')[rand(long ? 2 : 4)] ?? '';
      if (long) p = `*${p}*`;
      let s = '';
      for (let i = 0, n = rand(long ? 90 : 9); i < n; i++) s += 'ab'[rand(long ? 5 : 2) === 0 ? 1 : 0] ?? '';
      assert.equal(compileGlob(pattern(p))(s), reference(p, s), `${p} against ${s}`);
    }
  });

  it('matches case-insensitively (values are indexed lowercased) and wildcards only where unescaped', () => {
    assert.equal(compileGlob(['Al', STAR])('alpha'), true);
    assert.equal(compileGlob(['a*b'])('a*b'), true, 'a literal * (escaped in the query) is not a wildcard');
    assert.equal(compileGlob(['a*b'])('axb'), false);
  });

  it('stays linear on patterns that make backtracking matchers explode', () => {
    const value = 'a'.repeat(256);
    const hostile = [
      `*${'a?'.repeat(126)}b*`,
      `${'*a'.repeat(127)}*b`,
      `*${'a'.repeat(254)}b*`,
      `${'a*'.repeat(127)}b`,
    ];
    for (const p of hostile) {
      const test = compileGlob(pattern(p));
      const t = performance.now();
      for (let i = 0; i < 1000; i++) assert.equal(test(value), false);
      const ms = performance.now() - t;
      // A backtracking matcher takes seconds to hours here; this one well under 0.5 ms a value.
      assert.ok(ms < 500, `${p.slice(0, 12)}…: ${ms.toFixed(0)} ms for 1,000 values`);
    }
  });
});

describe('parseQuery', () => {
  const term = (field: string | null, value: string) => ({ type: 'term', field, pattern: [value], phrase: false });

  it('reads the boolean operators as Lucene does where the reading is unambiguous', () => {
    assert.deepEqual(parseQuery('a:1 AND b:2'), { type: 'and', items: [term('a', '1'), term('b', '2')] });
    assert.deepEqual(parseQuery('a:1 || b:2'), { type: 'or', items: [term('a', '1'), term('b', '2')] });
    assert.deepEqual(parseQuery('a:1 -b:2'), {
      type: 'and',
      items: [term('a', '1'), { type: 'not', item: term('b', '2') }],
    });
    assert.deepEqual(parseQuery('+a:1 +b:2'), { type: 'and', items: [term('a', '1'), term('b', '2')] });
    assert.deepEqual(parseQuery('status:(won OR lost)'), {
      type: 'or',
      items: [term('status', 'won'), term('status', 'lost')],
    });
    assert.deepEqual(parseQuery('NOT a:1'), { type: 'not', item: term('a', '1') });
  });

  it('reads ranges, comparisons, existence, phrases and escapes', () => {
    assert.deepEqual(parseQuery('n:{1 TO *]'), {
      type: 'range',
      field: 'n',
      lo: '1',
      hi: null,
      loIncl: false,
      hiIncl: true,
    });
    assert.deepEqual(parseQuery('n:<=5'), {
      type: 'range',
      field: 'n',
      lo: null,
      hi: '5',
      loIncl: false,
      hiIncl: true,
    });
    assert.deepEqual(parseQuery('_exists_:a.b'), { type: 'exists', field: 'a.b' });
    assert.deepEqual(parseQuery('a:*'), { type: 'exists', field: 'a' });
    assert.deepEqual(parseQuery('a:"x y*"'), { type: 'term', field: 'a', pattern: ['x y*'], phrase: true });
    assert.deepEqual(parseQuery('a:x\\:y\\*'), term('a', 'x:y*'));
    assert.deepEqual(parseQuery('at:2026-01-01T10:00:00Z'), term('at', '2026-01-01T10:00:00Z'));
    assert.deepEqual(parseQuery('*:*'), { type: 'all' });
  });

  it('refuses what depends on the default operator, and what it does not support, naming it', () => {
    const refused: Array<[string, RegExp]> = [
      ['a b', /without AND or OR/],
      ['a and b', /operators are written in capitals/],
      ['+a b', /without AND or OR/],
      ['a AND b OR c', /AND and OR at the same level/],
      ['a OR -b', /a OR \(NOT b\)/],
      ['a OR +b', /\+required term among OR/],
      ['a~', /fuzzy/],
      ['a^2', /boosting/],
      ['/a.*/', /regular expressions/],
      ['a*:1', /wildcards in field names/],
      ['_missing_:a', /_missing_/],
      ['n:[now-1d TO *]', /date math/],
      ['n:[a* TO b]', /wildcards in range bounds/],
      ['(a', /missing \)/],
      ['a)', /unbalanced \)/],
      ['a:', /has no value/],
      [`a:${'x'.repeat(257)}`, /at most 256 characters, this one has 257/],
      [Array.from({ length: 65 }, (_, i) => `f:${i}`).join(' OR '), /at most 64 terms/],
      [`${'('.repeat(17)}a${')'.repeat(17)}`, /nest at most 16/],
    ];
    for (const [q, message] of refused) {
      assert.throws(
        () => parseQuery(q),
        (e: { kind?: string; message: string }) => e.kind === 'bad_request' && message.test(e.message),
        q,
      );
    }
  });
});
