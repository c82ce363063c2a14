// HCL v1 (the hashicorp/hcl v1 dialect of Vault's server config and ACL policies) and its JSON
// form: one lexer, one bounded recursive-descent parser, one position-carrying tree.
import { Buffer } from 'node:buffer';
import { CofferError } from '../sdk/errors.js';
import type { JsonObject, JsonValue } from '../sdk/json.js';

/**
 * A parsed value. Blocks (`key "label" { ... }`) and object literals (`key = { ... }`) are both
 * bodies; lists may hold any value, bodies included.
 */
export type HclValue = string | number | boolean | readonly HclValue[] | HclBody;

/** The items of a file, a block or an object literal, in source order, repeats kept. */
export interface HclBody {
  readonly items: readonly HclItem[];
}

/**
 * One `key = value` assignment or one `key "label" ... { ... }` block. Position is that of the
 * key token: `line` and `column` are 1-based and columns count Unicode code points.
 */
export interface HclItem {
  readonly key: string;
  readonly labels: readonly string[];
  readonly value: HclValue;
  readonly line: number;
  readonly column: number;
}

export interface HclParseOptions {
  /** Deepest allowed nesting of `{` and `[` (the top level is 0). */
  readonly maxDepth?: number;
  /** Largest accepted input, in UTF-8 bytes. */
  readonly maxBytes?: number;
}

export const HCL_DEFAULT_MAX_DEPTH = 64;
export const HCL_DEFAULT_MAX_BYTES = 1024 * 1024;

export function isHclBody(value: HclValue): value is HclBody {
  return typeof value === 'object' && !Array.isArray(value);
}

export function isHclList(value: HclValue): value is readonly HclValue[] {
  return Array.isArray(value);
}

/**
 * Parses HCL v1 text, or its JSON form when the first non-blank character is `{` (the rule
 * hashicorp/hcl v1 uses). Both forms give the same tree: JSON objects are flattened into block
 * labels exactly as HCL v1 does (an object whose members are all objects becomes labels, a list
 * of objects becomes repeated items), so `{"path": {"a": {...}}}` reads as `path "a" { ... }`.
 *
 * Deliberate differences from hashicorp/hcl v1, all more permissive: a heredoc may end at end of
 * input without a final line break; in a `<<-` heredoc blank lines do not cancel the unindent.
 * Stricter: JSON `null` is an error (HCL v1 reads it as ""), `\u` escapes must not leave lone
 * surrogates, and quoted strings never span lines. Throws CofferError('invalid_request', 'line:col: ...').
 * SECURITY: error messages name token kinds, never the text of a token (it may be a secret).
 */
export function parseHcl(text: string, options: HclParseOptions = {}): HclBody {
  const maxBytes = options.maxBytes ?? HCL_DEFAULT_MAX_BYTES;
  const maxDepth = options.maxDepth ?? HCL_DEFAULT_MAX_DEPTH;
  // A UTF-16 length above the limit implies more UTF-8 bytes than that, so the cheap test first.
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw new CofferError('invalid_request', `input is larger than ${maxBytes} bytes`);
  }
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let first = start;
  while (first < text.length && isBlank(text.charCodeAt(first))) first++;
  const json = text[first] === '{';
  const parser = new Parser(new Lexer(text, start, json), maxDepth);
  return json ? flattenJsonBody(parser.jsonDocument()) : parser.hclDocument();
}

/**
 * Folds a body into plain JSON the way HCL v1 decodes into maps: `path "a" { x = 1 }` becomes
 * `{ path: { a: { x: 1 } } }`; repeated blocks and objects under the same key merge deeply. A key
 * given two non-object values is ambiguous and throws (use the items directly when repetition is
 * meaningful, as for duplicate `path` blocks in policies, which the ACL layer merges itself).
 */
