// A mutex per key, in process: auth methods serialise the read-check-write of one user's
// lockout counter or one secret ID's use count through it. It does not reach other nodes.

/**
 * Runs callbacks one at a time per key, in arrival order. Keys with nothing queued hold no
 * memory, so the map stays as small as the number of keys in use.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier call for `key` has settled; returns what `fn` returns. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Only the last waiter removes the entry; a later arrival has replaced it otherwise.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with a callback running or queued (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}
