// `coffer kv ...`: KV v1/v2 commands. Paths are path-style ("secret/app/db") or split with
// -mount=secret; the client's mount probe decides v1 or v2, as the Vault CLI's preflight does.
import { kvApiPath, listPath } from '../client/index.js';
import type { KvVersionMetadata } from '../client/index.js';
import { parseIntFlag, parseKeyValueFlag, parseVersionsFlag, UsageError } from './args.js';
import type { FlagSpecs } from './args.js';
import { defineCommand, defineGroup, parseDataArgs } from './command.js';
import type { RunContext } from './command.js';
import { formatKeysList, formatMapTable, headerForMap, padEqualSigns } from './format.js';

const MOUNT_FLAG = {
  mount: {
    kind: 'string',
    placeholder: '<path>',
    help: 'The KV mount; the argument is then the key inside it (e.g. -mount=secret app/db).',
  },
} as const satisfies FlagSpecs;

const VERSIONS_FLAG = {
  versions: {
    kind: 'string',
    placeholder: '<1,2,...>',
    help: 'Comma-separated version numbers.',
  },
} as const satisfies FlagSpecs;

const CAS_FLAG = {
  cas: {
    kind: 'string',
    placeholder: '<int>',
    help: 'Check-and-set: write only if the current version is this one (0 = only if absent).',
  },
} as const satisfies FlagSpecs;

/** The (mount, path) pair the client's KV helpers take. */
interface KvLocation {
  readonly mount: string;
  readonly path: string;
}

function location(flags: { mount?: string }, path: string | undefined): KvLocation {
  const mount = flags.mount ?? '';
  const key = path ?? '';
  if (mount.trim() === '' && key.trim() === '') {
    throw new UsageError('missing PATH (e.g. secret/app/db, or -mount=secret app/db)');
  }
  return { mount, path: key };
}

/** The API path a call would use, for messages about a missing key (the probe is cached). */
async function apiPathOf(
  ctx: RunContext,
  where: KvLocation,
  segment: 'data' | 'metadata',
): Promise<string> {
  const resolved = await ctx.client().resolveKvMount(where.mount, where.path);
  return kvApiPath(resolved.fullPath, resolved.mount, segment);
}

function noValue(ctx: RunContext, apiPath: string): number {
  ctx.err(`Error: no value found at ${apiPath}`);
  return 2;
}

/** "== Secret Path ==" then the path, as Vault prints above KV v2 tables. */
function printPath(ctx: RunContext, title: string, apiPath: string): void {
  ctx.out(padEqualSigns(title, apiPath.length));
  ctx.out(apiPath);
  ctx.out('');
}

function printVersionMetadata(ctx: RunContext, metadata: KvVersionMetadata): void {
  const map = metadata as unknown as Record<string, unknown>;
  ctx.out(headerForMap('Metadata', map));
  ctx.out(formatMapTable(map));
}

function optionalCas(value: string | undefined): { cas?: number } {
  return value === undefined ? {} : { cas: parseIntFlag(value, 'cas') };
}

const get = defineCommand({
  summary: 'Read a secret (the latest version, or -version=N on KV v2)',
  usage: '[options] PATH',
  flags: {
    ...MOUNT_FLAG,
    version: { kind: 'string', placeholder: '<int>', help: 'The version to read (KV v2).' },
  },
  field: true,
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const where = location(flags, args[0]);
    const version =
      flags.version === undefined ? {} : { version: parseIntFlag(flags.version, 'version') };
    const secret = await ctx.client().kvGet(where.mount, where.path, version);
    if (secret === undefined) return noValue(ctx, await apiPathOf(ctx, where, 'data'));
    if (ctx.field !== undefined) return ctx.printField(secret.data);
    if (ctx.format === 'json') {
      ctx.json(secret.response);
      return 0;
    }
    ctx.warn(secret.response);
    if (secret.mount.version === 2) {
      printPath(ctx, 'Secret Path', secret.apiPath);
      if (secret.metadata !== null) printVersionMetadata(ctx, secret.metadata);
    }
    if (secret.data !== null) {
      if (secret.mount.version === 2) ctx.out('');
      ctx.out(headerForMap('Data', secret.data));
      ctx.out(formatMapTable(secret.data));
    }
    return 0;
  },
});

