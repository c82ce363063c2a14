// Calls the web UI makes beyond CofferClient's own methods, typed: response wrapping for
// one-time share links, the resultant ACL, the mount list, lease listing, audit devices and
// the audit log view. Browser-safe (no Node module), like everything browser.ts exports.
import type { CofferClient } from './client.js';
import { ClientError } from './errors.js';
import { isRecord, sanitizePath } from './kv-path.js';
import { requireNonEmpty } from './tokens.js';
import type { ApiResponse, MountEntry, WrapInfo } from './types.js';

/** `data` of an envelope, or the top level for routes that copy it there (sys/audit does). */
function dataOf(response: ApiResponse | undefined, path: string): Record<string, unknown> {
  if (response === undefined) throw new ClientError(`unexpected empty response from ${path}`);
  if (isRecord(response.data)) return response.data;
  throw new ClientError(`unexpected response shape from ${path} (no data)`);
}

function keysOf(response: ApiResponse | undefined): string[] {
  const keys = response?.data?.['keys'];
  return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
}

// ---- response wrapping ----------------------------------------------------------------------

/**
 * Wraps `data` in a single-use token that lives `ttl` (seconds or a Go duration such as "1h").
 * SECURITY: the answer's token is the only way to the data; it is returned, never logged.
 */
export async function wrapData(
  client: CofferClient,
  data: Record<string, unknown>,
  ttl: string | number,
): Promise<WrapInfo> {
  const response = await client.request('POST', 'sys/wrapping/wrap', {
    body: data,
    headers: { 'X-Vault-Wrap-TTL': String(ttl) },
  });
  const info = response?.wrap_info;
  if (!isRecord(info) || typeof info.token !== 'string' || info.token === '') {
    throw new ClientError('unexpected response shape from sys/wrapping/wrap (no wrap_info)');
  }
  return info;
}

/** What a wrapping token holds, without spending it: creation time, TTL and creation path. */
export interface WrapLookup {
  readonly creationTime: string;
  readonly creationPath: string;
  readonly creationTtlSeconds: number;
}

/** `POST sys/wrapping/lookup {token}`: needs no client token; the token is not spent. */
export async function lookupWrapping(
  client: CofferClient,
  wrappingToken: string,
): Promise<WrapLookup> {
  const response = await client.request('POST', 'sys/wrapping/lookup', {
    body: { token: requireNonEmpty(wrappingToken, 'wrapping token') },
  });
  const data = dataOf(response, 'sys/wrapping/lookup');
  return {
    creationTime: typeof data['creation_time'] === 'string' ? data['creation_time'] : '',
    creationPath: typeof data['creation_path'] === 'string' ? data['creation_path'] : '',
    creationTtlSeconds: typeof data['creation_ttl'] === 'number' ? data['creation_ttl'] : 0,
  };
}

// ---- what the caller may do -----------------------------------------------------------------

/** One path of the resultant ACL with its capabilities (`["deny"]` when it grants nothing). */
export interface AclPath {
  readonly capabilities: readonly string[];
}

/** `GET sys/internal/ui/resultant-acl`: the rules the caller's policies add up to. */
export interface ResultantAcl {
  readonly root: boolean;
  /** Keyed by exact path. */
  readonly exactPaths: Readonly<Record<string, AclPath>>;
  /** Keyed by prefix (a trailing `*` removed) or by a pattern holding a `+` segment. */
  readonly globPaths: Readonly<Record<string, AclPath>>;
}

function aclPaths(value: unknown): Record<string, AclPath> {
  const out: Record<string, AclPath> = {};
  if (!isRecord(value)) return out;
  for (const [path, entry] of Object.entries(value)) {
    const caps = isRecord(entry) ? entry['capabilities'] : undefined;
    out[path] = {
      capabilities: Array.isArray(caps) ? caps.filter((c) => typeof c === 'string') : ['deny'],
    };
  }
  return out;
}

export async function resultantAcl(client: CofferClient): Promise<ResultantAcl> {
  const path = 'sys/internal/ui/resultant-acl';
  const data = dataOf(await client.request('GET', path), path);
  return {
    root: data['root'] === true,
    exactPaths: aclPaths(data['exact_paths']),
    globPaths: aclPaths(data['glob_paths']),
  };
}

/** A secret engine mount as `sys/internal/ui/mounts` reports it, with its path ("secret/"). */
export type UiMount = MountEntry & { readonly path: string };

