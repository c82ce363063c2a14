// The enable/read/disable and tune endpoints of a mount table, shared by sys/mounts (secret
// engines) and sys/auth (auth methods): the two differ only in names, type aliases, the
// paths they refuse, and what a tune read adds.
import type { MountInfo } from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import { parseFields, type FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { Caller } from './caller.js';
import { MOUNT_CONFIG_FIELDS, renderMount, stringOptions } from './mount-render.js';
import { normaliseMountPath, type MountTable } from './mount-table.js';

export interface MountTablePathOptions {
  readonly table: MountTable;
  /** The sys/ prefix: "mounts" or "auth". */
  readonly prefix: string;
  /** "secret engine" or "auth method", for help and error texts. */
  readonly what: string;
  /** Normalises (and may refuse) the path in the URL. */
  readonly pathOf: (raw: string | undefined) => string;
  /** Type aliases such as kv-v2 → kv with options.version=2. */
  readonly resolveType: (
    type: string,
    options: Record<string, string>,
  ) => [string, Record<string, string>];
  /** Extra keys of a tune read (sys/auth adds token_type). */
  readonly tuneExtras?: JsonObject;
  /** Revokes the mount's leases (and with them an auth method's tokens) first. */
  readonly beforeUnmount: (info: MountInfo) => Promise<void>;
}

/** `[tune, mount]`: tune first, since the mount pattern would also match `…/tune`. */
export function mountTablePaths(
  o: MountTablePathOptions,
): [PathSpec<FieldSpecs, Caller>, PathSpec<FieldSpecs, Caller>] {
  const { table } = o;

  const tune = definePath({
    pattern: `${o.prefix}/:path*/tune`,
    fields: {
      path: { type: 'string', description: 'The mount path.' },
      description: { type: 'string', description: 'New description.' },
      default_lease_ttl: { type: 'duration', description: 'Default lease TTL.' },
      max_lease_ttl: { type: 'duration', description: 'Maximum lease TTL.' },
      options: { type: 'any', description: 'Options, e.g. {"version":"2"}.' },
    },
    help: `Reads or changes the settings of a ${o.what}.`,
    operations: {
      read: (_req, _fields, params) => {
        const entry = table.get(o.pathOf(params.path));
        if (entry === undefined) {
          throw new CofferError('invalid_request', `no ${o.what} at that path`);
        }
        const effective = table.configuredConfig(entry);
        return Promise.resolve({
          kind: 'data',
          data: {
            default_lease_ttl: effective.defaultLeaseTtlSeconds,
            max_lease_ttl: effective.maxLeaseTtlSeconds,
            force_no_cache: entry.config.forceNoCache,
            description: entry.description,
            options: Object.keys(entry.options).length === 0 ? null : { ...entry.options },
            ...o.tuneExtras,
          },
        });
      },
      update: async (_req, fields, params) => {
        await table.tune(o.pathOf(params.path), {
          ...(fields.description === undefined ? {} : { description: fields.description }),
          ...(fields.default_lease_ttl === undefined
            ? {}
            : { defaultLeaseTtlSeconds: fields.default_lease_ttl }),
          ...(fields.max_lease_ttl === undefined
            ? {}
            : { maxLeaseTtlSeconds: fields.max_lease_ttl }),
          ...(fields.options === undefined ? {} : { options: stringOptions(fields.options) }),
        });
        return { kind: 'empty' };
      },
    },
  });

  const mount = definePath({
    pattern: `${o.prefix}/:path*`,
    fields: {
      path: { type: 'string', description: 'The mount path.' },
      type: { type: 'string', description: `The ${o.what} type.` },
      description: { type: 'string', description: 'Free text.' },
      config: { type: 'map', description: 'default_lease_ttl, max_lease_ttl, force_no_cache.' },
      options: { type: 'any', description: 'Options, e.g. {"version":"2"}.' },
      local: { type: 'bool', description: 'Accepted for compatibility (single cluster).' },
      seal_wrap: { type: 'bool', description: 'Accepted for compatibility.' },
      external_entropy_access: { type: 'bool', description: 'Accepted for compatibility.' },
      plugin_name: { type: 'string', description: 'Deprecated alias of type.' },
      plugin_version: { type: 'string', description: 'Must be empty: built-in only.' },
      mount_point: {
        type: 'string',
        description: 'node-vault repeats the mount path in the body; it must equal the path.',
      },
    },
    help: `Enables (POST), reads (GET) or disables (DELETE) a ${o.what} at a path.`,
    operations: {
      read: (_req, _fields, params) => {
        const entry = table.get(o.pathOf(params.path));
        if (entry === undefined) throw new CofferError('not_found', `no ${o.what} at that path`);
        return Promise.resolve({ kind: 'data', data: renderMount(table, entry) });
      },
      update: async (_req, fields, params) => {
        const path = o.pathOf(params.path);
        if (
          fields.mount_point !== undefined &&
          normaliseMountPath(fields.mount_point, 'mount_point') !== path
        ) {
          throw invalidField('mount_point', 'does not match the mount path in the URL');
        }
        const rawType = fields.type ?? fields.plugin_name;
        if (rawType === undefined || rawType === '') throw invalidField('type', 'is required');
        if (fields.plugin_version !== undefined && fields.plugin_version !== '') {
          throw invalidField('plugin_version', 'external plugins are not supported');
        }
        const [type, options] = o.resolveType(rawType, stringOptions(fields.options));
        const config = parseFields(MOUNT_CONFIG_FIELDS, fields.config ?? {});
        await table.enable(path, {
          type,
          options,
          ...(fields.description === undefined ? {} : { description: fields.description }),
          ...(config.default_lease_ttl === undefined
            ? {}
            : { defaultLeaseTtlSeconds: config.default_lease_ttl }),
          ...(config.max_lease_ttl === undefined
            ? {}
            : { maxLeaseTtlSeconds: config.max_lease_ttl }),
          ...(config.force_no_cache === undefined ? {} : { forceNoCache: config.force_no_cache }),
          ...(fields.local === undefined ? {} : { local: fields.local }),
          ...(fields.seal_wrap === undefined ? {} : { sealWrap: fields.seal_wrap }),
        });
        return { kind: 'empty' };
      },
      delete: async (_req, _fields, params) => {
        const path = o.pathOf(params.path);
        const routed = table.byPath(`${table.kind === 'auth' ? 'auth/' : ''}${path}`);
        if (routed !== undefined) await o.beforeUnmount(routed.info);
        await table.disable(path);
        return { kind: 'empty' };
      },
    },
  });

  return [tune, mount];
}
