import { badRequest } from '../domain/errors.js';

/**
 * epilot's search `q`: Lucene / Elasticsearch `query_string` syntax. This file parses it into a
 * small tree; `planner.ts` turns the tree into index lookups.
 *
 * Supported: `field:value`, bare words (searched inside every value), quoted phrases, `*` and `?`
 * wildcards, `AND` / `&&`, `OR` / `||`, `NOT` / `!` / `-term`, `+term`, parentheses, field groups
 * (`status:(open OR won)`), ranges `field:[a TO b]` / `{a TO b}` (mixed brackets, `*` for open),
 * `field:>x` `>=` `<` `<=`, `_exists_:field`, `field:*` and `*` / `*:*` for everything.
 *
 * Lucene's operators are not boolean algebra: `a AND b OR c` means `+a b c` (just `a`), and
 * juxtaposed terms mean OR or AND depending on the server's default operator. Rather than guess,
 * anything whose meaning depends on that (mixing AND with OR at one level, `a b`, `a OR NOT b`,
 * `+a b`) is a 400 that says how to write it unambiguously. Everything else that Lucene has and we
 * do not (fuzzy `~`, proximity, boosts `^`, regular expressions `/…/`, wildcard field names) is a
 * 400 naming it: never a silent zero hits.
 */

/** A wildcard in a term: `*` any run of characters, `?` exactly one. */
export const STAR = 0;
export const ONE = 1;
/** A term's text: literal runs and wildcards. */
export type Pattern = Array<string | typeof STAR | typeof ONE>;

export type QueryNode =
  | { type: 'all' }
  | { type: 'and'; items: QueryNode[] }
  | { type: 'or'; items: QueryNode[] }
  | { type: 'not'; item: QueryNode }
  /** `field` null: a bare word or phrase, searched inside every value. */
  | { type: 'term'; field: string | null; pattern: Pattern; phrase: boolean }
  | {
      type: 'range';
      field: string;
      /** null: open. */
      lo: string | null;
      hi: string | null;
      loIncl: boolean;
      hiIncl: boolean;
    }
  | { type: 'exists'; field: string };

/** The longest term (value, phrase or pattern) a query may hold, in characters. */
export const MAX_TERM_LENGTH = 256;
/** Most terms in one query. */
export const MAX_TERMS = 64;
/** Deepest nesting of parentheses. */
export const MAX_DEPTH = 16;
const MAX_FIELD_LENGTH = 200;

type Mod = '+' | '-' | null;
type Conj = 'AND' | 'OR' | null;
interface Clause {
  conj: Conj;
  mod: Mod;
  node: QueryNode;
  text: string;
}

const isWs = (c: string | undefined) => c !== undefined && /\s/.test(c);
/** Characters that end a bare term (unless escaped). */
const TERM_END = new Set(['(', ')', '"', '[', ']', '{', '}']);

class Parser {
  private i = 0;
  private terms = 0;

  constructor(private readonly s: string) {}

  private fail(msg: string): never {
    throw badRequest(`invalid search query at character ${this.i + 1}: ${msg}`);
  }
  private unsupported(what: string): never {
    return unsupported(what);
  }

  private skipWs() {
    while (isWs(this.s[this.i])) this.i++;
  }

  /** Whether the operator word `w` starts here (a whole word: followed by space, `(` or `"`). */
  private atWord(w: string): boolean {
    if (!this.s.startsWith(w, this.i)) return false;
    const next = this.s[this.i + w.length];
    return next === undefined || isWs(next) || next === '(' || next === '"';
  }

  parse(): QueryNode {
    return this.group(null, 0, false);
  }

