// What an approle mount stores (roles, the role-ID index, secret IDs and their accessors, the
// HMAC key) and how it is read back, checked and written. Callers hold the locks.
import { randomBytes } from 'node:crypto';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { isPlainObject } from '../../../sdk/json.js';
import { getJson, putJson, type Storage } from '../../../sdk/storage.js';
import type { KeyedMutex } from '../keyed-mutex.js';
import { readTokenSettings, type TokenSettings } from '../token-fields.js';
import {
  accessorFolder,
  accessorKey,
  HMAC_KEY,
  keyedHash,
  roleIdKey,
  roleKey,
  secretIdFolder,
  secretIdKey,
} from './keys.js';

/** Longest role name, role ID or secret ID accepted (Vault's HMAC input limit). */
export const MAX_ID_LENGTH = 4096;

const ROLE_NAME = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/;

export interface RoleEntry {
  /** Lowercase, as Vault stores new roles. */
  readonly name: string;
  /** Random per creation: secret IDs are filed under it (see keys.ts). */
  readonly uuid: string;
  /** SECURITY: half of the login credential; stored in the (encrypted) role entry only. */
  readonly roleId: string;
  readonly bindSecretId: boolean;
  readonly secretIdBoundCidrs: readonly string[];
  /** 0 = unlimited. */
  readonly secretIdNumUses: number;
  /** 0 = secret IDs do not expire. */
  readonly secretIdTtlSeconds: number;
  readonly localSecretIds: boolean;
  readonly token: TokenSettings;
}

