// The logical storage contract engines and core services see: a key/value view of the
// barrier, already encrypted below and already prefixed to the caller's own area.
import { CofferError } from './errors.js';
import type { JsonValue } from './json.js';

export type StorageOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string };

export interface Storage {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * The direct children of `prefix`, sorted: leaf names as they are, and each folder once,
   * with a trailing `/` (Vault's list semantics). `prefix` is '' or ends with '/'.
   */
  list(prefix: string): Promise<string[]>;
  /** Applies every operation or none (one durable commit). */
  batch(ops: readonly StorageOp[]): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: JsonValue | object): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export async function getJson<T>(storage: Storage, key: string): Promise<T | undefined> {
  const raw = await storage.get(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(decoder.decode(raw)) as T;
  } catch (cause) {
    throw new CofferError('integrity_failure', 'stored entry is not valid JSON', { cause });
  }
}

export async function putJson(storage: Storage, key: string, value: object): Promise<void> {
  await storage.put(key, encodeJson(value));
}

/** Folds a sorted list of full keys under `prefix` into Vault-style direct children. */
export function directChildren(prefix: string, keys: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    if (rest === '') continue;
    const slash = rest.indexOf('/');
    out.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...out].sort();
}

/** A storage seen through a fixed key prefix ("chroot"); the prefix ends with '/'. */
export function prefixedStorage(inner: Storage, prefix: string): Storage {
  if (prefix !== '' && !prefix.endsWith('/')) {
    throw new CofferError('internal', 'storage view prefix must end with "/"');
  }
  return {
    get: (key) => inner.get(prefix + key),
    put: (key, value) => inner.put(prefix + key, value),
    delete: (key) => inner.delete(prefix + key),
    list: (p) => inner.list(prefix + p),
    batch: (ops) => inner.batch(ops.map((op) => ({ ...op, key: prefix + op.key }))),
  };
}
