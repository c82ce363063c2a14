// The contract between the core and every secret engine or auth method: what a request into
// an engine looks like, what it may return, and how an engine is created.
import type { JsonObject, JsonValue } from './json.js';
import type { Storage } from './storage.js';

/** What a request asks to do. `renew`, `revoke` and `rollback` are internal calls, not these. */
export type Operation = 'read' | 'list' | 'create' | 'update' | 'patch' | 'delete';

export const OPERATIONS: readonly Operation[] = [
  'read',
  'list',
  'create',
  'update',
  'patch',
  'delete',
];

export interface MountConfig {
  readonly defaultLeaseTtlSeconds: number;
  readonly maxLeaseTtlSeconds: number;
}

/** What an engine may know about the mount it serves. */
export interface MountInfo {
  /** Mount path with its trailing slash, e.g. "secret/". */
  readonly path: string;
  readonly uuid: string;
  readonly accessor: string;
  readonly type: string;
  readonly options: Readonly<Record<string, string>>;
  readonly config: MountConfig;
}

/**
 * Timed work an engine asks the core to run later (static-role password rotation). Jobs are
 * named per mount, persisted behind the barrier, and rebuilt on unseal: one queue for every
 * engine. When a job is due the core calls the engine's `runScheduled(ctx, name)`; the job is
 * removed before that call, so the engine re-arms it with `set` (a periodic job sets its next
 * time). If `runScheduled` throws, the core re-arms the job itself with a growing backoff.
 */
export interface Schedule {
  /** Runs `name` at `dueAt` (epoch ms), replacing any time already set for it. */
  set(name: string, dueAt: number): Promise<void>;
  cancel(name: string): Promise<void>;
  /** The time set for `name`, if any. */
  get(name: string): Promise<number | undefined>;
}

/** One write-ahead entry, as the core hands it back to `rollback`. */
export interface WalEntry {
  readonly id: string;
  /** The engine's own label for what the entry undoes, e.g. "user". */
  readonly kind: string;
  readonly data: JsonObject;
  /** Epoch ms. */
  readonly createdAt: number;
}

/**
 * Write-ahead entries for changes made outside Coffer (a database user created before its
 * lease exists). An engine puts an entry before the external change; the core deletes the
 * entries a lease grant names once the lease is registered. Entries still present after a
 * crash (or after a failed registration) are handed to the engine's `rollback` hook.
 */
export interface WriteAheadLog {
  /** Returns the entry's id. */
  put(kind: string, data: JsonObject): Promise<string>;
  delete(id: string): Promise<void>;
}

/** What an engine gets for work that is not a client request (leases, jobs, rollback). */
export interface EngineContext {
  /** The mount's own storage view. */
  readonly storage: Storage;
  readonly mount: MountInfo;
  /** The injected clock, epoch milliseconds. */
  readonly now: () => number;
  readonly schedule: Schedule;
  readonly wal: WriteAheadLog;
  /**
   * Announces an engine's own event (a cloud door's notification such as Google's
   * SECRET_ROTATE) on the change-event stream. Absent where nothing listens (unit harnesses).
   */
  readonly publishEvent?: (event: EngineEvent) => void;
}

/** An engine-announced change: names and paths only, never a value. */
export interface EngineEvent {
  /** Path relative to the mount. */
  readonly path: string;
  /** SECURITY: subscribers see the event only if they may read this path (relative). */
  readonly readPath: string;
  readonly operation: 'update' | 'delete';
  /** The door's own event type, e.g. "SECRET_ROTATE". */
  readonly eventType: string;
  /** The door's own name of the secret, e.g. "projects/p/secrets/s". */
  readonly secretId: string;
}

/** Which cloud door, and which of its methods, a request came through (absent: the Vault API). */
export interface DoorMethod {
  /** 'aws' or 'gcp'. */
  readonly api: string;
  /** The door's own method name: `secretsmanager.GetSecretValue`, or a gRPC method name. */
  readonly method: string;
}

