// Agent templates in the syntax Vault Agent and consul-template use (Go's text/template with
// consul-template's functions), for the subset existing templates use: actions with `-` trim
// markers, comments, `if`/`else if`/`else`, `with`/`else`, `range` (with `$k, $v :=`),
// variables, pipelines, parenthesised pipelines, and the functions in FUNCTIONS below.
// `secret "path"` gives Vault's response shape (`.Data`, `.LeaseID`, ...), so `.Data.data.x`
// works on KV v2. As for Handlebars templates, every `secret` argument must be a quoted string,
// so all secrets are read before rendering. Errors name the template, line and column.
import { targetId, valueText } from '../../client/index.js';
import type { ReadTarget, SecretRead } from '../../client/index.js';
import { TemplateError, type CompiledTemplate } from './template.js';

export interface GoTemplateOptions {
  /** For `env "NAME"`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A missing map key is an error instead of "<no value>" (Vault's error_on_missing_key). */
  readonly errorOnMissingKey?: boolean;
}

// ---- lexing and parsing -------------------------------------------------------------------

type Operand =
  | { readonly kind: 'dot'; readonly chain: readonly string[] }
  | { readonly kind: 'var'; readonly name: string; readonly chain: readonly string[] }
  | { readonly kind: 'func'; readonly name: string }
  | { readonly kind: 'lit'; readonly value: unknown }
  | { readonly kind: 'sub'; readonly pipe: Pipeline; readonly chain: readonly string[] };

interface Command {
  readonly args: readonly Operand[];
  readonly at: number;
}

interface Pipeline {
  readonly decl?: { readonly names: readonly string[]; readonly assign: boolean };
  readonly cmds: readonly Command[];
  readonly at: number;
}

interface BlockNode {
  readonly kind: 'if' | 'with' | 'range';
  readonly pipe: Pipeline;
  readonly body: readonly Node[];
  readonly otherwise: readonly Node[];
}

type Node =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'out'; readonly pipe: Pipeline }
  | BlockNode;

interface Token {
  readonly type: 'field' | 'var' | 'ident' | 'string' | 'number' | 'punct';
  readonly text: string;
  readonly value?: unknown;
  readonly at: number;
}

/** An action's text with its offset in the template. */
interface Action {
  readonly body: string;
  readonly at: number;
}

class Parser {
  readonly #src: string;
  readonly #name: string;
  readonly #calls: ReadTarget[] = [];

  constructor(src: string, name: string) {
    this.#src = src;
    this.#name = name;
  }

  get calls(): readonly ReadTarget[] {
    return this.#calls;
  }

  error(at: number, message: string): TemplateError {
    return new TemplateError(`${this.#name}:${position(this.#src, at)}: ${message}`);
  }

