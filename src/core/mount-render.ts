// The Vault wire shape of mount entries (sys/mounts, sys/auth, the UI probe) and the small
// parsers both tables' enable endpoints share.
import { invalidField } from '../sdk/errors.js';
import type { FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import type { MountEntry, MountTable } from './mount-table.js';

export const MOUNT_CONFIG_FIELDS = {
  default_lease_ttl: { type: 'duration', description: 'Default lease TTL; 0 = system default.' },
  max_lease_ttl: { type: 'duration', description: 'Maximum lease TTL; 0 = system default.' },
  force_no_cache: { type: 'bool', description: 'Accepted for compatibility.' },
} as const satisfies FieldSpecs;

/** The Vault wire shape of a mount entry. */
export function renderMount(mounts: MountTable, entry: MountEntry): JsonObject {
  const effective = mounts.configuredConfig(entry);
  return {
    type: entry.type,
    description: entry.description,
    accessor: entry.accessor,
    uuid: entry.uuid,
    config: {
      default_lease_ttl: effective.defaultLeaseTtlSeconds,
      max_lease_ttl: effective.maxLeaseTtlSeconds,
      force_no_cache: entry.config.forceNoCache,
    },
    options: Object.keys(entry.options).length === 0 ? null : { ...entry.options },
    local: entry.local,
    seal_wrap: entry.sealWrap,
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
  };
}

/** The built-in mounts the core serves itself, listed as Vault lists them. */
export function builtinMountEntries(): JsonObject {
  const entry = (type: string, description: string, uuidSuffix: string, local: boolean) => ({
    type,
    description,
    accessor: `${type}_00000000`,
    uuid: `00000000-0000-0000-0000-00000000000${uuidSuffix}`,
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
    options: null,
    local,
    seal_wrap: type === 'system',
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
  });
  return {
    'cubbyhole/': entry('cubbyhole', 'per-token private secret storage', '2', true),
    'identity/': entry('identity', 'identity store', '3', false),
    'sys/': entry('system', 'system endpoints used for control, policy and debugging', '0', false),
  };
}

/** `type: "kv-v2"` is Vault's shorthand for kv with options.version=2. */
export function resolveType(
  type: string,
  options: Record<string, string>,
): [string, Record<string, string>] {
  if (type === 'kv-v2') return ['kv', { ...options, version: '2' }];
  if (type === 'kv-v1') return ['kv', { ...options, version: '1' }];
  // Vault's old name for KV version 1.
  if (type === 'generic') return ['kv', { version: '1', ...options }];
  return [type, options];
}

export function stringOptions(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw invalidField('options', 'must be an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else throw invalidField(`options.${k}`, 'must be a string');
  }
  return out;
}
