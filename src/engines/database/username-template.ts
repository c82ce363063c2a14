// Username templates: the subset of Go's text/template that Vault's `username_template`
// uses (actions with pipelines, parentheses, string and number literals, `.DisplayName` and
// `.RoleName`) and Vault's template functions, plus each plugin's default template.
import { createHash, randomUUID } from 'node:crypto';
import { invalidField } from '../../sdk/errors.js';
import { randomAlphanumeric } from '../../shared/db/password.js';

export { randomAlphanumeric };

/** What a template may read; names as in Vault. */
export interface UsernameData {
  readonly DisplayName: string;
  readonly RoleName: string;
}

/** Deterministic pieces, injected so tests can pin them. */
export interface TemplateEnv {
  /** Epoch ms. */
  readonly now: () => number;
  /** `length` random characters from [A-Za-z0-9]. */
  readonly random: (length: number) => string;
}

export const DEFAULT_TEMPLATES = {
  postgres:
    '{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}',
  mysql:
    '{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 10) (.RoleName | truncate 10) (random 20) (unix_time) | truncate 32 }}',
  mysqlLegacy: '{{ printf "v-%s-%s" (.RoleName | truncate 4) (random 20) | truncate 16 }}',
  redis:
    '{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 64) (.RoleName | truncate 64) (random 20) (unix_time) | uppercase }}',
} as const;

// ---- parsing -------------------------------------------------------------------------

type Node =
  | { readonly kind: 'field'; readonly name: string }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'ident'; readonly name: string }
  | { readonly kind: 'pipeline'; readonly commands: readonly (readonly Node[])[] };

type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'action'; readonly pipeline: Node };

const FIELD = 'username_template';

function fail(why: string): never {
  throw invalidField(FIELD, why);
}

class Lexer {
  private at = 0;
  private readonly src: string;

  constructor(src: string) {
    this.src = src;
  }

  private skipSpace(): void {
    while (this.at < this.src.length && /\s/.test(this.src[this.at]!)) this.at++;
  }

  done(): boolean {
    this.skipSpace();
    return this.at >= this.src.length;
  }

  peek(): string {
    this.skipSpace();
    return this.src[this.at] ?? '';
  }

  take(char: string): void {
    if (this.peek() !== char) fail(`expected "${char}" in an action`);
    this.at++;
  }

  operand(): Node {
    const c = this.peek();
    if (c === '(') {
      this.at++;
      const inner = this.pipeline();
      this.take(')');
      return inner;
    }
    if (c === '"') return { kind: 'string', value: this.quoted() };
    if (c === '`') {
      const end = this.src.indexOf('`', this.at + 1);
      if (end === -1) fail('unterminated raw string');
      const value = this.src.slice(this.at + 1, end);
      this.at = end + 1;
      return { kind: 'string', value };
    }
    const word = /^(?:\.[A-Za-z_]\w*|-?\d+|[A-Za-z_]\w*)/.exec(this.src.slice(this.at));
    if (word === null) fail('unexpected character in an action');
    this.at += word[0].length;
    const text = word[0];
    if (text.startsWith('.')) return { kind: 'field', name: text.slice(1) };
    if (/^-?\d+$/.test(text)) return { kind: 'number', value: Number.parseInt(text, 10) };
    return { kind: 'ident', name: text };
  }

  private quoted(): string {
    let out = '';
    let i = this.at + 1;
    for (; i < this.src.length; i++) {
      const c = this.src[i]!;
      if (c === '"') {
        this.at = i + 1;
        return out;
      }
      if (c === '\\') {
        const next = this.src[++i];
        const map: Record<string, string> = { n: '\n', t: '\t', '\\': '\\', '"': '"' };
        if (next === undefined || map[next] === undefined) fail('unsupported escape in a string');
        out += map[next];
        continue;
      }
      out += c;
    }
    return fail('unterminated string');
  }

  pipeline(): Node {
    const commands: Node[][] = [];
    for (;;) {
      const command: Node[] = [];
      while (!this.done() && this.peek() !== '|' && this.peek() !== ')') {
        command.push(this.operand());
      }
      if (command.length === 0) fail('empty command in a pipeline');
      commands.push(command);
      if (this.peek() !== '|') break;
      this.at++;
    }
    return { kind: 'pipeline', commands };
  }
}

/** Splits a template into text and actions, honouring `{{-` and `-}}` trim markers. */
function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let at = 0;
  let trimNext = false;
  while (at < template.length) {
    const open = template.indexOf('{{', at);
    let text = open === -1 ? template.slice(at) : template.slice(at, open);
    if (trimNext) text = text.trimStart();
    trimNext = false;
    if (open === -1) {
      if (text !== '') parts.push({ kind: 'text', text });
      break;
    }
    const close = template.indexOf('}}', open + 2);
    if (close === -1) fail('unclosed action');
    let body = template.slice(open + 2, close);
    if (/^-\s/.test(body)) {
      text = text.trimEnd();
      body = body.slice(1);
    }
    if (/\s-$/.test(body)) {
      trimNext = true;
      body = body.slice(0, -1);
    }
    if (text !== '') parts.push({ kind: 'text', text });
    const lexer = new Lexer(body);
    const pipeline = lexer.pipeline();
    if (!lexer.done()) fail('unexpected ")" in an action');
    parts.push({ kind: 'action', pipeline });
    at = close + 2;
  }
  return parts;
}

// ---- evaluation ----------------------------------------------------------------------

type Value = string | number;

