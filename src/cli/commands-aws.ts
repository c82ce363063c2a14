// `coffer aws keys create|list|read|revoke`: AWS access key pairs for the AWS Secrets Manager
// door, issued through sys/door-credentials/aws and bound to Coffer policies.
import { UsageError } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import { formatColumns, formatKeyValueTable, secretRows } from './format.js';

const KEYS_PATH = 'sys/door-credentials/aws';

function keyIdArg(raw: string): string {
  const id = raw.trim();
  if (!/^[A-Za-z0-9_]{1,128}$/.test(id)) {
    throw new UsageError('ACCESS_KEY_ID must be 1 to 128 letters, digits or underscores');
  }
  return id;
}

const create = defineCommand({
  summary: 'Issue an access key pair bound to Coffer policies',
  usage: '[options]',
  description:
    "  The key pair acts with the given policies (at most the caller's own) until it is\n" +
    '  revoked or its -ttl ends. The secret access key is printed once; Coffer keeps it only\n' +
    "  behind the barrier. Point AWS clients at the server's address with these keys.",
  flags: {
    policy: {
      kind: 'list',
      placeholder: '<name>',
      help: 'A policy to attach; repeat the flag for more (at least one).',
    },
    'display-name': {
      kind: 'string',
      placeholder: '<name>',
      help: 'Name in audit lines and in the principal ARN (default: the key id).',
    },
    ttl: { kind: 'string', placeholder: '<duration>', help: 'Lifetime (default: until revoked).' },
    'account-id': {
      kind: 'string',
      placeholder: '<12 digits>',
      help: 'Account of the principal ARN (default 000000000000).',
    },
  },
  field: true,
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const policies = flags.policy ?? [];
    if (policies.length === 0) throw new UsageError('at least one -policy is required');
    const response = await ctx.client().write(KEYS_PATH, {
      policies,
      ...(flags['display-name'] === undefined ? {} : { display_name: flags['display-name'] }),
      ...(flags.ttl === undefined ? {} : { ttl: flags.ttl }),
      ...(flags['account-id'] === undefined ? {} : { account_id: flags['account-id'] }),
    });
    const data = response?.data ?? {};
    if (ctx.field !== undefined) return ctx.printField(data);
    if (ctx.format === 'json') {
      ctx.json(response);
      return 0;
    }
    ctx.warn(response);
    ctx.out(
      formatKeyValueTable([
        ['access_key_id', String(data['access_key_id'])],
        ['secret_access_key', String(data['secret_access_key'])],
        ['policies', JSON.stringify(data['policies'])],
        ['principal_arn', String((data['metadata'] as Record<string, unknown>)['principal_arn'])],
      ]),
    );
    return 0;
  },
});

const list = defineCommand({
  summary: 'List the access key ids issued for the AWS door',
  usage: '[options]',
  flags: {},
  args: { min: 0, max: 0 },
  async run(ctx) {
    const response = await ctx.client().list(KEYS_PATH);
    const keys = ((response?.data as { keys?: string[] } | undefined)?.keys ?? []).slice();
    if (ctx.format === 'json') {
      ctx.json(keys);
      return 0;
    }
    if (keys.length === 0) {
      ctx.err('No access keys found');
      return 2;
    }
    ctx.out(
      formatColumns(
        keys.map((k) => [k]),
        ['Keys'],
      ),
    );
    return 0;
  },
});

const read = defineCommand({
  summary: 'Show an access key (never its secret)',
  usage: '[options] ACCESS_KEY_ID',
  flags: {},
  field: true,
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const response = await ctx.client().read(`${KEYS_PATH}/${keyIdArg(args[0]!)}`);
    if (response === undefined) {
      ctx.err('No such access key');
      return 2;
    }
    if (ctx.field !== undefined) return ctx.printField(response.data);
    if (ctx.format === 'json') {
      ctx.json(response);
      return 0;
    }
    ctx.out(formatKeyValueTable(secretRows(response)));
    return 0;
  },
});

const revoke = defineCommand({
  summary: 'Revoke an access key: requests signed with it fail from now on',
  usage: '[options] ACCESS_KEY_ID',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const id = keyIdArg(args[0]!);
    await ctx.client().delete(`${KEYS_PATH}/${id}`);
    ctx.out(`Success! Revoked access key: ${id}`);
    return 0;
  },
});

export const awsGroup = defineGroup('Access keys for the AWS Secrets Manager door', {
  keys: defineGroup('Issue, list, show and revoke AWS access keys', { create, list, read, revoke }),
});
