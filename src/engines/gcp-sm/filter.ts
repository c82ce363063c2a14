// The list filter language (AIP-160 subset, as Secret Manager documents it): comparisons
// `field:value` (has; `*` = present; substring for strings), `=`, `!=`, `<`, `<=`, `>`, `>=`,
// joined by AND, OR (which binds tighter than AND, as AIP-160 says), NOT or `-`, and
// parentheses; a sequence of terms is an AND. Fields are given by the caller (name, labels.k,
// create_time, state, ...). Errors are INVALID_ARGUMENT on `filter`, never echoing the text.
import { invalidArgument, parseTimestamp } from './common.js';

/** A field's value on one resource: a string, a time (epoch ms), a list, or absent. */
export type FieldValue = string | number | readonly string[] | undefined;

export type Predicate = (get: (field: string) => FieldValue) => boolean;

type Token = { kind: 'word' | 'op' | '(' | ')'; text: string };

const OPS = ['<=', '>=', '!=', ':', '=', '<', '>'];
const MAX_FILTER_CHARS = 2048;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const readValue = (): string => {
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw invalidArgument('filter', 'has an unterminated quote');
      const value = text.slice(i + 1, end);
      i = end + 1;
      return value;
    }
    const start = i;
    while (i < text.length && !/[\s()]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: c, text: c });
      i++;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op !== undefined) {
      tokens.push({ kind: 'op', text: op });
      i += op.length;
      while (text[i] === ' ') i++;
      tokens.push({ kind: 'word', text: readValue() });
      continue;
    }
    if (c === '"') {
      tokens.push({ kind: 'word', text: readValue() });
      continue;
    }
    const start = i;
    while (
      i < text.length &&
      !/[\s()]/.test(text[i]!) &&
      OPS.every((o) => !text.startsWith(o, i))
    ) {
      i++;
    }
    tokens.push({ kind: 'word', text: text.slice(start, i) });
  }
  return tokens;
}

function compare(value: FieldValue, op: string, expected: string, field: string): boolean {
  if (value === undefined) return op === '!=';
  if (typeof value === 'object') {
    const list: readonly string[] = value;
    return op === ':' && list.some((v) => v.toLowerCase().includes(expected.toLowerCase()));
  }
  if (typeof value === 'number') {
    const t = parseTimestamp(expected, `filter (${field})`);
    switch (op) {
      case '=':
      case ':':
        return value === t;
      case '!=':
        return value !== t;
      case '<':
        return value < t;
      case '<=':
        return value <= t;
      case '>':
        return value > t;
      default:
        return value >= t;
    }
  }
  const v = value;
  switch (op) {
    case ':':
      return expected === '*' || v.toLowerCase().includes(expected.toLowerCase());
    case '=':
      return v.toLowerCase() === expected.toLowerCase();
    case '!=':
      return v.toLowerCase() !== expected.toLowerCase();
    case '<':
      return v < expected;
    case '<=':
      return v <= expected;
    case '>':
      return v > expected;
    default:
      return v >= expected;
  }
}

/**
 * Compiles a filter; `fields` says which field names (or `prefix.` families such as
 * `labels.`) exist, so a typo is an INVALID_ARGUMENT rather than an empty list.
 */
export function compileFilter(text: string, fields: readonly string[]): Predicate {
  if (text.length > MAX_FILTER_CHARS) {
    throw invalidArgument('filter', `must be at most ${MAX_FILTER_CHARS} characters`);
  }
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const known = (f: string) =>
    fields.includes(f) ||
    fields.some((p) => p.endsWith('.') && f.startsWith(p) && f.length > p.length);

  const parseAnd = (depth: number): Predicate => {
    if (depth > 16) throw invalidArgument('filter', 'is nested too deeply');
    const parts: Predicate[] = [parseOr(depth)];
    while (pos < tokens.length && peek()!.kind !== ')') {
      if (peek()!.kind === 'word' && peek()!.text === 'AND') pos++;
      parts.push(parseOr(depth));
    }
    return (get) => parts.every((p) => p(get));
  };
  const parseOr = (depth: number): Predicate => {
    const parts: Predicate[] = [parseNot(depth)];
    while (peek()?.kind === 'word' && peek()!.text === 'OR') {
      pos++;
      parts.push(parseNot(depth));
    }
    return (get) => parts.some((p) => p(get));
  };
  const parseNot = (depth: number): Predicate => {
    const t = peek();
    if (t?.kind === 'word' && (t.text === 'NOT' || t.text === '-')) {
      pos++;
      const inner = parseNot(depth);
      return (get) => !inner(get);
    }
    if (
      t?.kind === 'word' &&
      t.text.startsWith('-') &&
      t.text.length > 1 &&
      tokens[pos + 1]?.kind === 'op'
    ) {
      tokens[pos] = { kind: 'word', text: t.text.slice(1) };
      const inner = parsePrimary(depth);
      return (get) => !inner(get);
    }
    return parsePrimary(depth);
  };
  const parsePrimary = (depth: number): Predicate => {
    const t = peek();
    if (t === undefined) throw invalidArgument('filter', 'ends where a term was expected');
    if (t.kind === '(') {
      pos++;
      const inner = parseAnd(depth + 1);
      if (peek()?.kind !== ')') throw invalidArgument('filter', 'has an unclosed parenthesis');
      pos++;
      return inner;
    }
    if (t.kind !== 'word' || ['AND', 'OR'].includes(t.text)) {
      throw invalidArgument('filter', 'has an operator where a term was expected');
    }
    const op = tokens[pos + 1];
    if (op?.kind !== 'op') {
      // A bare value: Google matches it against the name.
      pos++;
      return (get) => compare(get('name'), ':', t.text, 'name');
    }
    const value = tokens[pos + 2]!;
    pos += 3;
    const fieldName = t.text.replace(/^labels\.(.+)$/, 'labels.$1');
    if (!known(fieldName)) {
      throw invalidArgument('filter', `names an unknown field (known: ${fields.join(', ')})`);
    }
    // Timestamps are checked while compiling, so a bad one is an error even on an empty list.
    if (fieldName === 'create_time') parseTimestamp(value.text, 'filter (create_time)');
    return (get) => compare(get(fieldName), op.text, value.text, fieldName);
  };

  if (tokens.length === 0) return () => true;
  const predicate = parseAnd(0);
  if (pos !== tokens.length) throw invalidArgument('filter', 'has an unmatched parenthesis');
  return predicate;
}
