// The CLI's command framework: how a command declares its flags and arguments, how it is parsed
// and run, how failures become one line on stderr and an exit code (including the one line for a
// server that cannot be reached), and the shared helpers (client from flags/env, output format,
// -field, stdin, key=value arguments).
import { readFileSync } from 'node:fs';
import {
  ApiError,
  ClientError,
  CofferClient,
  ConnectionError,
  hasTlsSettings,
  resolveTlsSettings,
  tlsFetch,
} from '../client/index.js';
import type { ApiResponse } from '../client/index.js';
import { formatFlagHelp, parseArgs, UsageError } from './args.js';
import type { FlagSpecs, FlagValues } from './args.js';
import { resolveAddress, resolveToken } from './config.js';
import { formatJson, formatRawField, formatWarnings, formatYaml } from './format.js';

/** What runCli gets from its caller; main.ts builds it from the real process. */
export interface CliIo {
  readonly env: Record<string, string | undefined>;
  /** Writes exactly the given text (the CLI adds its own newlines). */
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** Reads all of standard input (or one hidden line on a terminal). */
  readonly stdin?: () => Promise<string>;
  readonly fetch?: typeof fetch;
  /** Standard output is a terminal: `-field` output then ends with a newline, as in Vault. */
  readonly stdoutIsTty?: boolean;
  /** Standard input is a terminal: commands that read a key prompt for it on stderr. */
  readonly stdinIsTty?: boolean;
}

export type OutputFormat = 'table' | 'json';

/** Flags every command takes. */
export const COMMON_FLAGS = {
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
  'ca-cert': {
    kind: 'string',
    placeholder: '<file>',
    help: 'PEM file of CA certificates to trust. Defaults to $COFFER_CACERT, then $VAULT_CACERT.',
  },
  'ca-path': {
    kind: 'string',
    placeholder: '<folder>',
    help: 'Folder of PEM CA certificates to trust. Defaults to $COFFER_CAPATH, then $VAULT_CAPATH.',
  },
  'client-cert': {
    kind: 'string',
    placeholder: '<file>',
    help: 'PEM client certificate for TLS. Defaults to $COFFER_CLIENT_CERT, then $VAULT_CLIENT_CERT.',
  },
  'client-key': {
    kind: 'string',
    placeholder: '<file>',
    help: 'PEM key of -client-cert. Defaults to $COFFER_CLIENT_KEY, then $VAULT_CLIENT_KEY.',
  },
  'tls-server-name': {
    kind: 'string',
    placeholder: '<name>',
    help: 'Name to verify the server certificate against (SNI). Defaults to $COFFER_TLS_SERVER_NAME, then $VAULT_TLS_SERVER_NAME.',
  },
  'tls-skip-verify': {
    kind: 'boolean',
    help: 'Do not verify the server certificate (insecure). Defaults to $COFFER_SKIP_VERIFY, then $VAULT_SKIP_VERIFY.',
  },
  format: {
    kind: 'string',
    placeholder: '<table|json|yaml>',
    help: 'Print the output as a table (default), as JSON or as YAML.',
  },
  'wrap-ttl': {
    kind: 'string',
    placeholder: '<duration>',
    help: 'Wrap the response in a single-use token living this long ("5m"), as Vault does.',
  },
  help: { kind: 'boolean', help: 'Show this help (also -h).' },
  h: { kind: 'boolean', help: 'Show this help.', hidden: true },
} as const satisfies FlagSpecs;

/** Added to commands that print a map, like Vault's `-field`. */
export const FIELD_FLAG = {
  field: {
    kind: 'string',
    placeholder: '<name>',
    help: 'Print only this field, raw (no table, no JSON quoting).',
  },
} as const satisfies FlagSpecs;

/** What a running command may use. */
export interface RunContext {
  readonly io: CliIo;
  readonly format: OutputFormat;
  /** `-field`, when the command takes it and it was given. */
  readonly field: string | undefined;
  /** A client for the resolved address and token (built once, on first use). */
  client(): CofferClient;
  /** Writes `text` and a newline to stdout. */
  out(text: string): void;
  /** Writes `text` and a newline to stderr. */
  err(text: string): void;
  /** Prints `value` as pretty JSON. */
  json(value: unknown): void;
  /** Prints `-field` from `map`: 0 when found, 1 (with an error line) when not. */
  printField(map: Readonly<Record<string, unknown>> | null | undefined): number;
  /** Prints the response's warnings to stderr (table output only). */
  warn(response: ApiResponse | undefined): void;
  /** Reads standard input once; `what` names it for errors. */
  readStdin(what: string): Promise<string>;
}

export interface CommandDefinition<S extends FlagSpecs> {
  /** One line for the command list. */
  readonly summary: string;
  /** Arguments part of the usage line, e.g. "[options] PATH". */
  readonly usage: string;
  /** Paragraphs shown by -h below the usage line. */
  readonly description?: string;
  readonly flags: S;
  /** Whether `-field` is accepted. */
  readonly field?: boolean;
  /** Positional argument counts; `max` may be Infinity. */
  readonly args: { readonly min: number; readonly max: number };
  run(
    ctx: RunContext,
    flags: FlagValues<S & typeof COMMON_FLAGS & typeof FIELD_FLAG>,
    args: string[],
  ): Promise<number>;
}