  /** A sequence of clauses joined by operators, up to `)` (when `closing`) or the end. */
  private group(field: string | null, depth: number, closing: boolean): QueryNode {
    if (depth > MAX_DEPTH) this.fail(`parentheses may nest at most ${MAX_DEPTH} deep`);
    const clauses: Clause[] = [];
    for (;;) {
      this.skipWs();
      const c = this.s[this.i];
      if (c === undefined) {
        if (closing) this.fail('missing )');
        break;
      }
      if (c === ')') {
        if (!closing) this.fail('unbalanced )');
        this.i++;
        break;
      }
      let conj: Conj = null;
      if (this.atWord('AND') || this.s.startsWith('&&', this.i)) {
        conj = 'AND';
        this.i += this.s[this.i] === '&' ? 2 : 3;
      } else if (this.atWord('OR') || this.s.startsWith('||', this.i)) {
        conj = 'OR';
        this.i += 2;
      }
      if (conj && clauses.length === 0) this.fail(`${conj} needs a term before it`);
      this.skipWs();
      const start = this.i;
      let mod: Mod = null;
      if (this.atWord('NOT')) {
        mod = '-';
        this.i += 3;
        this.skipWs();
      } else if (this.s[this.i] === '!' && this.s[this.i + 1] !== undefined && !isWs(this.s[this.i + 1])) {
        mod = '-';
        this.i++;
      } else if (
        (this.s[this.i] === '-' || this.s[this.i] === '+') &&
        this.s[this.i + 1] !== undefined &&
        !isWs(this.s[this.i + 1])
      ) {
        mod = this.s[this.i] as '+' | '-';
        this.i++;
      }
      if (this.s[this.i] === undefined || this.s[this.i] === ')') {
        this.fail(`${mod === '-' ? 'NOT' : (conj ?? 'an operator')} needs a term after it`);
      }
      if (this.atWord('AND') || this.atWord('OR') || this.atWord('NOT')) this.fail('two operators in a row');
      const node = this.clause(field, depth);
      clauses.push({ conj, mod, node, text: this.s.slice(start, this.i) });
    }
    if (clauses.length === 0) this.fail(closing ? 'empty parentheses' : 'empty query');
    return combine(clauses);
  }

  /** One clause: a parenthesized group, a phrase, a range or comparison, or a (field:)term. */
  private clause(field: string | null, depth: number): QueryNode {
    const c = this.s[this.i];
    if (c === '(') {
      this.i++;
      return this.group(field, depth + 1, true);
    }
    if (c === '"') return this.suffixes(this.term(field, [this.quoted()], true));
    if (c === '[' || c === '{') {
      if (field === null) this.fail('a range needs a field, e.g. amount:[1 TO 5]');
      return this.suffixes(this.range(field));
    }
    if (c === '>' || c === '<') {
      if (field === null) this.fail('a comparison needs a field, e.g. amount:>5');
      return this.suffixes(this.comparison(field));
    }
    if (c === '/') this.unsupported('regular expressions (/…/)');
    const { pattern, colon } = this.bare(true);
    if (colon) {
      if (field !== null) this.fail(`field "${field}" groups a second field`);
      const name = fieldName(pattern);
      this.i++; // the colon
      return this.suffixes(this.fieldValue(name, depth));
    }
    if (pattern.length === 1 && pattern[0] === STAR)
      return field === null ? { type: 'all' } : { type: 'exists', field };
    return this.suffixes(this.term(field, pattern, false));
  }

  private fieldValue(field: string, depth: number): QueryNode {
    const c = this.s[this.i];
    if (c === undefined || isWs(c) || c === ')') this.fail(`field "${field}" has no value`);
    if (field === '_exists_') {
      const { pattern } = this.bare(false);
      return { type: 'exists', field: fieldName(pattern) };
    }
    if (field === '_missing_') this.unsupported('_missing_ (write NOT _exists_:field)');
    if (field === '*') {
      const { pattern } = this.bare(false);
      if (pattern.length === 1 && pattern[0] === STAR) return { type: 'all' };
      this.unsupported('*:value (name the field, or search a bare word)');
    }
    if (c === '(') {
      this.i++;
      return this.group(field, depth + 1, true);
    }
    if (c === '"') return this.term(field, [this.quoted()], true);
    if (c === '[' || c === '{') return this.range(field);
    if (c === '>' || c === '<') return this.comparison(field);
    if (c === '/') this.unsupported('regular expressions (/…/)');
    // A value runs to the next space: `_created_at:2026-01-01T10:00:00Z` keeps its colons.
    const { pattern } = this.bare(false);
    if (pattern.length === 1 && pattern[0] === STAR) return { type: 'exists', field };
    return this.term(field, pattern, false);
  }

  private term(field: string | null, pattern: Pattern, phrase: boolean): QueryNode {
    const length = pattern.reduce<number>((n, p) => n + (typeof p === 'string' ? p.length : 1), 0);
    if (length > MAX_TERM_LENGTH) {
      throw badRequest(
        `search term too long: a term or pattern may have at most ${MAX_TERM_LENGTH} characters, this one has ${length}`,
      );
    }
    if (++this.terms > MAX_TERMS) throw badRequest(`search query too large: at most ${MAX_TERMS} terms`);
    return { type: 'term', field, pattern, phrase };
  }

