// `coffer secrets enable|disable|list|tune`: manage secret engine mounts through sys/mounts.
import type { MountEntry } from '../client/index.js';
import { sanitizePath } from '../client/index.js';
import { parseIntFlag, parseKeyValueFlag, UsageError } from './args.js';
import type { FlagSpecs } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import { formatColumns, formatValue } from './format.js';
import { TTL_FLAGS, ttlCell, ttlConfig } from './mount-flags.js';

const OPTION_FLAGS = {
  description: { kind: 'string', placeholder: '<text>', help: 'Human-readable description.' },
  options: {
    kind: 'list',
    placeholder: '<key=value>',
    help: 'An engine option; repeat the flag for more.',
  },
  version: {
    kind: 'string',
    placeholder: '<int>',
    help: 'Engine version, i.e. options version=N (2 = KV v2).',
  },
} as const satisfies FlagSpecs;

/** `-options` plus `-version` as one options map, or undefined when neither was given. */
function engineOptions(flags: {
  options?: string[];
  version?: string;
}): Record<string, string> | undefined {
  if (flags.options === undefined && flags.version === undefined) return undefined;
  const options = parseKeyValueFlag(flags.options ?? [], 'options');
  if (flags.version !== undefined) {
    options['version'] = String(parseIntFlag(flags.version, 'version', 1));
  }
  return options;
}

function mountPathOf(path: string): string {
  const clean = sanitizePath(path);
  if (clean === '') throw new UsageError('the mount path must not be empty');
  return clean;
}

const enable = defineCommand({
  summary: 'Enable a secrets engine at a path (default: the engine type)',
  usage: '[options] TYPE',
  description: '  TYPE "kv-v2" means "kv" with -version=2.',
  flags: {
    path: { kind: 'string', placeholder: '<path>', help: 'Where to mount the engine.' },
    ...OPTION_FLAGS,
    ...TTL_FLAGS,
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const requested = args[0]!.trim();
    if (requested === '') throw new UsageError('TYPE must not be empty');
    const path = mountPathOf(flags.path ?? requested);
    let type = requested;
    let options = engineOptions(flags);
    if (type === 'kv-v2') {
      type = 'kv';
      options = { ...options, version: '2' };
    }
    const config = ttlConfig(flags);
    await ctx.client().enableMount(path, {
      type,
      ...(flags.description === undefined ? {} : { description: flags.description }),
      ...(options === undefined ? {} : { options }),
      ...(Object.keys(config).length === 0 ? {} : { config }),
    });
    ctx.out(`Success! Enabled the ${type} secrets engine at: ${path}/`);
    return 0;
  },
});

const disable = defineCommand({
  summary: 'Disable the secrets engine at a path, deleting all its data',
  usage: '[options] PATH',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const path = mountPathOf(args[0]!);
    await ctx.client().disableMount(path);
    ctx.out(`Success! Disabled the secrets engine (if it existed) at: ${path}/`);
    return 0;
  },
});

/** The column that differs between `secrets list -detailed` and `auth list -detailed`. */
export interface MountColumn {
  readonly header: string;
  cell(mount: MountEntry): string;
}

const FORCE_NO_CACHE: MountColumn = {
  header: 'Force No Cache',
  cell: (m) => String(m.config.force_no_cache ?? false),
};

/**
 * The `secrets list` (and `auth list`) table: Vault's Path, Type, Accessor, Description;
 * `detailed` adds the TTLs, `column`, replication, options and ids.
 */
export function formatMounts(
  mounts: Readonly<Record<string, MountEntry>>,
  detailed: boolean,
  column: MountColumn = FORCE_NO_CACHE,
): string {
  const paths = Object.keys(mounts).sort();
  if (!detailed) {
    return formatColumns(
      paths.map((path) => {
        const m = mounts[path]!;
        return [path, m.type, m.accessor, m.description];
      }),
      ['Path', 'Type', 'Accessor', 'Description'],
    );
  }
  return formatColumns(
    paths.map((path) => {
      const m = mounts[path]!;
      const options = m.options !== null && Object.keys(m.options).length > 0 ? m.options : null;
      return [
        path,
        m.type,
        m.accessor,
        ttlCell(m.config.default_lease_ttl),
        ttlCell(m.config.max_lease_ttl),
        column.cell(m),
        m.local ? 'local' : 'replicated',
        String(m.seal_wrap),
        String(m.external_entropy_access ?? false),
        options === null ? '' : formatValue(options),
        m.description,
        m.uuid ?? '',
      ];
    }),
    [
      'Path',
      'Plugin',
      'Accessor',
      'Default TTL',
      'Max TTL',
      column.header,
      'Replication',
      'Seal Wrap',
      'External Entropy Access',
      'Options',
      'Description',
      'UUID',
    ],
  );
}

const list = defineCommand({
  summary: 'List the enabled secrets engines',
  usage: '[options]',
  flags: { detailed: { kind: 'boolean', help: 'Show lease TTLs, options and ids too.' } },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const mounts = await ctx.client().mounts();
    if (ctx.format === 'json') ctx.json(mounts);
    else ctx.out(formatMounts(mounts, flags.detailed === true));
    return 0;
  },
});

const tune = defineCommand({
  summary: 'Change the lease TTLs, description or options of a mount',
  usage: '[options] PATH',
  flags: { ...TTL_FLAGS, ...OPTION_FLAGS },
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const path = mountPathOf(args[0]!);
    const options = engineOptions(flags);
    await ctx.client().tuneMount(path, {
      ...ttlConfig(flags),
      ...(flags.description === undefined ? {} : { description: flags.description }),
      ...(options === undefined ? {} : { options }),
    });
    ctx.out(`Success! Tuned the secrets engine at: ${path}/`);
    return 0;
  },
});

export const secretsGroup = defineGroup('Enable, disable, list and tune secrets engines', {
  enable,
  disable,
  list,
  tune,
});