export interface Command {
  readonly kind: 'command';
  readonly summary: string;
  /** Full help text for `name` ("kv get"). */
  help(name: string): string;
  /** Parses `argv` (after the command words), runs, and returns the exit code. */
  execute(io: CliIo, name: string, argv: readonly string[]): Promise<number>;
}

export interface CommandGroup {
  readonly kind: 'group';
  readonly summary: string;
  readonly children: Readonly<Record<string, Command | CommandGroup>>;
}

export function defineGroup(
  summary: string,
  children: Readonly<Record<string, Command | CommandGroup>>,
): CommandGroup {
  return { kind: 'group', summary, children };
}

/** Help text of a group: its subcommands with their summaries. */
export function groupHelp(name: string, group: CommandGroup): string {
  const names = Object.keys(group.children).sort();
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `    ${n.padEnd(width)}    ${group.children[n]?.summary ?? ''}`);
  return [
    `Usage: coffer ${name} <subcommand> [options] [args]`,
    '',
    `  ${group.summary}`,
    '',
    'Subcommands:',
    ...lines,
    '',
    `Run "coffer ${name} <subcommand> -h" for a subcommand's options.`,
  ].join('\n');
}

export function defineCommand<S extends FlagSpecs>(definition: CommandDefinition<S>): Command {
  const specs: FlagSpecs = {
    ...definition.flags,
    ...COMMON_FLAGS,
    ...(definition.field === true ? FIELD_FLAG : {}),
  };
  const usageLine = (name: string) => `Usage: coffer ${name} ${definition.usage}`.trimEnd();
  const help = (name: string): string => {
    const parts = [usageLine(name), '', `  ${definition.summary}`];
    if (definition.description !== undefined) parts.push('', definition.description);
    parts.push('', 'Options:', '', formatFlagHelp(specs));
    return parts.join('\n');
  };
  return {
    kind: 'command',
    summary: definition.summary,
    help,
    async execute(io, name, argv) {
      try {
        const parsed = parseArgs(argv, specs);
        const flags = parsed.flags as FlagValues<S & typeof COMMON_FLAGS & typeof FIELD_FLAG>;
        const common = parsed.flags as FlagValues<typeof COMMON_FLAGS & typeof FIELD_FLAG>;
        if (common.help === true || common.h === true) {
          io.stdout(`${help(name)}\n`);
          return 0;
        }
        const count = parsed.positionals.length;
        if (count < definition.args.min) {
          throw new UsageError(
            `not enough arguments (expected ${definition.args.min}, got ${count})`,
          );
        }
        if (count > definition.args.max) {
          throw new UsageError(
            `too many arguments (expected at most ${definition.args.max}, got ${count})`,
          );
        }
        const ctx = createContext(withTls(io, common), common);
        return await definition.run(ctx, flags, parsed.positionals);
      } catch (error) {
        return reportError(io, error, usageLine(name), name);
      }
    },
  };
}

/** Prints one line for `error` and returns the exit code: 2 for usage, 1 for everything else. */
export function reportError(io: CliIo, error: unknown, usage: string, name: string): number {
  if (error instanceof UsageError) {
    io.stderr(`Error: ${error.message}\n${usage}\nRun "coffer ${name} -h" for details.\n`);
    return 2;
  }
  if (error instanceof ApiError) {
    const text = error.errors.length > 0 ? error.errors.join('; ') : 'request failed';
    io.stderr(`Error: ${text} (${error.status})\n`);
    return 1;
  }
  if (error instanceof ConnectionError) {
    io.stderr(`Error: ${connectionMessage(error)}\n`);
    return 1;
  }
  if (error instanceof ClientError) {
    io.stderr(`Error: ${error.message}\n`);
    return 1;
  }
  io.stderr(`Error: ${error instanceof Error ? error.message : 'unexpected failure'}\n`);
  return 1;
}

/** Words for the errno (and undici) codes a user meets when the server cannot be reached. */
const CONNECTION_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  UND_ERR_SOCKET: 'the server closed the connection',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  EPROTO: 'TLS handshake failed',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS handshake failed; is the server serving plain HTTP?',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chain is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate cannot be verified',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server certificate cannot be verified',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate is for another host name',
};

/**
 * The one line for a server that cannot be reached, e.g. "cannot reach Coffer at
 * http://127.0.0.1:8200: connection refused (ECONNREFUSED)". A known code gets words and keeps
 * the code (to search for); any other reason (a timeout, a message) is shown as it is.
 * SECURITY: made only of the address (credentials are refused in it) and the reason.
 */
export function connectionMessage(error: ConnectionError): string {
  const words = Object.hasOwn(CONNECTION_REASONS, error.reason)
    ? CONNECTION_REASONS[error.reason]
    : undefined;
  const reason = words === undefined ? error.reason : `${words} (${error.reason})`;
  return `cannot reach Coffer at ${error.address}: ${reason}`;
}

