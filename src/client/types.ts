// Wire shapes of the Vault-compatible HTTP API as the client sees them. The client owns these
// types (it imports nothing from the server side); field names are the wire's snake_case.

/** Wrapping information of a response-wrapped answer. */
export interface WrapInfo {
  readonly token: string;
  readonly accessor: string;
  /** Seconds the wrapping token lives. */
  readonly ttl: number;
  readonly creation_time: string;
  readonly creation_path: string;
  readonly wrapped_accessor?: string;
}

/** The `auth` block of a login or token-create answer. */
export interface AuthInfo {
  readonly client_token: string;
  readonly accessor: string;
  readonly policies: string[] | null;
  readonly token_policies?: string[] | null;
  readonly metadata: Record<string, string> | null;
  /** Seconds. */
  readonly lease_duration: number;
  readonly renewable: boolean;
  readonly entity_id?: string;
  readonly token_type?: string;
  readonly orphan?: boolean;
  readonly [key: string]: unknown;
}

/**
 * The standard response envelope. Every field is optional because some routes copy `data` to
 * the top level (sys/mounts, sys/key-status...) and a wrapped answer carries only `wrap_info`.
 */
export interface ApiResponse {
  readonly request_id?: string;
  readonly lease_id?: string;
  readonly renewable?: boolean;
  /** Seconds. */
  readonly lease_duration?: number;
  readonly data?: Record<string, unknown> | null;
  readonly wrap_info?: WrapInfo | null;
  readonly warnings?: string[] | null;
  readonly auth?: AuthInfo | null;
  readonly [key: string]: unknown;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST' | 'PATCH';

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
}

/** `GET sys/seal-status` and the answer of `sys/unseal` (bare JSON, no envelope). */
export interface SealStatus {
  readonly type: string;
  readonly initialized: boolean;
  readonly sealed: boolean;
  /** Threshold: how many key shares unseal. */
  readonly t: number;
  /** Total number of key shares. */
  readonly n: number;
  readonly progress: number;
  readonly nonce: string;
  readonly version: string;
  readonly build_date?: string;
  readonly migration?: boolean;
  readonly recovery_seal?: boolean;
  readonly storage_type?: string;
  readonly cluster_name?: string;
  readonly cluster_id?: string;
}

export interface InitOptions {
  readonly secretShares: number;
  readonly secretThreshold: number;
}

/** `PUT sys/init` answer. SECURITY: holds every unseal key and the root token. */
export interface InitResponse {
  readonly keys: string[];
  readonly keys_base64: string[];
  readonly root_token: string;
}

/** `GET sys/health` body; `httpStatus` is the status code the server chose (200, 429, 501, 503...). */
export interface HealthResponse {
  readonly httpStatus: number;
  readonly initialized: boolean;
  readonly sealed: boolean;
  readonly standby: boolean;
  readonly performance_standby?: boolean;
  readonly replication_performance_mode?: string;
  readonly replication_dr_mode?: string;
  /** Epoch seconds. */
  readonly server_time_utc?: number;
  readonly version?: string;
  readonly cluster_name?: string;
  readonly cluster_id?: string;
}

/** `GET sys/key-status`. */
export interface KeyStatus {
  readonly term: number;
  /** RFC 3339 time the current key was installed. */
  readonly install_time: string;
  readonly encryptions?: number;
}

/** Lease settings of a mount as `sys/mounts` reports them (seconds; 0 = system default). */
export interface MountConfig {
  readonly default_lease_ttl: number;
  readonly max_lease_ttl: number;
  readonly force_no_cache?: boolean;
  readonly [key: string]: unknown;
}

/** One entry of `GET sys/mounts`, keyed by its path with a trailing slash. */
export interface MountEntry {
  readonly type: string;
  readonly description: string;
  readonly accessor: string;
  readonly config: MountConfig;
  readonly options: Record<string, string> | null;
  readonly local: boolean;
  readonly seal_wrap: boolean;
  readonly external_entropy_access?: boolean;
  readonly uuid?: string;
  readonly plugin_version?: string;
  readonly [key: string]: unknown;
}

