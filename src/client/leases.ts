// Lease and response-wrapping wire shapes (sys/leases/*, sys/wrapping/unwrap) and the pure
// request building and answer decoding behind the client's lease and unwrap methods.
import { ClientError } from './errors.js';
import { encodePath, isRecord } from './kv-path.js';
import type { ApiResponse } from './types.js';

/**
 * `data` of `sys/leases/lookup`. Times are RFC 3339; `expire_time` and `last_renewal` are null
 * when the lease never expires or was never renewed. `ttl` is the seconds left.
 */
export interface LeaseInfo {
  readonly id: string;
  readonly issue_time?: string;
  readonly expire_time?: string | null;
  readonly last_renewal?: string | null;
  readonly renewable?: boolean;
  readonly ttl: number;
  readonly [key: string]: unknown;
}

/** A lookup: the decoded `data` and the whole response (for `-format=json`). */
export interface LeaseLookup {
  readonly info: LeaseInfo;
  readonly response: ApiResponse;
}

/** A renewal: what the server granted (`leaseDurationSeconds` may be less than asked). */
export interface LeaseRenewal {
  readonly leaseId: string;
  readonly renewable: boolean;
  readonly leaseDurationSeconds: number;
  readonly response: ApiResponse;
}

/**
 * How `revokeLease` revokes: one lease, every lease under a prefix, or (sudo, last resort) every
 * lease under a prefix even when the engine's revocation fails. `sync: false` asks the server
 * to queue the revocation instead of waiting for it (the server's default is to wait).
 */
export type LeaseRevokeTarget =
  | { readonly kind: 'lease'; readonly leaseId: string; readonly sync?: boolean }
  | { readonly kind: 'prefix'; readonly prefix: string; readonly sync?: boolean }
  | { readonly kind: 'force'; readonly prefix: string };

/** SECURITY: names the argument, never its value. */
function nonEmpty(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === '') throw new ClientError(`${what} must not be empty`);
  return trimmed;
}

/** The body of `sys/leases/renew`; `increment` (seconds) only when asked for. */
export function leaseRenewBody(
  leaseId: string,
  incrementSeconds?: number,
): Record<string, unknown> {
  const body: Record<string, unknown> = { lease_id: nonEmpty(leaseId, 'lease id') };
  if (incrementSeconds !== undefined) {
    if (!Number.isSafeInteger(incrementSeconds) || incrementSeconds < 0) {
      throw new ClientError('increment must be a non-negative whole number of seconds');
    }
    body['increment'] = incrementSeconds;
  }
  return body;
}

/**
 * The endpoint and body of a revocation. A single lease id travels in the body; a prefix is
 * part of the URL (as in Vault), each segment percent-encoded, a trailing "/" kept.
 */
export function leaseRevokeRequest(target: LeaseRevokeTarget): {
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
} {
  if (target.kind === 'lease') {
    const body: Record<string, unknown> = { lease_id: nonEmpty(target.leaseId, 'lease id') };
    if (target.sync === false) body['sync'] = false;
    return { path: 'sys/leases/revoke', body };
  }
  const prefix = nonEmpty(target.prefix, 'prefix').replace(/^\/+/, '');
  if (prefix === '' || prefix.split('/').some((s) => s === '.' || s === '..')) {
    throw new ClientError('prefix must be a lease id prefix without "." or ".." segments');
  }
  if (target.kind === 'force') {
    return { path: `sys/leases/revoke-force/${encodePath(prefix)}`, body: undefined };
  }
  return {
    path: `sys/leases/revoke-prefix/${encodePath(prefix)}`,
    body: target.sync === false ? { sync: false } : undefined,
  };
}

/** The `data` of a lease lookup answer; anything else is a server fault. */
export function leaseInfoOf(response: ApiResponse | undefined): LeaseLookup {
  const data = response?.data;
  if (response === undefined || !isRecord(data) || typeof data['id'] !== 'string') {
    throw new ClientError('unexpected response shape from sys/leases/lookup (no data.id)');
  }
  const ttl = typeof data['ttl'] === 'number' ? data['ttl'] : 0;
  return { info: { ...data, id: data['id'], ttl }, response };
}

/**
 * A renewal answer. Vault puts `lease_id`, `renewable` and `lease_duration` in the envelope;
 * some servers put them in `data`: the envelope wins when it has a lease id.
 */
export function leaseRenewalOf(response: ApiResponse | undefined): LeaseRenewal {
  if (response === undefined) {
    throw new ClientError('unexpected response shape from sys/leases/renew (empty)');
  }
  const envelope = typeof response.lease_id === 'string' && response.lease_id !== '';
  const source: Record<string, unknown> = envelope ? response : (response.data ?? {});
  const leaseId = source['lease_id'];
  if (typeof leaseId !== 'string' || leaseId === '') {
    throw new ClientError('unexpected response shape from sys/leases/renew (no lease_id)');
  }
  const duration = source['lease_duration'];
  return {
    leaseId,
    renewable: source['renewable'] === true,
    leaseDurationSeconds: typeof duration === 'number' ? duration : 0,
    response,
  };
}