export function hclToJson(body: HclBody): JsonObject {
  const out: JsonObject = {};
  for (const item of body.items) {
    let target = out;
    const path = [item.key, ...item.labels];
    for (let i = 0; i < path.length - 1; i++) {
      const key = path[i]!;
      const existing = getOwn(target, key);
      if (existing === undefined) {
        const next: JsonObject = {};
        setOwn(target, key, next);
        target = next;
      } else if (isJsonObject(existing)) {
        target = existing;
      } else {
        throw duplicateKey(item);
      }
    }
    const last = path[path.length - 1]!;
    const value = valueToJson(item.value);
    const existing = getOwn(target, last);
    if (existing === undefined) setOwn(target, last, value);
    else if (isJsonObject(existing) && isJsonObject(value)) mergeJson(existing, value, item);
    else throw duplicateKey(item);
  }
  return out;
}

function valueToJson(value: HclValue): JsonValue {
  if (isHclBody(value)) return hclToJson(value);
  if (isHclList(value)) return value.map(valueToJson);
  return value;
}

function mergeJson(target: JsonObject, source: JsonObject, item: HclItem): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = getOwn(target, key);
    if (existing === undefined) setOwn(target, key, value);
    else if (isJsonObject(existing) && isJsonObject(value)) mergeJson(existing, value, item);
    else throw duplicateKey(item);
  }
}

function duplicateKey(item: HclItem): CofferError {
  return positionError(item, `${item.key}: set more than once with values that cannot be merged`);
}

function isJsonObject(value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getOwn(target: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

/** SECURITY: defineProperty, so a key named `__proto__` stays data and never a prototype. */
function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

// ---- JSON flattening (hashicorp/hcl v1 json/parser flattenObjects) ----

function flattenJsonBody(body: HclBody): HclBody {
  const items: HclItem[] = [];
  for (const item of body.items) flattenJsonItem(item, items);
  return { items };
}

/**
 * Top-down, on the raw (unflattened) values, as HCL v1 does: flattening an inner object first
 * would change which outer objects qualify.
 */
function flattenJsonItem(item: HclItem, out: HclItem[]): void {
  const value = item.value;
  if (isHclBody(value) && value.items.length > 0 && value.items.every((i) => isHclBody(i.value))) {
    for (const sub of value.items) {
      flattenJsonItem(
        { ...item, labels: [...item.labels, sub.key, ...sub.labels], value: sub.value },
        out,
      );
    }
    return;
  }
  if (isHclList(value) && value.length > 0 && value.every(isHclBody)) {
    for (const element of value) flattenJsonItem({ ...item, value: element }, out);
    return;
  }
  out.push({ ...item, value: flattenJsonValue(value) });
}

function flattenJsonValue(value: HclValue): HclValue {
  if (isHclBody(value)) return flattenJsonBody(value);
  if (isHclList(value)) return value.map(flattenJsonValue);
  return value;
}

// ---- Lexer ----

type Punctuation = '=' | ':' | ',' | '{' | '}' | '[' | ']';

interface Position {
  readonly line: number;
  readonly column: number;
}

type Token = Position &
  (
    | { readonly kind: 'identifier' | 'string' | 'heredoc'; readonly value: string }
    | { readonly kind: 'number'; readonly value: number }
    | { readonly kind: 'boolean'; readonly value: boolean }
    | { readonly kind: Punctuation | 'null' | 'end' }
  );

type TokenKind = Token['kind'];

function describe(kind: TokenKind): string {
  switch (kind) {
    case 'identifier':
      return 'an identifier';
    case 'string':
      return 'a string';
    case 'heredoc':
      return 'a heredoc';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'null':
      return 'null';
    case 'end':
      return 'end of input';
    case '=':
    case ':':
    case ',':
    case '{':
    case '}':
    case '[':
    case ']':
      return `'${kind}'`;
  }
}

function positionError(at: Position, message: string): CofferError {
  return new CofferError('invalid_request', `${at.line}:${at.column}: ${message}`);
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

// Character classes on UTF-16 code units; NaN (past the end) is in none of them.
function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}
function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f;
}
function isHexDigit(code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}
/** Identifier characters after the first: letters, digits, `_`, `-` and `.`. */
function isIdentPart(code: number): boolean {
  return isLetter(code) || isDigit(code) || code === 0x2d || code === 0x2e;
}
function isAnchorPart(code: number): boolean {
  return isLetter(code) || isDigit(code);
}
/** Characters that may not directly follow a number (`10s` is a forgotten pair of quotes). */
const isAfterNumber = isIdentPart;
const JSON_NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

const HCL_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['a', '\x07'],
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ['v', '\v'],
  ['\\', '\\'],
  ['"', '"'],
]);

