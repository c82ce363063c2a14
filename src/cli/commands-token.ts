// `coffer token create|lookup|renew|revoke|capabilities`: the token store commands, with the
// Vault CLI's names, flags and output (auth tables for create/renew, data tables for lookup).
import type { ApiResponse, CapabilityTarget, TokenCreateOptions } from '../client/index.js';
import { parseDurationSeconds, parseIntFlag, parseKeyValueFlag, UsageError } from './args.js';
import type { FlagSpecs } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import type { RunContext } from './command.js';
import { authRows, fieldMap, formatKeyValueTable, secretRows } from './format.js';

const ACCESSOR_FLAG = {
  accessor: {
    kind: 'boolean',
    help: 'Treat the argument as a token accessor instead of a token.',
  },
} as const satisfies FlagSpecs;

/** Prints a create or renew answer: `-field`, JSON, or the auth table. */
function printAuthResponse(ctx: RunContext, response: ApiResponse): number {
  if (ctx.field !== undefined) return ctx.printField(fieldMap(response));
  if (ctx.format === 'json') {
    ctx.json(response);
    return 0;
  }
  ctx.warn(response);
  if (response.auth !== null && response.auth !== undefined) {
    ctx.out(formatKeyValueTable(authRows(response.auth)));
  }
  return 0;
}

/** Prints a lookup answer: `-field` from its data, JSON, or the data table. */
function printLookupResponse(ctx: RunContext, response: ApiResponse): number {
  if (ctx.field !== undefined) return ctx.printField(response.data);
  if (ctx.format === 'json') {
    ctx.json(response);
    return 0;
  }
  ctx.warn(response);
  ctx.out(formatKeyValueTable(secretRows(response)));
  return 0;
}

function nonEmptyArg(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === '') throw new UsageError(`${what} must not be empty`);
  return trimmed;
}

const create = defineCommand({
  summary: 'Create a new token',
  usage: '[options]',
  description:
    '  The new token is a child of the calling token (revoked with it) unless -orphan is given.\n' +
    '  Durations are Go durations ("30m", "1h30m") or seconds. Print just the token with\n' +
    '  -field=token.',
  flags: {
    policy: {
      kind: 'list',
      placeholder: '<name>',
      help: 'A policy to attach; repeat the flag for more. Default: the policies of the caller.',
    },
    ttl: { kind: 'string', placeholder: '<duration>', help: 'Initial TTL of the token.' },
    'explicit-max-ttl': {
      kind: 'string',
      placeholder: '<duration>',
      help: 'A hard limit on the lifetime of the token, renewals included.',
    },
    period: {
      kind: 'string',
      placeholder: '<duration>',
      help: 'Make a periodic token: each renewal resets its TTL to this period.',
    },
    'use-limit': {
      kind: 'string',
      placeholder: '<int>',
      help: 'Number of uses before the token is revoked. Default 0 (unlimited).',
    },
    'display-name': {
      kind: 'string',
      placeholder: '<name>',
      help: 'A name for the token, shown in lookups and the audit log.',
    },
    metadata: {
      kind: 'list',
      placeholder: '<key=value>',
      help: 'Metadata to attach; repeat the flag for more.',
    },
    orphan: {
      kind: 'boolean',
      help: 'Create the token without a parent (auth/token/create-orphan).',
    },
    'no-default-policy': {
      kind: 'boolean',
      help: 'Do not attach the "default" policy.',
    },
    renewable: {
      kind: 'boolean',
      help: 'Allow the token to be renewed up to its max TTL. Default true (-renewable=false).',
    },
    type: {
      kind: 'string',
      placeholder: '<service|batch>',
      help: 'The token type. Default "service".',
    },
    id: {
      kind: 'string',
      placeholder: '<id>',
      help: 'A chosen token value instead of a random one (root only). Avoid it: it lands in shell history.',
    },
    role: {
      kind: 'string',
      placeholder: '<name>',
      help: 'Create the token from this token role (auth/token/create/<role>).',
    },
  },
  field: true,
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    if (flags.orphan === true && flags.role !== undefined) {
      throw new UsageError('-orphan and -role cannot be used together');
    }
    const type = flags.type;
    if (type !== undefined && type !== 'service' && type !== 'batch') {
      throw new UsageError('invalid value for flag -type: must be "service" or "batch"');
    }
    const options: {
      -readonly [K in keyof TokenCreateOptions]: TokenCreateOptions[K];
    } = {};
    if (flags.policy !== undefined) {
      options.policies = flags.policy.map((p) => nonEmptyArg(p, 'the value of -policy'));
    }
    if (flags.ttl !== undefined) options.ttl = nonEmptyArg(flags.ttl, 'the value of -ttl');
    if (flags['explicit-max-ttl'] !== undefined) {
      options.explicitMaxTtl = nonEmptyArg(
        flags['explicit-max-ttl'],
        'the value of -explicit-max-ttl',
      );
    }
    if (flags.period !== undefined) {
      options.period = nonEmptyArg(flags.period, 'the value of -period');
    }
    if (flags['use-limit'] !== undefined) {
      options.numUses = parseIntFlag(flags['use-limit'], 'use-limit');
    }
    if (flags['display-name'] !== undefined) options.displayName = flags['display-name'];
    if (flags.metadata !== undefined) {
      options.meta = parseKeyValueFlag(flags.metadata, 'metadata');
    }
    if (flags.orphan === true) options.orphan = true;
    if (flags['no-default-policy'] !== undefined) {
      options.noDefaultPolicy = flags['no-default-policy'];
    }
    if (flags.renewable !== undefined) options.renewable = flags.renewable;
    if (type !== undefined) options.type = type;
    if (flags.id !== undefined) options.id = nonEmptyArg(flags.id, 'the value of -id');
    if (flags.role !== undefined) options.role = nonEmptyArg(flags.role, 'the value of -role');
    const created = await ctx.client().createToken(options);
    return printAuthResponse(ctx, created.response);
  },
});

