// Storage keys of the approle auth method, inside its mount's view, and the keyed hashes that
// stand in for secrets in them. The one module that spells them.
import { createHmac } from 'node:crypto';

/** The mount's random HMAC key (32 bytes, base64); created with the first role. */
export const HMAC_KEY = 'config/hmac-key';

/** `role/<lowercase role name>` → RoleEntry. */
export const ROLE_PREFIX = 'role/';

/** `role-id/<hmac of the role ID>` → { name }: the login index. */
export const ROLE_ID_PREFIX = 'role-id/';

/**
 * `secret-id/<role uuid>/<hmac of the secret ID>` → SecretIdEntry. Filed under the role's
 * random uuid (new for every creation of a name), so a secret ID can only ever be found
 * through the role that issued it, and never through a later role of the same name.
 */
export const SECRET_ID_PREFIX = 'secret-id/';

/** `accessor/<role uuid>/<hmac of the accessor>` → { secretIdHmac }. */
export const ACCESSOR_PREFIX = 'accessor/';

/** The scheduled job that removes expired secret IDs. */
export const TIDY_JOB = 'tidy-secret-ids';

export function roleKey(name: string): string {
  return `${ROLE_PREFIX}${name}`;
}

export function roleIdKey(roleIdHmac: string): string {
  return `${ROLE_ID_PREFIX}${roleIdHmac}`;
}

export function secretIdFolder(roleUuid: string): string {
  return `${SECRET_ID_PREFIX}${roleUuid}/`;
}

export function secretIdKey(roleUuid: string, secretIdHmac: string): string {
  return `${secretIdFolder(roleUuid)}${secretIdHmac}`;
}

export function accessorFolder(roleUuid: string): string {
  return `${ACCESSOR_PREFIX}${roleUuid}/`;
}

export function accessorKey(roleUuid: string, accessorHmac: string): string {
  return `${accessorFolder(roleUuid)}${accessorHmac}`;
}

/** What a keyed hash is of; part of its input, so a hash of one kind never matches another. */
export type HmacDomain = 'role-id' | 'secret-id' | 'accessor';

/**
 * HMAC-SHA256 (hex) under the mount's key. SECURITY: role IDs, secret IDs and accessors reach
 * storage only in this form; a copy of storage does not give a credential back.
 */
export function keyedHash(key: Uint8Array, domain: HmacDomain, value: string): string {
  return createHmac('sha256', key).update(`${domain}\u0000${value}`, 'utf8').digest('hex');
}