const JSON_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ['\\', '\\'],
  ['"', '"'],
  ['/', '/'],
]);

/** Turns text into tokens on demand, tracking line and column; `json` selects JSON's rules. */
class Lexer {
  private readonly text: string;
  private readonly json: boolean;
  private pos: number;
  private line = 1;
  private column = 1;

  constructor(text: string, start: number, json: boolean) {
    this.text = text;
    this.pos = start;
    this.json = json;
  }

  next(): Token {
    this.skipTrivia();
    // Tokens are built as flat literals (one allocation each): this loop runs per token.
    const line = this.line;
    const column = this.column;
    const char = this.text[this.pos];
    if (char === undefined) return { kind: 'end', line, column };
    switch (char) {
      case '{':
      case '}':
      case '[':
      case ']':
      case ',':
        this.skip(1);
        return { kind: char, line, column };
      case '=':
        if (this.json) break;
        this.skip(1);
        return { kind: char, line, column };
      case ':':
        if (!this.json) break;
        this.skip(1);
        return { kind: char, line, column };
      case '"': {
        const at = { line, column };
        const value = this.json ? this.jsonString(at) : this.hclString(at);
        return { kind: 'string', value, line, column };
      }
      case '<':
        if (this.json) break;
        return { kind: 'heredoc', value: this.heredoc({ line, column }), line, column };
      default: {
        const code = this.code();
        if (isDigit(code) || (char === '-' && isDigit(this.code(1)))) {
          const at = { line, column };
          const value = this.json ? this.jsonNumber(at) : this.hclNumber(at);
          return { kind: 'number', value, line, column };
        }
        if (isLetter(code)) return this.word(line, column);
      }
    }
    throw positionError({ line, column }, 'unexpected character');
  }

  private code(offset = 0): number {
    return this.text.charCodeAt(this.pos + offset);
  }

  /** Consumes one UTF-16 unit; a surrogate pair counts as one column. */
  private advance(): void {
    const code = this.text.charCodeAt(this.pos);
    this.pos++;
    if (code === 0x0a) {
      this.line++;
      this.column = 1;
    } else if (code >= 0xd800 && code <= 0xdbff) {
      const low = this.text.charCodeAt(this.pos);
      if (!(low >= 0xdc00 && low <= 0xdfff)) this.column++;
    } else {
      this.column++;
    }
  }

  /** Consumes `count` characters known to be ASCII and not line breaks. */
  private skip(count: number): void {
    this.pos += count;
    this.column += count;
  }

  private skipTrivia(): void {
    const text = this.text;
    for (;;) {
      const code = text.charCodeAt(this.pos);
      if (isBlank(code)) {
        this.advance();
        continue;
      }
      if (this.json) return;
      const char = text[this.pos];
      if (char === '#' || (char === '/' && text[this.pos + 1] === '/')) {
        while (this.pos < text.length && text[this.pos] !== '\n') this.advance();
        continue;
      }
      if (char === '/' && text[this.pos + 1] === '*') {
        const at: Position = { line: this.line, column: this.column };
        const end = text.indexOf('*/', this.pos + 2);
        if (end === -1) throw positionError(at, 'unterminated block comment');
        while (this.pos < end + 2) this.advance();
        continue;
      }
      return;
    }
  }

  private word(line: number, column: number): Token {
    const start = this.pos;
    const part = this.json ? isLetter : isIdentPart;
    while (part(this.code())) this.skip(1);
    const word = this.text.slice(start, this.pos);
    if (word === 'true' || word === 'false') {
      return { kind: 'boolean', value: word === 'true', line, column };
    }
    if (this.json) {
      if (word === 'null') return { kind: 'null', line, column };
      throw positionError(
        { line, column },
        'unexpected word (JSON allows only true, false and null)',
      );
    }
    return { kind: 'identifier', value: word, line, column };
  }