  /** Refuses Lucene's suffixes we do not support: `~` (fuzzy, proximity) and `^` (boost). */
  private suffixes(node: QueryNode): QueryNode {
    const c = this.s[this.i];
    if (c === '~') this.unsupported('fuzzy and proximity search (~)');
    if (c === '^') this.unsupported('boosting (^)');
    return node;
  }

  /** A quoted phrase; `\"` and `\\` escape. Wildcards inside quotes are literal. */
  private quoted(): string {
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('unterminated quote');
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '\\') {
        const n = this.s[this.i + 1];
        if (n === undefined) this.fail('unterminated quote');
        out += n;
        this.i += 2;
        continue;
      }
      out += c;
      this.i++;
    }
  }

  /**
   * An unquoted run: up to a space, a bracket, a quote, or (when `stopAtColon`) an unescaped colon,
   * which it reports. `\` escapes any character.
   */
  private bare(stopAtColon: boolean): { pattern: Pattern; colon: boolean } {
    const pattern: Pattern = [];
    let lit = '';
    const flush = () => {
      if (lit) pattern.push(lit);
      lit = '';
    };
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || isWs(c)) break;
      if (c === '\\') {
        const n = this.s[this.i + 1];
        if (n === undefined) this.fail('a trailing \\ escapes nothing');
        lit += n;
        this.i += 2;
        continue;
      }
      if (stopAtColon && c === ':') {
        if (lit === '' && pattern.length === 0) this.fail('a field name is missing before :');
        flush();
        return { pattern, colon: true };
      }
      if (TERM_END.has(c)) {
        if (c === ')' || c === '"') break;
        this.fail(`unexpected "${c}" (escape it as \\${c})`);
      }
      if (c === '~') this.unsupported('fuzzy and proximity search (~)');
      if (c === '^') this.unsupported('boosting (^)');
      if (c === '*' || c === '?') {
        flush();
        if (!(c === '*' && pattern.at(-1) === STAR)) pattern.push(c === '*' ? STAR : ONE);
      } else lit += c;
      this.i++;
    }
    flush();
    if (pattern.length === 0) this.fail('a term is missing');
    return { pattern, colon: false };
  }

  /** `[lo TO hi]`, `{lo TO hi}`, or mixed; `*` for an open end. */
  private range(field: string): QueryNode {
    const loIncl = this.s[this.i] === '[';
    this.i++;
    this.skipWs();
    const lo = this.bound();
    this.skipWs();
    if (!this.atWord('TO')) this.fail('a range is written [from TO to]');
    this.i += 2;
    this.skipWs();
    const hi = this.bound();
    this.skipWs();
    const close = this.s[this.i];
    if (close !== ']' && close !== '}') this.fail('a range ends with ] or }');
    this.i++;
    if (++this.terms > MAX_TERMS) throw badRequest(`search query too large: at most ${MAX_TERMS} terms`);
    if (lo === null && hi === null) return { type: 'exists', field };
    return { type: 'range', field, lo, hi, loIncl, hiIncl: close === ']' };
  }

  private bound(): string | null {
    let v: string;
    if (this.s[this.i] === '"') v = this.quoted();
    else {
      v = '';
      for (;;) {
        const c = this.s[this.i];
        if (c === undefined || isWs(c) || c === ']' || c === '}') break;
        if (c === '\\') {
          v += this.s[this.i + 1] ?? '';
          this.i += 2;
          continue;
        }
        v += c;
        this.i++;
      }
      if (v === '') this.fail('a range bound is missing');
      if (v === '*') return null;
      if (v.includes('*') || v.includes('?')) this.unsupported('wildcards in range bounds');
    }
    return checkBound(v);
  }

  /** `>x`, `>=x`, `<x`, `<=x`. */
  private comparison(field: string): QueryNode {
    const op = this.s[this.i] as '>' | '<';
    this.i++;
    const incl = this.s[this.i] === '=';
    if (incl) this.i++;
    let v: string;
    if (this.s[this.i] === '"') v = this.quoted();
    else {
      const { pattern } = this.bare(false);
      if (pattern.some((p) => typeof p !== 'string')) this.unsupported('wildcards in comparisons');
      v = (pattern as string[]).join('');
    }
    if (++this.terms > MAX_TERMS) throw badRequest(`search query too large: at most ${MAX_TERMS} terms`);
    const b = checkBound(v);
    return op === '>'
      ? { type: 'range', field, lo: b, hi: null, loIncl: incl, hiIncl: false }
      : { type: 'range', field, lo: null, hi: b, loIncl: false, hiIncl: incl };
  }
}

