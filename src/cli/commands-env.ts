// `coffer env -format dotenv|shell|json|yaml [-path P] [-env-file F] [-map NAME=ref]`: prints the
// variables `coffer run` would set, quoted for the chosen format. A plain Command (not
// defineCommand) because its -format takes other values than the common table|json.
import { CofferClient, ConnectionError, resolveVariables } from '../client/index.js';
import { formatFlagHelp, parseArgs, UsageError } from './args.js';
import type { FlagSpecs, FlagValues } from './args.js';
import { reportError } from './command.js';
import type { CliIo, Command } from './command.js';
import { resolveAddress, resolveToken } from './config.js';
import { connectionMessage } from './command.js';
import { SOURCE_FLAGS, sourcesFromFlags } from './delivery.js';

export type EnvFormat = 'dotenv' | 'shell' | 'json' | 'yaml';
const FORMATS: readonly EnvFormat[] = ['dotenv', 'shell', 'json', 'yaml'];

const FLAGS = {
  ...SOURCE_FLAGS,
  format: {
    kind: 'string',
    placeholder: '<dotenv|shell|json|yaml>',
    help: 'How to print the variables (default dotenv).',
  },
  address: {
    kind: 'string',
    placeholder: '<url>',
    help: 'Address of the Coffer server. Defaults to $COFFER_ADDR, then $VAULT_ADDR, then http://127.0.0.1:8200.',
  },
  token: {
    kind: 'string',
    placeholder: '<token>',
    help: 'Token to authenticate with. Defaults to $COFFER_TOKEN, then $VAULT_TOKEN, then ~/.coffer-token.',
  },
  help: { kind: 'boolean', help: 'Show this help (also -h).' },
  h: { kind: 'boolean', help: 'Show this help.', hidden: true },
} as const satisfies FlagSpecs;

/** A bare dotenv value needs no quotes: nothing a dotenv parser would read differently. */
const DOTENV_BARE = /^[A-Za-z0-9_./:@%+,=^~-]*$/;

/** `NAME=value`, double-quoted with \\ \" \n \r \t \$ escapes when the value needs it. */
export function dotenvLine(name: string, value: string): string {
  if (DOTENV_BARE.test(value)) return `${name}=${value}`;
  const escaped = value.replace(/[\\"\n\r\t$]/g, (ch) => {
    switch (ch) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\${ch}`;
    }
  });
  return `${name}="${escaped}"`;
}

/** `export NAME='value'` for POSIX shells: single quotes, each ' written as '\''. */
export function shellLine(name: string, value: string): string {
  return `export ${name}='${value.replace(/'/g, "'\\''")}'`;
}

/**
 * A YAML double-quoted scalar. JSON string escapes are valid YAML escapes; U+2028/U+2029 (which
 * JSON leaves as they are) and U+0085 are escaped too, since YAML treats them as line breaks.
 */
export function yamlString(value: string): string {
  return JSON.stringify(value).replace(
    /[\u2028\u2029\u0085]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The whole output for `vars` in `format`, names sorted, ending with a newline. */
export function formatVariables(vars: Readonly<Record<string, string>>, format: EnvFormat): string {
  const names = Object.keys(vars).sort();
  switch (format) {
    case 'json': {
      const sorted: Record<string, string> = {};
      for (const name of names) sorted[name] = vars[name]!;
      return `${JSON.stringify(sorted, null, 2)}\n`;
    }
    case 'yaml':
      return names.length === 0
        ? '{}\n'
        : names.map((n) => `${yamlString(n)}: ${yamlString(vars[n]!)}\n`).join('');
    case 'shell':
      return names.map((n) => `${shellLine(n, vars[n]!)}\n`).join('');
    case 'dotenv':
      return names.map((n) => `${dotenvLine(n, vars[n]!)}\n`).join('');
  }
}

const SUMMARY = 'Print secrets as dotenv, shell, JSON or YAML variables';
const USAGE = 'Usage: coffer env [options]';

function help(): string {
  return [
    USAGE,
    '',
    `  ${SUMMARY}`,
    '',
    '  Resolves -path, -env-file and -map exactly as "coffer run" does and prints the variables.',
    '  When standard output is a terminal a warning goes to stderr: the values are secrets.',
    '',
    'Options:',
    '',
    formatFlagHelp(FLAGS),
  ].join('\n');
}

export const envCommand: Command = {
  kind: 'command',
  summary: SUMMARY,
  help,
  async execute(io: CliIo, name: string, argv: readonly string[]): Promise<number> {
    try {
      const parsed = parseArgs(argv, FLAGS);
      const flags: FlagValues<typeof FLAGS> = parsed.flags;
      if (flags.help === true || flags.h === true) {
        io.stdout(`${help()}\n`);
        return 0;
      }
      if (parsed.positionals.length > 0) {
        throw new UsageError(`too many arguments (expected 0, got ${parsed.positionals.length})`);
      }
      const format = (flags.format ?? 'dotenv') as EnvFormat;
      if (!FORMATS.includes(format)) {
        throw new UsageError(`invalid value for flag -format: one of ${FORMATS.join(', ')}`);
      }
      const sources = sourcesFromFlags(flags);
      const token = resolveToken(flags.token, io.env);
      const client = new CofferClient({
        address: resolveAddress(flags.address, io.env),
        ...(token === undefined ? {} : { token }),
        ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
      });
      let vars: Readonly<Record<string, string>>;
      try {
        vars = (await resolveVariables(client, sources)).vars;
      } catch (error) {
        if (error instanceof ConnectionError) {
          io.stderr(`Error: ${connectionMessage(error)}\n`);
          return 1;
        }
        throw error;
      }
      if (io.stdoutIsTty === true) {
        io.stderr('Warning: printing secret values to the terminal\n');
      }
      io.stdout(formatVariables(vars, format));
      return 0;
    } catch (error) {
      return reportError(io, error, USAGE, name);
    }
  },
};