  /** Decimal, hex (`0x1F`), octal (`0755`, as Go's ParseInt reads it) and floats; `-` allowed. */
  private hclNumber(at: Position): number {
    const text = this.text;
    const negative = text[this.pos] === '-';
    if (negative) this.skip(1);
    let value: number;
    let float = false;
    if (text[this.pos] === '0' && (text[this.pos + 1] === 'x' || text[this.pos + 1] === 'X')) {
      this.skip(2);
      const digits = this.pos;
      while (isHexDigit(this.code())) this.skip(1);
      if (this.pos === digits) throw positionError(at, 'invalid number');
      value = Number.parseInt(text.slice(digits, this.pos), 16);
    } else {
      const digits = this.pos;
      while (isDigit(this.code())) this.skip(1);
      if (text[this.pos] === '.') {
        this.skip(1);
        const fraction = this.pos;
        while (isDigit(this.code())) this.skip(1);
        if (this.pos === fraction) throw positionError(at, 'invalid number');
        float = true;
      }
      if (text[this.pos] === 'e' || text[this.pos] === 'E') {
        this.skip(1);
        if (text[this.pos] === '+' || text[this.pos] === '-') this.skip(1);
        const exponent = this.pos;
        while (isDigit(this.code())) this.skip(1);
        if (this.pos === exponent) throw positionError(at, 'invalid number');
        float = true;
      }
      const raw = text.slice(digits, this.pos);
      if (!float && raw.length > 1 && raw.startsWith('0')) {
        if (/[89]/.test(raw)) throw positionError(at, 'invalid octal number');
        value = Number.parseInt(raw, 8);
      } else {
        value = Number(raw);
      }
    }
    if (isAfterNumber(this.code())) {
      throw positionError(at, 'invalid number (quote durations and other text, e.g. "10s")');
    }
    return checkNumber(at, negative ? -value : value, float);
  }

  private jsonNumber(at: Position): number {
    JSON_NUMBER.lastIndex = this.pos;
    const match = JSON_NUMBER.exec(this.text);
    if (match === null) throw positionError(at, 'invalid number');
    const raw = match[0];
    this.skip(raw.length);
    if (isAfterNumber(this.code())) throw positionError(at, 'invalid number');
    return checkNumber(at, Number(raw), /[.eE]/.test(raw));
  }

  private hclString(at: Position): string {
    const text = this.text;
    this.skip(1);
    const parts: string[] = [];
    let run = this.pos;
    for (;;) {
      const char = text[this.pos];
      if (char === undefined) throw positionError(at, 'unterminated string');
      if (char === '"') {
        parts.push(text.slice(run, this.pos));
        this.skip(1);
        return parts.join('');
      }
      if (char === '\n') {
        throw positionError(
          at,
          'unterminated string (a quoted string cannot span lines; use a heredoc)',
        );
      }
      if (char === '\\') {
        parts.push(text.slice(run, this.pos));
        parts.push(this.hclEscape());
        run = this.pos;
      } else if (char === '$' && text[this.pos + 1] === '{') {
        // HCL v1 keeps `${ ... }` verbatim: quotes inside it do not end the string and escapes
        // inside it are not decoded.
        this.skip(2);
        let depth = 1;
        while (depth > 0) {
          const inner = text[this.pos];
          if (inner === undefined || inner === '\n') throw positionError(at, 'unterminated string');
          if (inner === '{') depth++;
          else if (inner === '}') depth--;
          this.advance();
        }
      } else {
        this.advance();
      }
    }
  }