function checkBound(v: string): string {
  if (v.length > MAX_TERM_LENGTH) {
    throw badRequest(`range bound too long: ${v.length} characters; at most ${MAX_TERM_LENGTH}`);
  }
  if (/^now([+\-/]|$)/.test(v)) unsupported('date math (now, now-1d, …): send an ISO date');
  return v;
}

function unsupported(what: string): never {
  throw badRequest(`unsupported search syntax: ${what}`);
}

function fieldName(pattern: Pattern): string {
  if (pattern.some((p) => typeof p !== 'string')) {
    if (pattern.length === 1 && pattern[0] === STAR) return '*';
    unsupported('wildcards in field names');
  }
  const name = (pattern as string[]).join('');
  if (name.length > MAX_FIELD_LENGTH) throw badRequest(`field name longer than ${MAX_FIELD_LENGTH} characters`);
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) throw badRequest(`invalid field "${name}"`);
  return name;
}

type Occur = 'MUST' | 'SHOULD' | 'NOT';

/** Lucene's classic `QueryParser.addClause`: the occur of each clause under a default operator. */
function occurs(clauses: Clause[], defaultOp: 'AND' | 'OR'): Occur[] {
  const out: Occur[] = [];
  clauses.forEach((c, i) => {
    if (i > 0 && c.conj === 'AND' && out[i - 1] !== 'NOT') out[i - 1] = 'MUST';
    if (i > 0 && defaultOp === 'AND' && c.conj === 'OR' && out[i - 1] !== 'NOT') out[i - 1] = 'SHOULD';
    const prohibited = c.mod === '-';
    const required =
      defaultOp === 'OR' ? !prohibited && (c.mod === '+' || c.conj === 'AND') : !prohibited && c.conj !== 'OR';
    out.push(prohibited ? 'NOT' : required ? 'MUST' : 'SHOULD');
  });
  return out;
}

/** What a boolean clause list matches: all of `must` (or, without any, one of `should`), none of `not`. */
function form(occ: Occur[]) {
  let must = occ.flatMap((o, i) => (o === 'MUST' ? [i] : []));
  let should = occ.flatMap((o, i) => (o === 'SHOULD' ? [i] : []));
  const not = occ.flatMap((o, i) => (o === 'NOT' ? [i] : []));
  const ignored = must.length > 0 && should.length > 0;
  if (must.length === 0 && should.length === 1) [must, should] = [should, []];
  if (must.length > 0) should = [];
  return { must, should, not, ignored, key: `${must}|${should}|${not}` };
}

/**
 * Joins one level's clauses as Lucene does, refusing every combination whose meaning would depend
 * on the default operator or that Lucene reads differently from boolean logic.
 */
function combine(clauses: Clause[]): QueryNode {
  if (clauses.length === 1 && clauses[0]?.mod !== '-') return (clauses[0] as Clause).node;
  const hasAnd = clauses.some((c) => c.conj === 'AND');
  const hasOr = clauses.some((c) => c.conj === 'OR');
  const show = clauses.map((c) => c.text).join(' … ');
  if (hasAnd && hasOr) {
    throw badRequest(`ambiguous search query: AND and OR at the same level (${show}): add parentheses`);
  }
  if (hasOr && clauses.some((c) => c.mod === '+')) {
    throw badRequest(`ambiguous search query: a +required term among OR (${show}): drop the + or add parentheses`);
  }
  if (hasOr && clauses.some((c) => c.mod === '-')) {
    throw badRequest(
      `ambiguous search query: Lucene reads "a OR NOT b" as "a AND NOT b"; write that, or a OR (NOT b) (${show})`,
    );
  }
  const a = form(occurs(clauses, 'OR'));
  const b = form(occurs(clauses, 'AND'));
  if (a.key !== b.key || a.ignored) {
    const lower = clauses.some((c) => /^(and|or|not)$/.test(c.text)) ? ' (operators are written in capitals)' : '';
    throw badRequest(
      `ambiguous search query: terms without AND or OR between them (${show}): join them with AND or OR${lower}`,
    );
  }
  const node = (i: number) => (clauses[i] as Clause).node;
  const not = a.not.map((i): QueryNode => ({ type: 'not', item: node(i) }));
  if (a.must.length > 0 || not.length > 0) {
    const items = [...a.must.map(node), ...not];
    if (a.should.length > 0) items.push({ type: 'or', items: a.should.map(node) });
    return items.length === 1 ? (items[0] as QueryNode) : { type: 'and', items };
  }
  return { type: 'or', items: a.should.map(node) };
}

