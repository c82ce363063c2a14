// `coffer read|write|list|delete PATH` (any API path, like the Vault CLI's generic commands)
// and `coffer version`.
import { readFileSync } from 'node:fs';
import { sanitizePath } from '../client/index.js';
import { UsageError } from './args.js';
import { defineCommand, defineGroup, parseDataArgs } from './command.js';
import { resolveToken } from './config.js';
import type { RunContext } from './command.js';
import { fieldMap, formatKeysList, formatKeyValueTable, secretRows } from './format.js';
import type { ApiResponse } from '../client/index.js';

function pathArg(raw: string): string {
  const path = sanitizePath(raw);
  if (path === '') throw new UsageError('PATH must not be empty');
  return path;
}

/** Query parameters from `key=value` arguments (read/delete send data as the query). */
async function queryArgs(
  ctx: RunContext,
  args: readonly string[],
): Promise<Record<string, string>> {
  const data = await parseDataArgs(ctx, args);
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    query[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return query;
}

/** Prints a response the way `vault read` does, honouring -format and -field. */
function printResponse(ctx: RunContext, response: ApiResponse): number {
  if (ctx.field !== undefined) return ctx.printField(fieldMap(response));
  if (ctx.format === 'json') {
    ctx.json(response);
    return 0;
  }
  ctx.warn(response);
  const rows = secretRows(response);
  if (rows.length > 0) ctx.out(formatKeyValueTable(rows));
  return 0;
}

const read = defineCommand({
  summary: 'Read data at any API path',
  usage: '[options] PATH [KEY=VALUE ...]',
  description: '  KEY=VALUE pairs are sent as query parameters.',
  flags: {},
  field: true,
  args: { min: 1, max: Infinity },
  async run(ctx, _flags, args) {
    const [raw, ...pairs] = args;
    const path = pathArg(raw!);
    const query = pairs.length === 0 ? undefined : await queryArgs(ctx, pairs);
    const response = await ctx.client().read(path, query);
    if (response === undefined) {
      ctx.err(`Error: no value found at ${path}`);
      return 2;
    }
    return printResponse(ctx, response);
  },
});

const write = defineCommand({
  summary: 'Write data to any API path',
  usage: '[options] PATH [KEY=VALUE ... | -]',
  description:
    '  KEY=@FILE reads a value from a file, KEY=- from standard input; a lone "-" sends the\n' +
    '  JSON object read from standard input as the body.',
  flags: {
    force: { kind: 'boolean', help: 'Allow a write without data.' },
    f: { kind: 'boolean', help: 'Alias of -force.', hidden: true },
  },
  field: true,
  args: { min: 1, max: Infinity },
  async run(ctx, flags, args) {
    const [raw, ...pairs] = args;
    const path = pathArg(raw!);
    if (pairs.length === 0 && flags.force !== true && flags.f !== true) {
      throw new UsageError('no data given; pass KEY=VALUE pairs or "-", or use -force');
    }
    const data = await parseDataArgs(ctx, pairs);
    const response = await ctx.client().write(path, data);
    if (response === undefined) {
      ctx.out(`Success! Data written to: ${path}`);
      return 0;
    }
    return printResponse(ctx, response);
  },
});

const list = defineCommand({
  summary: 'List the keys under any API path',
  usage: '[options] PATH',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const path = pathArg(args[0]!);
    const response = await ctx.client().list(path);
    const keys = response?.data?.['keys'];
    if (!Array.isArray(keys) || keys.length === 0) {
      ctx.err(`Error: no value found at ${path}/`);
      return 2;
    }
    const names = keys.map(String);
    if (ctx.format === 'json') ctx.json(names);
    else ctx.out(formatKeysList(names));
    return 0;
  },
});

const del = defineCommand({
  summary: 'Delete data at any API path',
  usage: '[options] PATH [KEY=VALUE ...]',
  description: '  KEY=VALUE pairs are sent as query parameters.',
  flags: {},
  args: { min: 1, max: Infinity },
  async run(ctx, _flags, args) {
    const [raw, ...pairs] = args;
    const path = pathArg(raw!);
    const query = pairs.length === 0 ? undefined : await queryArgs(ctx, pairs);
    await ctx.client().delete(path, query);
    ctx.out(`Success! Data deleted (if it existed) at: ${path}`);
    return 0;
  },
});

/** The package version, read once from package.json (src/cli and dist/cli sit at equal depth). */
export function cliVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const version = defineCommand({
  summary: 'Print the CLI version',
  usage: '',
  flags: {},
  args: { min: 0, max: 0 },
  run(ctx) {
    if (ctx.format === 'json') ctx.json({ version: cliVersion() });
    else ctx.out(`Coffer v${cliVersion()}`);
    return Promise.resolve(0);
  },
});

/**
 * `coffer print token`: the token the CLI would send (-token, $COFFER_TOKEN/$VAULT_TOKEN, then
 * ~/.coffer-token), as `vault print token` does for scripts. Prints nothing without one.
 */
const printToken = defineCommand({
  summary: 'Print the token the CLI would use',
  usage: '[options]',
  flags: {},
  args: { min: 0, max: 0 },
  run(ctx, flags) {
    const token = resolveToken(flags.token, ctx.io.env);
    if (token !== undefined) ctx.out(token);
    return Promise.resolve(0);
  },
});

const print = defineGroup('Print values the CLI uses', { token: printToken });

export const genericCommands = { read, write, list, delete: del, version, print };
