// Role statements: how a statements entry expands into single SQL statements (Vault's
// ParseArbitraryStringSlice: base64, JSON list or ';'-separated), and how {{name}},
// {{username}}, {{password}} and {{expiration}} are substituted with the quoting the
// surrounding SQL needs. Also the Redis plugin's ACL-rule lists.
import { CofferError, invalidField } from '../../sdk/errors.js';

export type SqlDialect = 'postgres' | 'mysql';

/** The values a statement may name; an absent one leaves its placeholder untouched. */
export interface StatementValues {
  /** The database user: fills both {{name}} and {{username}}. */
  readonly username?: string;
  readonly password?: string;
  /** Already formatted for the database (see formatExpiration). */
  readonly expiration?: string;
}

/** One runnable statement and where it came from, for error messages. */
export interface SqlStatement {
  /** E.g. "creation_statements[0]" or "creation_statements[1] statement 2". */
  readonly label: string;
  readonly sql: string;
}

/** Which quoting surrounds a position in a statement. */
type Context = 'code' | 'single' | 'double' | 'backtick' | 'line-comment' | 'block-comment';

interface ScanState {
  context: Context;
  /** PostgreSQL E'...' string: backslashes escape. */
  escapeString: boolean;
  /** PostgreSQL dollar quote being read ("$$" or "$tag$"), if any. */
  dollarTag: string | undefined;
}

const PLACEHOLDER = /^\{\{(name|username|password|expiration)\}\}/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * SECURITY: MySQL reads `--` as a comment only before whitespace or a control character
 * (`1--1` is 1 minus -1). Were the scanner to take `--'x'` for a comment, a value placed in
 * that `'x'` would be rendered as a whole literal next to MySQL's own quote and end up as SQL.
 */
function mysqlDashComment(next: string): boolean {
  return /\s/.test(next) || CONTROL.test(next);
}

/**
 * Walks `sql` once, calling `onCode` for each character outside quotes and comments and
 * `onPlaceholder` for each recognised placeholder (with the quoting it sits in). Returns the
 * text with placeholders replaced by what `onPlaceholder` returns.
 */
function scan(
  sql: string,
  dialect: SqlDialect,
  onPlaceholder: (key: string, state: Readonly<ScanState>) => string,
  onTopLevel?: (char: string, index: number) => void,
): string {
  const state: ScanState = { context: 'code', escapeString: false, dollarTag: undefined };
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const placeholder = PLACEHOLDER.exec(rest);
    if (placeholder !== null) {
      out += onPlaceholder(placeholder[1]!, state);
      i += placeholder[0].length;
      continue;
    }
    const c = sql[i]!;
    // A dollar quote ends at its tag whatever the quoting inside its body.
    if (state.dollarTag !== undefined && rest.startsWith(state.dollarTag)) {
      out += state.dollarTag;
      i += state.dollarTag.length;
      state.dollarTag = undefined;
      state.context = 'code';
      continue;
    }
    switch (state.context) {
      case 'code': {
        if (dialect === 'postgres' && c === '$' && state.dollarTag === undefined) {
          const tag = DOLLAR_TAG.exec(rest);
          if (tag !== null) {
            state.dollarTag = tag[0];
            out += tag[0];
            i += tag[0].length;
            continue;
          }
        }
        if (c === "'") {
          state.context = 'single';
          const prev = sql[i - 1];
          state.escapeString = dialect === 'mysql' || prev === 'E' || prev === 'e';
        } else if (c === '"') {
          state.context = 'double';
          state.escapeString = dialect === 'mysql';
        } else if (c === '`' && dialect === 'mysql') {
          state.context = 'backtick';
        } else if (
          c === '-' &&
          sql[i + 1] === '-' &&
          (dialect === 'postgres' || mysqlDashComment(sql.charAt(i + 2)))
        ) {
          state.context = 'line-comment';
        } else if (c === '#' && dialect === 'mysql') {
          state.context = 'line-comment';
        } else if (c === '/' && sql[i + 1] === '*') {
          state.context = 'block-comment';
          out += '/*';
          i += 2;
          continue;
        } else if (state.dollarTag === undefined) {
          onTopLevel?.(c, i);
        }
        break;
      }
      case 'single':
      case 'double': {
        const quote = state.context === 'single' ? "'" : '"';
        if (c === '\\' && state.escapeString && i + 1 < sql.length) {
          out += c + sql[i + 1]!;
          i += 2;
          continue;
        }
        if (c === quote) state.context = 'code';
        break;
      }
      case 'backtick':
        if (c === '`') state.context = 'code';
        break;
      case 'line-comment':
        if (c === '\n') state.context = 'code';
        break;
      case 'block-comment':
        if (c === '*' && sql[i + 1] === '/') {
          state.context = 'code';
          out += '*/';
          i += 2;
          continue;
        }
        break;
    }
    out += c;
    i += 1;
  }
  return out;
}