/** Parses `q`; every error is a 400 that says what to change. */
export function parseQuery(q: string): QueryNode {
  if (q.trim() === '') throw badRequest('q must not be empty (use * to match everything)');
  return new Parser(q).parse();
}

interface Piece {
  /** The literal text, `?` as NUL (values never hold NUL: bodies with it are refused). */
  text: string;
  len: number;
  /** Whether `text` starts at `pos` of `s`. */
  at(s: string, pos: number): boolean;
  /** The leftmost start ≥ `from` of a match ending by `end`, or -1. */
  find(s: string, from: number, end: number): number;
}

function literalPiece(text: string): Piece {
  return {
    text,
    len: text.length,
    at: (s, pos) => s.startsWith(text, pos),
    find(s, from, end) {
      const k = s.indexOf(text, from);
      return k !== -1 && k + text.length <= end ? k : -1;
    },
  };
}

/**
 * A piece with `?`: found by shift-and (bitap) over `ceil(len / 32)` words, O(value × len / 32),
 * where trying each position would be O(value × len) (`*a?a?a?…b*` against a run of `a`s).
 */
function wildPiece(text: string): Piece {
  const m = text.length;
  const words = Math.ceil(m / 32);
  const any = new Uint32Array(words);
  for (let k = 0; k < m; k++) if (text.charCodeAt(k) === 0) any[k >>> 5] = (any[k >>> 5] as number) | (1 << (k & 31));
  const masks = new Map<number, Uint32Array>();
  for (let k = 0; k < m; k++) {
    const c = text.charCodeAt(k);
    if (c === 0) continue;
    let mask = masks.get(c);
    if (!mask) {
      mask = Uint32Array.from(any);
      masks.set(c, mask);
    }
    mask[k >>> 5] = (mask[k >>> 5] as number) | (1 << (k & 31));
  }
  const lastWord = (m - 1) >>> 5;
  const lastBit = 1 << ((m - 1) & 31);
  const state = new Uint32Array(words);
  return {
    text,
    len: m,
    at(s, pos) {
      if (pos < 0 || pos + m > s.length) return false;
      for (let k = 0; k < m; k++) {
        const c = text.charCodeAt(k);
        if (c !== 0 && c !== s.charCodeAt(pos + k)) return false;
      }
      return true;
    },
    find(s, from, end) {
      state.fill(0);
      for (let i = from; i < end; i++) {
        const mask = masks.get(s.charCodeAt(i)) ?? any;
        let carry = 1;
        for (let w = 0; w < words; w++) {
          const d = state[w] as number;
          state[w] = ((d << 1) | carry) & (mask[w] as number);
          carry = d >>> 31;
        }
        if ((state[lastWord] as number) & lastBit) return i - m + 1;
      }
      return -1;
    },
  };
}

/**
 * A compiled wildcard pattern, matched against a whole value without backtracking: split on `*`,
 * the first piece must start the value, the last must end it, and each piece between is found
 * left to right (taking the leftmost match never loses one): `indexOf` for literal pieces,
 * shift-and for pieces with `?` (one UTF-16 unit). Linear in the value for a bounded pattern.
 * `fold`: the pattern is lowercased (index values are stored lowercased).
 */
export function compileGlob(pattern: Pattern, fold = true): (value: string) => boolean {
  const texts: string[] = [''];
  for (const p of pattern) {
    if (p === STAR) texts.push('');
    else texts[texts.length - 1] += p === ONE ? '\u0000' : fold ? p.toLowerCase() : p;
  }
  const pieces = texts.map((t) => (t.includes('\u0000') ? wildPiece(t) : literalPiece(t)));
  const first = pieces[0] as Piece;
  const last = pieces.at(-1) as Piece;
  const minLength = pieces.reduce((n, g) => n + g.len, 0);
  if (pieces.length === 1) return (v) => v.length === first.len && first.at(v, 0);
  return (v) => {
    if (v.length < minLength || !first.at(v, 0) || !last.at(v, v.length - last.len)) return false;
    let pos = first.len;
    const end = v.length - last.len;
    for (let k = 1; k < pieces.length - 1; k++) {
      const piece = pieces[k] as Piece;
      if (piece.len === 0) continue;
      const hit = piece.find(v, pos, end);
      if (hit === -1) return false;
      pos = hit + piece.len;
    }
    return true;
  };
}
