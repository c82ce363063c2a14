// The env template format (`.env.tpl`) that `coffer run --env-file`, `coffer env --env-file` and
// loadEnv read: dotenv lines `NAME=value` whose value is a literal or a coffer:// reference.
import { ClientError } from './errors.js';

/** One `NAME=value` line. `line` is 1-based; `value` is unquoted (a reference or a literal). */
export interface EnvFileEntry {
  readonly name: string;
  readonly value: string;
  readonly line: number;
}

/** What a process environment variable name may look like (POSIX portable names). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  r: '\r',
  t: '\t',
  '"': '"',
  '\\': '\\',
  $: '$',
};

/**
 * Parses env template text. Blank lines and `#` comments are skipped; `export ` before a name is
 * allowed; values may be bare (a trailing ` # comment` is dropped, spaces trimmed), in single
 * quotes (taken as they are) or in double quotes (`\n \r \t \" \\ \$` escapes).
 * SECURITY: errors name the file and line, never the text of the line (it may be a secret).
 */
export function parseEnvFile(text: string, source: string): EnvFileEntry[] {
  const entries: EnvFileEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1;
    const where = `${source}:${lineNo}`;
    let line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    if (/^export\s/.test(line)) line = line.slice('export'.length).trimStart();
    const eq = line.indexOf('=');
    if (eq === -1) throw new ClientError(`${where}: expected NAME=value`);
    const name = line.slice(0, eq).trimEnd();
    if (!ENV_NAME.test(name)) {
      throw new ClientError(
        `${where}: the name must be letters, digits and "_" (not a digit first)`,
      );
    }
    const previous = seen.get(name);
    if (previous !== undefined) {
      throw new ClientError(`${where}: ${name} is already set on line ${previous}`);
    }
    seen.set(name, lineNo);
    entries.push({ name, value: parseValue(line.slice(eq + 1).trimStart(), where), line: lineNo });
  }
  return entries;
}

function parseValue(text: string, where: string): string {
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    let value = '';
    let i = 1;
    for (; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === quote) break;
      if (quote === '"' && ch === '\\' && i + 1 < text.length) {
        const next = text[i + 1]!;
        value += ESCAPES[next] ?? `\\${next}`;
        i++;
        continue;
      }
      value += ch;
    }
    if (i >= text.length) throw new ClientError(`${where}: the quoted value is not closed`);
    const after = text.slice(i + 1).trim();
    if (after !== '' && !after.startsWith('#')) {
      throw new ClientError(`${where}: unexpected text after the closing quote`);
    }
    return value;
  }
  const comment = /\s#/.exec(text);
  return (comment === null ? text : text.slice(0, comment.index)).trim();
}