/** Every secret engine mount (root, or a token allowed `sys/internal/ui/mounts/`). */
export async function listSecretMounts(client: CofferClient): Promise<UiMount[]> {
  const data = dataOf(
    await client.request('GET', 'sys/internal/ui/mounts/'),
    'sys/internal/ui/mounts',
  );
  const secret = data['secret'];
  if (!isRecord(secret)) return [];
  return Object.entries(secret).map(([path, entry]) => ({
    ...(entry as MountEntry),
    path,
  }));
}

/** The mount serving `path` (any path inside it); a limited token may probe what it can use. */
export async function mountOf(client: CofferClient, path: string): Promise<UiMount> {
  const clean = sanitizePath(path);
  if (clean === '') throw new ClientError('a path is required');
  const where = `sys/internal/ui/mounts/${clean}`;
  const data = dataOf(await client.request('GET', where), where);
  const mountPath = typeof data['path'] === 'string' ? data['path'] : '';
  return { ...(data as unknown as MountEntry), path: mountPath };
}

// ---- leases -----------------------------------------------------------------------------------

/** Lease ids and sub-prefixes ("database/creds/app/") under `prefix` (sudo); [] when none. */
export async function listLeases(client: CofferClient, prefix: string): Promise<string[]> {
  return keysOf(await client.list(`sys/leases/lookup/${sanitizePath(prefix)}`));
}

// ---- audit ------------------------------------------------------------------------------------

/** One audit device as `GET sys/audit` lists it. */
export interface AuditDevice {
  readonly path: string;
  readonly type: string;
  readonly description: string;
  readonly options: Readonly<Record<string, string>>;
}

export async function listAuditDevices(client: CofferClient): Promise<AuditDevice[]> {
  const data = dataOf(await client.request('GET', 'sys/audit'), 'sys/audit');
  return Object.entries(data)
    .filter(([, entry]) => isRecord(entry))
    .map(([path, entry]) => {
      const e = entry as Record<string, unknown>;
      return {
        path,
        type: typeof e['type'] === 'string' ? e['type'] : '',
        description: typeof e['description'] === 'string' ? e['description'] : '',
        options: isRecord(e['options']) ? (e['options'] as Record<string, string>) : {},
      };
    });
}

/** The hash-chain verification of a file device, as `sys/audit-log` reports it. */
export interface AuditVerification {
  readonly ok: boolean;
  readonly lines: number;
  readonly checkpoints: number;
  readonly signatures_checked: boolean;
  readonly unsigned_trailing_lines: number;
  readonly first_bad_line?: number;
  readonly problem?: string;
  readonly first_seq?: number;
  readonly last_seq?: number;
  readonly last_line_hash?: string;
  readonly server_head: { readonly seq: number; readonly hash: string };
  readonly matches_server_head: boolean;
}

/** `GET sys/audit-log/:device`: verification and recent entries (as written, HMAC'd). */
export interface AuditLogView {
  readonly path: string;
  readonly type: string;
  readonly readable: boolean;
  readonly reason?: string;
  readonly file_path?: string;
  readonly size_bytes?: number;
  readonly verification: AuditVerification | null;
  readonly entries: readonly Record<string, unknown>[];
  readonly scanned_whole_file?: boolean;
  /** Base64 SPKI of the device's checkpoint key. */
  readonly checkpoint_public_key?: string;
  /** The server's chain head for the device: the last line's seq and SHA-256. */
  readonly server_head?: { readonly seq: number; readonly hash: string };
}

export async function readAuditLog(
  client: CofferClient,
  device: string,
  options: { readonly filter?: string; readonly limit?: number; readonly verify?: boolean } = {},
): Promise<AuditLogView> {
  const query: Record<string, string> = {};
  if (options.filter !== undefined && options.filter !== '') query['filter'] = options.filter;
  if (options.limit !== undefined) query['limit'] = String(options.limit);
  if (options.verify !== undefined) query['verify'] = String(options.verify);
  const where = `sys/audit-log/${requireNonEmpty(sanitizePath(device), 'device')}`;
  const data = dataOf(await client.request('GET', where, { query }), where);
  return data as unknown as AuditLogView;
}

/** The HMAC a device writes for `input`, to search its log for a value. */
export async function auditHash(
  client: CofferClient,
  device: string,
  input: string,
): Promise<string> {
  const where = `sys/audit-hash/${requireNonEmpty(sanitizePath(device), 'device')}`;
  const data = dataOf(await client.request('POST', where, { body: { input } }), where);
  const hash = data['hash'];
  if (typeof hash !== 'string') throw new ClientError(`unexpected response shape from ${where}`);
  return hash;
}
