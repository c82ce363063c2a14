// The server configuration: reads a Vault-style HCL (or JSON) file, applies COFFER_* environment
// overrides and returns one deep-frozen ServerConfig. main.ts injects the text and the env.
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_PLAINTEXT_LIFETIME_MS } from '../barrier/aes-gcm-barrier.js';
import { parseDurationSeconds } from '../sdk/duration.js';
import { CofferError, isCofferError } from '../sdk/errors.js';
import { isHclBody, parseHcl } from '../shared/hcl.js';
import type { HclBody, HclItem, HclValue } from '../shared/hcl.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type StorageConfig =
  | {
      readonly type: 'sqlite';
      readonly path: string;
      readonly synchronous: 'full' | 'normal';
      readonly groupCommit: boolean;
    }
  | {
      readonly type: 'postgresql';
      /** Holds the database password: never log it or put it in an error. */
      readonly connectionUrl: string;
      readonly table: string;
      readonly haTable: string;
      readonly haEnabled: boolean;
      readonly groupCommit: boolean;
    }
  | { readonly type: 'inmem' };

/** What a standby does with a client request: proxy it to the active node, or answer 307. */
export type StandbyMode = 'forward' | 'redirect';

export interface ListenerConfig {
  /** host:port; the host is an IPv4 address, a name or a bracketed IPv6 address. */
  readonly address: string;
  readonly tlsDisable: boolean;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly maxRequestSizeBytes: number;
  /** Only the limits the file sets; the listener's defaults fill in the rest. */
  readonly connectionLimits?: ListenerConnectionLimits;
}

/** Vault's `http_*_timeout` options (0 = no limit) and `max_connections` (0 = no cap). */
export interface ListenerConnectionLimits {
  readonly readHeaderTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly writeTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly maxConnections?: number;
}

/** Listener options read as durations, and the limit each one sets. */
const LISTENER_TIMEOUTS = {
  http_read_header_timeout: 'readHeaderTimeoutMs',
  http_read_timeout: 'readTimeoutMs',
  http_write_timeout: 'writeTimeoutMs',
  http_idle_timeout: 'idleTimeoutMs',
} as const;
const MAX_CONNECTIONS_LIMIT = 1_000_000;

/**
 * Unattended auto-unseal with a key kept outside the store: weaker than Shamir, since whoever
 * reads the key file (or the process environment) can unseal. Exactly one source is set.
 */
export interface SealConfig {
  readonly type: 'static';
  readonly keyFile?: string;
  /** The NAME of an environment variable holding the key (base64, 32 bytes), never the key. */
  readonly keyEnv?: string;
}

export interface ServerConfig {
  readonly storage: StorageConfig;
  readonly listener: ListenerConfig;
  readonly seal?: SealConfig;
  readonly apiAddr?: string;
  /** Vault's cluster_addr: accepted and reported in sys/leader (no cluster port is opened). */
  readonly clusterAddr?: string;
  /** HA only: how standbys handle client requests (`ha_standby_mode`, default forward). */
  readonly standbyMode: StandbyMode;
  readonly logLevel: LogLevel;
  readonly defaultLeaseTtlSeconds: number;
  readonly maxLeaseTtlSeconds: number;
  /**
   * `plaintext_cache_lifetime`: how long a value read again may be served decrypted from
   * memory (0 = decrypt on every read); see docs/configuration.md.
   */
  readonly plaintextCacheLifetimeSeconds: number;
  readonly ui: boolean;
  /**
   * The aws-sm mount the AWS Secrets Manager door (`POST /`) serves ("aws/" by default);
   * undefined when `aws_mount = ""` turns the door off.
   */
  readonly awsMount?: string;
  /** `telemetry { unauthenticated_metrics_access = true }`: sys/metrics needs no token. */
  readonly unauthenticatedMetricsAccess?: boolean;
  /**
   * The Google Secret Manager door (`gcp_door { ... }`): its gcp-sm mount and its OWN
   * listeners, REST and optionally gRPC (docs/adr/0007-google-door.md); absent = off.
   */
  readonly gcpDoor?: GcpDoorConfig;
}

export interface GcpDoorConfig {
  /** The gcp-sm mount the door serves ("gcp/"). */
  readonly mount: string;
  /** host:port of the REST listener (same TLS settings as the main listener). */
  readonly restAddress: string;
  /** host:port of the gRPC listener; absent = no gRPC. */
  readonly grpcAddress?: string;
}

/** Where the Google door looks for its mount unless `gcp_door.mount` says otherwise. */
export const DEFAULT_GCP_MOUNT = 'gcp/';

/** Where the AWS door looks for its mount unless `aws_mount` says otherwise. */
export const DEFAULT_AWS_MOUNT = 'aws/';

/** Why an `aws_mount` value makes no sense, or undefined. */
export function awsMountProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/$/.test(value)) {
    return 'must be a mount path such as "aws/" (ending in "/"), or "" to turn the door off';
  }
  if (/^(sys|auth|cubbyhole|identity)\//.test(value)) {
    return 'must not be a reserved path (sys/, auth/, cubbyhole/, identity/)';
  }
  return undefined;
}

export interface ServerConfigOptions {
  /** Directory that relative file paths in the file resolve against (the file's directory). */
  readonly baseDir?: string | undefined;
}

