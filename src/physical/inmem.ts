// The in-memory physical backend: a sorted-key map for tests and `server --dev`. Nothing survives
// the process; every value is copied in and out so callers never share stored bytes.
import { CofferError } from '../sdk/errors.js';
import type { StorageOp } from '../sdk/storage.js';
import type { SnapshotBackend } from './physical.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';

/** First index in the sorted `keys` whose key is >= `target` (JS string order). */
function lowerBound(keys: readonly string[], target: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new CofferError('internal', 'in-memory storage failed');
}

class InmemBackend implements SnapshotBackend {
  readonly type = 'inmem';
  readonly #values = new Map<string, Uint8Array>();
  /** Invariant: exactly the keys of #values, sorted ascending in JS (UTF-16) order. */
  readonly #keys: string[] = [];
  #closed = false;

  #checkOpen(): void {
    if (this.#closed) throw new CofferError('internal', 'the in-memory storage is closed');
  }

  /** Synchronous, so no write interleaves: the copy is consistent (ADR 0006). */
  saveSnapshot(file: string): Promise<void> {
    this.#checkOpen();
    writeSnapshotFile(
      file,
      this.#keys.map((key) => [key, this.#values.get(key)!] as const),
    );
    return Promise.resolve();
  }

  /** Reads the whole file first, so a bad file changes nothing. */
  restoreSnapshot(file: string): Promise<void> {
    this.#checkOpen();
    let entries: [string, Uint8Array][];
    try {
      entries = readSnapshotFile(file);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    this.#values.clear();
    this.#keys.length = 0;
    for (const [key, value] of entries) {
      this.#values.set(key, value);
      this.#keys.push(key);
    }
    this.#keys.sort();
    return Promise.resolve();
  }

  #set(key: string, value: Uint8Array): void {
    if (!this.#values.has(key)) {
      this.#keys.splice(lowerBound(this.#keys, key), 0, key);
    }
    // SECURITY: a private copy, so the caller mutating its array cannot change stored bytes.
    this.#values.set(key, new Uint8Array(value));
  }

  #remove(key: string): void {
    if (!this.#values.delete(key)) return;
    this.#keys.splice(lowerBound(this.#keys, key), 1);
  }

  get(key: string): Promise<Uint8Array | undefined> {
    try {
      this.#checkOpen();
      const value = this.#values.get(key);
      return Promise.resolve(value === undefined ? undefined : new Uint8Array(value));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.batch([{ op: 'put', key, value }]);
  }

  delete(key: string): Promise<void> {
    return this.batch([{ op: 'delete', key }]);
  }

  list(prefix: string): Promise<string[]> {
    try {
      this.#checkOpen();
      const children = new Set<string>();
      let index = lowerBound(this.#keys, prefix);
      while (index < this.#keys.length) {
        const key = this.#keys[index]!;
        if (!key.startsWith(prefix)) break;
        const rest = key.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash === -1) {
          if (rest !== '') children.add(rest);
          index += 1;
        } else {
          children.add(rest.slice(0, slash + 1));
          // Skip the whole folder: every key under prefix+"name/" sorts below prefix+"name0".
          index = lowerBound(this.#keys, `${prefix}${rest.slice(0, slash)}0`);
        }
      }
      return Promise.resolve([...children].sort());
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  batch(ops: readonly StorageOp[]): Promise<void> {
    try {
      this.#checkOpen();
      for (const op of ops) {
        if (op.op === 'put' && !(op.value instanceof Uint8Array)) {
          throw new CofferError('internal', `storage value for ${op.key} is not bytes`);
        }
      }
      // Validated first, then applied without any await: the batch is atomic.
      for (const op of ops) {
        if (op.op === 'put') this.#set(op.key, op.value);
        else this.#remove(op.key);
      }
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

/** A fresh, empty in-memory backend (type "inmem"). Writes are "durable" once applied. */
export function createInmemBackend(): SnapshotBackend {
  return new InmemBackend();
}
