// `coffer lease lookup|renew|revoke`: leases through sys/leases/*, with the Vault CLI's names,
// flags and output lines.
import { parseDurationSeconds, UsageError } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import { formatDataValue, formatKeyValueTable, humanDuration } from './format.js';

/** The lookup keys in the order they are printed; any others follow, sorted. */
const LOOKUP_KEYS = ['id', 'issue_time', 'expire_time', 'last_renewal', 'renewable', 'ttl'];

function leaseIdArg(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === '') throw new UsageError(`${what} must not be empty`);
  return trimmed;
}

/** Rows of a lookup: the known keys first (`ttl` as a duration), then the rest sorted. */
export function leaseLookupRows(data: Readonly<Record<string, unknown>>): [string, string][] {
  const rest = Object.keys(data)
    .filter((key) => !LOOKUP_KEYS.includes(key))
    .sort();
  return [...LOOKUP_KEYS, ...rest]
    .filter((key) => Object.hasOwn(data, key))
    .map((key) => [key, formatDataValue(key, data[key])]);
}

const lookup = defineCommand({
  summary: "Print a lease's issue and expiry times and its TTL",
  usage: '[options] LEASE_ID',
  flags: {},
  field: true,
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const found = await ctx.client().lookupLease(leaseIdArg(args[0]!, 'LEASE_ID'));
    if (ctx.field !== undefined) return ctx.printField(found.info);
    if (ctx.format === 'json') {
      ctx.json(found.response);
      return 0;
    }
    ctx.warn(found.response);
    ctx.out(formatKeyValueTable(leaseLookupRows(found.info)));
    return 0;
  },
});

const renew = defineCommand({
  summary: 'Renew a lease, extending its TTL',
  usage: '[options] LEASE_ID',
  description:
    '  -increment asks for a new TTL counted from now; the server may grant less (the max TTL\n' +
    '  of the mount or the secret). A lease that is not renewable fails with "lease is not\n' +
    '  renewable".',
  flags: {
    increment: {
      kind: 'string',
      placeholder: '<duration>',
      help: 'The TTL to request ("1h", "30m" or seconds). Default: the engine decides.',
    },
    i: { kind: 'string', help: 'Short for -increment.', hidden: true },
  },
  field: true,
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const raw = flags.increment ?? flags.i;
    const increment = raw === undefined ? undefined : parseDurationSeconds(raw, 'increment');
    const leaseId = leaseIdArg(args[0]!, 'LEASE_ID');
    const renewed = await ctx.client().renewLease(leaseId, increment);
    const fields: Record<string, unknown> = {
      lease_id: renewed.leaseId,
      lease_duration: renewed.leaseDurationSeconds,
      lease_renewable: renewed.renewable,
    };
    if (ctx.field !== undefined) return ctx.printField(fields);
    if (ctx.format === 'json') {
      ctx.json(renewed.response);
      return 0;
    }
    ctx.warn(renewed.response);
    ctx.out(
      formatKeyValueTable([
        ['lease_id', renewed.leaseId],
        ['lease_duration', humanDuration(renewed.leaseDurationSeconds)],
        ['lease_renewable', String(renewed.renewable)],
      ]),
    );
    return 0;
  },
});

const revoke = defineCommand({
  summary: 'Revoke a lease, or every lease under a prefix',
  usage: '[options] ID_OR_PREFIX',
  description:
    '  Revocation is synchronous by default: the command returns once the engine has revoked\n' +
    '  the secret. -sync=false only queues it. -prefix revokes every lease whose id starts\n' +
    '  with the argument (needs sudo); -force with -prefix also drops leases whose engine\n' +
    '  revocation fails, which can leave the secrets alive outside Coffer.',
  flags: {
    prefix: { kind: 'boolean', help: 'Treat the argument as a lease id prefix.' },
    force: {
      kind: 'boolean',
      help: 'With -prefix: remove the leases even if the engine cannot revoke them (sudo).',
    },
    sync: {
      kind: 'boolean',
      help: 'Wait for the revocation (default true); -sync=false queues it.',
    },
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const sync = flags.sync ?? true;
    if (flags.force === true && flags.prefix !== true) {
      throw new UsageError('-force requires -prefix');
    }
    if (flags.force === true && !sync) {
      throw new UsageError('-force cannot be combined with -sync=false');
    }
    const id = leaseIdArg(args[0]!, 'ID_OR_PREFIX');
    const client = ctx.client();
    if (flags.force === true) {
      ctx.err(
        'Warning! Force-removing leases can cause Coffer to become out of sync with the ' +
          'secret engines!',
      );
      await client.revokeLease({ kind: 'force', prefix: id });
      ctx.out(`Success! Force revoked any leases with prefix: ${id}`);
      return 0;
    }
    if (flags.prefix === true) {
      await client.revokeLease({ kind: 'prefix', prefix: id, sync });
      ctx.out(
        sync
          ? `Success! Revoked any leases with prefix: ${id}`
          : 'All revocation operations queued successfully!',
      );
      return 0;
    }
    await client.revokeLease({ kind: 'lease', leaseId: id, sync });
    ctx.out(
      sync ? `Success! Revoked lease: ${id}` : 'All revocation operations queued successfully!',
    );
    return 0;
  },
});

export const leaseGroup = defineGroup('Look up, renew and revoke leases', {
  lookup,
  renew,
  revoke,
});