/** Splits on ';' outside quotes, comments and dollar quotes; trims; drops empty statements. */
export function splitSql(text: string, dialect: SqlDialect): string[] {
  const cuts: number[] = [];
  scan(
    text,
    dialect,
    (key) => `{{${key}}}`,
    (char, index) => {
      if (char === ';') cuts.push(index);
    },
  );
  const parts: string[] = [];
  let start = 0;
  for (const cut of [...cuts, text.length]) {
    const part = text.slice(start, cut).trim();
    if (part !== '') parts.push(part);
    start = cut + 1;
  }
  return parts;
}

/** PostgreSQL's escapeIdentifier/escapeLiteral (libpq's rules, as `pg` exports them). */
function pgIdentifier(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

function pgLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? ` E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/**
 * MySQL's string escaping (mysql2's `escape` for strings): backslash escapes. Of mysql2's
 * escapes only the quotes' and the backslash's are needed: renderStatement refuses control
 * characters (\0, \b, \t, \n, \r, \x1a) before any value gets here.
 */
function mysqlStringBody(value: string): string {
  return value.replace(/["'\\]/g, (c) => `\\${c}`);
}

function escapeFor(
  dialect: SqlDialect,
  key: string,
  value: string,
  state: Readonly<ScanState>,
): string {
  const isName = key === 'name' || key === 'username';
  if (state.dollarTag !== undefined && value.includes('$')) {
    throw new CofferError(
      'invalid_request',
      `{{${key}}}: its value cannot be placed inside a dollar-quoted body`,
    );
  }
  // SECURITY: quotes mean nothing inside /* */, so a value holding */ would end the comment
  // and run the rest of itself as SQL (and /* would open a nested one in PostgreSQL).
  if (state.context === 'block-comment' && (value.includes('*/') || value.includes('/*'))) {
    throw new CofferError(
      'invalid_request',
      `{{${key}}}: its value cannot be placed inside a block comment`,
    );
  }
  if (dialect === 'postgres') {
    switch (state.context) {
      case 'single': {
        const body = value.replace(/'/g, "''");
        return state.escapeString ? body.replace(/\\/g, '\\\\') : body;
      }
      case 'double':
        return value.replace(/"/g, '""');
      case 'code':
      case 'backtick':
      case 'line-comment':
      case 'block-comment':
        return isName ? pgIdentifier(value) : pgLiteral(value);
    }
  }
  switch (state.context) {
    case 'single':
    case 'double':
      return mysqlStringBody(value);
    case 'backtick':
      return value.replace(/`/g, '``');
    case 'code':
    case 'line-comment':
    case 'block-comment':
      return `'${mysqlStringBody(value)}'`;
  }
}

/**
 * Substitutes the placeholders of one statement, escaping each value for where it stands:
 * inside '...' or "..." only the characters that would end the quote are escaped; a bare
 * placeholder becomes a complete quoted identifier ({{name}}) or literal (the others).
 * SECURITY: values are never concatenated unescaped, and values with control characters
 * are refused outright (they could end a comment and start a statement).
 */
