// `sys/auth`: enabling, listing, tuning and disabling auth methods. Auth methods live in their
// own mount table and are routed under auth/; the token method is built in at auth/token/.
import type { MountInfo } from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import { parseFields, type FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { Caller } from './caller.js';
import { MOUNT_CONFIG_FIELDS, renderMount, stringOptions } from './mount-render.js';
import { normaliseMountPath, type MountTable } from './mount-table.js';

export interface AuthMountPathDeps {
  readonly authMounts: MountTable;
  readonly beforeUnmount: (info: MountInfo) => Promise<void>;
}

/** The built-in token method, listed as Vault lists it. */
function tokenMountEntry(): JsonObject {
  return {
    type: 'token',
    description: 'token based credentials',
    accessor: 'auth_token_00000000',
    uuid: '00000000-0000-0000-0000-000000000001',
    config: {
      default_lease_ttl: 0,
      max_lease_ttl: 0,
      force_no_cache: false,
      token_type: 'default-service',
    },
    options: null,
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
  };
}

/** Every auth method as `sys/auth` and the UI probe list them, keyed "userpass/". */
export function listAuthMounts(authMounts: MountTable): JsonObject {
  const data: JsonObject = { 'token/': tokenMountEntry() };
  for (const entry of authMounts.entries()) data[entry.path] = renderMount(authMounts, entry);
  return data;
}

function authPath(raw: string | undefined): string {
  const path = normaliseMountPath(raw ?? '');
  if (path === 'token/') throw invalidField('path', 'the token auth method is built in');
  return path;
}

export function authMountPaths(deps: AuthMountPathDeps): PathSpec<FieldSpecs, Caller>[] {
  const { authMounts } = deps;

  const list = definePath({
    pattern: 'auth',
    fields: {},
    help: 'Lists the enabled auth methods.',
    operations: {
      read: () => Promise.resolve({ kind: 'data', data: listAuthMounts(authMounts) }),
    },
  });

  const tune = definePath({
    pattern: 'auth/:path*/tune',
    fields: {
      path: { type: 'string', description: 'The auth mount path.' },
      description: { type: 'string', description: 'New description.' },
      default_lease_ttl: { type: 'duration', description: 'Default token TTL.' },
      max_lease_ttl: { type: 'duration', description: 'Maximum token TTL.' },
      options: { type: 'any', description: 'Method options.' },
    },
    help: 'Reads or changes the settings of an auth method.',
    operations: {
      read: (_req, _fields, params) => {
        const entry = authMounts.get(authPath(params.path));
        if (entry === undefined)
          throw new CofferError('invalid_request', 'no auth method at that path');
        const effective = authMounts.effectiveConfig(entry);
        return Promise.resolve({
          kind: 'data',
          data: {
            default_lease_ttl: effective.defaultLeaseTtlSeconds,
            max_lease_ttl: effective.maxLeaseTtlSeconds,
            force_no_cache: entry.config.forceNoCache,
            description: entry.description,
            options: Object.keys(entry.options).length === 0 ? null : { ...entry.options },
            token_type: 'default-service',
          },
        });
      },
      update: async (_req, fields, params) => {
        await authMounts.tune(authPath(params.path), {
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
    pattern: 'auth/:path*',
    fields: {
      path: { type: 'string', description: 'The auth mount path.' },
      type: { type: 'string', description: 'The auth method type, e.g. "userpass".' },
      description: { type: 'string', description: 'Free text.' },
      config: { type: 'map', description: 'default_lease_ttl, max_lease_ttl, force_no_cache.' },
      options: { type: 'any', description: 'Method options.' },
      local: { type: 'bool', description: 'Accepted for compatibility (single cluster).' },
      seal_wrap: { type: 'bool', description: 'Accepted for compatibility.' },
      plugin_name: { type: 'string', description: 'Deprecated alias of type.' },
      plugin_version: { type: 'string', description: 'Must be empty: built-in methods only.' },
      mount_point: {
        type: 'string',
        description: 'node-vault repeats the mount path in the body; it must equal the path.',
      },
    },
    help: 'Enables (POST), reads (GET) or disables (DELETE) an auth method at a path.',
    operations: {
      read: (_req, _fields, params) => {
        const entry = authMounts.get(authPath(params.path));
        if (entry === undefined) throw new CofferError('not_found', 'no auth method at that path');
        return Promise.resolve({ kind: 'data', data: renderMount(authMounts, entry) });
      },
      update: async (_req, fields, params) => {
        const path = authPath(params.path);
        if (
          fields.mount_point !== undefined &&
          normaliseMountPath(fields.mount_point, 'mount_point') !== path
        ) {
          throw invalidField('mount_point', 'does not match the mount path in the URL');
        }
        const type = fields.type ?? fields.plugin_name;
        if (type === undefined || type === '') throw invalidField('type', 'is required');
        if (fields.plugin_version !== undefined && fields.plugin_version !== '') {
          throw invalidField('plugin_version', 'external plugins are not supported');
        }
        const config = parseFields(MOUNT_CONFIG_FIELDS, fields.config ?? {});
        await authMounts.enable(path, {
          type,
          options: stringOptions(fields.options),
          ...(fields.description === undefined ? {} : { description: fields.description }),
          ...(config.default_lease_ttl === undefined
            ? {}
            : { defaultLeaseTtlSeconds: config.default_lease_ttl }),
          ...(config.max_lease_ttl === undefined
            ? {}
            : { maxLeaseTtlSeconds: config.max_lease_ttl }),
          ...(fields.local === undefined ? {} : { local: fields.local }),
          ...(fields.seal_wrap === undefined ? {} : { sealWrap: fields.seal_wrap }),
        });
        return { kind: 'empty' };
      },
      delete: async (_req, _fields, params) => {
        const path = authPath(params.path);
        // The tokens its logins issued are revoked with it (their leases live under it).
        const routed = authMounts.byPath(`auth/${path}`);
        if (routed !== undefined) await deps.beforeUnmount(routed.info);
        await authMounts.disable(path);
        return { kind: 'empty' };
      },
    },
  });

  return [list, tune, mount];
}
