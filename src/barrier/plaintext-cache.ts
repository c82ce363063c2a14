// A bounded cache of decrypted entries beside the ciphertext cache, so that a value read again
// and again is not decrypted every time (AES-GCM set-up and decryption were a sixth of a KV v2
// read's server time). Each plaintext is tied to the very ciphertext buffer it came from, so it
// is served only while the ciphertext cache still holds that buffer for its key.
//
// SECURITY: a plaintext stays in memory at most `lifetimeMs` after its decryption, and is
// zero-filled when it expires (a sweep runs while any is held), is evicted (LRU, within
// `maxBytes` in all, values over `maxValueBytes` never kept), when its key is written or
// deleted, and on clear() (seal, HA reload). Readers get copies, never the kept buffer.

export interface PlaintextCacheOptions {
  /** How long a decrypted value may be kept, in ms; 0 disables the cache. */
  readonly lifetimeMs: number;
  /** The most plaintext bytes kept in all. */
  readonly maxBytes: number;
  /** Larger values are not kept. */
  readonly maxValueBytes: number;
  /** A monotonic clock in ms (performance.now by default). */
  readonly now?: () => number;
}

interface Kept {
  /** The ciphertext buffer the plaintext was decrypted from (compared by identity). */
  readonly blob: Uint8Array;
  readonly plaintext: Uint8Array;
  readonly expiresAt: number;
}

export class PlaintextCache {
  readonly #options: PlaintextCacheOptions;
  readonly #now: () => number;
  /** Insertion order is recency order: the first key is the least recently used. */
  readonly #kept = new Map<string, Kept>();
  #bytes = 0;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(options: PlaintextCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Plaintext bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#kept.size;
  }

  /** How long a decrypted value may be kept, in ms (0: the cache is off). */
  get lifetimeMs(): number {
    return this.#options.lifetimeMs;
  }

  /** A copy of the plaintext of `blob` (the current ciphertext of `key`), if kept and fresh. */
  get(key: string, blob: Uint8Array): Uint8Array | undefined {
    const kept = this.#kept.get(key);
    if (kept === undefined) return undefined;
    if (kept.blob !== blob || this.#now() >= kept.expiresAt) {
      this.drop(key);
      return undefined;
    }
    this.#kept.delete(key);
    this.#kept.set(key, kept);
    return kept.plaintext.slice();
  }

  /** Whether a value of `length` bytes would be kept (so a caller need not copy one that is not). */
  accepts(length: number): boolean {
    const { lifetimeMs, maxBytes, maxValueBytes } = this.#options;
    return lifetimeMs > 0 && length <= Math.min(maxValueBytes, maxBytes);
  }

  /**
   * Keeps `plaintext`, just decrypted from `blob`, the current ciphertext of `key`. The cache
   * owns it from now on (and zero-fills it at once if it does not keep it): pass a copy.
   */
  keep(key: string, blob: Uint8Array, plaintext: Uint8Array): void {
    const { lifetimeMs, maxBytes } = this.#options;
    this.drop(key);
    if (!this.accepts(plaintext.length)) {
      plaintext.fill(0);
      return;
    }
    this.#kept.set(key, { blob, plaintext, expiresAt: this.#now() + lifetimeMs });
    this.#bytes += plaintext.length;
    while (this.#bytes > maxBytes) {
      const oldest = this.#kept.keys().next();
      if (oldest.done === true) break;
      this.drop(oldest.value);
    }
    this.#sweeper ??= setInterval(
      () => {
        this.sweep();
      },
      Math.max(1_000, lifetimeMs / 4),
    ).unref();
  }

  /** Zero-fills and forgets the plaintext of `key`. */
  drop(key: string): void {
    const kept = this.#kept.get(key);
    if (kept === undefined) return;
    this.#kept.delete(key);
    this.#bytes -= kept.plaintext.length;
    kept.plaintext.fill(0);
    if (this.#kept.size === 0) this.#stopSweeper();
  }

  /** Zero-fills and forgets every expired plaintext. */
  sweep(): void {
    const now = this.#now();
    for (const [key, kept] of this.#kept) if (now >= kept.expiresAt) this.drop(key);
  }

  /** Zero-fills and forgets everything (the last drop stops the sweep). */
  clear(): void {
    for (const key of [...this.#kept.keys()]) this.drop(key);
  }

  #stopSweeper(): void {
    if (this.#sweeper === undefined) return;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