/**
 * The io with a fetch that uses the TLS flags and variables, when any is set: every client the
 * command builds (the agent's and the change stream's too) goes through io.fetch.
 */
function withTls(io: CliIo, flags: FlagValues<typeof COMMON_FLAGS>): CliIo {
  const settings = resolveTlsSettings(
    {
      ...(flags['ca-cert'] === undefined ? {} : { caCert: flags['ca-cert'] }),
      ...(flags['ca-path'] === undefined ? {} : { caPath: flags['ca-path'] }),
      ...(flags['client-cert'] === undefined ? {} : { clientCert: flags['client-cert'] }),
      ...(flags['client-key'] === undefined ? {} : { clientKey: flags['client-key'] }),
      ...(flags['tls-server-name'] === undefined ? {} : { serverName: flags['tls-server-name'] }),
      ...(flags['tls-skip-verify'] === true ? { skipVerify: true } : {}),
    },
    io.env,
  );
  if (!hasTlsSettings(settings)) return io;
  return { ...io, fetch: tlsFetch(settings, io.fetch) };
}

function createContext(
  io: CliIo,
  flags: FlagValues<typeof COMMON_FLAGS & typeof FIELD_FLAG>,
): RunContext {
  const requested = flags.format ?? 'table';
  if (requested !== 'table' && requested !== 'json' && requested !== 'yaml') {
    throw new UsageError('invalid value for flag -format: must be "table", "json" or "yaml"');
  }
  // YAML is JSON's structure in another notation: commands print "json", and json() picks.
  const format = requested === 'yaml' ? 'json' : requested;
  const wrapTtl = flags['wrap-ttl'];
  if (wrapTtl !== undefined && !/^\d+[smh]?$/.test(wrapTtl)) {
    throw new UsageError('invalid value for flag -wrap-ttl: must be a duration such as "5m"');
  }
  let client: CofferClient | undefined;
  let stdinUsed = false;
  const out = (text: string) => {
    io.stdout(`${text}\n`);
  };
  const err = (text: string) => {
    io.stderr(`${text}\n`);
  };
  return {
    io,
    format,
    field: flags.field,
    client() {
      if (client === undefined) {
        const token = resolveToken(flags.token, io.env);
        client = new CofferClient({
          address: resolveAddress(flags.address, io.env),
          ...(token === undefined ? {} : { token }),
          ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
          ...(wrapTtl === undefined ? {} : { wrapTtl }),
        });
      }
      return client;
    },
    out,
    err,
    json(value) {
      out(requested === 'yaml' ? formatYaml(value) : formatJson(value));
    },
    printField(map) {
      const field = flags.field ?? '';
      if (map === null || map === undefined || !Object.hasOwn(map, field)) {
        err(`Error: field "${field}" not present in secret`);
        return 1;
      }
      const value = map[field];
      // As Vault's CLI: -format=json/yaml with -field prints the field in that notation.
      const text =
        requested === 'json'
          ? JSON.stringify(value, null, 2)
          : requested === 'yaml'
            ? formatYaml(value).replace(/\n$/, '')
            : formatRawField(value);
      io.stdout(text + (io.stdoutIsTty === true ? '\n' : ''));
      return 0;
    },
    warn(response) {
      const text = formatWarnings(response);
      if (text !== '') err(text);
    },
    async readStdin(what) {
      if (io.stdin === undefined) throw new UsageError(`${what}: standard input is not available`);
      if (stdinUsed) throw new UsageError(`${what}: standard input can be read only once`);
      stdinUsed = true;
      return io.stdin();
    },
  };
}

/**
 * Turns `key=value` arguments into a map: `key=@file` reads the file, `key=-` reads stdin,
 * and a lone `-` reads a JSON object from stdin. Later keys win.
 * SECURITY: errors name the argument's position, never its text.
 */
export async function parseDataArgs(
  ctx: RunContext,
  args: readonly string[],
): Promise<Record<string, unknown>> {
  const data: Record<string, unknown> = {};
  for (const [index, arg] of args.entries()) {
    if (arg === '-') {
      Object.assign(data, parseJsonObject(await ctx.readStdin('JSON body'), 'standard input'));
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(`argument ${index + 1} is not a key=value pair`);
    }
    const key = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    if (value === '-') {
      data[key] = await ctx.readStdin(`value of ${key}`);
    } else if (value.startsWith('@')) {
      data[key] = readValueFile(value.slice(1), key);
    } else {
      data[key] = value;
    }
  }
  return data;
}

function readValueFile(file: string, key: string): string {
  if (file === '') throw new UsageError(`value of ${key}: "@" must be followed by a file name`);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(
      `value of ${key}: cannot read file ${file} (${typeof code === 'string' ? code : 'error'})`,
    );
  }
}

/** SECURITY: JSON.parse's message quotes the input, so it is replaced, never passed on. */
export function parseJsonObject(text: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${source} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${source} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}