/** `kv put` and `kv patch` share everything but the call. */
function writeCommand(kind: 'put' | 'patch') {
  return defineCommand({
    summary:
      kind === 'put'
        ? 'Write a new version of a secret (replaces all its keys)'
        : 'Change some keys of a secret, keeping the others (KV v2)',
    usage: '[options] PATH [KEY=VALUE ...]',
    description:
      '  KEY=@FILE reads the value from a file, KEY=- from standard input, and a lone "-"\n' +
      '  reads a JSON object from standard input.',
    flags: { ...MOUNT_FLAG, ...CAS_FLAG },
    field: true,
    args: { min: 1, max: Infinity },
    async run(ctx, flags, args) {
      const [path, ...pairs] = args;
      const where = location(flags, path);
      if (pairs.length === 0) throw new UsageError('no data given; pass KEY=VALUE pairs or "-"');
      const data = await parseDataArgs(ctx, pairs);
      const client = ctx.client();
      const cas = optionalCas(flags.cas);
      const result =
        kind === 'put'
          ? await client.kvPut(where.mount, where.path, data, cas)
          : await client.kvPatch(where.mount, where.path, data, cas);
      if (result.response === undefined) {
        ctx.out(`Success! Data written to: ${result.apiPath}`);
        return 0;
      }
      if (ctx.field !== undefined)
        return ctx.printField(result.metadata as Record<string, unknown> | null);
      if (ctx.format === 'json') {
        ctx.json(result.response);
        return 0;
      }
      ctx.warn(result.response);
      printPath(ctx, 'Secret Path', result.apiPath);
      if (result.metadata !== null) printVersionMetadata(ctx, result.metadata);
      return 0;
    },
  });
}

const list = defineCommand({
  summary: 'List the keys under a folder (sub-folders end with "/")',
  usage: '[options] PATH',
  flags: MOUNT_FLAG,
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const where = location(flags, args[0]);
    const result = await ctx.client().kvList(where.mount, where.path);
    if (result === undefined || result.keys.length === 0) {
      return noValue(ctx, listPath(await apiPathOf(ctx, where, 'metadata')));
    }
    if (ctx.format === 'json') ctx.json(result.keys);
    else ctx.out(formatKeysList(result.keys));
    return 0;
  },
});

const del = defineCommand({
  summary: 'Soft-delete the latest version (or -versions) of a secret; KV v1 deletes the key',
  usage: '[options] PATH',
  flags: { ...MOUNT_FLAG, ...VERSIONS_FLAG },
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const where = location(flags, args[0]);
    const versions =
      flags.versions === undefined ? {} : { versions: parseVersionsFlag(flags.versions) };
    const target = await ctx.client().kvDelete(where.mount, where.path, versions);
    ctx.out(`Success! Data deleted (if it existed) at: ${target.apiPath}`);
    return 0;
  },
});

function versionsCommand(kind: 'undelete' | 'destroy') {
  return defineCommand({
    summary:
      kind === 'undelete'
        ? 'Restore soft-deleted versions of a secret (KV v2)'
        : 'Permanently remove the data of versions of a secret (KV v2)',
    usage: '[options] -versions=1,2 PATH',
    flags: { ...MOUNT_FLAG, ...VERSIONS_FLAG },
    args: { min: 0, max: 1 },
    async run(ctx, flags, args) {
      const where = location(flags, args[0]);
      if (flags.versions === undefined) {
        throw new UsageError(`no versions given; use -versions to name the versions to ${kind}`);
      }
      const versions = parseVersionsFlag(flags.versions);
      const client = ctx.client();
      const target =
        kind === 'undelete'
          ? await client.kvUndelete(where.mount, where.path, versions)
          : await client.kvDestroy(where.mount, where.path, versions);
      ctx.out(`Success! Data written to: ${target.apiPath}`);
      return 0;
    },
  });
}

const metadataGet = defineCommand({
  summary: 'Read the metadata and version history of a secret (KV v2)',
  usage: '[options] PATH',
  flags: MOUNT_FLAG,
  field: true,
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const where = location(flags, args[0]);
    const result = await ctx.client().kvMetadataGet(where.mount, where.path);
    if (result === undefined) return noValue(ctx, await apiPathOf(ctx, where, 'metadata'));
    const metadata = result.metadata as unknown as Record<string, unknown>;
    if (ctx.field !== undefined) return ctx.printField(metadata);
    if (ctx.format === 'json') {
      ctx.json(result.response);
      return 0;
    }
    ctx.warn(result.response);
    const { versions, ...rest } = metadata;
    printPath(ctx, 'Metadata Path', result.apiPath);
    ctx.out(headerForMap('Metadata', rest));
    ctx.out(formatMapTable(rest));
    const byVersion = (versions ?? {}) as Record<string, Record<string, unknown>>;
    const numbers = Object.keys(byVersion)
      .map(Number)
      .filter(Number.isInteger)
      .sort((a, b) => a - b);
    for (const n of numbers) {
      const entry = byVersion[String(n)] ?? {};
      ctx.out('');
      ctx.out(headerForMap(`Version ${n}`, entry));
      ctx.out(formatMapTable(entry));
    }
    return 0;
  },
});

