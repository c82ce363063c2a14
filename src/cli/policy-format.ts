// Local checks and canonical formatting of ACL policy text for `coffer policy write|fmt`: the
// shared HCL v1 parser finds syntax errors (with line:col) before any round trip, and a printer
// writes the parsed tree back as HCL in one canonical layout.
import { isHclBody, isHclList, parseHcl } from '../shared/hcl.js';
import type { HclBody, HclItem, HclValue } from '../shared/hcl.js';

/** The policy text is not valid; the message starts with "line:col: " when a place is known. */
export class PolicyTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyTextError';
  }
}

const INDENT = '  ';
const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const HEREDOC_ANCHOR = 'EOT';

function at(item: HclItem): string {
  return `${item.line}:${item.column}`;
}

/**
 * Parses policy text (HCL or its JSON form) and checks the top-level shape Vault requires:
 * only `name = "..."` and `path "<pattern>" { ... }` blocks. Capabilities and the other rule
 * keys are left to the server, which owns their meaning.
 * SECURITY: messages come from the parser (token kinds, never token text) or name keys only.
 */
export function checkPolicyText(text: string): HclBody {
  if (text.trim() === '') throw new PolicyTextError('the policy is empty');
  let body: HclBody;
  try {
    body = parseHcl(text);
  } catch (error) {
    throw new PolicyTextError(error instanceof Error ? error.message : 'cannot parse the policy');
  }
  for (const item of body.items) {
    if (item.key === 'name') {
      if (item.labels.length > 0 || typeof item.value !== 'string') {
        throw new PolicyTextError(`${at(item)}: name must be a string (name = "...")`);
      }
    } else if (item.key === 'path') {
      if (item.labels.length !== 1 || !isHclBody(item.value)) {
        throw new PolicyTextError(
          `${at(item)}: path must be a block with one pattern: path "secret/*" { ... }`,
        );
      }
    } else {
      throw new PolicyTextError(
        `${at(item)}: unknown top-level key (a policy holds only "name" and "path" blocks)`,
      );
    }
  }
  return body;
}

/**
 * The canonical layout of policy text: two-space indentation, `path "x" {` blocks separated by
 * a blank line, `key = value` with the "=" of consecutive one-line attributes aligned, lists of
 * plain values on one line (`["read", "list"]`), keys in the order written. Comments are not
 * part of the parsed tree and are dropped. JSON input comes out as HCL.
 * Throws PolicyTextError for invalid text, and when the printed text would not parse back to
 * the same tree (the file is then better left untouched).
 */
export function formatPolicy(text: string): string {
  const body = checkPolicyText(text);
  const out = `${printItems(body.items, 0, true).join('\n')}\n`;
  let again: HclBody;
  try {
    again = parseHcl(out);
  } catch {
    throw new PolicyTextError('the formatted text would not parse; the file was left as it is');
  }
  if (JSON.stringify(shape(again)) !== JSON.stringify(shape(body))) {
    throw new PolicyTextError(
      'the formatted text would read differently; the file was left as it is',
    );
  }
  return out;
}

/** The tree without positions, for the round-trip comparison. */
function shape(value: HclValue): unknown {
  if (isHclList(value)) return value.map(shape);
  if (isHclBody(value)) {
    return { items: value.items.map((i) => [i.key, i.labels, shape(i.value)]) };
  }
  return value;
}

function quote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

function printKey(key: string): string {
  return BARE_KEY.test(key) && key !== 'true' && key !== 'false' ? key : quote(key);
}

/** A multi-line string that reads better as a heredoc (it ends with a line break). */
function heredoc(value: string): string[] | undefined {
  if (!value.endsWith('\n') || value.length < 2 || value.includes('\r')) return undefined;
  const lines = value.slice(0, -1).split('\n');
  if (lines.some((line) => line.trim() === HEREDOC_ANCHOR)) return undefined;
  return [`<<${HEREDOC_ANCHOR}`, ...lines, HEREDOC_ANCHOR];
}

/** No body anywhere inside: prints on one line (strings in lists always quoted). */
function isFlat(value: HclValue): boolean {
  if (isHclBody(value)) return false;
  return isHclList(value) ? value.every(isFlat) : true;
}

/** An attribute value that prints on the key's line. */
function isOneLine(value: HclValue): boolean {
  return isFlat(value) && !(typeof value === 'string' && heredoc(value) !== undefined);
}

function inline(value: HclValue): string {
  if (isHclList(value)) return `[${value.map(inline).join(', ')}]`;
  if (isHclBody(value)) return '{}';
  return typeof value === 'string' ? quote(value) : String(value);
}

/** Lines of `value` printed after "key = " at `depth`; the first line continues that line. */
function printValue(value: HclValue, depth: number): string[] {
  const pad = INDENT.repeat(depth);
  if (typeof value === 'string') return heredoc(value) ?? [quote(value)];
  if (isFlat(value)) return [inline(value)];
  if (isHclBody(value)) {
    if (value.items.length === 0) return ['{}'];
    return ['{', ...printItems(value.items, depth + 1, false), `${pad}}`];
  }
  const lines = ['['];
  for (const element of value as readonly HclValue[]) {
    const printed = isFlat(element) ? [inline(element)] : printValue(element, depth + 1);
    printed[printed.length - 1] = `${printed[printed.length - 1]!},`;
    lines.push(`${pad}${INDENT}${printed[0]!}`, ...printed.slice(1));
  }
  lines.push(`${pad}]`);
  return lines;
}

/** Block form (`key "label" { ... }`): labelled bodies, and every body at the top level. */
function isBlock(item: HclItem, topLevel: boolean): boolean {
  return isHclBody(item.value) && (topLevel || item.labels.length > 0);
}

function printItems(items: readonly HclItem[], depth: number, topLevel: boolean): string[] {
  const pad = INDENT.repeat(depth);
  const lines: string[] = [];
  let run: { key: string; value: string }[] = [];
  const flush = () => {
    const width = Math.max(0, ...run.map((r) => r.key.length));
    for (const r of run) lines.push(`${pad}${r.key.padEnd(width)} = ${r.value}`);
    run = [];
  };
  let previousMultiLine = false;
  items.forEach((item, index) => {
    const key = printKey(item.key);
    const block = isBlock(item, topLevel);
    const oneLine = !block && isOneLine(item.value);
    if (topLevel && index > 0 && (!oneLine || previousMultiLine)) {
      flush();
      lines.push('');
    }
    previousMultiLine = !oneLine;
    if (oneLine) {
      run.push({ key, value: inline(item.value) });
      return;
    }
    flush();
    if (block) {
      const head = `${pad}${key}${item.labels.map((l) => ` ${quote(l)}`).join('')}`;
      const inner = (item.value as HclBody).items;
      if (inner.length === 0) lines.push(`${head} {}`);
      else lines.push(`${head} {`, ...printItems(inner, depth + 1, false), `${pad}}`);
      return;
    }
    const printed = printValue(item.value, depth);
    lines.push(`${pad}${key} = ${printed[0]!}`, ...printed.slice(1));
  });
  flush();
  return lines;
}
