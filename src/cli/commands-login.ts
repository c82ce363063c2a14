// `coffer login [TOKEN]`: checks a token against the server (auth/token/lookup-self) and stores
// it in the token helper file, so later commands use it without -token or COFFER_TOKEN.
import { CofferClient } from '../client/index.js';
import type { AuthInfo, TokenLookup } from '../client/index.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { resolveAddress } from './config.js';
import { authRows, formatKeyValueTable } from './format.js';
import { tokenFilePath, writeTokenFile } from './token-file.js';

/** The auth methods `login -method` knows; only "token" works today. */
const SUPPORTED_METHODS = new Set(['token']);

/** The lookup as an auth block for the Vault-style table (the token row is never printed). */
function authFromLookup(found: TokenLookup): AuthInfo {
  const info = found.info;
  const identity = Array.isArray(info.identity_policies) ? info.identity_policies : [];
  return {
    client_token: '',
    accessor: info.accessor,
    policies: [...info.policies, ...identity.filter((p) => !info.policies.includes(p))],
    token_policies: info.policies,
    identity_policies: identity,
    metadata: info.meta ?? null,
    lease_duration: info.ttl,
    renewable: info.renewable === true,
  };
}

/**
 * The lookup answer without the token itself (`data.id`), for `-format=json`.
 * SECURITY: login never prints the token it was given.
 */
function redactedLookup(found: TokenLookup): Record<string, unknown> {
  const data: Record<string, unknown> = { ...(found.response.data ?? {}) };
  delete data['id'];
  return { ...found.response, data };
}

/** The token argument: "TOKEN", "token=TOKEN" (Vault's key=value form), or "-" / none (stdin). */
function tokenArgument(arg: string | undefined): string | undefined {
  if (arg === undefined || arg === '-') return undefined;
  return arg.startsWith('token=') ? arg.slice('token='.length) : arg;
}

export const loginCommand = defineCommand({
  summary: 'Authenticate with a token and store it for later commands',
  usage: '[options] [TOKEN]',
  description:
    '  Checks TOKEN with auth/token/lookup-self and writes it to ~/.coffer-token (mode 0600),\n' +
    '  where every later command finds it. Without TOKEN, or with "-", the token is read from\n' +
    '  standard input (hidden on a terminal), which keeps it out of the shell history.\n' +
    '  COFFER_TOKEN and VAULT_TOKEN, when set, still take precedence over the stored token.\n' +
    '  Only -method=token is supported for now. The token itself is never printed.',
  flags: {
    method: {
      kind: 'string',
      placeholder: '<type>',
      help: 'The auth method. Only "token" (the default) is supported for now.',
    },
    'no-store': {
      kind: 'boolean',
      help: 'Verify the token but do not write it to the token file.',
    },
    'no-print': {
      kind: 'boolean',
      help: 'Print nothing on success.',
    },
  },
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const method = (flags.method ?? 'token').trim().toLowerCase();
    if (!SUPPORTED_METHODS.has(method)) {
      throw new UsageError(`auth method "${method}" is not supported yet; use -method=token`);
    }
    let token = tokenArgument(args[0]);
    if (token === undefined) {
      if (ctx.io.stdinIsTty === true) ctx.io.stderr('Token (will be hidden): ');
      token = await ctx.readStdin('token');
    }
    token = token.trim();
    if (token === '') throw new UsageError('missing token');

    const io = ctx.io;
    const client = new CofferClient({
      address: resolveAddress(flags.address, io.env),
      token,
      ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
    });
    const found = await client.lookupSelf();

    let stored = false;
    if (flags['no-store'] !== true) {
      const home = io.env['HOME'];
      if (home === undefined || home.trim() === '') {
        throw new UsageError('HOME is not set, so there is no token file; use -no-store');
      }
      writeTokenFile(tokenFilePath(home), token);
      stored = true;
    }
    if (flags['no-print'] === true) return 0;

    const overriding = ['COFFER_TOKEN', 'VAULT_TOKEN'].find((name) => {
      const value = io.env[name];
      return value !== undefined && value.trim() !== '';
    });
    if (overriding !== undefined) {
      ctx.err(
        `WARNING! The ${overriding} environment variable is set; it takes precedence over the ` +
          `stored token. Unset it to use the token from this login.\n`,
      );
    }
    if (ctx.format === 'json') {
      ctx.json(redactedLookup(found));
      return 0;
    }
    ctx.out(
      stored
        ? 'Success! You are now authenticated. The token is stored in the token file; later\n' +
            'commands use it without "coffer login" again.\n'
        : 'Success! You are now authenticated. The token was NOT stored (-no-store): pass it\n' +
            'with -token or COFFER_TOKEN to later commands.\n',
    );
    ctx.out(formatKeyValueTable(authRows(authFromLookup(found), { withToken: false })));
    return 0;
  },
});