  /** Splits the template into text and actions, applying the `{{-` / `-}}` trims. */
  pieces(): (string | Action)[] {
    const src = this.#src;
    const out: (string | Action)[] = [];
    let i = 0;
    let trimNext = false;
    while (i <= src.length) {
      const open = src.indexOf('{{', i);
      let text = src.slice(i, open === -1 ? src.length : open);
      if (trimNext) text = text.replace(/^\s+/, '');
      if (open === -1) {
        out.push(text);
        break;
      }
      let start = open + 2;
      if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
        text = text.replace(/\s+$/, '');
        start += 1;
      }
      out.push(text);
      const close = this.#findClose(start);
      let end = close;
      trimNext = false;
      if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) {
        end = close - 1;
        trimNext = true;
      }
      const body = src.slice(start, end);
      if (!/^\s*\/\*[\s\S]*\*\/\s*$/.test(body)) out.push({ body, at: start });
      i = close + 2;
    }
    return out;
  }

  /** The offset of the `}}` closing the action that starts at `from` (quotes respected). */
  #findClose(from: number): number {
    const src = this.#src;
    let i = from;
    while (i < src.length) {
      const c = src[i]!;
      if (c === '"' || c === '`') {
        const endQuote = c === '`' ? src.indexOf('`', i + 1) : closingQuote(src, i);
        if (endQuote === -1) throw this.error(i, 'unterminated quoted string');
        i = endQuote + 1;
        continue;
      }
      if (c === '/' && src[i + 1] === '*') {
        const endComment = src.indexOf('*/', i + 2);
        if (endComment === -1) throw this.error(i, 'unclosed comment');
        i = endComment + 2;
        continue;
      }
      if (c === '}' && src[i + 1] === '}') return i;
      i += 1;
    }
    throw this.error(from - 2, 'unclosed action: no matching "}}"');
  }

  tokens(action: Action): Token[] {
    const s = action.body;
    const out: Token[] = [];
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      const at = action.at + i;
      if (/\s/.test(c)) {
        i += 1;
      } else if (c === '"') {
        const end = closingQuote(s, i);
        const raw = s.slice(i, end + 1);
        let value: unknown;
        try {
          value = JSON.parse(raw);
        } catch {
          throw this.error(at, 'malformed quoted string');
        }
        out.push({ type: 'string', text: raw, value, at });
        i = end + 1;
      } else if (c === '`') {
        const end = s.indexOf('`', i + 1);
        out.push({ type: 'string', text: s.slice(i, end + 1), value: s.slice(i + 1, end), at });
        i = end + 1;
      } else if (c === ':' && s[i + 1] === '=') {
        out.push({ type: 'punct', text: ':=', at });
        i += 2;
      } else if ('()|,='.includes(c)) {
        out.push({ type: 'punct', text: c, at });
        i += 1;
      } else {
        const m =
          /^(\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|\.(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?|-?[0-9][0-9.eE+-]*|[A-Za-z_][A-Za-z0-9_]*)/.exec(
            s.slice(i),
          );
        if (m === null) throw this.error(at, `unexpected "${c}" in action`);
        const text = m[0];
        const type = text.startsWith('$')
          ? 'var'
          : text.startsWith('.')
            ? 'field'
            : /^-?[0-9]/.test(text)
              ? 'number'
              : 'ident';
        if (type === 'number' && !Number.isFinite(Number(text))) {
          throw this.error(at, `malformed number ${text}`);
        }
        out.push({ type, text, ...(type === 'number' ? { value: Number(text) } : {}), at });
        i += text.length;
      }
    }
    return out;
  }

  /** Parses the whole template into nodes. */
  parse(): Node[] {
    const pieces = this.pieces();
    let index = 0;
    const parseList = (
      terminators: readonly string[],
    ): { nodes: Node[]; end?: { word: string; rest: Token[]; at: number } } => {
      const nodes: Node[] = [];
      while (index < pieces.length) {
        const piece = pieces[index++]!;
        if (typeof piece === 'string') {
          if (piece !== '') nodes.push({ kind: 'text', text: piece });
          continue;
        }
        const toks = this.tokens(piece);
        if (toks.length === 0) throw this.error(piece.at, 'empty action');
        const word = toks[0]!.type === 'ident' ? toks[0]!.text : '';
        if (word === 'end' || word === 'else') {
          if (!terminators.includes(word)) throw this.error(piece.at, `unexpected {{${word}}}`);
          return { nodes, end: { word, rest: toks.slice(1), at: piece.at } };
        }
        if (word === 'if' || word === 'with' || word === 'range') {
          nodes.push(parseBlock(word, toks.slice(1), piece.at));
          continue;
        }
        if (['define', 'template', 'block', 'break', 'continue'].includes(word)) {
          throw this.error(piece.at, `{{${word}}} is not supported`);
        }
        nodes.push({ kind: 'out', pipe: this.pipeline(toks, piece.at) });
      }
      if (terminators.length > 0) throw this.error(this.#src.length, 'missing {{end}}');
      return { nodes };
    };
    const parseBlock = (word: 'if' | 'with' | 'range', toks: Token[], at: number): Node => {
      if (toks.length === 0) throw this.error(at, `missing value for ${word}`);
      const pipe = this.pipeline(toks, at, word === 'range');
      const body = parseList(['else', 'end']);
      let otherwise: Node[] = [];
      if (body.end?.word === 'else') {
        const rest = body.end.rest;
        const chained = rest[0]?.type === 'ident' ? rest[0].text : '';
        if ((chained === 'if' || chained === 'with') && word !== 'range') {
          // {{else if ...}} / {{else with ...}}: a nested block sharing this {{end}}.
          otherwise = [parseBlock(chained, rest.slice(1), body.end.at)];
          return { kind: word, pipe, body: body.nodes, otherwise };
        }
        if (rest.length > 0) throw this.error(body.end.at, 'unexpected words after else');
        const tail = parseList(['end']);
        otherwise = tail.nodes;
      }
      return { kind: word, pipe, body: body.nodes, otherwise };
    };
    return parseList([]).nodes;
  }

  pipeline(toks: Token[], at: number, rangeDecl = false): Pipeline {
    let rest = toks;
    let decl: Pipeline['decl'];
    const declAt = rest.findIndex((t) => t.text === ':=' || (t.type === 'punct' && t.text === '='));
    if (declAt > 0 && rest.slice(0, declAt).every((t) => t.type === 'var' || t.text === ',')) {
      const names = rest
        .slice(0, declAt)
        .filter((t) => t.type === 'var')
        .map((t) => t.text);
      if (names.length > (rangeDecl ? 2 : 1)) throw this.error(at, 'too many variables');
      decl = { names, assign: rest[declAt]!.text === '=' };
      rest = rest.slice(declAt + 1);
    }
    const { pipe, next } = this.#pipe(rest, 0, at);
    if (next !== rest.length) throw this.error(rest[next]!.at, `unexpected "${rest[next]!.text}"`);
    return decl === undefined ? pipe : { ...pipe, decl };
  }

  /** Commands separated by `|` up to a `)` or the end. */
  #pipe(toks: Token[], from: number, at: number): { pipe: Pipeline; next: number } {
    const cmds: Command[] = [];
    let i = from;
    let args: Operand[] = [];
    let cmdAt = toks[i]?.at ?? at;
    const finish = (): void => {
      if (args.length === 0) throw this.error(cmdAt, 'missing command in pipeline');
      this.#checkSecret(args, cmdAt);
      cmds.push({ args, at: cmdAt });
      args = [];
    };
    while (i < toks.length) {
      const t = toks[i]!;
      if (t.text === ')' && t.type === 'punct') break;
      if (t.text === '|' && t.type === 'punct') {
        finish();
        i += 1;
        cmdAt = toks[i]?.at ?? t.at;
        continue;
      }
      if (t.text === '(' && t.type === 'punct') {
        const inner = this.#pipe(toks, i + 1, t.at);
        if (toks[inner.next]?.text !== ')') throw this.error(t.at, 'unclosed "("');
        i = inner.next + 1;
        let chain: string[] = [];
        const after = toks[i];
        if (after?.type === 'field' && after.at === toks[inner.next]!.at + 1) {
          chain = after.text.slice(1).split('.');
          i += 1;
        }
        args.push({ kind: 'sub', pipe: inner.pipe, chain });
        continue;
      }
      args.push(this.#operand(t));
      i += 1;
    }
    if (args.length > 0 || cmds.length === 0) finish();
    return { pipe: { cmds, at }, next: i };
  }

  #operand(t: Token): Operand {
    switch (t.type) {
      case 'field':
        return { kind: 'dot', chain: t.text === '.' ? [] : t.text.slice(1).split('.') };
      case 'var': {
        const [name, ...chain] = t.text.split('.');
        return { kind: 'var', name: name!, chain };
      }
      case 'string':
      case 'number':
        return { kind: 'lit', value: t.value };
      case 'ident':
        if (t.text === 'true' || t.text === 'false')
          return { kind: 'lit', value: t.text === 'true' };
        if (t.text === 'nil') return { kind: 'lit', value: null };
        if (!Object.hasOwn(FUNCTIONS, t.text) && t.text !== 'secret') {
          throw this.error(t.at, `function "${t.text}" not defined`);
        }
        return { kind: 'func', name: t.text };
      case 'punct':
        throw this.error(t.at, `unexpected "${t.text}"`);
    }
  }

  /** `secret` needs quoted-string arguments: what it reads is known before rendering. */
  #checkSecret(args: readonly Operand[], at: number): void {
    const first = args[0];
    if (first?.kind !== 'func' || first.name !== 'secret') return;
    if (args.length !== 2 || args[1]!.kind !== 'lit' || typeof args[1]!.value !== 'string') {
      throw this.error(
        at,
        'secret takes one quoted path (writes with key=value arguments are not supported)',
      );
    }
    const path = args[1]!.value.trim().replace(/^\/+|\/+$/g, '');
    if (path === '') throw this.error(at, 'secret needs a path');
    this.#calls.push({ kind: 'api', path });
  }
}

