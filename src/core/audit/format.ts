// The audit entry: what the pipeline hands the broker about a request and its response, and
// the Vault-shaped JSON object one device writes for it, with every sensitive string HMAC'd.
import type { AuthResult, EngineResult } from '../../sdk/engine.js';
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import { rfc3339Nano } from '../../sdk/text.js';
import type { Caller } from '../caller.js';
import { sanitizePolicies } from '../token-store.js';
import { hashStructure, type Hasher } from './hash.js';

/** The token behind a request, as the audit line shows it (Vault's `auth` block). */
export interface AuditAuth {
  /** The presented token. SECURITY: only ever written HMAC'd. */
  readonly clientToken: string;
  readonly accessor: string;
  readonly displayName: string;
  readonly policies: readonly string[];
  readonly tokenPolicies: readonly string[];
  /** Policies the token's entity and its groups added for this request (absent: none). */
  readonly identityPolicies?: readonly string[];
  /** Token metadata; its values are written HMAC'd. */
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly entityId: string;
  readonly tokenType: string;
  /** The TTL the token was created with, seconds (0 = never expires). */
  readonly tokenTtlSeconds: number;
}

export interface AuditRequest {
  readonly id: string;
  /** read|list|create|update|patch|delete, after the existence check. */
  readonly operation: string;
  /** Full logical path ("secret/data/app"); written in clear, as in Vault. */
  readonly path: string;
  /** Body or query fields; every string in it is written HMAC'd. */
  readonly data?: Readonly<Record<string, unknown>>;
  /** The presented token, also when it did not resolve (written HMAC'd). */
  readonly clientToken?: string;
  readonly clientTokenAccessor?: string;
  readonly mountType?: string;
  readonly mountAccessor?: string;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly wrapTtlSeconds?: number;
  /** The cloud door and its method (`aws`, `secretsmanager.GetSecretValue`); in clear. */
  readonly door?: { readonly api: string; readonly method: string; readonly principal?: string };
}

export interface AuditWrapInfo {
  readonly token: string;
  readonly accessor: string;
  readonly ttlSeconds: number;
  /** Epoch ms. */
  readonly creationTime: number;
  readonly creationPath: string;
}

export interface AuditResponse {
  readonly mountType?: string;
  readonly mountAccessor?: string;
  /** Every string in it is written HMAC'd. */
  readonly data?: Readonly<Record<string, unknown>> | null;
  readonly auth?: AuthResult;
  readonly secret?: { readonly leaseId: string };
  readonly wrapInfo?: AuditWrapInfo;
  readonly warnings?: readonly string[];
}

export interface AuditRequestRecord {
  /** Absent when the presented token did not resolve (the request is still audited). */
  readonly auth?: AuditAuth;
  readonly request: AuditRequest;
  /** The error message returned to the client ('' or absent: none). Never holds a secret. */
  readonly error?: string;
}

export interface AuditResponseRecord extends AuditRequestRecord {
  /** Absent when the request failed. */
  readonly response?: AuditResponse;
}

export type AuditEntryType = 'request' | 'response';

export interface FormatOptions {
  /** Vault's `hmac_accessor` (default true); false writes token accessors in clear. */
  readonly hmacAccessor: boolean;
}

/** The `auth` block for the caller the pipeline resolved. */
export function auditAuthOf(
  caller: Pick<Caller, 'token' | 'entry' | 'identityPolicies'>,
): AuditAuth {
  const { entry } = caller;
  return {
    clientToken: caller.token,
    accessor: entry.accessor,
    displayName: entry.displayName,
    policies:
      caller.identityPolicies === undefined || caller.identityPolicies.length === 0
        ? entry.policies
        : sanitizePolicies([...entry.policies, ...caller.identityPolicies], false),
    tokenPolicies: entry.policies,
    ...(caller.identityPolicies === undefined || caller.identityPolicies.length === 0
      ? {}
      : { identityPolicies: caller.identityPolicies }),
    metadata: entry.meta,
    entityId: entry.entityId ?? '',
    tokenType: entry.type,
    tokenTtlSeconds: entry.ttlSeconds,
  };
}

/** The `response` block for what a backend returned. */
export function auditResponseOf(
  result: EngineResult,
  mount: { readonly type: string; readonly accessor: string },
): AuditResponse {
  const warnings = result.warnings ?? [];
  return {
    mountType: mount.type,
    mountAccessor: mount.accessor,
    ...(result.kind === 'data' ? { data: result.data } : {}),
    ...(result.kind === 'data' && result.leaseId !== undefined
      ? { secret: { leaseId: result.leaseId } }
      : {}),
    ...(result.kind === 'auth' ? { auth: result.auth } : {}),
    ...(result.kind === 'wrapped' ? { wrapInfo: result.wrapInfo } : {}),
    ...(warnings.length === 0 ? {} : { warnings }),
  };
}

