// What the database engine keeps in its mount's storage view, under which keys, and the
// shapes of the lease and write-ahead data it hands to the core. The only module that
// names storage keys.
import { CofferError } from '../../sdk/errors.js';
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import { getJson, putJson, type Storage } from '../../sdk/storage.js';
import { isPluginName, type PluginName } from '../../shared/db/driver.js';

/**
 * Storage keys inside the mount's view. Names are validated (checkName) before they get
 * here, so they hold no '/'; usernames are URI-encoded because templates may produce '/'.
 */
export const KEYS = {
  connectionPrefix: 'config/',
  connection: (name: string) => `config/${name}`,
  /** A deleted connection kept (with its credentials) until its last lease is revoked. */
  retiredConnection: (id: string) => `retired-config/${id}`,
  rolePrefix: 'role/',
  role: (name: string) => `role/${name}`,
  staticRolePrefix: 'static-role/',
  staticRole: (name: string) => `static-role/${name}`,
  /** One entry per live dynamic user of a connection (by connection id). */
  userPrefix: (connectionId: string) => `user/${connectionId}/`,
  user: (connectionId: string, username: string) =>
    `user/${connectionId}/${encodeURIComponent(username)}`,
} as const;

/** Scheduled-job names (see Schedule): `static-role/<name>` rotates a static role. */
export const JOB_PREFIX = 'static-role/';

/** A connection (config/:name). Stored behind the barrier, password included. */
export interface ConnectionRecord {
  readonly name: string;
  /** Random, fixed for the connection's life; leases and users refer to it. */
  readonly id: string;
  /** Random, new on every write: a cached driver with another version is reopened. */
  readonly version: string;
  readonly pluginName: PluginName;
  readonly verifyConnection: boolean;
  readonly allowedRoles: readonly string[];
  readonly rootRotationStatements: readonly string[];
  /** The plugin's fields by Vault's names (connection_url, username, password, host, ...). */
  readonly details: JsonObject;
  /**
   * A new root password being set by rotate-root. Written before the database changes, so
   * after a crash mid-rotation the engine can still connect (it tries this one when the
   * stored password is refused).
   */
  readonly pendingRootPassword?: string;
}

/** A dynamic role (roles/:name). */
export interface RoleRecord {
  readonly dbName: string;
  /** 0 = the mount's default. */
  readonly defaultTtlSeconds: number;
  /** 0 = the mount's maximum. */
  readonly maxTtlSeconds: number;
  readonly creationStatements: readonly string[];
  readonly revocationStatements: readonly string[];
  readonly rollbackStatements: readonly string[];
  readonly renewStatements: readonly string[];
}

/** A static role (static-roles/:name) and its current password. */
export interface StaticRoleRecord {
  readonly dbName: string;
  readonly username: string;
  readonly rotationPeriodSeconds: number;
  readonly rotationStatements: readonly string[];
  readonly password: string;
  /** Epoch ms of the last successful rotation. */
  readonly lastRotatedAt: number;
  /**
   * The password a rotation is setting, stored before the database changes; a retry after a
   * failure or crash sets this same password, so the stored one is never lost.
   */
  readonly pendingPassword?: string;
}

export async function loadConnection(
  storage: Storage,
  name: string,
): Promise<ConnectionRecord | undefined> {
  const record = await getJson<ConnectionRecord>(storage, KEYS.connection(name));
  if (record !== undefined && !isPluginName(record.pluginName)) {
    throw new CofferError('integrity_failure', 'stored connection has an unknown plugin');
  }
  return record;
}

/** The connection a role names; refuses a missing one as a bad db_name. */
export async function requireConnection(
  storage: Storage,
  dbName: string,
): Promise<ConnectionRecord> {
  const record = await loadConnection(storage, dbName);
  if (record === undefined) {
    throw new CofferError('invalid_request', `db_name: connection "${dbName}" does not exist`, {
      field: 'db_name',
    });
  }
  return record;
}

export async function saveConnection(storage: Storage, record: ConnectionRecord): Promise<void> {
  await putJson(storage, KEYS.connection(record.name), record);
}

export async function loadRole(storage: Storage, name: string): Promise<RoleRecord | undefined> {
  return getJson<RoleRecord>(storage, KEYS.role(name));
}