const lookup = defineCommand({
  summary: 'Show the properties of a token (default: the calling token)',
  usage: '[options] [TOKEN | -accessor ACCESSOR]',
  description:
    '  Without an argument, looks up the token the CLI authenticates with\n' +
    '  (auth/token/lookup-self). With -accessor the argument is an accessor, and the answer\n' +
    '  does not include the token itself.',
  flags: ACCESSOR_FLAG,
  field: true,
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const client = ctx.client();
    const arg = args[0];
    let found;
    if (flags.accessor === true) {
      if (arg === undefined) throw new UsageError('-accessor needs an ACCESSOR argument');
      found = await client.lookupAccessor(nonEmptyArg(arg, 'ACCESSOR'));
    } else if (arg === undefined) {
      found = await client.lookupSelf();
    } else {
      found = await client.lookupToken(nonEmptyArg(arg, 'TOKEN'));
    }
    return printLookupResponse(ctx, found.response);
  },
});

const renew = defineCommand({
  summary: 'Renew a token, extending its TTL (default: the calling token)',
  usage: '[options] [TOKEN | -accessor ACCESSOR]',
  description:
    '  -increment asks for a new TTL counted from now; the server may grant less (the max TTL\n' +
    '  or the mount limits). A token that is not renewable fails with "lease is not renewable".',
  flags: {
    ...ACCESSOR_FLAG,
    increment: {
      kind: 'string',
      placeholder: '<duration>',
      help: 'The TTL to request ("1h", "30m" or seconds). Default: the token\'s own TTL.',
    },
    i: { kind: 'string', help: 'Short for -increment.', hidden: true },
  },
  field: true,
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const raw = flags.increment ?? flags.i;
    const increment = raw === undefined ? undefined : parseDurationSeconds(raw, 'increment');
    const client = ctx.client();
    const arg = args[0];
    let renewed;
    if (flags.accessor === true) {
      if (arg === undefined) throw new UsageError('-accessor needs an ACCESSOR argument');
      renewed = await client.renewAccessor(nonEmptyArg(arg, 'ACCESSOR'), increment);
    } else if (arg === undefined) {
      renewed = await client.renewSelf(increment);
    } else {
      renewed = await client.renewToken(nonEmptyArg(arg, 'TOKEN'), increment);
    }
    return printAuthResponse(ctx, renewed.response);
  },
});