/** Vault's default for both lease TTLs: 32 days. */
export const DEFAULT_LEASE_TTL_SECONDS = 2_764_800;
/** `plaintext_cache_lifetime`: the barrier's default, and the most it may be. */
export const DEFAULT_PLAINTEXT_CACHE_SECONDS = DEFAULT_PLAINTEXT_LIFETIME_MS / 1000;
const MAX_PLAINTEXT_CACHE_SECONDS = 3_600;
export const DEFAULT_MAX_REQUEST_SIZE_BYTES = 32 * 1024 * 1024;
/** Upper bound for max_request_size; Vault's "negative disables the limit" is not supported. */
export const MAX_REQUEST_SIZE_LIMIT_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_LISTEN_ADDRESS = '127.0.0.1:8200';
/** Vault's tables are vault_kv_store / vault_ha_locks; Coffer's layout differs, so its names do. */
export const DEFAULT_PG_TABLE = 'coffer_kv_store';
export const DEFAULT_PG_HA_TABLE = 'coffer_ha_locks';
/** Read when the postgresql block names no connection_url (Vault: VAULT_PG_CONNECTION_URL). */
export const DEFAULT_PG_URL_ENV = 'COFFER_PG_CONNECTION_URL';

/**
 * Parses a server config file and applies environment overrides. Errors are
 * CofferError('invalid_request', '<line>:<col>: <key>: <why>') for the file and
 * '<VARIABLE>: <why>' for the environment; neither ever echoes a value.
 *
 * File keys: `storage "sqlite" { path, synchronous = "full"|"normal", group_commit }`,
 * `storage "postgresql" { connection_url | connection_url_env, table, ha_enabled, ha_table,
 * group_commit }` or `storage "inmem" {}` (exactly one); `cluster_addr`, `ha_standby_mode`; `listener "tcp" { address, tls_disable, tls_cert_file,
 * tls_key_file, max_request_size }` (exactly one); optional `seal "static" { key_file | key_env }`;
 * `api_addr`, `log_level`, `default_lease_ttl`, `max_lease_ttl`, `plaintext_cache_lifetime`
 * (0 to 1h, default 30s), `ui`, and `disable_mlock`
 * (accepted and ignored). Booleans also take Vault's spellings: `"true"`, `"false"`, `1`, `0`.
 * Relative file paths in the file resolve against `options.baseDir` (left as written without it).
 *
 * Environment overrides, applied after the file (an empty value counts as unset):
 *
 * | variable                | overrides                   | notes                                      |
 * |-------------------------|-----------------------------|--------------------------------------------|
 * | `COFFER_STORAGE_PATH`   | `storage "sqlite"` `path`   | error if the storage is not sqlite         |
 * | `COFFER_LISTEN_ADDRESS` | `listener` `address`        | host:port                                  |
 * | `COFFER_LOG_LEVEL`      | `log_level`                 | trace, debug, info, warn, error, fatal     |
 * | `COFFER_API_ADDR`       | `api_addr`                  | http:// or https:// URL                    |
 * | `COFFER_TLS_DISABLE`    | `listener` `tls_disable`    | true/false/1/0                             |
 * | `COFFER_SEAL_KEY_FILE`  | `seal "static"` `key_file`  | enables the static seal; replaces key_env  |
 *
 * Paths from the environment are used as given (relative to the working directory).
 */
export function parseServerConfig(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  options: ServerConfigOptions = {},
): ServerConfig {
  const draft = readFile(parseHcl(text), options.baseDir);
  applyEnvironment(draft, env);
  return deepFreeze(finish(draft));
}

/** `coffer operator migrate -config FILE`: where to copy the store from and to. */
export interface MigrationConfig {
  readonly source: StorageConfig;
  readonly destination: StorageConfig;
}

/**
 * Parses Vault's migration file: `storage_source "<type>" { ... }` and
 * `storage_destination "<type>" { ... }`, each taking the same settings as `storage`.
 * A postgresql block without connection_url reads its connection_url_env variable.
 */
export function parseMigrationConfig(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  options: ServerConfigOptions = {},
): MigrationConfig {
  const found = new Map<string, StorageDraft>();
  for (const item of parseHcl(text).items) {
    if (item.key !== 'storage_source' && item.key !== 'storage_destination') {
      throw configError(
        item,
        item.key,
        'unknown key (expected one of: storage_source, storage_destination)',
      );
    }
    if (found.has(item.key)) throw configError(item, item.key, 'is set more than once');
    found.set(item.key, readStorage(item, options.baseDir));
  }
  const finishOne = (key: string): StorageConfig => {
    const storage = found.get(key);
    if (storage === undefined) {
      throw configError(
        undefined,
        key,
        `a ${key} block is required, e.g. ${key} "sqlite" { path = "..." }`,
      );
    }
    if (storage.type === 'inmem') {
      throw configError(storage.at, key, 'must be persistent storage (sqlite or postgresql)');
    }
    const draft: Draft = { ...emptyDraft(), storage };
    applyPostgresUrl(draft, env);
    return finishStorage(draft, key);
  };
  return deepFreeze({
    source: finishOne('storage_source'),
    destination: finishOne('storage_destination'),
  });
}

