// What the database engine's paths and lease hooks share for the life of one mount: the open
// drivers and the per-role rotation lock. Plus the small checks several paths make.
import { invalidField } from '../../sdk/errors.js';
import type { MountConfig } from '../../sdk/engine.js';
import { globListContains, KeyedLock } from './common.js';
import type { Connections } from './connections.js';
import type { ConnectionRecord } from './records.js';

export interface EngineState {
  readonly connections: Connections;
  /** Per static role name: rotations and writes of one static role never overlap. */
  readonly staticLock: KeyedLock;
}

export function newEngineState(connections: Connections): EngineState {
  return { connections, staticLock: new KeyedLock() };
}

/** Vault: a role may use a connection only if allowed_roles names it (globs allowed). */
export function checkAllowedRole(connection: ConnectionRecord, role: string): void {
  if (!globListContains(connection.allowedRoles, role)) {
    throw invalidField(
      'allowed_roles',
      `connection "${connection.name}" does not allow role "${role}"`,
    );
  }
}

/**
 * A lease's life in whole seconds: the role's default (else the mount's), capped by the
 * role's max_ttl (else the mount's maximum) and the mount's maximum.
 */
export function leaseTtlSeconds(
  mount: MountConfig,
  defaultTtlSeconds: number,
  maxTtlSeconds: number,
): { ttlSeconds: number; maxTtlSeconds: number } {
  const mountMax =
    mount.maxLeaseTtlSeconds > 0 ? mount.maxLeaseTtlSeconds : Number.MAX_SAFE_INTEGER;
  const max = Math.min(maxTtlSeconds > 0 ? maxTtlSeconds : mountMax, mountMax);
  const ttl = defaultTtlSeconds > 0 ? defaultTtlSeconds : mount.defaultLeaseTtlSeconds;
  return { ttlSeconds: Math.min(ttl > 0 ? ttl : max, max), maxTtlSeconds: max };
}