const revoke = defineCommand({
  summary: 'Revoke a token and its children (or only the token, with -mode=orphan)',
  usage: '[options] [TOKEN | -accessor ACCESSOR | -self]',
  description:
    '  Revoking a token revokes every token created from it and their leases. -mode=orphan\n' +
    '  revokes only the token and leaves its children as orphans (needs sudo).',
  flags: {
    ...ACCESSOR_FLAG,
    self: { kind: 'boolean', help: 'Revoke the token the CLI authenticates with.' },
    mode: {
      kind: 'string',
      placeholder: '<orphan>',
      help: 'Empty (the default) revokes the whole tree; "orphan" keeps the children.',
    },
  },
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const mode = flags.mode ?? '';
    if (mode !== '' && mode !== 'orphan') {
      throw new UsageError(
        mode === 'path'
          ? '-mode=path is not supported yet'
          : 'invalid value for flag -mode: must be "orphan" or empty',
      );
    }
    const arg = args[0];
    const client = ctx.client();
    if (flags.self === true) {
      if (arg !== undefined) throw new UsageError('-self takes no TOKEN argument');
      if (flags.accessor === true || mode !== '') {
        throw new UsageError('-self cannot be combined with -accessor or -mode');
      }
      await client.revokeSelf();
    } else {
      if (arg === undefined) {
        throw new UsageError('missing TOKEN (or use -self to revoke the calling token)');
      }
      if (flags.accessor === true) {
        if (mode !== '') throw new UsageError('-accessor cannot be combined with -mode');
        await client.revokeAccessor(nonEmptyArg(arg, 'ACCESSOR'));
      } else if (mode === 'orphan') {
        await client.revokeOrphan(nonEmptyArg(arg, 'TOKEN'));
      } else {
        await client.revokeToken(nonEmptyArg(arg, 'TOKEN'));
      }
    }
    ctx.out('Success! Revoked token (if it existed)');
    return 0;
  },
});

const capabilities = defineCommand({
  summary: "Print a token's capabilities on a path (default: the calling token)",
  usage: '[options] [TOKEN | -accessor ACCESSOR] PATH',
  description:
    '  Prints the capabilities sorted and comma-separated ("deny" when no rule grants any,\n' +
    '  "root" for a root token). Run "coffer policy explain PATH" to see which rule decides.',
  flags: ACCESSOR_FLAG,
  args: { min: 1, max: 2 },
  async run(ctx, flags, args) {
    const path = nonEmptyArg(args.length === 2 ? args[1]! : args[0]!, 'PATH');
    const who = args.length === 2 ? args[0]! : undefined;
    let target: CapabilityTarget = { kind: 'self' };
    if (flags.accessor === true) {
      if (who === undefined) throw new UsageError('-accessor needs ACCESSOR and PATH arguments');
      target = { kind: 'accessor', accessor: nonEmptyArg(who, 'ACCESSOR') };
    } else if (who !== undefined) {
      target = { kind: 'token', token: nonEmptyArg(who, 'TOKEN') };
    }
    const report = await ctx.client().capabilities([path], target);
    const caps = [...(Object.values(report)[0] ?? [])].sort();
    if (ctx.format === 'json') ctx.json(caps);
    else ctx.out(caps.join(', '));
    return 0;
  },
});

export const tokenGroup = defineGroup('Create, look up, renew and revoke tokens', {
  create,
  lookup,
  renew,
  revoke,
  capabilities,
});