/** Mount config as a request sends it: TTLs may be seconds or Go durations ("1h"). */
export interface MountConfigInput {
  readonly default_lease_ttl?: string | number;
  readonly max_lease_ttl?: string | number;
  readonly force_no_cache?: boolean;
  readonly [key: string]: unknown;
}

/** Body of `POST sys/mounts/:path`. `type: "kv-v2"` is accepted and means kv version 2. */
export interface EnableMountOptions {
  readonly type: string;
  readonly description?: string;
  readonly options?: Record<string, string>;
  readonly config?: MountConfigInput;
}

/** Body of `POST sys/mounts/:path/tune`. */
export interface TuneMountOptions {
  readonly default_lease_ttl?: string | number;
  readonly max_lease_ttl?: string | number;
  readonly description?: string;
  readonly options?: Record<string, string>;
  readonly [key: string]: unknown;
}

/** `GET sys/mounts/:path/tune` (seconds). */
export interface MountTune {
  readonly default_lease_ttl: number;
  readonly max_lease_ttl: number;
  readonly force_no_cache?: boolean;
  readonly description?: string;
  readonly options?: Record<string, string> | null;
  readonly [key: string]: unknown;
}

/** Metadata of one KV v2 version, as `data/` reads and writes return it. */
export interface KvVersionMetadata {
  readonly created_time: string;
  readonly custom_metadata: Record<string, string> | null;
  /** RFC 3339, or "" when the version is not deleted. */
  readonly deletion_time: string;
  readonly destroyed: boolean;
  readonly version: number;
}

/** `GET <mount>/metadata/:key`. */
export interface KvMetadata {
  readonly cas_required: boolean;
  readonly created_time: string;
  readonly current_version: number;
  /** Go duration string such as "0s" or "3h25m19s". */
  readonly delete_version_after: string;
  readonly max_versions: number;
  readonly oldest_version: number;
  readonly updated_time: string;
  readonly custom_metadata: Record<string, string> | null;
  readonly versions: Record<
    string,
    { readonly created_time: string; readonly deletion_time: string; readonly destroyed: boolean }
  >;
}

/** Fields `kvMetadataPut` may set; only the ones given are sent. */
export interface KvMetadataInput {
  readonly maxVersions?: number;
  readonly casRequired?: boolean;
  /** Seconds or a Go duration ("3h"). */
  readonly deleteVersionAfter?: string | number;
  readonly customMetadata?: Record<string, string>;
}

export type KvVersion = 1 | 2;

/**
 * What the KV-version probe learnt about a mount. `path` ends with "/" (e.g. "secret/"), or is
 * "" for a KV v1 mount whose path the server did not reveal (probe answered 404).
 */
export interface KvMountInfo {
  readonly path: string;
  readonly version: KvVersion;
}

/** Where a KV call went: the logical API path (without /v1/) and the mount it resolved to. */
export interface KvTarget {
  readonly apiPath: string;
  readonly mount: KvMountInfo;
}

/** A KV read. For a deleted or destroyed v2 version `data` is null and `metadata` is set. */
export interface KvSecret extends KvTarget {
  readonly data: Record<string, unknown> | null;
  /** Null on KV v1. */
  readonly metadata: KvVersionMetadata | null;
  readonly response: ApiResponse;
}

/** A KV write. v2 answers with the new version's metadata; v1 answers 204 (no response). */
export interface KvWriteResult extends KvTarget {
  readonly metadata: KvVersionMetadata | null;
  readonly response: ApiResponse | undefined;
}

export interface KvListResult extends KvTarget {
  readonly keys: string[];
  readonly response: ApiResponse;
}

export interface KvMetadataResult extends KvTarget {
  readonly metadata: KvMetadata;
  readonly response: ApiResponse;
}