  /** Go's escapes: \a \b \f \n \r \t \v \\ \" \NNN (octal) \xHH \uHHHH \UHHHHHHHH. */
  private hclEscape(): string {
    const at: Position = { line: this.line, column: this.column };
    this.skip(1);
    const char = this.text[this.pos];
    const simple = char === undefined ? undefined : HCL_ESCAPES.get(char);
    if (simple !== undefined) {
      this.skip(1);
      return simple;
    }
    if (char !== undefined && char >= '0' && char <= '7') {
      const value = Number.parseInt(this.fixedDigits(at, 3, /^[0-7]+$/), 8);
      if (value > 0xff) throw positionError(at, 'invalid escape sequence');
      return String.fromCharCode(value);
    }
    const width = char === 'x' ? 2 : char === 'u' ? 4 : char === 'U' ? 8 : 0;
    if (width === 0) throw positionError(at, 'invalid escape sequence');
    this.skip(1);
    const value = Number.parseInt(this.fixedDigits(at, width, /^[0-9A-Fa-f]+$/), 16);
    if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
      throw positionError(at, 'invalid Unicode escape');
    }
    return String.fromCodePoint(value);
  }

  private fixedDigits(at: Position, count: number, pattern: RegExp): string {
    const digits = this.text.slice(this.pos, this.pos + count);
    if (digits.length !== count || !pattern.test(digits))
      throw positionError(at, 'invalid escape sequence');
    this.skip(count);
    return digits;
  }

  private jsonString(at: Position): string {
    const text = this.text;
    this.skip(1);
    const parts: string[] = [];
    let run = this.pos;
    for (;;) {
      if (this.pos >= text.length) throw positionError(at, 'unterminated string');
      const code = text.charCodeAt(this.pos);
      if (code === 0x22) {
        parts.push(text.slice(run, this.pos));
        this.skip(1);
        return parts.join('');
      }
      if (code < 0x20) {
        throw positionError(
          { line: this.line, column: this.column },
          'control character in string',
        );
      }
      if (code === 0x5c) {
        parts.push(text.slice(run, this.pos));
        parts.push(this.jsonEscape());
        run = this.pos;
      } else {
        this.advance();
      }
    }
  }

  private jsonEscape(): string {
    const at: Position = { line: this.line, column: this.column };
    this.skip(1);
    const char = this.text[this.pos];
    const simple = char === undefined ? undefined : JSON_ESCAPES.get(char);
    if (simple !== undefined) {
      this.skip(1);
      return simple;
    }
    if (char !== 'u') throw positionError(at, 'invalid escape sequence');
    this.skip(1);
    const unit = Number.parseInt(this.fixedDigits(at, 4, /^[0-9A-Fa-f]+$/), 16);
    if (unit >= 0xdc00 && unit <= 0xdfff)
      throw positionError(at, 'unpaired surrogate in Unicode escape');
    if (unit < 0xd800 || unit > 0xdbff) return String.fromCharCode(unit);
    if (this.text[this.pos] !== '\\' || this.text[this.pos + 1] !== 'u') {
      throw positionError(at, 'unpaired surrogate in Unicode escape');
    }
    this.skip(2);
    const low = Number.parseInt(this.fixedDigits(at, 4, /^[0-9A-Fa-f]+$/), 16);
    if (low < 0xdc00 || low > 0xdfff)
      throw positionError(at, 'unpaired surrogate in Unicode escape');
    return String.fromCharCode(unit, low);
  }

  /**
   * `<<EOF` or `<<-EOF`, a line break, lines, then a line holding only the anchor (leading
   * blanks allowed, as in HCL v1). The value is the lines, each ending in "\n". With `<<-` the
   * closing line's indentation is removed from every line, unless some non-blank line lacks it.
   */
  private heredoc(at: Position): string {
    const text = this.text;
    if (text[this.pos + 1] !== '<') throw positionError(at, 'unexpected character');
    this.skip(2);
    const indented = text[this.pos] === '-';
    if (indented) this.skip(1);
    const anchorStart = this.pos;
    while (isAnchorPart(this.code())) this.skip(1);
    const anchor = text.slice(anchorStart, this.pos);
    if (anchor === '') throw positionError(at, 'heredoc needs an anchor, e.g. <<EOF');
    if (text[this.pos] === '\r' && text[this.pos + 1] === '\n') this.skip(1);
    if (text[this.pos] !== '\n')
      throw positionError(at, 'heredoc anchor must be followed by a line break');
    this.advance();
    const lines: string[] = [];
    for (;;) {
      if (this.pos >= text.length)
        throw positionError(at, 'unterminated heredoc (no closing anchor line)');
      const newline = text.indexOf('\n', this.pos);
      const end = newline === -1 ? text.length : newline;
      const line = text.slice(this.pos, end);
      const trimmed = line.replace(/\r+$/, '');
      const indent = /^[ \t]*/.exec(trimmed)![0];
      while (this.pos < end) this.advance();
      if (trimmed.slice(indent.length) === anchor) return heredocValue(lines, indented, indent);
      lines.push(line);
      if (newline !== -1) this.advance();
    }
  }
}