/** The `coffer server --dev` configuration: plain HTTP, no seal, in memory unless a path is given. */
export function devServerConfig(options: {
  readonly address: string;
  readonly storagePath?: string | undefined;
}): ServerConfig {
  const problem = addressProblem(options.address);
  if (problem !== undefined) {
    throw new CofferError('invalid_request', `address: ${problem}`, { field: 'address' });
  }
  const storage: StorageConfig =
    options.storagePath === undefined
      ? { type: 'inmem' }
      : { type: 'sqlite', path: options.storagePath, synchronous: 'full', groupCommit: true };
  return deepFreeze({
    storage,
    listener: {
      address: options.address,
      tlsDisable: true,
      maxRequestSizeBytes: DEFAULT_MAX_REQUEST_SIZE_BYTES,
    },
    logLevel: 'info',
    defaultLeaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
    maxLeaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
    plaintextCacheLifetimeSeconds: DEFAULT_PLAINTEXT_CACHE_SECONDS,
    ui: false,
    awsMount: DEFAULT_AWS_MOUNT,
    standbyMode: 'forward',
    // The Google door on ports the OS picks, next to the main listener's host.
    gcpDoor: {
      mount: DEFAULT_GCP_MOUNT,
      restAddress: `${options.address.slice(0, options.address.lastIndexOf(':'))}:0`,
      grpcAddress: `${options.address.slice(0, options.address.lastIndexOf(':'))}:0`,
    },
  });
}

/** Splits a validated listener address; brackets are removed from an IPv6 host. */
export function splitListenAddress(address: string): { host: string; port: number } {
  const match = ADDRESS.exec(address);
  if (match === null || addressProblem(address) !== undefined) {
    throw new CofferError('invalid_request', `address: ${ADDRESS_HINT}`, { field: 'address' });
  }
  const host = match[1]!;
  return {
    host: host.startsWith('[') ? host.slice(1, -1) : host,
    port: Number.parseInt(match[2]!, 10),
  };
}

// ---- Reading the file ----

interface Position {
  readonly line: number;
  readonly column: number;
}

type StorageDraft =
  | {
      at: Position;
      type: 'sqlite';
      path: string | undefined;
      synchronous: 'full' | 'normal';
      groupCommit: boolean;
    }
  | {
      at: Position;
      type: 'postgresql';
      connectionUrl: string | undefined;
      connectionUrlEnv: string;
      table: string;
      haTable: string;
      haEnabled: boolean;
      groupCommit: boolean;
    }
  | { at: Position; type: 'inmem' };

interface ListenerDraft {
  at: Position;
  address: string;
  tlsDisable: boolean;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  maxRequestSizeBytes: number;
  connectionLimits: { -readonly [K in keyof ListenerConnectionLimits]: number };
}

interface SealDraft {
  at: Position | undefined;
  keyFile: string | undefined;
  keyEnv: string | undefined;
}

interface Draft {
  storage: StorageDraft | undefined;
  listener: ListenerDraft | undefined;
  seal: SealDraft | undefined;
  apiAddr: string | undefined;
  clusterAddr: string | undefined;
  standbyMode: StandbyMode;
  logLevel: LogLevel;
  defaultLeaseTtlSeconds: number;
  defaultLeaseTtlAt: Position | undefined;
  maxLeaseTtlSeconds: number;
  maxLeaseTtlAt: Position | undefined;
  plaintextCacheLifetimeSeconds: number;
  ui: boolean;
  awsMount: string;
  unauthenticatedMetricsAccess: boolean;
  gcpDoor: { at: Position; mount: string; restAddress?: string; grpcAddress?: string } | undefined;
}

const TOP_LEVEL_KEYS = [
  'storage',
  'listener',
  'seal',
  'api_addr',
  'log_level',
  'default_lease_ttl',
  'max_lease_ttl',
  'plaintext_cache_lifetime',
  'disable_mlock',
  'ui',
  'aws_mount',
  'telemetry',
  'cluster_addr',
  'ha_standby_mode',
  'gcp_door',
] as const;

function configError(at: Position | undefined, field: string, why: string): CofferError {
  const where = at === undefined ? '' : `${at.line}:${at.column}: `;
  return new CofferError('invalid_request', `${where}${field}: ${why}`, { field });
}

function environmentError(variable: string, why: string): CofferError {
  return new CofferError('invalid_request', `${variable}: ${why}`, { field: variable });
}

function emptyDraft(): Draft {
  return {
    storage: undefined,
    listener: undefined,
    seal: undefined,
    apiAddr: undefined,
    clusterAddr: undefined,
    standbyMode: 'forward',
    logLevel: 'info',
    defaultLeaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
    defaultLeaseTtlAt: undefined,
    maxLeaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
    maxLeaseTtlAt: undefined,
    plaintextCacheLifetimeSeconds: DEFAULT_PLAINTEXT_CACHE_SECONDS,
    ui: false,
    awsMount: DEFAULT_AWS_MOUNT,
    unauthenticatedMetricsAccess: false,
    gcpDoor: undefined,
  };
}

