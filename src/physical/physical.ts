// The physical storage contract: an untrusted key/value store of opaque bytes. Everything
// above the barrier is encrypted before it gets here; keys (paths) are stored in clear.
import type { StorageOp } from '../sdk/storage.js';

export interface PhysicalBackend {
  /** Short name for logs and sys/seal-status `storage_type` ("inmem", "sqlite", ...). */
  readonly type: string;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Resolves only once the write is durable (per the backend's durability setting). */
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Direct children of `prefix`, sorted; folders once, with a trailing '/'. */
  list(prefix: string): Promise<string[]>;
  /** Atomic: every op or none, in one durable commit. */
  batch(ops: readonly StorageOp[]): Promise<void>;
  /** Finishes in-flight writes, then releases the store. */
  close(): Promise<void>;
}

/** Optional ability: a leadership lock for several nodes sharing one store (HA). */
export interface HaBackend extends PhysicalBackend {
  acquireLock(name: string, holderId: string): Promise<{ release(): Promise<void> } | undefined>;
}

export function isHaBackend(backend: PhysicalBackend): backend is HaBackend {
  return typeof (backend as Partial<HaBackend>).acquireLock === 'function';
}

/**
 * Optional ability: a backend that reports each write transaction, for the storage commit
 * metric. `start` is called as a commit begins; the function it returns, as it ends.
 */
export interface CommitTimedBackend extends PhysicalBackend {
  timeCommits(start: () => () => void): void;
}

export function isCommitTimedBackend(backend: PhysicalBackend): backend is CommitTimedBackend {
  return typeof (backend as Partial<CommitTimedBackend>).timeCommits === 'function';
}