function heredocValue(lines: readonly string[], indented: boolean, indent: string): string {
  if (lines.length === 0) return '';
  let out = lines;
  const blank = /^[ \t\r]*$/;
  if (indented && indent !== '' && lines.every((l) => l.startsWith(indent) || blank.test(l))) {
    out = lines.map((l) =>
      l.startsWith(indent) ? l.slice(indent.length) : l.replace(/^[ \t]*/, ''),
    );
  }
  return `${out.join('\n')}\n`;
}

function checkNumber(at: Position, value: number, float: boolean): number {
  if (!Number.isFinite(value)) throw positionError(at, 'number is out of range');
  if (!float && !Number.isSafeInteger(value)) throw positionError(at, 'integer is too large');
  return value === 0 ? 0 : value;
}

// ---- Parser ----

/**
 * Recursive descent with one token of lookahead. Recursion depth is bounded by maxDepth (each
 * `{` or `[` is checked before descending), so hostile nesting fails cleanly, never with a stack
 * overflow.
 */
class Parser {
  private readonly lexer: Lexer;
  private readonly maxDepth: number;
  private lookahead: Token | undefined;

  constructor(lexer: Lexer, maxDepth: number) {
    this.lexer = lexer;
    this.maxDepth = maxDepth;
  }

  hclDocument(): HclBody {
    return this.body(undefined, 0);
  }

  jsonDocument(): HclBody {
    const open = this.take();
    const body = this.jsonObject(open, this.enter(0, open));
    const after = this.peek();
    if (after.kind !== 'end') {
      throw positionError(
        after,
        `expected end of input after the JSON object, got ${describe(after.kind)}`,
      );
    }
    return body;
  }

  private peek(): Token {
    this.lookahead ??= this.lexer.next();
    return this.lookahead;
  }

  private take(): Token {
    const token = this.peek();
    this.lookahead = undefined;
    return token;
  }

  private enter(depth: number, open: Token): number {
    if (depth + 1 > this.maxDepth)
      throw positionError(open, `nesting is deeper than ${this.maxDepth} levels`);
    return depth + 1;
  }