function readFile(body: HclBody, baseDir: string | undefined): Draft {
  const draft = emptyDraft();
  const seen = new Set<string>();
  for (const item of body.items) {
    const key = item.key;
    if (!isOneOf(TOP_LEVEL_KEYS, key)) {
      throw configError(item, key, `unknown key (expected one of: ${TOP_LEVEL_KEYS.join(', ')})`);
    }
    switch (key) {
      case 'storage':
        if (draft.storage !== undefined) {
          throw configError(item, key, 'only one storage block is allowed');
        }
        draft.storage = readStorage(item, baseDir);
        continue;
      case 'listener':
        if (draft.listener !== undefined) {
          throw configError(item, key, 'only one listener block is supported for now');
        }
        draft.listener = readListener(item, baseDir);
        continue;
      case 'seal':
        if (draft.seal !== undefined)
          throw configError(item, key, 'only one seal block is allowed');
        draft.seal = readSeal(item, baseDir);
        continue;
      case 'telemetry':
        if (seen.has(key)) throw configError(item, key, 'only one telemetry block is allowed');
        seen.add(key);
        draft.unauthenticatedMetricsAccess = readTelemetry(item);
        continue;
      case 'gcp_door':
        if (draft.gcpDoor !== undefined) {
          throw configError(item, key, 'only one gcp_door block is allowed');
        }
        draft.gcpDoor = readGcpDoor(item);
        continue;
      case 'api_addr':
      case 'log_level':
      case 'default_lease_ttl':
      case 'max_lease_ttl':
      case 'plaintext_cache_lifetime':
      case 'disable_mlock':
      case 'ui':
      case 'aws_mount':
      case 'cluster_addr':
      case 'ha_standby_mode':
        break;
    }
    checkAttribute(item, key, seen);
    switch (key) {
      case 'api_addr': {
        const value = readString(item, key);
        const problem = apiAddrProblem(value);
        if (problem !== undefined) throw configError(item, key, problem);
        draft.apiAddr = value;
        break;
      }
      case 'log_level': {
        const level = LOG_LEVELS.get(readString(item, key).trim().toLowerCase());
        if (level === undefined) throw configError(item, key, LOG_LEVEL_HINT);
        draft.logLevel = level;
        break;
      }
      case 'default_lease_ttl':
        draft.defaultLeaseTtlSeconds = readTtl(item, key);
        draft.defaultLeaseTtlAt = item;
        break;
      case 'max_lease_ttl':
        draft.maxLeaseTtlSeconds = readTtl(item, key);
        draft.maxLeaseTtlAt = item;
        break;
      case 'plaintext_cache_lifetime': {
        const seconds = readTtl(item, key, { allowZero: true });
        if (seconds > MAX_PLAINTEXT_CACHE_SECONDS) {
          throw configError(item, key, 'must be at most 1h (0 turns the cache off)');
        }
        draft.plaintextCacheLifetimeSeconds = seconds;
        break;
      }
      case 'disable_mlock':
        // Vault configs carry it; Coffer has no mlock, but a wrong type is still an error.
        readBool(item, key);
        break;
      case 'ui':
        draft.ui = readBool(item, key);
        break;
      case 'aws_mount': {
        const value = readString(item, key);
        const problem = awsMountProblem(value);
        if (problem !== undefined) throw configError(item, key, problem);
        draft.awsMount = value;
        break;
      }
      case 'cluster_addr': {
        const value = readString(item, key);
        let url: URL | undefined;
        try {
          url = new URL(value);
        } catch {
          url = undefined;
        }
        if (url === undefined || !/^(https?|tcp):$/.test(url.protocol)) {
          throw configError(item, key, 'must be a URL such as https://10.0.0.5:8201');
        }
        draft.clusterAddr = value;
        break;
      }
      case 'ha_standby_mode': {
        const value = readString(item, key).trim().toLowerCase();
        if (value !== 'forward' && value !== 'redirect') {
          throw configError(item, key, 'must be "forward" or "redirect"');
        }
        draft.standbyMode = value;
        break;
      }
    }
  }
  if (draft.storage === undefined) {
    throw configError(
      undefined,
      'storage',
      'a storage block is required, e.g. storage "sqlite" { path = "..." }',
    );
  }
  if (draft.listener === undefined) {
    throw configError(
      undefined,
      'listener',
      'a listener block is required, e.g. listener "tcp" { address = "127.0.0.1:8200" }',
    );
  }
  return draft;
}

function readStorage(item: HclItem, baseDir: string | undefined): StorageDraft {
  const { type, body } = readBlock(item, ['sqlite', 'postgresql', 'inmem']);
  if (type === 'inmem') {
    attributes(body, 'storage', []);
    return { at: item, type: 'inmem' };
  }
  if (type === 'postgresql') return readPostgresStorage(item, body);
  const attrs = attributes(body, 'storage', ['path', 'synchronous', 'group_commit']);
  const draft: StorageDraft = {
    at: item,
    type: 'sqlite',
    path: undefined,
    synchronous: 'full',
    groupCommit: true,
  };
  const path = attrs.get('path');
  if (path !== undefined) draft.path = readFilePath(path, 'storage.path', baseDir);
  const synchronous = attrs.get('synchronous');
  if (synchronous !== undefined) {
    const mode = readString(synchronous, 'storage.synchronous').trim().toLowerCase();
    if (mode !== 'full' && mode !== 'normal') {
      throw configError(synchronous, 'storage.synchronous', 'must be "full" or "normal"');
    }
    draft.synchronous = mode;
  }
  const groupCommit = attrs.get('group_commit');
  if (groupCommit !== undefined) draft.groupCommit = readBool(groupCommit, 'storage.group_commit');
  return draft;
}