/** A new, frozen object per call; engines never mutate it. */
export interface EngineRequest extends EngineContext {
  readonly operation: Operation;
  /** Path relative to the mount, without a leading slash; list paths end with '/'. */
  readonly path: string;
  /** Body fields merged with query parameters; not yet validated. */
  readonly data: Readonly<Record<string, unknown>>;
  readonly requestId: string;
  /** The client's IP address when known (auth methods bind secret-ids and roles to CIDRs). */
  readonly remoteAddress?: string;
  /** The calling token's display name ("userpass-alice"), for generated usernames. */
  readonly displayName?: string;
  /**
   * Set when the request came through a cloud door: its method, and the caller's principal
   * (the door credential's principal ARN) for the door's own resource policies.
   */
  readonly door?: DoorMethod & { readonly principal?: string };
  /**
   * Whether the calling token's policies allow `read` on another path of this mount (relative,
   * like `path`), for an engine that lends the caller something it holds (the AWS rotators'
   * admin secret). Absent when no token called: scheduled jobs and unauthenticated paths.
   */
  readonly mayRead?: (path: string) => boolean;
}

/**
 * A leased secret, as an engine asks for it. The core registers the lease (owned by the
 * calling token, so revoking the token revokes it), caps the TTL by the mount's maximum and
 * `maxTtlSeconds`, and renders `lease_id`, `lease_duration` and `renewable`.
 */
export interface LeaseGrant {
  /** Whole seconds; 0 = the mount's default lease TTL. */
  readonly ttlSeconds: number;
  /** The engine's cap on the lease's whole life (a role's max_ttl); 0 = the mount's only. */
  readonly maxTtlSeconds: number;
  readonly renewable: boolean;
  /** Vault's secret type, e.g. "creds". */
  readonly secretType: string;
  /**
   * What `revokeLease`/`renewLease` need later (e.g. the username created). Stored behind the
   * barrier, never rendered to clients or audit lines.
   */
  readonly internal: JsonObject;
  /** Write-ahead entries the core deletes once the lease is registered. */
  readonly walIds?: readonly string[];
}

/** A lease as handed back to its engine for renewal or revocation. */
export interface LeaseInfo {
  readonly id: string;
  /** The full logical path that issued it, e.g. "database/creds/app". */
  readonly path: string;
  readonly secretType: string;
  readonly internal: JsonValue;
  /** Epoch ms. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** The TTL granted at issue, whole seconds. */
  readonly ttlSeconds: number;
}

/** An engine's answer to a renewal. */
export interface LeaseRenewalGrant {
  /** The TTL to grant when the caller asked for no increment. */
  readonly ttlSeconds?: number;
  /** A cap from the engine (a role's max_ttl), counted from issue; 0/absent = none. */
  readonly maxTtlSeconds?: number;
  /** Replaces the stored `internal`. */
  readonly internal?: JsonObject;
}

/**
 * What an auth method's login grants: the core creates the token from it (so no auth method
 * holds the token store) and renders `auth`. Times are whole seconds; 0 = the default.
 */
export interface LoginGrant {
  readonly policies: readonly string[];
  /** The user's name ("alice"); the core prefixes the mount ("userpass-alice"). */
  readonly displayName: string;
  /** Rendered as `auth.metadata`; never secrets. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly ttlSeconds: number;
  /** The role's `token_max_ttl`. */
  readonly maxTtlSeconds: number;
  readonly explicitMaxTtlSeconds: number;
  readonly periodSeconds: number;
  readonly numUses: number;
  /** 'default' = service. */
  readonly tokenType: 'service' | 'batch' | 'default';
  readonly boundCidrs: readonly string[];
  readonly noDefaultPolicy: boolean;
  /** Who logged in, as the method names them (username, role id, subject, SA uid). */
  readonly alias: { readonly name: string; readonly metadata?: Readonly<Record<string, string>> };
  /**
   * Group names the login reported (a JWT role's `groups_claim`): the core makes the entity a
   * member of exactly the external groups whose group aliases on this mount carry these
   * names. Absent = the method reports no groups (memberships are left alone).
   */
  readonly groupAliases?: readonly string[];
  /** Default true for service tokens. */
  readonly renewable?: boolean;
}

/**
 * What an engine returns. The core, not the engine, turns it into a response, registers
 * leases and wraps it.
 */
