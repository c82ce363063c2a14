// Reading secrets for delivery: each distinct read target once per resolution, KV v1/v2 decided by
// the mount probe (as the kv commands do), and any lease on the answer remembered for renewal.
import type { CofferClient } from './client.js';
import { ClientError } from './errors.js';
import { isRecord, keyWithinMount, kvApiPath } from './kv-path.js';
import type { ApiResponse } from './types.js';

/**
 * What to read. `kv` takes a user-style path ("secret/app", "database/creds/app"): on a KV v2
 * mount `data/` is inserted and `version` may pick a version; any other mount is read as is.
 * `api` takes the API path itself ("secret/data/app"), as agent templates write it.
 */
export type ReadTarget =
  | { readonly kind: 'kv'; readonly path: string; readonly version?: number }
  | { readonly kind: 'api'; readonly path: string };

/** A lease that came with a read (dynamic secrets such as database credentials). */
export interface SecretLease {
  readonly leaseId: string;
  /** Seconds the lease had left when it was read. */
  readonly leaseDurationSeconds: number;
  readonly renewable: boolean;
}

export interface SecretRead {
  readonly target: ReadTarget;
  /** The logical path that was read ("secret/data/app"). */
  readonly apiPath: string;
  /** The key/value map: a KV v2 version's `data.data`, otherwise the answer's `data`. */
  readonly data: Readonly<Record<string, unknown>>;
  /** The answer's whole `data` (for KV v2 with its `data` and `metadata`), as Vault sends it. */
  readonly responseData?: Readonly<Record<string, unknown>>;
  readonly lease?: SecretLease;
  /**
   * Logical paths whose change events make this read stale: the path itself, and for KV v2 the
   * metadata/, delete/, undelete/ and destroy/ paths of the same key.
   */
  readonly watchPaths: readonly string[];
}

/** A secret that cannot be delivered (missing, deleted, no such key); safe to print. */
export class ResolveError extends ClientError {
  constructor(message: string) {
    super(message);
    this.name = 'ResolveError';
  }
}

/** A stable identity for a target, so each distinct one is read once. */
export function targetId(target: ReadTarget): string {
  if (target.kind === 'api') return `api:${target.path}`;
  return `kv:${target.path}${target.version === undefined ? '' : `?version=${target.version}`}`;
}

/** How a target reads in messages: the path, with its version when one was asked for. */
export function describeTarget(target: ReadTarget): string {
  return target.kind === 'kv' && target.version !== undefined
    ? `${target.path}?version=${target.version}`
    : target.path;
}

/**
 * Reads every distinct target in `targets` (duplicates are read once, concurrently) and returns
 * the reads keyed by targetId. A target found in `reuse` (keyed by targetId) is not read again:
 * each read of a dynamic secret issues a new credential, so one whose lease is still alive is
 * kept. Throws ResolveError for a missing or deleted secret; API and connection errors pass
 * through.
 */
export async function readSecrets(
  client: CofferClient,
  targets: readonly ReadTarget[],
  reuse: ReadonlyMap<string, SecretRead> = new Map(),
): Promise<Map<string, SecretRead>> {
  const distinct = new Map<string, ReadTarget>();
  for (const target of targets) distinct.set(targetId(target), target);
  const reads = await Promise.all(
    [...distinct.entries()].map(async ([id, target]) => [
      id,
      reuse.get(id) ?? (await readOne(client, target)),
    ]),
  );
  return new Map(reads as [string, SecretRead][]);
}

async function readOne(client: CofferClient, target: ReadTarget): Promise<SecretRead> {
  const { fullPath, mount } = await client.resolveKvMount('', target.path);
  const shown = describeTarget(target);
  let apiPath = fullPath;
  let innerData = false;
  const query: Record<string, string> = {};
  if (target.kind === 'kv') {
    if (mount.version === 2) {
      apiPath = kvApiPath(fullPath, mount, 'data');
      innerData = true;
      if (target.version !== undefined) query['version'] = String(target.version);
    } else if (target.version !== undefined) {
      throw new ResolveError(`${shown}: a version can be asked for only on a KV version 2 mount`);
    }
  } else if (mount.version === 2 && keyWithinMount(fullPath, mount.path).startsWith('data/')) {
    innerData = true;
  }
  const response = await client.read(apiPath, query);
  if (response === undefined) throw new ResolveError(`no secret at ${shown}`);
  const data = innerData ? kvV2Data(response, shown) : (response.data ?? {});
  const lease = leaseOf(response);
  const watchPaths =
    mount.version === 2 && innerData ? kvV2WatchPaths(mount.path, fullPath, apiPath) : [apiPath];
  const responseData = isRecord(response.data) ? response.data : {};
  return {
    target,
    apiPath,
    data,
    responseData,
    watchPaths,
    ...(lease === undefined ? {} : { lease }),
  };
}

function kvV2Data(response: ApiResponse, shown: string): Record<string, unknown> {
  const body = response.data;
  if (!isRecord(body)) throw new ResolveError(`unexpected answer for ${shown}`);
  if (isRecord(body['data'])) return body['data'];
  // A deleted or destroyed version answers with metadata and `data: null`.
  throw new ResolveError(`the secret at ${shown} is deleted or destroyed`);
}

function kvV2WatchPaths(mountPath: string, fullPath: string, apiPath: string): string[] {
  const withinMount = keyWithinMount(fullPath, mountPath);
  const key = withinMount.startsWith('data/') ? withinMount.slice('data/'.length) : withinMount;
  const paths = ['metadata', 'delete', 'undelete', 'destroy'].map((s) => `${mountPath}${s}/${key}`);
  return [apiPath, ...paths];
}

function leaseOf(response: ApiResponse): SecretLease | undefined {
  const leaseId = response.lease_id;
  if (typeof leaseId !== 'string' || leaseId === '') return undefined;
  const duration = response.lease_duration;
  return {
    leaseId,
    leaseDurationSeconds: typeof duration === 'number' && duration > 0 ? duration : 0,
    renewable: response.renewable === true,
  };
}

/**
 * A secret value as an environment variable or template text: strings as they are, numbers
 * and booleans printed, null as "", objects and lists as JSON.
 */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
