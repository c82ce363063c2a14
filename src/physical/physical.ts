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

/** The active node as the lease row records it. */
export interface LeaderRecord {
  /** The node's random id for this process. */
  readonly holder: string;
  /** The leader's api_addr (where standbys forward or redirect). */
  readonly address: string;
  /** Fencing epoch, a decimal string (bigint); grows with every new leadership. */
  readonly epoch: string;
  /** When this leadership began, epoch ms (database clock). */
  readonly acquiredAt: number;
}

/**
 * Optional ability: a leader lease for several nodes sharing one store (HA), with a fencing
 * epoch that every write transaction re-checks. Found with `isHaBackend`.
 */
export interface FencedHaBackend extends PhysicalBackend {
  /** Takes the lease if it is free or expired; the new epoch, or undefined if held. */
  tryAcquireLeadership(holder: string, address: string, ttlMs: number): Promise<string | undefined>;
  /** Extends our lease; false when the epoch moved on (we were deposed). */
  renewLeadership(holder: string, epoch: string, ttlMs: number): Promise<boolean>;
  /** Expires our lease at once (step-down, shutdown). */
  releaseLeadership(holder: string, epoch: string): Promise<void>;
  /** The live leader, or undefined when the lease is free or expired. */
  readLeader(): Promise<LeaderRecord | undefined>;
  /**
   * SECURITY: the write fence. An epoch: every write commits only while the lease row still
   * has it. 'standby': every write is refused. 'open': unfenced (before HA starts).
   */
  setFence(fence: { readonly epoch: string } | 'standby' | 'open'): void;
  /** Broadcasts to every node's `onNotify` handlers (PostgreSQL NOTIFY). */
  notify(payload: string): Promise<void>;
  onNotify(handler: (payload: string) => void): () => void;
}

export function isHaBackend(backend: PhysicalBackend): backend is FencedHaBackend {
  return typeof (backend as Partial<FencedHaBackend>).tryAcquireLeadership === 'function';
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