function readPostgresStorage(item: HclItem, body: HclBody): StorageDraft {
  const attrs = attributes(body, 'storage', [
    'connection_url',
    'connection_url_env',
    'table',
    'ha_enabled',
    'ha_table',
    'group_commit',
  ]);
  const draft: StorageDraft = {
    at: item,
    type: 'postgresql',
    connectionUrl: undefined,
    connectionUrlEnv: DEFAULT_PG_URL_ENV,
    table: DEFAULT_PG_TABLE,
    haTable: DEFAULT_PG_HA_TABLE,
    haEnabled: false,
    groupCommit: true,
  };
  const url = attrs.get('connection_url');
  if (url !== undefined) {
    const value = readString(url, 'storage.connection_url');
    // SECURITY: the URL may hold a password; the message never repeats it.
    const problem = pgUrlProblem(value);
    if (problem !== undefined) throw configError(url, 'storage.connection_url', problem);
    draft.connectionUrl = value;
  }
  const urlEnv = attrs.get('connection_url_env');
  if (urlEnv !== undefined) {
    if (url !== undefined) {
      throw configError(urlEnv, 'storage', 'set connection_url or connection_url_env, not both');
    }
    const name = readString(urlEnv, 'storage.connection_url_env');
    if (!ENV_NAME.test(name)) {
      throw configError(
        urlEnv,
        'storage.connection_url_env',
        'must be the name of an environment variable, e.g. COFFER_PG_CONNECTION_URL',
      );
    }
    draft.connectionUrlEnv = name;
  }
  for (const [key, field] of [
    ['table', 'table'],
    ['ha_table', 'haTable'],
  ] as const) {
    const attr = attrs.get(key);
    if (attr === undefined) continue;
    const value = readString(attr, `storage.${key}`);
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/.test(value)) {
      throw configError(
        attr,
        `storage.${key}`,
        'must be a table name of letters, digits and _ (optionally schema.table)',
      );
    }
    draft[field] = value;
  }
  const ha = attrs.get('ha_enabled');
  if (ha !== undefined) draft.haEnabled = readBool(ha, 'storage.ha_enabled');
  const groupCommit = attrs.get('group_commit');
  if (groupCommit !== undefined) draft.groupCommit = readBool(groupCommit, 'storage.group_commit');
  return draft;
}

/** Why a PostgreSQL URL is unusable, without ever quoting it. */
function pgUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a postgres:// or postgresql:// URL';
  }
  return url.protocol === 'postgres:' || url.protocol === 'postgresql:'
    ? undefined
    : 'must be a postgres:// or postgresql:// URL';
}

function readListener(item: HclItem, baseDir: string | undefined): ListenerDraft {
  const { body } = readBlock(item, ['tcp']);
  const attrs = attributes(body, 'listener', [
    'address',
    'tls_disable',
    'tls_cert_file',
    'tls_key_file',
    'max_request_size',
    ...Object.keys(LISTENER_TIMEOUTS),
    'max_connections',
  ]);
  const draft: ListenerDraft = {
    at: item,
    address: DEFAULT_LISTEN_ADDRESS,
    // Vault's default: TLS on unless explicitly disabled.
    tlsDisable: false,
    tlsCertFile: undefined,
    tlsKeyFile: undefined,
    maxRequestSizeBytes: DEFAULT_MAX_REQUEST_SIZE_BYTES,
    connectionLimits: {},
  };
  for (const [name, limit] of Object.entries(LISTENER_TIMEOUTS)) {
    const item = attrs.get(name);
    if (item !== undefined) {
      draft.connectionLimits[limit] = readTimeoutSeconds(item, `listener.${name}`) * 1000;
    }
  }
  const maxConnections = attrs.get('max_connections');
  if (maxConnections !== undefined) {
    draft.connectionLimits.maxConnections = readCount(
      maxConnections,
      'listener.max_connections',
      MAX_CONNECTIONS_LIMIT,
    );
  }
  const address = attrs.get('address');
  if (address !== undefined) {
    const value = readString(address, 'listener.address');
    const problem = addressProblem(value);
    if (problem !== undefined) throw configError(address, 'listener.address', problem);
    draft.address = value;
  }
  const tlsDisable = attrs.get('tls_disable');
  if (tlsDisable !== undefined) draft.tlsDisable = readBool(tlsDisable, 'listener.tls_disable');
  const cert = attrs.get('tls_cert_file');
  if (cert !== undefined) draft.tlsCertFile = readFilePath(cert, 'listener.tls_cert_file', baseDir);
  const key = attrs.get('tls_key_file');
  if (key !== undefined) draft.tlsKeyFile = readFilePath(key, 'listener.tls_key_file', baseDir);
  const size = attrs.get('max_request_size');
  if (size !== undefined)
    draft.maxRequestSizeBytes = readRequestSize(size, 'listener.max_request_size');
  return draft;
}

/**
 * `telemetry { ... }`: whether sys/metrics may be read without a token. Vault's
 * `prometheus_retention_time` and `disable_hostname` are accepted (Coffer keeps counters for
 * the process lifetime and never adds a host name).
 */
function readTelemetry(item: HclItem): boolean {
  const value = item.value;
  if (item.labels.length !== 0 || !isHclBody(value)) {
    throw configError(item, 'telemetry', 'must be a block, e.g. telemetry { ... }');
  }
  const attrs = attributes(value, 'telemetry', [
    'unauthenticated_metrics_access',
    'prometheus_retention_time',
    'disable_hostname',
  ]);
  const retention = attrs.get('prometheus_retention_time');
  if (retention !== undefined) readTtl(retention, 'telemetry.prometheus_retention_time');
  const hostname = attrs.get('disable_hostname');
  if (hostname !== undefined) readBool(hostname, 'telemetry.disable_hostname');
  const open = attrs.get('unauthenticated_metrics_access');
  return open === undefined ? false : readBool(open, 'telemetry.unauthenticated_metrics_access');
}