function authBlock(auth: AuditAuth | undefined, hash: Hasher, options: FormatOptions): JsonObject {
  if (auth === undefined) return {};
  return {
    client_token: hash(auth.clientToken),
    accessor: options.hmacAccessor ? hash(auth.accessor) : auth.accessor,
    display_name: auth.displayName,
    policies: [...auth.policies],
    token_policies: [...auth.tokenPolicies],
    ...(auth.identityPolicies === undefined
      ? {}
      : { identity_policies: [...auth.identityPolicies] }),
    metadata: auth.metadata === null ? null : hashStructure(auth.metadata, hash),
    entity_id: auth.entityId,
    token_type: auth.tokenType,
    token_ttl: auth.tokenTtlSeconds,
  };
}

function requestBlock(request: AuditRequest, hash: Hasher, options: FormatOptions): JsonObject {
  const out: JsonObject = {
    id: request.id,
    operation: request.operation,
    mount_type: request.mountType ?? '',
    mount_accessor: request.mountAccessor ?? '',
    client_token: hash(request.clientToken ?? ''),
    client_token_accessor:
      options.hmacAccessor || request.clientTokenAccessor === undefined
        ? hash(request.clientTokenAccessor ?? '')
        : request.clientTokenAccessor,
    namespace: { id: 'root' },
    path: request.path,
  };
  if (request.data !== undefined && Object.keys(request.data).length > 0) {
    out['data'] = hashStructure(request.data, hash);
  }
  out['remote_address'] = request.remoteAddress ?? '';
  if (request.remotePort !== undefined) out['remote_port'] = request.remotePort;
  out['wrap_ttl'] = request.wrapTtlSeconds ?? 0;
  // Like path and operation, the door's method name is written in clear.
  if (request.door !== undefined) {
    // The caller's cloud principal (`user:alice@example.com`, an ARN) is an identity, not a
    // secret: in clear, as the clouds' own audit logs name it.
    out['door'] = {
      api: request.door.api,
      method: request.door.method,
      ...(request.door.principal === undefined ? {} : { principal: request.door.principal }),
    };
  }
  return out;
}

function responseAuthBlock(auth: AuthResult, hash: Hasher, options: FormatOptions): JsonObject {
  return {
    client_token: hash(auth.clientToken),
    accessor: options.hmacAccessor ? hash(auth.accessor) : auth.accessor,
    policies: [...auth.policies],
    token_policies: [...auth.tokenPolicies],
    ...(auth.identityPolicies === undefined
      ? {}
      : { identity_policies: [...auth.identityPolicies] }),
    metadata: auth.metadata === null ? null : hashStructure(auth.metadata, hash),
    entity_id: auth.entityId,
    token_type: auth.tokenType,
    token_ttl: auth.leaseDurationSeconds,
    renewable: auth.renewable,
    orphan: auth.orphan,
    num_uses: auth.numUses,
  };
}

function responseBlock(response: AuditResponse, hash: Hasher, options: FormatOptions): JsonObject {
  const out: JsonObject = {
    mount_type: response.mountType ?? '',
    mount_accessor: response.mountAccessor ?? '',
  };
  if (response.auth !== undefined) out['auth'] = responseAuthBlock(response.auth, hash, options);
  if (response.secret !== undefined) out['secret'] = { lease_id: response.secret.leaseId };
  if (response.data !== undefined && response.data !== null) {
    out['data'] = hashStructure(response.data, hash);
  }
  if (response.wrapInfo !== undefined) {
    const wrap = response.wrapInfo;
    out['wrap_info'] = {
      token: hash(wrap.token),
      accessor: options.hmacAccessor ? hash(wrap.accessor) : wrap.accessor,
      ttl: wrap.ttlSeconds,
      creation_time: rfc3339Nano(wrap.creationTime),
      creation_path: wrap.creationPath,
    };
  }
  if (response.warnings !== undefined && response.warnings.length > 0) {
    out['warnings'] = [...response.warnings];
  }
  return out;
}

/**
 * The Vault-shaped audit object for one device: `{time, type, auth, request, response?,
 * error}`. Tokens, accessors (unless hmac_accessor is off), metadata values and every string
 * inside request and response data are replaced by their HMAC under the device's salt. Paths,
 * operations, mount types, policies, display names, lease ids and error messages stay in
 * clear, as in Vault (consumers such as vault-sync filter on them).
 */
export function formatAuditEntry(
  type: AuditEntryType,
  record: AuditResponseRecord,
  epochMs: number,
  hash: Hasher,
  options: FormatOptions,
): JsonObject {
  const entry: Record<string, JsonValue> = {
    time: rfc3339Nano(epochMs),
    type,
    auth: authBlock(record.auth, hash, options),
    request: requestBlock(record.request, hash, options),
  };
  if (type === 'response' && record.response !== undefined) {
    entry['response'] = responseBlock(record.response, hash, options);
  }
  entry['error'] = record.error ?? '';
  return entry;
}