export type EngineResult =
  | {
      readonly kind: 'data';
      readonly data: JsonObject;
      readonly warnings?: readonly string[];
      /**
       * The object exists as a record but has no current value (a deleted KV v2 version):
       * rendered with its data as a 404, as Vault does.
       */
      readonly absent?: boolean;
      /** Lease duration to advertise for non-leased data (KV v1's `ttl` key). */
      readonly leaseDurationSeconds?: number;
      /** Set by the core for a registered lease. */
      readonly leaseId?: string;
      readonly renewable?: boolean;
    }
  /** Engines only: a leased secret; the core registers it and renders it as `data`. */
  | {
      readonly kind: 'lease';
      readonly data: JsonObject;
      readonly lease: LeaseGrant;
      readonly warnings?: readonly string[];
    }
  /** Auth methods only: a successful login; the core creates the token and renders `auth`. */
  | { readonly kind: 'login'; readonly login: LoginGrant; readonly warnings?: readonly string[] }
  | { readonly kind: 'auth'; readonly auth: AuthResult; readonly warnings?: readonly string[] }
  | { readonly kind: 'empty'; readonly warnings?: readonly string[] }
  /** Set by the core, never by engines: the response went into a wrapping token. */
  | {
      readonly kind: 'wrapped';
      readonly wrapInfo: WrapInfo;
      readonly warnings?: readonly string[];
    };

/** Vault's `wrap_info`: the single-use token that holds a wrapped response. */
export interface WrapInfo {
  readonly token: string;
  readonly accessor: string;
  readonly ttlSeconds: number;
  /** Epoch ms. */
  readonly creationTime: number;
  readonly creationPath: string;
  /** The accessor of a token that was wrapped (a wrapped login or token creation). */
  readonly wrappedAccessor?: string;
}

/** A token handed out by a login or token creation; rendered as the response's `auth`. */
export interface AuthResult {
  /** The token itself; '' where Vault hides it (renew by accessor). */
  readonly clientToken: string;
  readonly accessor: string;
  /** Token policies plus identity policies. */
  readonly policies: readonly string[];
  readonly tokenPolicies: readonly string[];
  /** What the token's entity and its groups add (absent: none). */
  readonly identityPolicies?: readonly string[];
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly leaseDurationSeconds: number;
  readonly renewable: boolean;
  readonly entityId: string;
  readonly tokenType: 'service' | 'batch';
  readonly orphan: boolean;
  readonly numUses: number;
}

export interface SecretEngine {
  /** Handles one request; throws CofferError on failure. */
  handle(req: EngineRequest): Promise<EngineResult>;
  /**
   * Whether the object at the request's path exists, which decides between the create and
   * update capabilities. `undefined`: the path has no existence check (treated as update).
   */
  exists(req: EngineRequest): Promise<boolean | undefined>;
  /**
   * Undoes what a lease stands for (drops the database user). Called on expiry, explicit
   * revocation and revocation of the owning token; a throw is retried with backoff, then the
   * lease is marked irrevocable. Must be idempotent: an object already gone is success.
   */
  revokeLease?(ctx: EngineContext, lease: LeaseInfo): Promise<void>;
  /** Extends what a lease stands for; absent = leases from this engine are not renewable. */
  renewLease?(
    ctx: EngineContext,
    lease: LeaseInfo,
    incrementSeconds: number,
  ): Promise<LeaseRenewalGrant>;
  /** Undoes a change whose write-ahead entry outlived its request (see WriteAheadLog). */
  rollback?(ctx: EngineContext, entry: WalEntry): Promise<void>;
  /** Runs a job set through `ctx.schedule` (see Schedule). */
  runScheduled?(ctx: EngineContext, name: string): Promise<void>;
  /**
   * Paths (relative to the mount) served without a token: an auth method's `login` and
   * `login/*`. A trailing '*' matches any rest of the path.
   */
  readonly unauthenticatedPaths?: readonly string[];
  /**
   * The path (relative to the mount) whose read shows the secret that a change at
   * `relativePath` touches, e.g. KV v2 `delete/app` → `data/app`. SECURITY: a change event is
   * shown only to tokens that may read this path. Absent = the changed path itself.
   */
  secretPathOf?(relativePath: string): string;
  /** Releases connections and timers when the mount is disabled, re-tuned or sealed. */
  close?(): Promise<void>;
}

/** Built into the registry; `create` is called when a mount is loaded or enabled. */
export interface EngineFactory {
  readonly type: string;
  /** 'secret' (default) mounts under any path; 'auth' only under auth/ through sys/auth. */
  readonly category?: 'secret' | 'auth';
  readonly description: string;
  /** Validates and normalises mount options (e.g. KV `version`); throws invalid_request. */
  normaliseOptions?(options: Readonly<Record<string, string>>): Record<string, string>;
  create(mount: MountInfo): SecretEngine;
}

/** `result` with `warnings` appended to its own (the result itself when there are none). */
export function withWarnings(result: EngineResult, warnings: readonly string[]): EngineResult {
  if (warnings.length === 0) return result;
  return { ...result, warnings: [...(result.warnings ?? []), ...warnings] };
}