const metadataPut = defineCommand({
  summary: 'Set metadata of a secret: version limit, check-and-set, auto-delete, custom fields',
  usage: '[options] PATH',
  flags: {
    ...MOUNT_FLAG,
    'max-versions': {
      kind: 'string',
      placeholder: '<int>',
      help: 'How many versions to keep (0 = the mount default).',
    },
    'cas-required': { kind: 'boolean', help: 'Require -cas on every write.' },
    'delete-version-after': {
      kind: 'string',
      placeholder: '<duration>',
      help: 'Soft-delete versions this long after they are written ("0s" = never).',
    },
    'custom-metadata': {
      kind: 'list',
      placeholder: '<key=value>',
      help: 'A custom metadata pair; repeat the flag for more.',
    },
  },
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const where = location(flags, args[0]);
    const input: {
      maxVersions?: number;
      casRequired?: boolean;
      deleteVersionAfter?: string;
      customMetadata?: Record<string, string>;
    } = {};
    if (flags['max-versions'] !== undefined) {
      input.maxVersions = parseIntFlag(flags['max-versions'], 'max-versions');
    }
    if (flags['cas-required'] !== undefined) input.casRequired = flags['cas-required'];
    if (flags['delete-version-after'] !== undefined) {
      input.deleteVersionAfter = flags['delete-version-after'];
    }
    if (flags['custom-metadata'] !== undefined) {
      input.customMetadata = parseKeyValueFlag(flags['custom-metadata'], 'custom-metadata');
    }
    const target = await ctx.client().kvMetadataPut(where.mount, where.path, input);
    ctx.out(`Success! Data written to: ${target.apiPath}`);
    return 0;
  },
});

const metadataDelete = defineCommand({
  summary: 'Delete a secret with all its versions and metadata (KV v2)',
  usage: '[options] PATH',
  flags: MOUNT_FLAG,
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const where = location(flags, args[0]);
    const target = await ctx.client().kvMetadataDelete(where.mount, where.path);
    ctx.out(`Success! Data deleted (if it existed) at: ${target.apiPath}`);
    return 0;
  },
});

const rollback = defineCommand({
  summary: 'Write an older version of a secret again as its newest version (KV v2)',
  usage: '[options] -version=N PATH',
  description:
    "  As Vault's CLI: the version must be neither deleted nor destroyed; the write is\n" +
    '  check-and-set on the current version, so a concurrent write makes it fail.',
  flags: {
    ...MOUNT_FLAG,
    version: { kind: 'string', placeholder: '<int>', help: 'The version to roll back to.' },
  },
  field: true,
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const where = location(flags, args[0]);
    if (flags.version === undefined) throw new UsageError('-version is required');
    const version = parseIntFlag(flags.version, 'version');
    const client = ctx.client();
    const meta = await client.kvMetadataGet(where.mount, where.path);
    if (meta === undefined) return noValue(ctx, await apiPathOf(ctx, where, 'metadata'));
    const entry = meta.metadata.versions[String(version)];
    if (entry === undefined) {
      ctx.err(`Error: version ${version} of ${meta.apiPath} does not exist`);
      return 2;
    }
    if (entry.destroyed || entry.deletion_time !== '') {
      ctx.err(`Error: version ${version} is ${entry.destroyed ? 'destroyed' : 'deleted'}`);
      return 2;
    }
    const old = await client.kvGet(where.mount, where.path, { version });
    if (old?.data === null || old === undefined) return noValue(ctx, meta.apiPath);
    const result = await client.kvPut(where.mount, where.path, old.data, {
      cas: meta.metadata.current_version,
    });
    if (ctx.field !== undefined) {
      return ctx.printField(result.metadata as Record<string, unknown> | null);
    }
    if (ctx.format === 'json') {
      ctx.json(result.response);
      return 0;
    }
    ctx.warn(result.response);
    printPath(ctx, 'Secret Path', result.apiPath);
    if (result.metadata !== null) printVersionMetadata(ctx, result.metadata);
    return 0;
  },
});

export const kvGroup = defineGroup('Read and write secrets in KV mounts (v1 and v2)', {
  get,
  put: writeCommand('put'),
  patch: writeCommand('patch'),
  list,
  delete: del,
  undelete: versionsCommand('undelete'),
  destroy: versionsCommand('destroy'),
  rollback,
  metadata: defineGroup('Read and write the metadata of KV v2 secrets', {
    get: metadataGet,
    put: metadataPut,
    delete: metadataDelete,
  }),
});
