// KV path arithmetic, kept pure so it can be tested without a server: where a user path such as
// "secret/app/db" lands on the wire for KV v1 and v2, and how the mount probe's answer is read.
import { ClientError } from './errors.js';
import type { ApiResponse, KvMountInfo } from './types.js';

/** The sub-paths a KV v2 mount exposes under `<mount>/<segment>/<key>`. */
export type KvSegment = 'data' | 'metadata' | 'delete' | 'undelete' | 'destroy';

/** Trims whitespace and leading/trailing slashes, like the Vault CLI's `sanitizePath`. */
export function sanitizePath(path: string): string {
  return path.trim().replace(/^\/+/, '').replace(/\/+$/, '');
}

/** The full logical path of a key: `mount` may be "" (path-style, the mount is inside `path`). */
export function joinKvPath(mount: string, path: string): string {
  const m = sanitizePath(mount);
  const p = sanitizePath(path);
  if (m === '') return p;
  return p === '' ? m : `${m}/${p}`;
}

/**
 * The API path for `fullPath` on `mount`. KV v1 has no sub-paths, so it is the full path itself;
 * KV v2 inserts `segment` after the mount: "secret/app/db" → "secret/data/app/db".
 */
export function kvApiPath(fullPath: string, mount: KvMountInfo, segment: KvSegment): string {
  const full = sanitizePath(fullPath);
  if (mount.version === 1) return full;
  const key = keyWithinMount(full, mount.path);
  const base = `${mount.path}${segment}`;
  return key === '' ? base : `${base}/${key}`;
}

/** The part of `fullPath` after `mountPath` ("secret/app/db" on "secret/" → "app/db"). */
export function keyWithinMount(fullPath: string, mountPath: string): string {
  const full = sanitizePath(fullPath);
  if (`${full}/` === mountPath) return '';
  if (!full.startsWith(mountPath)) {
    throw new ClientError(`path is not inside the mount ${mountPath}`);
  }
  return sanitizePath(full.slice(mountPath.length));
}

/** Appends the trailing slash a list path carries (Vault does the same for the LIST verb). */
export function listPath(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

/**
 * Reads `GET sys/internal/ui/mounts/<path>` the way the Vault CLI does: no answer (404) means
 * KV v1; otherwise the mount path is `data.path` and the version is `data.options.version`
 * when the mount's type is "kv" (any other type, e.g. "generic", behaves like v1).
 */
export function parseKvMountProbe(response: ApiResponse | undefined): KvMountInfo {
  const data = response?.data;
  if (data === null || data === undefined) return { path: '', version: 1 };
  const rawPath = data['path'];
  const path = typeof rawPath === 'string' ? sanitizePath(rawPath) : '';
  const mountPath = path === '' ? '' : `${path}/`;
  const options = data['options'];
  const version =
    data['type'] === 'kv' && isRecord(options) && String(options['version']) === '2' ? 2 : 1;
  return { path: mountPath, version };
}

/**
 * Finds the cached mount that contains `fullPath` (longest prefix wins). Keys of `cache` end
 * with "/"; a v1 entry learnt from a 404 is keyed by the probed path itself.
 */
export function findCachedMount(
  cache: ReadonlyMap<string, KvMountInfo>,
  fullPath: string,
): KvMountInfo | undefined {
  const probe = `${sanitizePath(fullPath)}/`;
  let best: string | undefined;
  for (const prefix of cache.keys()) {
    if (probe.startsWith(prefix) && (best === undefined || prefix.length > best.length)) {
      best = prefix;
    }
  }
  return best === undefined ? undefined : cache.get(best);
}

/** Encodes each segment of a logical path for the URL, keeping the slashes. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