function readGcpDoor(item: HclItem): NonNullable<Draft['gcpDoor']> {
  if (item.labels.length !== 0 || !isHclBody(item.value)) {
    throw configError(item, 'gcp_door', 'must be a block: gcp_door { rest_address = "..." }');
  }
  const attrs = attributes(item.value, 'gcp_door', ['mount', 'rest_address', 'grpc_address']);
  const draft: NonNullable<Draft['gcpDoor']> = { at: item, mount: DEFAULT_GCP_MOUNT };
  const mount = attrs.get('mount');
  if (mount !== undefined) {
    const value = readString(mount, 'gcp_door.mount');
    const problem = value === '' ? 'must not be empty' : awsMountProblem(value);
    if (problem !== undefined) {
      throw configError(
        mount,
        'gcp_door.mount',
        problem.replace('"aws/"', '"gcp/"').replace(', or "" to turn the door off', ''),
      );
    }
    draft.mount = value;
  }
  for (const key of ['rest_address', 'grpc_address'] as const) {
    const attr = attrs.get(key);
    if (attr === undefined) continue;
    const value = readString(attr, `gcp_door.${key}`);
    const problem = addressProblem(value);
    if (problem !== undefined) throw configError(attr, `gcp_door.${key}`, problem);
    if (key === 'rest_address') draft.restAddress = value;
    else draft.grpcAddress = value;
  }
  if (draft.restAddress === undefined) {
    throw configError(item, 'gcp_door.rest_address', 'is required, e.g. "127.0.0.1:8300"');
  }
  return draft;
}

function readSeal(item: HclItem, baseDir: string | undefined): SealDraft {
  const { body } = readBlock(item, ['static']);
  const attrs = attributes(body, 'seal', ['key_file', 'key_env']);
  const draft: SealDraft = { at: item, keyFile: undefined, keyEnv: undefined };
  const keyFile = attrs.get('key_file');
  if (keyFile !== undefined) draft.keyFile = readFilePath(keyFile, 'seal.key_file', baseDir);
  const keyEnv = attrs.get('key_env');
  if (keyEnv !== undefined) {
    const name = readString(keyEnv, 'seal.key_env');
    if (!ENV_NAME.test(name)) {
      throw configError(
        keyEnv,
        'seal.key_env',
        'must be the name of an environment variable, e.g. COFFER_UNSEAL_KEY',
      );
    }
    draft.keyEnv = name;
  }
  return draft;
}

/** A block with exactly one type label from `supported`. */
function readBlock(item: HclItem, supported: readonly string[]): { type: string; body: HclBody } {
  const value = item.value;
  if (item.labels.length !== 1 || !isHclBody(value)) {
    throw configError(
      item,
      item.key,
      `must be a block with one type label, e.g. ${item.key} "${supported[0]!}" { ... }`,
    );
  }
  const type = item.labels[0]!;
  if (!supported.includes(type)) {
    throw configError(item, item.key, `unsupported type (supported: ${supported.join(', ')})`);
  }
  return { type, body: value };
}

/** A block's `key = value` items by key; unknown, repeated and nested-block keys are errors. */
function attributes(body: HclBody, scope: string, known: readonly string[]): Map<string, HclItem> {
  const out = new Map<string, HclItem>();
  const seen = new Set<string>();
  for (const item of body.items) {
    const field = `${scope}.${item.key}`;
    if (!known.includes(item.key)) {
      throw configError(
        item,
        field,
        known.length === 0
          ? 'unknown key (this block takes no settings)'
          : `unknown key (expected one of: ${known.join(', ')})`,
      );
    }
    checkAttribute(item, field, seen);
    out.set(item.key, item);
  }
  return out;
}

function checkAttribute(item: HclItem, field: string, seen: Set<string>): void {
  if (seen.has(item.key)) throw configError(item, field, 'is set more than once');
  seen.add(item.key);
  if (item.labels.length > 0)
    throw configError(item, field, `must be written as ${item.key} = <value>`);
}

function kindOf(value: HclValue): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return isHclBody(value) ? 'a block or object' : 'a list';
}

function readString(item: HclItem, field: string): string {
  if (typeof item.value !== 'string')
    throw configError(item, field, `must be a string, got ${kindOf(item.value)}`);
  return item.value;
}

function readFilePath(item: HclItem, field: string, baseDir: string | undefined): string {
  const path = readString(item, field);
  if (path.trim() === '') throw configError(item, field, 'must not be empty');
  return baseDir === undefined || isAbsolute(path) ? path : resolve(baseDir, path);
}

function readBool(item: HclItem, field: string): boolean {
  const value = parseBool(item.value);
  if (value === undefined) {
    throw configError(item, field, `must be a boolean (true or false), got ${kindOf(item.value)}`);
  }
  return value;
}

const TRUE_STRINGS: ReadonlySet<string> = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_STRINGS: ReadonlySet<string> = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** Vault's weak booleans (Go's strconv.ParseBool spellings, and the numbers 0 and 1). */
function parseBool(value: HclValue): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    if (TRUE_STRINGS.has(value)) return true;
    if (FALSE_STRINGS.has(value)) return false;
  }
  return undefined;
}

function readRequestSize(item: HclItem, field: string): number {
  const value = item.value;
  const bytes = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes)) {
    throw configError(item, field, `must be a whole number of bytes, got ${kindOf(value)}`);
  }
  if (bytes < 1 || bytes > MAX_REQUEST_SIZE_LIMIT_BYTES) {
    throw configError(item, field, `must be between 1 and ${MAX_REQUEST_SIZE_LIMIT_BYTES} bytes`);
  }
  return bytes;
}