function closingQuote(s: string, open: number): number {
  for (let i = open + 1; i < s.length; i += 1) {
    if (s[i] === '\\') i += 1;
    else if (s[i] === '"') return i;
  }
  return -1;
}

/** "line:column" (1-based) of an offset. */
function position(src: string, at: number): string {
  const before = src.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  return `${line}:${column}`;
}

// ---- evaluation ---------------------------------------------------------------------------

/** Go's "<no value>": what a missing map key prints. */
const NO_VALUE = Symbol('no value');

class Evaluation {
  readonly #parser: Parser;
  readonly #reads: ReadonlyMap<string, SecretRead>;
  readonly #options: GoTemplateOptions;
  #out = '';

  constructor(parser: Parser, reads: ReadonlyMap<string, SecretRead>, options: GoTemplateOptions) {
    this.#parser = parser;
    this.#reads = reads;
    this.#options = options;
  }

  run(nodes: readonly Node[]): string {
    this.#walk(nodes, null, [new Map([['$', null]])]);
    return this.#out;
  }

  #walk(nodes: readonly Node[], dot: unknown, scopes: Map<string, unknown>[]): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          this.#out += node.text;
          break;
        case 'out': {
          const value = this.#pipe(node.pipe, dot, scopes);
          if (node.pipe.decl === undefined) this.#out += printValue(value);
          break;
        }
        case 'if':
        case 'with': {
          const inner = [...scopes, new Map<string, unknown>()];
          const value = this.#pipe(node.pipe, dot, inner);
          if (truthy(value)) this.#walk(node.body, node.kind === 'with' ? value : dot, inner);
          else this.#walk(node.otherwise, dot, [...scopes, new Map<string, unknown>()]);
          break;
        }
        case 'range':
          this.#range(node, dot, scopes);
          break;
      }
    }
  }

  #range(node: BlockNode, dot: unknown, scopes: Map<string, unknown>[]): void {
    const { decl } = node.pipe;
    const value = this.#pipe(node.pipe, dot, scopes, true);
    let entries: [unknown, unknown][];
    if (Array.isArray(value)) entries = value.map((v, i) => [i, v]);
    else if (isMap(value))
      entries = Object.keys(value)
        .sort()
        .map((k) => [k, value[k]]);
    else if (value === null || value === undefined || value === NO_VALUE) entries = [];
    else if (typeof value === 'number' && Number.isInteger(value) && value >= 0) {
      entries = Array.from({ length: value }, (_, i) => [i, i]);
    } else throw this.#parser.error(node.pipe.at, `range can't iterate over ${printValue(value)}`);
    if (entries.length === 0) {
      this.#walk(node.otherwise, dot, [...scopes, new Map<string, unknown>()]);
      return;
    }
    for (const [key, element] of entries) {
      const scope = new Map<string, unknown>();
      if (decl !== undefined) {
        if (decl.names.length === 2) {
          scope.set(decl.names[0]!, key);
          scope.set(decl.names[1]!, element);
        } else scope.set(decl.names[0]!, element);
      }
      this.#walk(node.body, element, [...scopes, scope]);
    }
  }

  #pipe(pipe: Pipeline, dot: unknown, scopes: Map<string, unknown>[], forRange = false): unknown {
    let value: unknown = undefined;
    let first = true;
    for (const cmd of pipe.cmds) {
      value = this.#command(cmd, dot, scopes, first ? undefined : { value });
      first = false;
    }
    if (pipe.decl !== undefined && !forRange) {
      const name = pipe.decl.names[0]!;
      if (pipe.decl.assign) {
        const scope = [...scopes].reverse().find((s) => s.has(name));
        if (scope === undefined) throw this.#parser.error(pipe.at, `undefined variable: ${name}`);
        scope.set(name, value);
      } else scopes.at(-1)!.set(name, value);
    }
    return value;
  }

  #command(
    cmd: Command,
    dot: unknown,
    scopes: Map<string, unknown>[],
    piped?: { value: unknown },
  ): unknown {
    const [head, ...rest] = cmd.args;
    if (head?.kind === 'func') {
      const args = rest.map((a) => this.#operand(a, dot, scopes, cmd.at));
      if (piped !== undefined) args.push(piped.value);
      if (head.name === 'secret') return this.#secret(args, cmd.at);
      try {
        return FUNCTIONS[head.name]!(args, this.#options);
      } catch (error) {
        const why = error instanceof Error ? error.message : 'failed';
        throw this.#parser.error(cmd.at, `error calling ${head.name}: ${why}`);
      }
    }
    if (rest.length > 0 || piped !== undefined) {
      throw this.#parser.error(cmd.at, "can't give arguments to a non-function");
    }
    return this.#operand(head!, dot, scopes, cmd.at);
  }

  #operand(op: Operand, dot: unknown, scopes: Map<string, unknown>[], at: number): unknown {
    switch (op.kind) {
      case 'lit':
        return op.value;
      case 'func':
        return this.#command({ args: [op], at }, dot, scopes);
      case 'dot':
        return this.#chain(dot, op.chain, at);
      case 'var': {
        const scope = [...scopes].reverse().find((s) => s.has(op.name));
        if (scope === undefined) throw this.#parser.error(at, `undefined variable: ${op.name}`);
        const base = op.name === '$' ? scopes[0]!.get('$') : scope.get(op.name);
        return this.#chain(base, op.chain, at);
      }
      case 'sub':
        return this.#chain(this.#pipe(op.pipe, dot, [...scopes]), op.chain, at);
    }
  }

  #chain(base: unknown, chain: readonly string[], at: number): unknown {
    let value = base;
    for (const name of chain) {
      if (isMap(value)) {
        if (Object.hasOwn(value, name)) value = value[name];
        else if (this.#options.errorOnMissingKey === true) {
          throw this.#parser.error(at, `map has no entry for key "${name}"`);
        } else value = NO_VALUE;
      } else {
        throw this.#parser.error(at, `can't evaluate field ${name} in ${describe(value)}`);
      }
    }
    return value;
  }

  /** Vault's response shape for what `secret` read. */
  #secret(args: unknown[], at: number): unknown {
    const path = String(args[0])
      .trim()
      .replace(/^\/+|\/+$/g, '');
    const read = this.#reads.get(targetId({ kind: 'api', path }));
    if (read === undefined) throw this.#parser.error(at, `the secret at ${path} was not read`);
    return {
      Data: read.responseData ?? read.data,
      LeaseID: read.lease?.leaseId ?? '',
      LeaseDuration: read.lease?.leaseDurationSeconds ?? 0,
      Renewable: read.lease?.renewable ?? false,
    };
  }
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === NO_VALUE || value === null || value === undefined) return 'a missing value';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

