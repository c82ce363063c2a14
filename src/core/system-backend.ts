// The `sys/` paths that go through the normal request pipeline (token, ACL, audit): mounts,
// mount tuning, the UI mount probe, key status and rotation. Built with the same path
// framework as every engine.
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import type { FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { createContextPathEngine, definePath, type PathSpec } from '../sdk/path.js';
import type { Caller, InternalBackend } from './caller.js';
import type { MountInfo } from '../sdk/engine.js';
import { mountTablePaths } from './mount-paths.js';
import { builtinMountEntries, renderMount, resolveType } from './mount-render.js';
import { normaliseMountPath, type MountTable } from './mount-table.js';
import { authMountPaths, listAuthMounts } from './system-auth.js';
import { auditPaths, type AuditPathDeps } from './audit/paths.js';
import { auditLogViewPaths } from './audit/log-view.js';
import { policyPaths, type PolicyPathDeps } from './system-policies.js';
import { leasePaths, type LeasePathDeps } from './system-leases.js';
import { toolPaths } from './system-tools.js';
import { uiPaths } from './system-ui.js';
import { doorCredentialPaths, type DoorCredentialPathDeps } from './system-door-credentials.js';
import { wrappingPaths, type ResponseWrapper } from './wrapping.js';

export function createSystemBackend(
  deps: {
    mounts: MountTable;
    authMounts: MountTable;
    barrier: AesGcmBarrier;
    /** The storage snapshot (ciphertext entries), when the physical backend can make one. */
    snapshot?: (() => Promise<Buffer>) | undefined;
    /** Revokes a mount's leases and drops its jobs before it is disabled. */
    beforeUnmount: (info: MountInfo) => Promise<void>;
  } & PolicyPathDeps &
    AuditPathDeps &
    LeasePathDeps & { wrapper: ResponseWrapper } & DoorCredentialPathDeps,
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

  const [tune, mount] = mountTablePaths({
    table: mounts,
    prefix: 'mounts',
    what: 'secret engine',
    pathOf: (raw) => normaliseMountPath(raw ?? ''),
    resolveType,
    beforeUnmount: deps.beforeUnmount,
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

  // The HTTP layer renders the metrics; this path is what policies grant and audit records
  // (a token needs `read` on sys/metrics unless the server allows unauthenticated scrapes).
  const metrics = definePath({
    pattern: 'metrics',
    fields: { format: { type: 'string', description: '"prometheus" for the text format.' } },
    help: "The server's metrics (rendered by the HTTP layer).",
    operations: { read: () => Promise.resolve({ kind: 'empty' }) },
  });

  /**
   * `sys/remount` (sudo): moves a secret engine, or an auth method (both paths under
   * `auth/`). Data stays (same storage view); leases under the old path are revoked first, as
   * Vault does; policies are not rewritten: rules naming the old path stop matching it.
   */
  const remount = definePath({
    pattern: 'remount',
    fields: {
      from: { type: 'string', description: 'The current mount path.', required: true },
      to: { type: 'string', description: 'The new mount path.', required: true },
    },
    help: 'Moves a mount to a new path, keeping its data; its leases are revoked.',
    operations: {
      update: async (_req, fields) => {
        const from = fields.from ?? '';
        const to = fields.to ?? '';
        if (from !== from.trim() || to !== to.trim()) {
          throw invalidField('from', "'from' and 'to' may not have leading or trailing spaces");
        }
        const fromAuth = from.startsWith('auth/');
        if (fromAuth !== to.startsWith('auth/')) {
          throw invalidField(
            'to',
            fromAuth
              ? 'cannot remount auth mount to non-auth mount'
              : 'cannot remount non-auth mount to auth mount',
          );
        }
        const table = fromAuth ? deps.authMounts : mounts;
        const strip = (p: string) => (fromAuth ? p.slice('auth/'.length) : p);
        const source = table.get(normaliseMountPath(strip(from), 'from'));
        if (source === undefined) {
          throw new CofferError('invalid_request', `no matching mount at "${from}"`, {
            field: 'from',
          });
        }
        await deps.leases.revokePrefix(`${fromAuth ? 'auth/' : ''}${source.path}`);
        const moved = await table.move(strip(from), strip(to));
        return { kind: 'data', data: { migration_id: moved.uuid } };
      },
    },
  });

  // Vault's path for a storage snapshot; the body is JSON (base64 of the snapshot file), see
  // docs/adr/0006-snapshots.md. Needs sudo (sudo-paths.ts).
  const snapshot = definePath({
    pattern: 'storage/raft/snapshot',
    fields: {},
    help: 'A consistent snapshot of the storage: every entry as stored (ciphertext).',
    operations: {
      read: async () => {
        if (deps.snapshot === undefined) {
          throw new CofferError(
            'unsupported_operation',
            'this storage backend cannot take snapshots',
          );
        }
        const bytes = await deps.snapshot();
        return { kind: 'data', data: { snapshot: bytes.toString('base64'), size: bytes.length } };
      },
    },
  });

  const mountPaths: PathSpec<FieldSpecs, Caller>[] = [
    listMounts,
    tune,
    mount,
    uiMounts,
    keyStatus,
    rotate,
    rotateKeyring,
    metrics,
    remount,
    snapshot,
  ];
  return createContextPathEngine<Caller>([
    ...mountPaths,
    ...authMountPaths(deps),
    ...policyPaths(deps),
    ...auditPaths(deps),
    ...auditLogViewPaths(deps),
    ...uiPaths(deps),
    ...toolPaths(),
    ...leasePaths(deps),
    ...wrappingPaths(deps),
    ...doorCredentialPaths(deps),
  ]);
}
