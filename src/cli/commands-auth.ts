// `coffer auth enable|disable|list|tune`: manage auth methods through sys/auth, with the Vault
// CLI's names, flags and messages.
import {
  authMountPath,
  ClientError,
  disableAuthMethod,
  enableAuthMethod,
  listAuthMethods,
  tuneAuthMethod,
} from '../client/index.js';
import type { AuthMethodEntry } from '../client/index.js';
import { parseKeyValueFlag, UsageError } from './args.js';
import type { FlagSpecs } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import { formatMounts, type MountColumn } from './commands-secrets.js';
import { TTL_FLAGS, ttlConfig } from './mount-flags.js';

const OPTION_FLAGS = {
  description: { kind: 'string', placeholder: '<text>', help: 'Human-readable description.' },
  options: {
    kind: 'list',
    placeholder: '<key=value>',
    help: 'An auth method option; repeat the flag for more.',
  },
} as const satisfies FlagSpecs;

/** The mount path, with the client's "must not be empty" turned into a usage error. */
function methodPathOf(path: string): string {
  try {
    return authMountPath(path);
  } catch (error) {
    if (error instanceof ClientError)
      throw new UsageError('the auth method path must not be empty');
    throw error;
  }
}

const enable = defineCommand({
  summary: 'Enable an auth method at a path (default: the method type)',
  usage: '[options] TYPE',
  description:
    '  TYPE is the auth method: userpass, approle, jwt (also for OIDC) or kubernetes. Its\n' +
    '  logins are then served at auth/<path>/login...; "coffer login -method=TYPE" uses them.',
  flags: {
    path: { kind: 'string', placeholder: '<path>', help: 'Where to enable the method.' },
    ...OPTION_FLAGS,
    ...TTL_FLAGS,
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const type = args[0]!.trim();
    if (type === '') throw new UsageError('TYPE must not be empty');
    const path = methodPathOf(flags.path ?? type);
    const config = ttlConfig(flags);
    await enableAuthMethod(ctx.client(), path, {
      type,
      ...(flags.description === undefined ? {} : { description: flags.description }),
      ...(flags.options === undefined
        ? {}
        : { options: parseKeyValueFlag(flags.options, 'options') }),
      ...(Object.keys(config).length === 0 ? {} : { config }),
    });
    ctx.out(`Success! Enabled ${type} auth method at: ${path}/`);
    return 0;
  },
});

const disable = defineCommand({
  summary: 'Disable the auth method at a path, revoking every token it issued',
  usage: '[options] PATH',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const path = methodPathOf(args[0]!);
    await disableAuthMethod(ctx.client(), path);
    ctx.out(`Success! Disabled the auth method (if it existed) at: ${path}/`);
    return 0;
  },
});

const TOKEN_TYPE: MountColumn = {
  header: 'Token Type',
  cell: (m) => (typeof m.config['token_type'] === 'string' ? m.config['token_type'] : ''),
};

/** The `auth list` table (Vault's `auth list -detailed` has Token Type where secrets has Force No Cache). */
export function formatAuthMethods(
  methods: Readonly<Record<string, AuthMethodEntry>>,
  detailed: boolean,
): string {
  return formatMounts(methods, detailed, TOKEN_TYPE);
}

const list = defineCommand({
  summary: 'List the enabled auth methods',
  usage: '[options]',
  flags: { detailed: { kind: 'boolean', help: 'Show token TTLs, options and ids too.' } },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const methods = await listAuthMethods(ctx.client());
    if (ctx.format === 'json') ctx.json(methods);
    else ctx.out(formatAuthMethods(methods, flags.detailed === true));
    return 0;
  },
});

const tune = defineCommand({
  summary: 'Change the token TTLs, description or options of an auth method',
  usage: '[options] PATH',
  flags: { ...TTL_FLAGS, ...OPTION_FLAGS },
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const path = methodPathOf(args[0]!);
    const body = {
      ...ttlConfig(flags),
      ...(flags.description === undefined ? {} : { description: flags.description }),
      ...(flags.options === undefined
        ? {}
        : { options: parseKeyValueFlag(flags.options, 'options') }),
    };
    if (Object.keys(body).length === 0) {
      throw new UsageError('nothing to tune; pass -default-lease-ttl, -max-lease-ttl, ...');
    }
    await tuneAuthMethod(ctx.client(), path, body);
    ctx.out(`Success! Tuned the auth method at: ${path}/`);
    return 0;
  },
});

export const authGroup = defineGroup('Enable, disable, list and tune auth methods', {
  enable,
  disable,
  list,
  tune,
});
