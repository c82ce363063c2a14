// The `sys/` paths that go through the normal request pipeline (token, ACL, audit): mounts,
// mount tuning, the UI mount probe, key status and rotation. Built with the same path
// framework as every engine.
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import { parseFields, type FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { createContextPathEngine, definePath, type PathSpec } from '../sdk/path.js';
import type { Caller, InternalBackend } from './caller.js';
import type { MountInfo } from '../sdk/engine.js';
import {
  MOUNT_CONFIG_FIELDS,
  builtinMountEntries,
  renderMount,
  resolveType,
  stringOptions,
} from './mount-render.js';
import { normaliseMountPath, type MountTable } from './mount-table.js';
import { authMountPaths, listAuthMounts } from './system-auth.js';
import { auditPaths, type AuditPathDeps } from './audit/paths.js';
import { policyPaths, type PolicyPathDeps } from './system-policies.js';
import { leasePaths, type LeasePathDeps } from './system-leases.js';
import { toolPaths } from './system-tools.js';
import { wrappingPaths, type ResponseWrapper } from './wrapping.js';

export function createSystemBackend(
  deps: {
    mounts: MountTable;
    authMounts: MountTable;
    barrier: AesGcmBarrier;
    /** Revokes a mount's leases and drops its jobs before it is disabled. */
    beforeUnmount: (info: MountInfo) => Promise<void>;
  } & PolicyPathDeps &
    AuditPathDeps &
    LeasePathDeps & { wrapper: ResponseWrapper },
): InternalBackend {
  const { mounts, barrier } = deps;

  const listMounts = definePath({
    pattern: 'mounts',
    fields: {},
    help: 'Lists the mounted secret engines.',
    operations: {
      read: () => {
        const data: JsonObject = builtinMountEntries();
        for (const entry of mounts.entries()) data[entry.path] = renderMount(mounts, entry);
        return Promise.resolve({ kind: 'data', data });
      },
    },
  });

  const tune = definePath({
    pattern: 'mounts/:path*/tune',
    fields: {
      path: { type: 'string', description: 'The mount path.' },
      description: { type: 'string', description: 'New description.' },
      default_lease_ttl: { type: 'duration', description: 'Default lease TTL.' },
      max_lease_ttl: { type: 'duration', description: 'Maximum lease TTL.' },
      options: { type: 'any', description: 'Engine options, e.g. {"version":"2"}.' },
    },
    help: 'Reads or changes the settings of a mount.',
    operations: {
      read: (_req, _fields, params) => {
        const entry = mounts.get(normaliseMountPath(params.path ?? ''));
        if (entry === undefined) throw new CofferError('invalid_request', 'no mount at that path');
        const effective = mounts.effectiveConfig(entry);
        return Promise.resolve({
          kind: 'data',
          data: {
            default_lease_ttl: effective.defaultLeaseTtlSeconds,
            max_lease_ttl: effective.maxLeaseTtlSeconds,
            force_no_cache: entry.config.forceNoCache,
            description: entry.description,
            options: Object.keys(entry.options).length === 0 ? null : { ...entry.options },
          },
        });
      },
      update: async (_req, fields, params) => {
        await mounts.tune(params.path ?? '', {
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
    pattern: 'mounts/:path*',
    fields: {
      path: { type: 'string', description: 'The mount path.' },
      type: { type: 'string', description: 'The engine type, e.g. "kv" or "kv-v2".' },
      description: { type: 'string', description: 'Free text.' },
      config: { type: 'map', description: 'default_lease_ttl, max_lease_ttl, force_no_cache.' },
      options: { type: 'any', description: 'Engine options, e.g. {"version":"2"}.' },
      local: { type: 'bool', description: 'Accepted for compatibility (single cluster).' },
      seal_wrap: { type: 'bool', description: 'Accepted for compatibility.' },
      external_entropy_access: { type: 'bool', description: 'Accepted for compatibility.' },
      plugin_name: { type: 'string', description: 'Deprecated alias of type.' },
      plugin_version: { type: 'string', description: 'Must be empty: built-in engines only.' },
      mount_point: {
        type: 'string',
        description: 'node-vault repeats the mount path in the body; it must equal the path.',
      },
    },
    help: 'Enables (POST), reads (GET) or disables (DELETE) a secret engine at a path.',
    operations: {
      read: (_req, _fields, params) => {
        const entry = mounts.get(normaliseMountPath(params.path ?? ''));
        if (entry === undefined) throw new CofferError('not_found', 'no mount at that path');
        return Promise.resolve({ kind: 'data', data: renderMount(mounts, entry) });
      },
      update: async (_req, fields, params) => {
        if (
          fields.mount_point !== undefined &&
          normaliseMountPath(fields.mount_point, 'mount_point') !==
            normaliseMountPath(params.path ?? '')
        ) {
          throw invalidField('mount_point', 'does not match the mount path in the URL');
        }
        const rawType = fields.type ?? fields.plugin_name;
        if (rawType === undefined || rawType === '') throw invalidField('type', 'is required');
        if (fields.plugin_version !== undefined && fields.plugin_version !== '') {
          throw invalidField('plugin_version', 'external plugins are not supported');
        }
        const [type, options] = resolveType(rawType, stringOptions(fields.options));
        const config = parseFields(MOUNT_CONFIG_FIELDS, fields.config ?? {});
        await mounts.enable(params.path ?? '', {
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
        const path = normaliseMountPath(params.path ?? '');
        const routed = mounts.byPath(path);
        if (routed !== undefined) await deps.beforeUnmount(routed.info);
        await mounts.disable(path);
        return { kind: 'empty' };
      },
    },
  });

  const uiMounts = definePath({
    pattern: 'internal/ui/mounts/:path*',
    fields: { path: { type: 'string', description: 'Any path inside a mount.' } },
    help: 'Says which mount serves a path (the KV version probe of the Vault CLI and agents).',
    operations: {
      read: (_req, _fields, params) => {
        const path = params.path ?? '';
        if (path === '') {
          const secret: JsonObject = {};
          for (const entry of mounts.entries()) secret[entry.path] = renderMount(mounts, entry);
          return Promise.resolve({
            kind: 'data',
            data: { secret, auth: listAuthMounts(deps.authMounts) },
          });
        }
        const routed = mounts.route(path);
        if (routed === undefined) throw new CofferError('not_found', 'no mount serves that path');
        const entry = routed.mount.entry;
        return Promise.resolve({
          kind: 'data',
          data: { ...renderMount(mounts, entry), path: entry.path },
        });
      },
    },
  });

  const keyStatus = definePath({
    pattern: 'key-status',
    fields: {},
    help: 'The active encryption key term of the barrier.',
    operations: {
      read: () => {
        const status = barrier.keyStatus();
        return Promise.resolve({
          kind: 'data',
          data: {
            term: status.term,
            install_time: status.installTime,
            encryptions: status.encryptions,
          },
        });
      },
    },
  });

  const rotate = definePath({
    pattern: 'rotate',
    fields: {},
    help: 'Adds a new encryption key term; older terms stay readable.',
    operations: {
      update: async () => {
        await barrier.rotate();
        return { kind: 'empty' };
      },
    },
  });

  const rotateKeyring = definePath({ ...rotate, pattern: 'rotate/keyring' });

  const mountPaths: PathSpec<FieldSpecs, Caller>[] = [
    listMounts,
    tune,
    mount,
    uiMounts,
    keyStatus,
    rotate,
    rotateKeyring,
  ];
  return createContextPathEngine<Caller>([
    ...mountPaths,
    ...authMountPaths(deps),
    ...policyPaths(deps),
    ...auditPaths(deps),
    ...toolPaths(),
    ...leasePaths(deps),
    ...wrappingPaths(deps),
  ]);
}