function asString(v: Value | undefined, fn: string): string {
  if (typeof v !== 'string') fail(`${fn} expects a string`);
  return v;
}

function asInt(v: Value | undefined, fn: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(`${fn} expects a non-negative integer`);
  }
  return v;
}

function arity(args: readonly Value[], n: number, fn: string): void {
  if (args.length !== n) fail(`${fn} takes ${n} argument${n === 1 ? '' : 's'}`);
}

/** Go's printf for the verbs templates use: %s, %d, %v, %q and %%. */
function printf(format: string, args: readonly Value[]): string {
  let next = 0;
  return format.replace(/%([sdvq%])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[next++];
    if (arg === undefined) return `%!${verb}(MISSING)`;
    if (verb === 'q') return JSON.stringify(String(arg));
    return String(arg);
  });
}

/** Go's time layout for the common elements (used by `timestamp`). */
function goTimestamp(layout: string, epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const table: [string, string][] = [
    ['2006', String(d.getUTCFullYear())],
    ['Z07:00', 'Z'],
    ['-0700', '+0000'],
    ['-07:00', '+00:00'],
    ['MST', 'UTC'],
    ['01', pad(d.getUTCMonth() + 1)],
    ['02', pad(d.getUTCDate())],
    ['15', pad(d.getUTCHours())],
    ['04', pad(d.getUTCMinutes())],
    ['05', pad(d.getUTCSeconds())],
    ['06', pad(d.getUTCFullYear() % 100)],
  ];
  let out = '';
  let i = 0;
  outer: while (i < layout.length) {
    for (const [token, value] of table) {
      if (layout.startsWith(token, i)) {
        out += value;
        i += token.length;
        continue outer;
      }
    }
    out += layout[i]!;
    i += 1;
  }
  return out;
}

function call(name: string, args: readonly Value[], env: TemplateEnv): Value {
  switch (name) {
    case 'printf':
      if (args.length === 0) fail('printf needs a format');
      return printf(asString(args[0], name), args.slice(1));
    case 'truncate': {
      arity(args, 2, name);
      const max = asInt(args[0], name);
      return Array.from(asString(args[1], name)).slice(0, max).join('');
    }
    case 'truncate_sha256': {
      arity(args, 2, name);
      const max = asInt(args[0], name);
      const text = asString(args[1], name);
      if (text.length <= max) return text;
      if (max <= 8) fail('truncate_sha256 needs a length above 8');
      const hash = createHash('sha256').update(text).digest('hex');
      return text.slice(0, max - 8) + hash.slice(0, 8);
    }
    case 'uppercase':
      arity(args, 1, name);
      return asString(args[0], name).toUpperCase();
    case 'lowercase':
      arity(args, 1, name);
      return asString(args[0], name).toLowerCase();
    case 'replace':
      arity(args, 3, name);
      return asString(args[2], name).split(asString(args[0], name)).join(asString(args[1], name));
    case 'sha256':
      arity(args, 1, name);
      return createHash('sha256').update(asString(args[0], name)).digest('hex');
    case 'base64':
      arity(args, 1, name);
      return Buffer.from(asString(args[0], name)).toString('base64');
    case 'random': {
      arity(args, 1, name);
      const length = asInt(args[0], name);
      if (length === 0 || length > 256) fail('random takes a length from 1 to 256');
      return env.random(length);
    }
    case 'unix_time':
      arity(args, 0, name);
      return String(Math.floor(env.now() / 1000));
    case 'unix_time_millis':
      arity(args, 0, name);
      return String(env.now());
    case 'timestamp':
      arity(args, 1, name);
      return goTimestamp(asString(args[0], name), env.now());
    case 'uuid':
      arity(args, 0, name);
      return randomUUID();
    default:
      return fail(`unknown function "${name}"`);
  }
}

function evaluate(node: Node, data: UsernameData, env: TemplateEnv): Value {
  switch (node.kind) {
    case 'field':
      if (node.name !== 'DisplayName' && node.name !== 'RoleName') {
        fail(`unknown field ".${node.name}" (only .DisplayName and .RoleName)`);
      }
      return data[node.name];
    case 'string':
    case 'number':
      return node.value;
    case 'ident':
      return call(node.name, [], env);
    case 'pipeline': {
      let piped: Value | undefined;
      for (const command of node.commands) {
        const [head, ...rest] = command;
        if (head!.kind === 'ident') {
          const args = rest.map((arg) => evaluate(arg, data, env));
          if (piped !== undefined) args.push(piped);
          piped = call(head!.name, args, env);
        } else {
          if (rest.length > 0 || piped !== undefined)
            fail("can't give an argument to a non-function");
          piped = evaluate(head!, data, env);
        }
      }
      return piped!;
    }
  }
}

/** A parsed template, checked once and rendered per credential. */
export interface UsernameTemplate {
  render(data: UsernameData): string;
}

/**
 * Parses a template and renders it once with sample data, so a template that cannot produce
 * a username is refused when it is written. Throws invalid_request naming username_template.
 */
export function compileUsernameTemplate(template: string, env: TemplateEnv): UsernameTemplate {
  const parts = parseTemplate(template);
  const compiled: UsernameTemplate = {
    render(data) {
      let out = '';
      for (const part of parts) {
        out += part.kind === 'text' ? part.text : String(evaluate(part.pipeline, data, env));
      }
      if (out.trim() === '') fail('rendered an empty username');
      return out;
    },
  };
  compiled.render({ DisplayName: 'token', RoleName: 'role' });
  return compiled;
}