export interface SecretIdEntry {
  readonly accessor: string;
  /** The uuid of the role that issued it (checked on every use). */
  readonly roleUuid: string;
  /** Uses left; 0 = unlimited. */
  readonly numUses: number;
  readonly ttlSeconds: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; 0 = never. */
  readonly expiresAt: number;
  readonly updatedAt: number;
  /** Copied into the login's metadata; never secrets. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly cidrList: readonly string[];
  readonly tokenBoundCidrs: readonly string[];
}

function corrupt(what: string): CofferError {
  return new CofferError('integrity_failure', `stored ${what} is malformed`);
}

/** The canonical (lowercase) role name; throws invalid_request if it cannot be one. */
export function roleNameOf(raw: string): string {
  const name = raw.trim().toLowerCase();
  if (name.length > MAX_ID_LENGTH || !ROLE_NAME.test(name)) {
    throw invalidField(
      'role_name',
      'must be letters, digits, "_", "-" and ".", starting and ending with a letter, digit or "_"',
    );
  }
  return name;
}

/** A role ID or secret ID as stored and compared: trimmed (as Vault trims them at login). */
export function credentialOf(raw: string, field: string): string {
  const value = raw.trim();
  if (value === '') throw invalidField(field, 'is required');
  if (value.length > MAX_ID_LENGTH) {
    throw invalidField(field, `must be at most ${MAX_ID_LENGTH} characters`);
  }
  return value;
}

/**
 * The mount's HMAC key. With `create`, makes it on first use (serialised through `mutex`);
 * without, returns undefined when there is none yet (no role was ever written).
 */
export async function hmacKey(
  storage: Storage,
  mutex: KeyedMutex,
  create: boolean,
): Promise<Uint8Array | undefined> {
  const read = async (): Promise<Uint8Array | undefined> => {
    const raw = await getJson<unknown>(storage, HMAC_KEY);
    if (raw === undefined) return undefined;
    if (!isPlainObject(raw) || typeof raw.key !== 'string') throw corrupt('HMAC key');
    const key = Buffer.from(raw.key, 'base64');
    if (key.length !== 32) throw corrupt('HMAC key');
    return key;
  };
  const existing = await read();
  if (existing !== undefined || !create) return existing;
  return mutex.run('hmac-key', async () => {
    const again = await read();
    if (again !== undefined) return again;
    const key = randomBytes(32);
    await putJson(storage, HMAC_KEY, { key: key.toString('base64') });
    return key;
  });
}

const isStringList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export async function readRole(storage: Storage, name: string): Promise<RoleEntry | undefined> {
  const raw = await getJson<unknown>(storage, roleKey(name));
  if (raw === undefined) return undefined;
  if (
    !isPlainObject(raw) ||
    raw.name !== name ||
    typeof raw.uuid !== 'string' ||
    typeof raw.roleId !== 'string' ||
    typeof raw.bindSecretId !== 'boolean' ||
    !isStringList(raw.secretIdBoundCidrs) ||
    !isCount(raw.secretIdNumUses) ||
    !isCount(raw.secretIdTtlSeconds) ||
    typeof raw.localSecretIds !== 'boolean'
  ) {
    throw corrupt('role');
  }
  return {
    name,
    uuid: raw.uuid,
    roleId: raw.roleId,
    bindSecretId: raw.bindSecretId,
    secretIdBoundCidrs: raw.secretIdBoundCidrs,
    secretIdNumUses: raw.secretIdNumUses,
    secretIdTtlSeconds: raw.secretIdTtlSeconds,
    localSecretIds: raw.localSecretIds,
    token: readTokenSettings(raw.token),
  };
}

/** The role a role ID logs in as, through the index. */
export async function roleByRoleId(
  storage: Storage,
  key: Uint8Array,
  roleId: string,
): Promise<RoleEntry | undefined> {
  const index = await getJson<unknown>(storage, roleIdKey(keyedHash(key, 'role-id', roleId)));
  if (index === undefined) return undefined;
  if (!isPlainObject(index) || typeof index.name !== 'string') throw corrupt('role ID index');
  const role = await readRole(storage, index.name);
  // The index and the role are written together; a mismatch means neither is trusted.
  return role !== undefined && role.roleId === roleId ? role : undefined;
}

/** The name the role-ID index maps `roleId` to, if any. */
export async function roleIdOwner(
  storage: Storage,
  key: Uint8Array,
  roleId: string,
): Promise<string | undefined> {
  const index = await getJson<unknown>(storage, roleIdKey(keyedHash(key, 'role-id', roleId)));
  if (index === undefined) return undefined;
  if (!isPlainObject(index) || typeof index.name !== 'string') throw corrupt('role ID index');
  return index.name;
}

function isStringMap(v: unknown): v is Record<string, string> {
  return isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

export function readSecretIdValue(raw: unknown): SecretIdEntry {
  if (
    !isPlainObject(raw) ||
    typeof raw.accessor !== 'string' ||
    typeof raw.roleUuid !== 'string' ||
    !isCount(raw.numUses) ||
    !isCount(raw.ttlSeconds) ||
    !isCount(raw.createdAt) ||
    !isCount(raw.expiresAt) ||
    !isCount(raw.updatedAt) ||
    !isStringMap(raw.metadata) ||
    !isStringList(raw.cidrList) ||
    !isStringList(raw.tokenBoundCidrs)
  ) {
    throw corrupt('secret ID');
  }
  return {
    accessor: raw.accessor,
    roleUuid: raw.roleUuid,
    numUses: raw.numUses,
    ttlSeconds: raw.ttlSeconds,
    createdAt: raw.createdAt,
    expiresAt: raw.expiresAt,
    updatedAt: raw.updatedAt,
    metadata: raw.metadata,
    cidrList: raw.cidrList,
    tokenBoundCidrs: raw.tokenBoundCidrs,
  };
}

/**
 * The secret ID filed under `role` with this HMAC. SECURITY: one filed under another role is
 * not found (it is in another folder, and its recorded role uuid must match too).
 */
export async function readSecretId(
  storage: Storage,
  role: RoleEntry,
  secretIdHmac: string,
): Promise<SecretIdEntry | undefined> {
  const raw = await getJson<unknown>(storage, secretIdKey(role.uuid, secretIdHmac));
  if (raw === undefined) return undefined;
  const entry = readSecretIdValue(raw);
  return entry.roleUuid === role.uuid ? entry : undefined;
}

/** The secret-ID HMAC an accessor of `role` points at. */
export async function secretIdHmacOfAccessor(
  storage: Storage,
  key: Uint8Array,
  role: RoleEntry,
  accessor: string,
): Promise<string | undefined> {
  const raw = await getJson<unknown>(
    storage,
    accessorKey(role.uuid, keyedHash(key, 'accessor', accessor)),
  );
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw) || typeof raw.secretIdHmac !== 'string') throw corrupt('accessor');
  return raw.secretIdHmac;
}

/** Removes a secret ID and its accessor in one commit. */
export async function deleteSecretId(
  storage: Storage,
  key: Uint8Array,
  role: RoleEntry,
  secretIdHmac: string,
  entry: SecretIdEntry,
): Promise<void> {
  await storage.batch([
    { op: 'delete', key: secretIdKey(role.uuid, secretIdHmac) },
    { op: 'delete', key: accessorKey(role.uuid, keyedHash(key, 'accessor', entry.accessor)) },
  ]);
}

/** Every key under a role's secret-ID and accessor folders (for deleting the role). */
export async function roleChildKeys(storage: Storage, roleUuid: string): Promise<string[]> {
  const out: string[] = [];
  for (const folder of [secretIdFolder(roleUuid), accessorFolder(roleUuid)]) {
    for (const name of await storage.list(folder)) {
      if (!name.endsWith('/')) out.push(`${folder}${name}`);
    }
  }
  return out;
}

/** Vault's time format: RFC 3339 with fractional seconds only as needed; 0 = Go's zero time. */
export function formatTime(epochMs: number): string {
  if (epochMs === 0) return '0001-01-01T00:00:00Z';
  return new Date(epochMs)
    .toISOString()
    .replace(/\.(\d*?)0*Z$/, (_m, digits: string) => (digits === '' ? 'Z' : `.${digits}Z`));
}