function truthy(value: unknown): boolean {
  if (value === NO_VALUE || value === null || value === undefined) return false;
  if (typeof value === 'string') return value !== '';
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.length > 0;
  if (isMap(value)) return Object.keys(value).length > 0;
  return true;
}

/** Go's %v for decoded JSON: maps as map[k:v] with sorted keys, lists as [a b]. */
function printValue(value: unknown): string {
  if (value === NO_VALUE || value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(printValue).join(' ')}]`;
  if (isMap(value)) {
    const keys = Object.keys(value).sort();
    return `map[${keys.map((k) => `${k}:${printValue(value[k])}`).join(' ')}]`;
  }
  return valueText(value);
}

// ---- functions ----------------------------------------------------------------------------

type Fn = (args: unknown[], options: GoTemplateOptions) => unknown;

function arity(args: unknown[], n: number, name: string): void {
  if (args.length !== n) {
    throw new Error(`wrong number of args for ${name}: want ${n} got ${args.length}`);
  }
}

function str(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${printValue(value)}`);
  return value;
}

/** Go's json.Marshal: sorted map keys, HTML-sensitive characters escaped. */
function goJson(value: unknown, indent?: string): string {
  const sorted = (v: unknown): unknown => {
    if (v === NO_VALUE || v === undefined) return null;
    if (Array.isArray(v)) return v.map(sorted);
    if (isMap(v)) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sorted(v[k])]),
      );
    }
    return v;
  };
  return (JSON.stringify(sorted(value), null, indent) ?? 'null')
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function compare(args: unknown[], name: string, test: (c: number) => boolean): boolean {
  arity(args, 2, name);
  const [a, b] = args;
  if (typeof a === 'number' && typeof b === 'number') return test(a - b);
  if (typeof a === 'string' && typeof b === 'string') return test(a < b ? -1 : a > b ? 1 : 0);
  throw new Error('incompatible types for comparison');
}