/** A duration for a timeout: 0 (or "0s") turns the limit off. */
function readTimeoutSeconds(item: HclItem, field: string): number {
  const value = item.value;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw configError(item, field, `must be a duration such as "10s", got ${kindOf(value)}`);
  }
  try {
    return parseDurationSeconds(value, field);
  } catch (err) {
    if (isCofferError(err))
      throw new CofferError(err.code, `${item.line}:${item.column}: ${err.message}`, { field });
    throw err;
  }
}

/** A whole number from 0 to `max`. */
function readCount(item: HclItem, field: string, max: number): number {
  const value = item.value;
  const n = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > max) {
    throw configError(item, field, `must be a whole number from 0 to ${max}`);
  }
  return n;
}

function readTtl(item: HclItem, field: string, { allowZero = false } = {}): number {
  const value = item.value;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw configError(item, field, `must be a duration such as "768h", got ${kindOf(value)}`);
  }
  let seconds: number;
  try {
    seconds = parseDurationSeconds(value, field);
  } catch (err) {
    // parseDurationSeconds says "<field>: <why>"; add the position in front.
    if (isCofferError(err))
      throw new CofferError(err.code, `${item.line}:${item.column}: ${err.message}`, { field });
    throw err;
  }
  if (seconds < 0 || (seconds === 0 && !allowZero)) {
    throw configError(item, field, 'must be a positive duration');
  }
  return seconds;
}

// ---- Environment and final checks ----

function environmentValue(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  const value = Object.hasOwn(env, name) ? env[name] : undefined;
  return value === undefined || value === '' ? undefined : value;
}

function applyPostgresUrl(draft: Draft, env: Readonly<Record<string, string | undefined>>): void {
  if (draft.storage?.type === 'postgresql' && draft.storage.connectionUrl === undefined) {
    const name = draft.storage.connectionUrlEnv;
    const value = environmentValue(env, name);
    if (value !== undefined) {
      const problem = pgUrlProblem(value);
      if (problem !== undefined) throw environmentError(name, problem);
      draft.storage.connectionUrl = value;
    }
  }
}

function applyEnvironment(draft: Draft, env: Readonly<Record<string, string | undefined>>): void {
  const storagePath = environmentValue(env, 'COFFER_STORAGE_PATH');
  if (storagePath !== undefined) {
    if (draft.storage?.type !== 'sqlite') {
      throw environmentError('COFFER_STORAGE_PATH', 'only applies to storage "sqlite"');
    }
    draft.storage.path = storagePath;
  }
  applyPostgresUrl(draft, env);
  const address = environmentValue(env, 'COFFER_LISTEN_ADDRESS');
  if (address !== undefined && draft.listener !== undefined) {
    const problem = addressProblem(address);
    if (problem !== undefined) throw environmentError('COFFER_LISTEN_ADDRESS', problem);
    draft.listener.address = address;
  }
  const logLevel = environmentValue(env, 'COFFER_LOG_LEVEL');
  if (logLevel !== undefined) {
    const level = LOG_LEVELS.get(logLevel.trim().toLowerCase());
    if (level === undefined) throw environmentError('COFFER_LOG_LEVEL', LOG_LEVEL_HINT);
    draft.logLevel = level;
  }
  const apiAddr = environmentValue(env, 'COFFER_API_ADDR');
  if (apiAddr !== undefined) {
    const problem = apiAddrProblem(apiAddr);
    if (problem !== undefined) throw environmentError('COFFER_API_ADDR', problem);
    draft.apiAddr = apiAddr;
  }
  const tlsDisable = environmentValue(env, 'COFFER_TLS_DISABLE');
  if (tlsDisable !== undefined && draft.listener !== undefined) {
    const value = parseBool(tlsDisable.trim());
    if (value === undefined) throw environmentError('COFFER_TLS_DISABLE', 'must be true or false');
    draft.listener.tlsDisable = value;
  }
  const sealKeyFile = environmentValue(env, 'COFFER_SEAL_KEY_FILE');
  if (sealKeyFile !== undefined) {
    if (sealKeyFile.trim() === '')
      throw environmentError('COFFER_SEAL_KEY_FILE', 'must be a file path');
    draft.seal = { at: draft.seal?.at, keyFile: sealKeyFile, keyEnv: undefined };
  }
}

function finishStorage(draft: Draft, scope: string): StorageConfig {
  const s = draft.storage!;
  let storage: StorageConfig;
  if (s.type === 'sqlite') {
    if (s.path === undefined) {
      throw configError(
        s.at,
        `${scope}.path`,
        'is required for storage "sqlite" (or set COFFER_STORAGE_PATH)',
      );
    }
    storage = {
      type: 'sqlite',
      path: s.path,
      synchronous: s.synchronous,
      groupCommit: s.groupCommit,
    };
  } else if (s.type === 'postgresql') {
    if (s.connectionUrl === undefined) {
      throw configError(
        s.at,
        `${scope}.connection_url`,
        `is required for storage "postgresql" (or set the environment variable ${s.connectionUrlEnv})`,
      );
    }
    storage = {
      type: 'postgresql',
      connectionUrl: s.connectionUrl,
      table: s.table,
      haTable: s.haTable,
      haEnabled: s.haEnabled,
      groupCommit: s.groupCommit,
    };
  } else {
    storage = { type: 'inmem' };
  }
  return storage;
}