  /** Items up to `}` (or end of input at the top level); commas between items are optional. */
  private body(open: Token | undefined, depth: number): HclBody {
    const items: HclItem[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'end') {
        if (open !== undefined)
          throw positionError(token, `${unclosed('}', open)}, got end of input`);
        return { items };
      }
      if (token.kind === '}') {
        if (open === undefined) throw positionError(token, "unexpected '}' (no block is open)");
        this.take();
        return { items };
      }
      items.push(this.item(depth));
      if (this.peek().kind === ',') this.take();
    }
  }

  private item(depth: number): HclItem {
    const keyToken = this.take();
    if (keyToken.kind !== 'identifier' && keyToken.kind !== 'string') {
      throw positionError(
        keyToken,
        `expected a key (an identifier or a string), got ${describe(keyToken.kind)}`,
      );
    }
    const labels: string[] = [];
    for (;;) {
      const token = this.take();
      if (token.kind === 'identifier' || token.kind === 'string') {
        labels.push(token.value);
        continue;
      }
      let value: HclValue;
      if (token.kind === '{') value = this.body(token, this.enter(depth, token));
      else if (token.kind === '=' && labels.length === 0) value = this.value(depth);
      else {
        throw positionError(
          token,
          labels.length === 0
            ? `expected '=' or '{' after the key, got ${describe(token.kind)}`
            : `expected a label or '{' after the block labels, got ${describe(token.kind)}`,
        );
      }
      const { line, column } = keyToken;
      return { key: keyToken.value, labels, value, line, column };
    }
  }

  private value(depth: number): HclValue {
    const token = this.take();
    switch (token.kind) {
      case 'string':
      case 'heredoc':
      case 'number':
      case 'boolean':
        return token.value;
      case '{':
        return this.body(token, this.enter(depth, token));
      case '[':
        return this.list(token, this.enter(depth, token));
      case 'identifier':
      case 'null':
      case 'end':
      case '=':
      case ':':
      case ',':
      case '}':
      case ']':
        throw positionError(
          token,
          `expected a value (a string, number, boolean, list or object), got ${describe(token.kind)}`,
        );
    }
  }

  /** Elements separated by commas; a trailing comma is allowed. */
  private list(open: Token, depth: number): HclValue[] {
    const values: HclValue[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === ']') {
        this.take();
        return values;
      }
      if (token.kind === 'end')
        throw positionError(token, `${unclosed(']', open)}, got end of input`);
      values.push(this.value(depth));
      const separator = this.peek();
      if (separator.kind === ',') this.take();
      else if (separator.kind === 'end')
        throw positionError(separator, `${unclosed(']', open)}, got end of input`);
      else if (separator.kind !== ']') {
        throw positionError(
          separator,
          `expected ',' or ']' after a list element, got ${describe(separator.kind)}`,
        );
      }
    }
  }

  private jsonObject(open: Token, depth: number): HclBody {
    const items: HclItem[] = [];
    if (this.peek().kind === '}') {
      this.take();
      return { items };
    }
    for (;;) {
      const key = this.take();
      if (key.kind !== 'string') {
        throw positionError(
          key,
          key.kind === 'end'
            ? `${unclosed('}', open)}, got end of input`
            : `expected a string key, got ${describe(key.kind)}`,
        );
      }
      const colon = this.take();
      if (colon.kind !== ':')
        throw positionError(colon, `expected ':' after the key, got ${describe(colon.kind)}`);
      items.push({
        key: key.value,
        labels: [],
        value: this.jsonValue(depth),
        line: key.line,
        column: key.column,
      });
      const separator = this.take();
      if (separator.kind === '}') return { items };
      if (separator.kind !== ',') {
        throw positionError(
          separator,
          separator.kind === 'end'
            ? `${unclosed('}', open)}, got end of input`
            : `expected ',' or '}' after an object member, got ${describe(separator.kind)}`,
        );
      }
    }
  }

  private jsonArray(open: Token, depth: number): HclValue[] {
    const values: HclValue[] = [];
    if (this.peek().kind === ']') {
      this.take();
      return values;
    }
    for (;;) {
      values.push(this.jsonValue(depth));
      const separator = this.take();
      if (separator.kind === ']') return values;
      if (separator.kind !== ',') {
        throw positionError(
          separator,
          separator.kind === 'end'
            ? `${unclosed(']', open)}, got end of input`
            : `expected ',' or ']' after an array element, got ${describe(separator.kind)}`,
        );
      }
    }
  }

  private jsonValue(depth: number): HclValue {
    const token = this.take();
    switch (token.kind) {
      case 'string':
      case 'number':
      case 'boolean':
        return token.value;
      case '{':
        return this.jsonObject(token, this.enter(depth, token));
      case '[':
        return this.jsonArray(token, this.enter(depth, token));
      case 'null':
        throw positionError(token, 'null is not supported (omit the key instead)');
      case 'identifier':
      case 'heredoc':
      case 'end':
      case '=':
      case ':':
      case ',':
      case '}':
      case ']':
        throw positionError(token, `expected a JSON value, got ${describe(token.kind)}`);
    }
  }
}

function unclosed(closer: '}' | ']', open: Position): string {
  return `expected '${closer}' to close the ${closer === '}' ? 'block or object' : 'list'} opened at ${open.line}:${open.column}`;
}
