// A bounded LRU cache of ciphertext entries in front of physical storage. It holds only what
// physical storage holds (encrypted bytes); the barrier still decrypts on every read.

/**
 * Invariant: a cached entry equals what physical storage held at some point after the last
 * write to that key through this cache's owner. Reads fill the cache only if no write (to any
 * key) started or finished while they were in flight, so a slow read can never cache a value
 * that a concurrent write has replaced.
 */
export class CiphertextCache {
  readonly #maxEntries: number;
  /** Insertion order is recency order: the first key is the least recently used. */
  readonly #entries = new Map<string, Uint8Array>();
  #generation = 0;

  /** @param maxEntries 0 disables the cache. */
  constructor(maxEntries: number) {
    this.#maxEntries = Math.max(0, Math.trunc(maxEntries));
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Uint8Array | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Take a token before a physical read; pass it to fill() with the result. */
  readToken(): number {
    return this.#generation;
  }

  fill(key: string, value: Uint8Array, token: number): void {
    if (this.#maxEntries === 0 || token !== this.#generation) return;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  /** Call when a write to `key` starts and again when it settles. */
  invalidate(key: string): void {
    this.#generation += 1;
    this.#entries.delete(key);
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }
}