function finish(draft: Draft): ServerConfig {
  const s = draft.storage!;
  const storage = finishStorage(draft, 'storage');
  if (storage.type === 'postgresql' && storage.haEnabled && draft.apiAddr === undefined) {
    throw configError(
      s.at,
      'api_addr',
      'is required with ha_enabled: standbys forward and redirect clients to it',
    );
  }

  const l = draft.listener!;
  if (!l.tlsDisable && (l.tlsCertFile === undefined || l.tlsKeyFile === undefined)) {
    throw configError(
      l.at,
      'listener',
      'TLS is enabled (tls_disable defaults to false, as in Vault), so tls_cert_file and tls_key_file are both required; set tls_disable = true to serve plain HTTP',
    );
  }
  const listener: ListenerConfig = {
    address: l.address,
    tlsDisable: l.tlsDisable,
    ...(l.tlsCertFile === undefined ? {} : { tlsCertFile: l.tlsCertFile }),
    ...(l.tlsKeyFile === undefined ? {} : { tlsKeyFile: l.tlsKeyFile }),
    maxRequestSizeBytes: l.maxRequestSizeBytes,
    ...(Object.keys(l.connectionLimits).length === 0
      ? {}
      : { connectionLimits: l.connectionLimits }),
  };

  let seal: SealConfig | undefined;
  if (draft.seal !== undefined) {
    const { at, keyFile, keyEnv } = draft.seal;
    if ((keyFile === undefined) === (keyEnv === undefined)) {
      throw configError(at, 'seal', 'set exactly one of key_file or key_env');
    }
    seal =
      keyFile === undefined ? { type: 'static', keyEnv: keyEnv! } : { type: 'static', keyFile };
  }

  if (draft.maxLeaseTtlSeconds < draft.defaultLeaseTtlSeconds) {
    throw configError(
      draft.maxLeaseTtlAt ?? draft.defaultLeaseTtlAt,
      'max_lease_ttl',
      'must be greater than or equal to default_lease_ttl',
    );
  }

  return {
    storage,
    listener,
    ...(seal === undefined ? {} : { seal }),
    ...(draft.apiAddr === undefined ? {} : { apiAddr: draft.apiAddr }),
    ...(draft.clusterAddr === undefined ? {} : { clusterAddr: draft.clusterAddr }),
    standbyMode: draft.standbyMode,
    logLevel: draft.logLevel,
    defaultLeaseTtlSeconds: draft.defaultLeaseTtlSeconds,
    maxLeaseTtlSeconds: draft.maxLeaseTtlSeconds,
    plaintextCacheLifetimeSeconds: draft.plaintextCacheLifetimeSeconds,
    ui: draft.ui,
    ...(draft.awsMount === '' ? {} : { awsMount: draft.awsMount }),
    ...(draft.unauthenticatedMetricsAccess ? { unauthenticatedMetricsAccess: true } : {}),
    ...(draft.gcpDoor === undefined ? {} : { gcpDoor: finishGcpDoor(draft, listener) }),
  };
}

/**
 * SECURITY/availability: the Google door's `/v1/projects/...` must never share a listener with
 * the Vault API (it would shadow a mount named `projects/`), nor serve the AWS door's mount.
 */
function finishGcpDoor(draft: Draft, listener: ListenerConfig): GcpDoorConfig {
  const door = draft.gcpDoor!;
  const samePort = (a: string, b: string) => a === b && !a.endsWith(':0');
  if (samePort(door.restAddress!, listener.address)) {
    throw configError(
      door.at,
      'gcp_door.rest_address',
      "must differ from listener.address: Google's /v1/projects/... would shadow the Vault API's /v1/<mount>",
    );
  }
  if (door.grpcAddress !== undefined) {
    if (
      samePort(door.grpcAddress, listener.address) ||
      samePort(door.grpcAddress, door.restAddress!)
    ) {
      throw configError(
        door.at,
        'gcp_door.grpc_address',
        'must differ from listener.address and gcp_door.rest_address',
      );
    }
  }
  if (draft.awsMount !== '' && draft.awsMount === door.mount) {
    throw configError(door.at, 'gcp_door.mount', 'must differ from aws_mount');
  }
  return {
    mount: door.mount,
    restAddress: door.restAddress!,
    ...(door.grpcAddress === undefined ? {} : { grpcAddress: door.grpcAddress }),
  };
}

// ---- Value checks shared by the file, the environment and dev mode ----

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ADDRESS = /^(\[[0-9A-Fa-f:.]+(?:%[0-9A-Za-z_.-]+)?\]|[0-9A-Za-z_.-]+):([0-9]{1,5})$/;
const ADDRESS_HINT =
  'must be host:port, e.g. 127.0.0.1:8200 or [::1]:8200 (0.0.0.0 listens on all interfaces)';

function addressProblem(address: string): string | undefined {
  const match = ADDRESS.exec(address);
  if (match === null) return ADDRESS_HINT;
  if (Number.parseInt(match[2]!, 10) > 65535) return 'port must be between 0 and 65535';
  return undefined;
}

function apiAddrProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an http:// or https:// URL';
  }
  return url.protocol === 'http:' || url.protocol === 'https:'
    ? undefined
    : 'must be an http:// or https:// URL';
}

const LOG_LEVELS: ReadonlyMap<string, LogLevel> = new Map([
  ['trace', 'trace'],
  ['debug', 'debug'],
  ['info', 'info'],
  ['warn', 'warn'],
  ['warning', 'warn'],
  ['error', 'error'],
  ['err', 'error'],
  ['fatal', 'fatal'],
]);
const LOG_LEVEL_HINT = 'must be one of trace, debug, info, warn, error, fatal';

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

function deepFreeze<T extends object>(value: T): T {
  Object.freeze(value);
  const children: unknown[] = Object.values(value);
  for (const child of children) {
    if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) deepFreeze(child);
  }
  return value;
}
