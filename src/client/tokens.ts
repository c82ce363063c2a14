// Token store wire shapes (auth/token/*, sys/capabilities*) and the pure request building behind
// the client's token methods: which endpoint a create goes to and which body it sends.
import { ClientError } from './errors.js';
import { isRecord } from './kv-path.js';
import type { ApiResponse, AuthInfo } from './types.js';

export type TokenType = 'service' | 'batch';

/**
 * What `createToken` may set; only the fields given are sent, so the server's defaults apply
 * to the rest (renewable: true, the parent's policies, the mount's TTL...). Durations are Go
 * duration strings ("1h30m") or whole seconds.
 */
export interface TokenCreateOptions {
  readonly policies?: readonly string[];
  readonly ttl?: string | number;
  readonly explicitMaxTtl?: string | number;
  readonly period?: string | number;
  /** Uses before the token is revoked; 0 = unlimited. */
  readonly numUses?: number;
  readonly displayName?: string;
  readonly meta?: Readonly<Record<string, string>>;
  /** `no_parent` on `auth/token/create` (root or sudo only). */
  readonly noParent?: boolean;
  readonly noDefaultPolicy?: boolean;
  readonly renewable?: boolean;
  readonly type?: TokenType;
  /** A chosen token id (root only). SECURITY: a secret; sent in the body only. */
  readonly id?: string;
  /** Create through `auth/token/create-orphan` (no parent, so no cascading revocation). */
  readonly orphan?: boolean;
  /** Create through `auth/token/create/:role`. */
  readonly role?: string;
}

/**
 * `data` of `auth/token/lookup*`. Times: `creation_time` epoch seconds, `issue_time` and
 * `expire_time` RFC 3339 (`expire_time` null when the token never expires); TTLs in seconds.
 * SECURITY: `id` is the token itself ("" when looked up by accessor).
 */
export interface TokenInfo {
  readonly accessor: string;
  readonly creation_time?: number;
  readonly creation_ttl?: number;
  readonly display_name?: string;
  readonly entity_id?: string;
  readonly expire_time?: string | null;
  readonly explicit_max_ttl?: number;
  readonly id?: string;
  readonly issue_time?: string;
  readonly meta?: Record<string, string> | null;
  readonly num_uses?: number;
  readonly orphan?: boolean;
  readonly path?: string;
  readonly policies: string[];
  readonly identity_policies?: string[];
  readonly renewable?: boolean;
  /** Seconds left; 0 for a token that never expires (root). */
  readonly ttl: number;
  readonly type?: string;
  readonly period?: number;
  readonly [key: string]: unknown;
}

/** A lookup: the decoded `data` and the whole response (for `-format=json`). */
export interface TokenLookup {
  readonly info: TokenInfo;
  readonly response: ApiResponse;
}

/** A create or renew: the `auth` block and the whole response. */
export interface TokenAuth {
  readonly auth: AuthInfo;
  readonly response: ApiResponse;
}

/** Capabilities per path, as `sys/capabilities*` report them (`["deny"]` when nothing matches). */
export type CapabilityReport = Record<string, string[]>;

/** Who a capability query is about: the caller, another token, or the token behind an accessor. */
export type CapabilityTarget =
  | { readonly kind: 'self' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'accessor'; readonly accessor: string };

/** The endpoint and body of a token creation. */
export function tokenCreateRequest(options: TokenCreateOptions): {
  readonly path: string;
  readonly body: Record<string, unknown>;
} {
  if (options.orphan === true && options.role !== undefined) {
    throw new ClientError('a token is created either as an orphan or from a role, not both');
  }
  let path = 'auth/token/create';
  if (options.orphan === true) path = 'auth/token/create-orphan';
  if (options.role !== undefined) {
    const role = options.role.trim();
    if (role === '' || role.includes('/')) {
      throw new ClientError('role must be a non-empty name without "/"');
    }
    path = `auth/token/create/${role}`;
  }
  const body: Record<string, unknown> = {};
  if (options.policies !== undefined) body['policies'] = [...options.policies];
  if (options.ttl !== undefined) body['ttl'] = options.ttl;
  if (options.explicitMaxTtl !== undefined) body['explicit_max_ttl'] = options.explicitMaxTtl;
  if (options.period !== undefined) body['period'] = options.period;
  if (options.numUses !== undefined) {
    if (!Number.isSafeInteger(options.numUses) || options.numUses < 0) {
      throw new ClientError('numUses must be a non-negative whole number');
    }
    body['num_uses'] = options.numUses;
  }
  if (options.displayName !== undefined) body['display_name'] = options.displayName;
  if (options.meta !== undefined) body['meta'] = { ...options.meta };
  if (options.noParent !== undefined) body['no_parent'] = options.noParent;
  if (options.noDefaultPolicy !== undefined) body['no_default_policy'] = options.noDefaultPolicy;
  if (options.renewable !== undefined) body['renewable'] = options.renewable;
  if (options.type !== undefined) body['type'] = options.type;
  if (options.id !== undefined) body['id'] = options.id;
  return { path, body };
}

/** SECURITY: names the argument, never its value. */
export function requireNonEmpty(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === '') throw new ClientError(`${what} must not be empty`);
  return trimmed;
}

/** The `auth` block of a create or renew answer; anything else is a server fault. */
export function authOf(response: ApiResponse | undefined, path: string): TokenAuth {
  const auth = response?.auth;
  if (response === undefined || !isRecord(auth) || typeof auth.accessor !== 'string') {
    throw new ClientError(`unexpected response shape from ${path} (no auth block)`);
  }
  return { auth, response };
}

/** The `data` of a lookup answer. */
export function tokenInfoOf(response: ApiResponse | undefined, path: string): TokenLookup {
  const data = response?.data;
  if (response === undefined || !isRecord(data)) {
    throw new ClientError(`unexpected response shape from ${path} (no data)`);
  }
  const policies = Array.isArray(data['policies'])
    ? data['policies'].filter((p): p is string => typeof p === 'string')
    : [];
  const ttl = typeof data['ttl'] === 'number' ? data['ttl'] : 0;
  const accessor = typeof data['accessor'] === 'string' ? data['accessor'] : '';
  return { info: { ...data, accessor, policies, ttl }, response };
}

/**
 * The per-path map of a capabilities answer. The extra `capabilities` key Vault adds for a
 * single path is dropped unless it was itself one of the asked paths.
 */
export function capabilitiesOf(
  response: ApiResponse | undefined,
  paths: readonly string[],
): CapabilityReport {
  const data = response?.data;
  if (!isRecord(data)) throw new ClientError('unexpected response shape from sys/capabilities');
  const report: CapabilityReport = {};
  for (const path of paths) {
    const key = path.replace(/^\/+/, '');
    const raw = data[key] ?? data[path] ?? (paths.length === 1 ? data['capabilities'] : undefined);
    report[key] = Array.isArray(raw) ? raw.filter((c): c is string => typeof c === 'string') : [];
  }
  return report;
}