/** A small sprintf: %s %v %d %f %q %t %x and %%, with Go's "%!verb(MISSING)" for too few args. */
function printf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(
    /%([-+ 0#]*)(\d*)(?:\.(\d+))?([svdfqtx%])/g,
    (_m, _flags, width, precision, verb: string) => {
      if (verb === '%') return '%';
      if (n >= args.length) return `%!${verb}(MISSING)`;
      const arg = args[n++];
      let text: string;
      switch (verb) {
        case 'd':
          text = typeof arg === 'number' ? String(Math.trunc(arg)) : `%!d(${printValue(arg)})`;
          break;
        case 'f':
          text =
            typeof arg === 'number'
              ? arg.toFixed(precision === undefined ? 6 : Number(precision))
              : `%!f(${printValue(arg)})`;
          break;
        case 'q':
          text = JSON.stringify(typeof arg === 'string' ? arg : printValue(arg));
          break;
        case 'x':
          text =
            typeof arg === 'number'
              ? arg.toString(16)
              : Buffer.from(printValue(arg)).toString('hex');
          break;
        default:
          text = printValue(arg);
      }
      const w = width === '' || width === undefined ? 0 : Number(width);
      return text.padStart(w);
    },
  );
}

const FUNCTIONS: Record<string, Fn> = {
  toJSON: (a) => (arity(a, 1, 'toJSON'), goJson(a[0])),
  toJSONPretty: (a) => (arity(a, 1, 'toJSONPretty'), goJson(a[0], '  ')),
  base64Encode: (a) => (arity(a, 1, 'base64Encode'), Buffer.from(str(a[0])).toString('base64')),
  base64Decode: (a) => {
    arity(a, 1, 'base64Decode');
    const text = str(a[0]);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
      throw new Error('illegal base64 data');
    }
    return Buffer.from(text, 'base64').toString('utf8');
  },
  base64URLEncode: (a) => (
    arity(a, 1, 'base64URLEncode'),
    Buffer.from(str(a[0])).toString('base64url')
  ),
  env: (a, options) => (arity(a, 1, 'env'), options.env[str(a[0])] ?? ''),
  printf: (a) => printf(str(a[0]), a.slice(1)),
  print: (a) => a.map(printValue).join(''),
  println: (a) => `${a.map(printValue).join(' ')}\n`,
  index: (a) => {
    let value = a[0];
    for (const key of a.slice(1)) {
      if (Array.isArray(value) && typeof key === 'number') {
        if (key < 0 || key >= value.length) throw new Error(`index out of range: ${key}`);
        value = value[key];
      } else if (isMap(value)) {
        value = Object.hasOwn(value, String(key)) ? value[String(key)] : NO_VALUE;
      } else throw new Error(`can't index item of type ${describe(value)}`);
    }
    return value;
  },
  len: (a) => {
    arity(a, 1, 'len');
    const v = a[0];
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    throw new Error(`len of ${describe(v)}`);
  },
  not: (a) => (arity(a, 1, 'not'), !truthy(a[0])),
  and: (a) => a.find((v) => !truthy(v)) ?? a.at(-1),
  or: (a) => a.find((v) => truthy(v)) ?? a.at(-1),
  eq: (a) => {
    if (a.length < 2) throw new Error('missing argument for comparison');
    return a.slice(1).some((b) => b === a[0]);
  },
  ne: (a) => (arity(a, 2, 'ne'), a[0] !== a[1]),
  lt: (a) => compare(a, 'lt', (c) => c < 0),
  le: (a) => compare(a, 'le', (c) => c <= 0),
  gt: (a) => compare(a, 'gt', (c) => c > 0),
  ge: (a) => compare(a, 'ge', (c) => c >= 0),
  toUpper: (a) => (arity(a, 1, 'toUpper'), str(a[0]).toUpperCase()),
  toLower: (a) => (arity(a, 1, 'toLower'), str(a[0]).toLowerCase()),
  trimSpace: (a) => (arity(a, 1, 'trimSpace'), str(a[0]).trim()),
  split: (a) => (arity(a, 2, 'split'), str(a[1]).split(str(a[0]))),
  join: (a) => {
    arity(a, 2, 'join');
    if (!Array.isArray(a[1])) throw new Error('join needs a list');
    return a[1].map(printValue).join(str(a[0]));
  },
  contains: (a) => (arity(a, 2, 'contains'), str(a[1]).includes(str(a[0]))),
  replaceAll: (a) => (arity(a, 3, 'replaceAll'), str(a[2]).split(str(a[0])).join(str(a[1]))),
};

/** The functions a Go-syntax template may call (besides `secret`), for the docs and tests. */
export const GO_TEMPLATE_FUNCTIONS: readonly string[] = ['secret', ...Object.keys(FUNCTIONS)];

/**
 * Compiles a Go-syntax template. `name` is how errors name it (the template file, or the
 * config block for inline contents); positions are line:column within the template.
 */
export function compileGoTemplate(
  text: string,
  name: string,
  options: GoTemplateOptions,
): CompiledTemplate {
  const parser = new Parser(text, name);
  const nodes = parser.parse();
  const targets = new Map<string, ReadTarget>();
  for (const target of parser.calls) targets.set(targetId(target), target);
  return {
    targets: [...targets.values()],
    render(reads) {
      return new Evaluation(parser, reads, options).run(nodes);
    },
  };
}