export function renderStatement(sql: string, dialect: SqlDialect, values: StatementValues): string {
  return scan(sql, dialect, (key, state) => {
    const value =
      key === 'name' || key === 'username'
        ? values.username
        : key === 'password'
          ? values.password
          : values.expiration;
    if (value === undefined) return `{{${key}}}`;
    if (CONTROL.test(value)) {
      throw new CofferError('invalid_request', `{{${key}}}: its value has control characters`);
    }
    return escapeFor(dialect, key, value, state);
  });
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Vault accepts an entry base64-encoded. A plain statement can also be valid base64
 * ("DROP"), so the decoded form is used only when it is printable UTF-8 text.
 */
function maybeBase64(entry: string): string {
  if (entry.length < 4 || !BASE64.test(entry)) return entry;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(entry, 'base64'));
    // eslint-disable-next-line no-control-regex
    return /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/.test(text) && text.trim() !== ''
      ? text
      : entry;
  } catch {
    return entry;
  }
}

function jsonStringList(text: string): string[] | undefined {
  if (!text.trimStart().startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) {
      return parsed;
    }
  } catch {
    // Not JSON: a statement that starts with '[' (unusual, but split it like any other).
  }
  return undefined;
}

/** Expands a role's statements field into single statements, labelled for errors. */
export function expandSql(
  entries: readonly string[],
  dialect: SqlDialect,
  field: string,
): SqlStatement[] {
  const out: SqlStatement[] = [];
  entries.forEach((raw, entry) => {
    const text = maybeBase64(raw.trim());
    const list = jsonStringList(text);
    const parts =
      list === undefined ? splitSql(text, dialect) : list.flatMap((s) => splitSql(s, dialect));
    parts.forEach((sql, part) => {
      const label =
        parts.length > 1 ? `${field}[${entry}] statement ${part + 1}` : `${field}[${entry}]`;
      out.push({ label, sql });
    });
  });
  return out;
}

/** Vault's Redis plugin default: read-only on every key. */
export const DEFAULT_REDIS_RULES: readonly string[] = ['~*', '+@read'];

/** Rules that would touch the user's passwords, which Coffer alone manages. */
function setsPassword(rule: string): boolean {
  const lower = rule.toLowerCase();
  return (
    lower === 'nopass' ||
    lower === 'resetpass' ||
    lower === 'reset' ||
    rule.startsWith('>') ||
    rule.startsWith('<') ||
    rule.startsWith('#') ||
    rule.startsWith('!')
  );
}

/**
 * The Redis plugin's creation statements: one entry holding a JSON list of ACL rules (as
 * Vault's redis plugin reads them), or none for the default read-only rules.
 */
export function parseRedisRules(entries: readonly string[], field: string): string[] {
  if (entries.length === 0) return [...DEFAULT_REDIS_RULES];
  if (entries.length > 1) {
    throw invalidField(field, 'for redis-database-plugin must be one JSON list of ACL rules');
  }
  const rules = jsonStringList(maybeBase64(entries[0]!.trim()));
  if (rules === undefined) {
    throw invalidField(
      `${field}[0]`,
      'must be a JSON list of Redis ACL rules, e.g. ["~*", "+@read"]',
    );
  }
  rules.forEach((rule, i) => {
    const trimmed = rule.trim();
    if (trimmed === '' || (/\s/.test(trimmed) && !trimmed.startsWith('('))) {
      throw invalidField(`${field}[0]`, `ACL rule ${i + 1} is empty or has spaces`);
    }
    if (setsPassword(trimmed)) {
      throw invalidField(`${field}[0]`, `ACL rule ${i + 1} sets passwords, which Coffer manages`);
    }
  });
  return rules.map((rule) => rule.trim());
}

/**
 * {{expiration}} as Vault renders it for SQL (Go layout "2006-01-02 15:04:05-0700"), in UTC.
 * PostgreSQL reads it in VALID UNTIL.
 */
export function formatExpiration(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}+0000`;
}