export async function loadStaticRole(
  storage: Storage,
  name: string,
): Promise<StaticRoleRecord | undefined> {
  return getJson<StaticRoleRecord>(storage, KEYS.staticRole(name));
}

/**
 * The connection a lease or write-ahead entry was issued through: the live one if it is
 * still the same connection (same id), else the retired copy kept when it was deleted.
 */
export async function connectionById(
  storage: Storage,
  name: string,
  id: string,
): Promise<ConnectionRecord | undefined> {
  const live = await loadConnection(storage, name);
  if (live?.id === id) return live;
  return getJson<ConnectionRecord>(storage, KEYS.retiredConnection(id));
}

// ---- lease and write-ahead data ------------------------------------------------------

/** Which generated user a lease or write-ahead entry is about. */
export interface UserRef {
  readonly username: string;
  readonly dbName: string;
  readonly connectionId: string;
  readonly role: string;
}

/** `internal` of a creds lease: enough to revoke or renew without the role. */
export interface LeaseData extends UserRef {
  readonly revocationStatements: readonly string[];
  readonly renewStatements: readonly string[];
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
}

/** `data` of a "user" write-ahead entry: enough to drop a user whose lease never existed. */
export interface UserWalData extends UserRef {
  readonly rollbackStatements: readonly string[];
}

function userRefJson(data: UserRef): JsonObject {
  return {
    username: data.username,
    db_name: data.dbName,
    connection_id: data.connectionId,
    role: data.role,
  };
}

export function leaseDataJson(data: LeaseData): JsonObject {
  return {
    ...userRefJson(data),
    revocation_statements: [...data.revocationStatements],
    renew_statements: [...data.renewStatements],
    default_ttl: data.defaultTtlSeconds,
    max_ttl: data.maxTtlSeconds,
  };
}

export function userWalJson(data: UserWalData): JsonObject {
  return { ...userRefJson(data), rollback_statements: [...data.rollbackStatements] };
}

function malformed(what: string): CofferError {
  return new CofferError('internal', `${what} is malformed`);
}

function field(obj: Record<string, JsonValue>, key: string, what: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw malformed(what);
  return v;
}

function list(obj: Record<string, JsonValue>, key: string): string[] {
  const v = obj[key];
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

function int(obj: Record<string, JsonValue>, key: string): number {
  const v = obj[key];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

function asObject(value: JsonValue, what: string): Record<string, JsonValue> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(what);
  return value;
}

function parseUserRef(obj: Record<string, JsonValue>, what: string): UserRef {
  return {
    username: field(obj, 'username', what),
    dbName: field(obj, 'db_name', what),
    connectionId: field(obj, 'connection_id', what),
    role: field(obj, 'role', what),
  };
}

export function parseLeaseData(value: JsonValue): LeaseData {
  const what = 'lease internal data';
  const obj = asObject(value, what);
  return {
    ...parseUserRef(obj, what),
    revocationStatements: list(obj, 'revocation_statements'),
    renewStatements: list(obj, 'renew_statements'),
    defaultTtlSeconds: int(obj, 'default_ttl'),
    maxTtlSeconds: int(obj, 'max_ttl'),
  };
}

export function parseUserWal(value: JsonValue): UserWalData {
  const what = 'write-ahead entry';
  const obj = asObject(value, what);
  return { ...parseUserRef(obj, what), rollbackStatements: list(obj, 'rollback_statements') };
}

/** The record with no pending root password (a rotate-root settled). */
export function settledConnection(record: ConnectionRecord): ConnectionRecord {
  return {
    name: record.name,
    id: record.id,
    version: record.version,
    pluginName: record.pluginName,
    verifyConnection: record.verifyConnection,
    allowedRoles: record.allowedRoles,
    rootRotationStatements: record.rootRotationStatements,
    details: record.details,
  };
}

/** The static role with no pending password (a rotation settled). */
export function settledStaticRole(role: StaticRoleRecord): StaticRoleRecord {
  return {
    dbName: role.dbName,
    username: role.username,
    rotationPeriodSeconds: role.rotationPeriodSeconds,
    rotationStatements: role.rotationStatements,
    password: role.password,
    lastRotatedAt: role.lastRotatedAt,
  };
}
