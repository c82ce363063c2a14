// Storage keys of the userpass auth method, inside its mount's view. The one module that
// spells them.
import { createHash } from 'node:crypto';

/** `user/<canonical username>` → UserEntry (the name is validated before it becomes a key). */
export const USER_PREFIX = 'user/';

/** `lockout/<sha256 hex of the canonical username>` → LockoutState. */
export const LOCKOUT_PREFIX = 'lockout/';

export function userKey(canonical: string): string {
  return `${USER_PREFIX}${canonical}`;
}

/**
 * Hashed because a login names any string, existing user or not, and it must never shape a
 * storage key; the canonical form is hashed so every variant of a name shares one counter.
 */
export function lockoutKey(canonical: string): string {
  return `${LOCKOUT_PREFIX}${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

/** The scheduled job that drops lockout records whose windows have passed. */
export const LOCKOUT_SWEEP_JOB = 'lockout-sweep';
