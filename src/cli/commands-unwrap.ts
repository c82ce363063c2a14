// `coffer unwrap [TOKEN]`: returns the response a wrapping token holds (sys/wrapping/unwrap),
// printed the way `coffer read` prints a response.
import type { ApiResponse } from '../client/index.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { formatKeyValueTable, secretRows } from './format.js';

/**
 * What `-field` can name: the `data` keys and, for a wrapped token, the auth values under the
 * Vault CLI's names (token, token_accessor, token_duration in seconds, ...).
 */
export function unwrapFieldMap(response: ApiResponse): Record<string, unknown> {
  const map: Record<string, unknown> = { ...(response.data ?? {}) };
  const auth = response.auth;
  if (auth === null || auth === undefined) return map;
  map['token'] = auth.client_token;
  map['token_accessor'] = auth.accessor;
  map['token_duration'] = auth.lease_duration;
  map['token_renewable'] = auth.renewable;
  map['token_policies'] = auth.token_policies ?? auth.policies ?? [];
  map['identity_policies'] = auth['identity_policies'] ?? [];
  map['policies'] = auth.policies ?? [];
  return map;
}

export const unwrapCommand = defineCommand({
  summary: 'Return a wrapped response',
  usage: '[options] [TOKEN | -]',
  description:
    '  With TOKEN, it is sent in the request body and the CLI token (-token, $COFFER_TOKEN...)\n' +
    '  authenticates the call; "-" reads TOKEN from standard input, keeping it out of the shell\n' +
    '  history. Without TOKEN, the CLI token itself is the wrapping token. A wrapping token\n' +
    '  works once: unwrapping spends it.',
  flags: {},
  field: true,
  args: { min: 0, max: 1 },
  async run(ctx, _flags, args) {
    const arg = args[0];
    let token: string | undefined;
    if (arg !== undefined) {
      const raw = arg === '-' ? await ctx.readStdin('wrapping token') : arg;
      token = raw.trim();
      if (token === '') throw new UsageError('TOKEN must not be empty');
    }
    const response = await ctx.client().unwrap(token);
    if (response === undefined) {
      ctx.err('Error: could not find a wrapped response');
      return 2;
    }
    if (ctx.field !== undefined) return ctx.printField(unwrapFieldMap(response));
    if (ctx.format === 'json') {
      ctx.json(response);
      return 0;
    }
    ctx.warn(response);
    const rows = secretRows(response);
    if (rows.length > 0) ctx.out(formatKeyValueTable(rows));
    return 0;
  },
});
