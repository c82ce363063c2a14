// The contract between the core and every secret engine or auth method: what a request into
// an engine looks like, what it may return, and how an engine is created.
import type { JsonObject } from './json.js';
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

/** A new, frozen object per call; engines never mutate it. */
export interface EngineRequest {
  readonly operation: Operation;
  /** Path relative to the mount, without a leading slash; list paths end with '/'. */
  readonly path: string;
  /** Body fields merged with query parameters; not yet validated. */
  readonly data: Readonly<Record<string, unknown>>;
  /** The mount's own storage view. */
  readonly storage: Storage;
  readonly mount: MountInfo;
  readonly requestId: string;
  /** The injected clock, epoch milliseconds. */
  readonly now: () => number;
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
    }
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
  /** Token policies plus identity policies (none yet). */
  readonly policies: readonly string[];
  readonly tokenPolicies: readonly string[];
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
}

/** Built into the registry; `create` is called when a mount is loaded or enabled. */
export interface EngineFactory {
  readonly type: string;
  readonly description: string;
  /** Validates and normalises mount options (e.g. KV `version`); throws invalid_request. */
  normaliseOptions?(options: Readonly<Record<string, string>>): Record<string, string>;
  create(mount: MountInfo): SecretEngine;
}
