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
 * Optional ability: a consistent copy of every entry, and replacing every entry with a copy.
 * The snapshot file is a SQLite database with one table `entries (key TEXT PRIMARY KEY, value
 * BLOB)` holding the entries exactly as stored: ciphertext, never decrypted (ADR 0006), so any
 * backend can write and read the same format.
 */
export interface SnapshotBackend extends PhysicalBackend {
  /**
   * Writes the snapshot to `file` (which must not exist). Every write acknowledged before the
   * call is in it; writes made during it may or may not be.
   */
  saveSnapshot(file: string): Promise<void>;
  /** Replaces every entry with those of the snapshot at `file`, atomically. */
  restoreSnapshot(file: string): Promise<void>;
}

export function isSnapshotBackend(backend: PhysicalBackend): backend is SnapshotBackend {
  const b = backend as Partial<SnapshotBackend>;
  return typeof b.saveSnapshot === 'function' && typeof b.restoreSnapshot === 'function';
}
