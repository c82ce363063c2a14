// The barrier: AES-256-GCM over every entry above physical storage, bound to its path, with a
// keyring of terms unlocked by the root key. Sealed, it holds no key and refuses every op.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { PhysicalBackend } from '../physical/physical.js';
import { CofferError } from '../sdk/errors.js';
import type { Storage, StorageOp } from '../sdk/storage.js';
import { CiphertextCache } from './ciphertext-cache.js';
import { PlaintextCache } from './plaintext-cache.js';
import { applyUsage, encodeUsage, KEY_BYTES, Keyring } from './keyring.js';
import { BARRIER_KEYS, isReservedKey } from './keys.js';

/*
 * Ciphertext layout (irreversible, see docs/adr): all integers big-endian.
 *   [term u32][version u8 = 0x02][nonce 12 random bytes][ciphertext][GCM tag 16 bytes]
 * AAD = the UTF-8 bytes of the full storage key (path), so an entry copied to another path
 * fails authentication. Term 0 marks entries encrypted directly with a given key
 * (encryptWithKey), not with a keyring term.
 */
const CIPHERTEXT_VERSION = 0x02;
const TERM_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = TERM_BYTES + 1 + NONCE_BYTES;
/** Header plus tag: the shortest valid entry (empty plaintext). */
export const MIN_CIPHERTEXT_BYTES = HEADER_BYTES + TAG_BYTES;

const DEFAULT_CACHE_ENTRIES = 10_000;
/** See PlaintextCache: how long, how much in all, and the largest value kept. */
export const DEFAULT_PLAINTEXT_LIFETIME_MS = 30_000;
const PLAINTEXT_CACHE_BYTES = 8 * 1024 * 1024;
const PLAINTEXT_VALUE_BYTES = 64 * 1024;
const LONE_SURROGATE = /\p{Cs}/u;

export interface AesGcmBarrierOptions {
  /** The clock for key install times (epoch ms). */
  readonly now: () => number;
  /**
   * Ciphertext entries kept in memory (LRU); 0 disables. With several nodes on one store,
   * other nodes' writes must be reported through invalidateCache().
   */
  readonly cacheEntries?: number | undefined;
  /**
   * How long a decrypted entry read again may be served from memory without decrypting it
   * (ms, DEFAULT_PLAINTEXT_LIFETIME_MS by default); 0 decrypts on every read.
   */
  readonly plaintextLifetimeMs?: number | undefined;
}

export interface KeyStatus {
  readonly term: number;
  /** RFC 3339. */
  readonly installTime: string;
  readonly encryptions: number;
}

function integrityFailure(path: string, cause?: unknown): CofferError {
  return new CofferError(
    'integrity_failure',
    `stored entry at ${path} failed its integrity check`,
    cause === undefined ? {} : { cause },
  );
}

function sealedError(): CofferError {
  return new CofferError('sealed', 'Coffer is sealed');
}

function checkAesKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new CofferError('internal', `an encryption key must be ${KEY_BYTES} bytes`);
  }
}

/**
 * SECURITY: the AAD is the key's UTF-8 encoding, and a lone surrogate encodes as U+FFFD, so two
 * different keys would share one AAD (and one SQLite row). Such keys are refused.
 */
function checkPath(key: string, field: string): void {
  if (typeof key !== 'string' || LONE_SURROGATE.test(key)) {
    throw new CofferError('invalid_request', `${field} is not a well-formed string`, { field });
  }
}

function encryptBlob(key: Uint8Array, term: number, path: string, plaintext: Uint8Array): Buffer {
  if (!(plaintext instanceof Uint8Array)) {
    throw new CofferError('internal', `the value for ${path} is not bytes`);
  }
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(path, 'utf8'));
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  const out = Buffer.alloc(HEADER_BYTES + body.length + tail.length + TAG_BYTES);
  out.writeUInt32BE(term, 0);
  out.writeUInt8(CIPHERTEXT_VERSION, TERM_BYTES);
  out.set(nonce, TERM_BYTES + 1);
  out.set(body, HEADER_BYTES);
  out.set(tail, HEADER_BYTES + body.length);
  out.set(cipher.getAuthTag(), HEADER_BYTES + body.length + tail.length);
  return out;
}

/** The term in an entry's header, or undefined when the header is not a valid one. */
function headerTerm(blob: Uint8Array): number | undefined {
  if (!(blob instanceof Uint8Array) || blob.length < MIN_CIPHERTEXT_BYTES) return undefined;
  if (blob[TERM_BYTES] !== CIPHERTEXT_VERSION) return undefined;
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readUInt32BE(0);
}

/** Decrypts and authenticates; any failure is an integrity failure at `path`. */
function decryptBlob(key: Uint8Array, path: string, blob: Uint8Array): Uint8Array {
  const view = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  let body: Buffer | undefined;
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      key,
      view.subarray(TERM_BYTES + 1, HEADER_BYTES),
      { authTagLength: TAG_BYTES },
    );
    decipher.setAAD(Buffer.from(path, 'utf8'));
    decipher.setAuthTag(view.subarray(view.length - TAG_BYTES));
    body = decipher.update(view.subarray(HEADER_BYTES, view.length - TAG_BYTES));
    // SECURITY: final() verifies the tag; nothing is returned unless it passed.
    const tail = decipher.final();
    const out = new Uint8Array(body.length + tail.length);
    out.set(body);
    out.set(tail, body.length);
    return out;
  } catch (cause) {
    throw integrityFailure(path, cause);
  } finally {
    body?.fill(0);
  }
}

/**
 * Encrypts `plaintext` directly under `key` (32 bytes) in the barrier's layout with term 0,
 * bound to `aadPath`. For entries outside the barrier, e.g. the root key under the unseal key.
 */
export function encryptWithKey(
  key: Uint8Array,
  aadPath: string,
  plaintext: Uint8Array,
): Uint8Array {
  checkAesKey(key);
  return encryptBlob(key, 0, aadPath, plaintext);
}

/**
 * The inverse of encryptWithKey. Throws CofferError('integrity_failure') when the entry is not
 * term 0, is malformed, or does not authenticate under `key` and `aadPath` (a wrong key looks
 * exactly like a tampered entry).
 */
export function decryptWithKey(key: Uint8Array, aadPath: string, blob: Uint8Array): Uint8Array {
  checkAesKey(key);
  if (headerTerm(blob) !== 0) throw integrityFailure(aadPath);
  return decryptBlob(key, aadPath, blob);
}

/**
 * The encryption barrier as a Storage. Keys (paths) pass through in clear; values are
 * encrypted with the active keyring term and decrypted with the term named in their header.
 *
 * SECURITY: while sealed no key is in memory and every Storage method throws 'sealed'. The
 * keyring entry and the seal's entries are not writable through this Storage.
 */
export class AesGcmBarrier implements Storage {
  readonly #physical: PhysicalBackend;
  readonly #now: () => number;
  readonly #cache: CiphertextCache;
  /** Decrypted values of entries the ciphertext cache holds; zero-filled with it. */
  readonly #plain: PlaintextCache;
  #keyring: Keyring | undefined;
  /** SECURITY: a private copy of the root key while unsealed, zero-filled on seal. */
  #rootKey: Uint8Array | undefined;
  /** Bumped on every seal, so an unseal or rotate that straddles a seal cannot reopen. */
  #epoch = 0;
  /** Total encryptions last persisted, to skip the usage write on seal when unchanged. */
  #savedEncryptions = 0;
  /** Serialises keyring rotations (two concurrent rotates must not both take term N+1). */
  #keyringLock: Promise<unknown> = Promise.resolve();
  /** The usage write started by the last seal (never rejects); unseal waits for it. */
  #usageWrite: Promise<void> = Promise.resolve();

  constructor(physical: PhysicalBackend, options: AesGcmBarrierOptions) {
    this.#physical = physical;
    this.#now = options.now;
    this.#cache = new CiphertextCache(options.cacheEntries ?? DEFAULT_CACHE_ENTRIES);
    this.#plain = new PlaintextCache({
      lifetimeMs: options.plaintextLifetimeMs ?? DEFAULT_PLAINTEXT_LIFETIME_MS,
      maxBytes: PLAINTEXT_CACHE_BYTES,
      maxValueBytes: PLAINTEXT_VALUE_BYTES,
    });
  }

  isSealed(): boolean {
    return this.#keyring === undefined;
  }

  /** True once a keyring is stored (readable while sealed). */
  async isInitialized(): Promise<boolean> {
    return (await this.#physical.get(BARRIER_KEYS.keyring)) !== undefined;
  }

  /**
   * Creates the keyring (term 1, a fresh random key) and stores it encrypted under `rootKey`.
   * The barrier stays sealed. Not safe against a concurrent initialize on another node; the
   * seal manager serialises initialisation.
   */
  async initialize(rootKey: Uint8Array): Promise<void> {
    checkRootKey(rootKey);
    if (await this.isInitialized()) {
      throw new CofferError('already_initialized', 'the barrier is already initialized');
    }
    const fresh = randomBytes(KEY_BYTES);
    const keyring = Keyring.create(fresh, this.#now());
    fresh.fill(0);
    const encoded = keyring.serialize();
    let blob: Uint8Array;
    try {
      blob = encryptWithKey(rootKey, BARRIER_KEYS.keyring, encoded);
    } finally {
      encoded.fill(0);
      keyring.wipe();
    }
    await this.#physical.put(BARRIER_KEYS.keyring, blob);
  }

  /**
   * Decrypts the keyring with `rootKey` and keeps it in memory. A no-op when already unsealed.
   * A key that does not decrypt the keyring is 'invalid_request' and the barrier stays sealed.
   */
  async unseal(rootKey: Uint8Array): Promise<void> {
    checkRootKey(rootKey);
    if (!this.isSealed()) return;
    const epoch = this.#epoch;
    await this.#usageWrite;
    const stored = await this.#physical.get(BARRIER_KEYS.keyring);
    if (stored === undefined) {
      throw new CofferError('not_initialized', 'the barrier is not initialized');
    }
    let encoded: Uint8Array;
    try {
      encoded = decryptWithKey(rootKey, BARRIER_KEYS.keyring, stored);
    } catch {
      // SECURITY: no detail (and no key bytes): a wrong key and a damaged entry look alike.
      throw new CofferError('invalid_request', 'unseal key does not decrypt the keyring');
    }
    let keyring: Keyring;
    try {
      keyring = Keyring.parse(encoded);
    } finally {
      encoded.fill(0);
    }
    await this.#loadUsage(keyring, rootKey);
    if (epoch !== this.#epoch || !this.isSealed()) {
      keyring.wipe();
      if (!this.isSealed()) return; // a concurrent unseal won; same keyring
      throw new CofferError('sealed', 'the barrier was sealed while unsealing');
    }
    this.#savedEncryptions = keyring.totalEncryptions();
    this.#rootKey = Uint8Array.from(rootKey);
    this.#keyring = keyring;
    this.#forget();
  }

  /** Raises the keyring's counts to the ones saved at the last seal; advisory, never throws. */
  async #loadUsage(keyring: Keyring, rootKey: Uint8Array): Promise<void> {
    try {
      const stored = await this.#physical.get(BARRIER_KEYS.keyringUsage);
      if (stored !== undefined) {
        applyUsage(keyring, decryptWithKey(rootKey, BARRIER_KEYS.keyringUsage, stored));
      }
    } catch {
      // Counts are advisory: a missing or damaged usage entry must not block unsealing.
    }
  }

  /**
   * Forgets (zero-fills) every key. Encryption counts changed since the last save are written
   * (encrypted under the root key) in the background; the next unseal waits for that write.
   * Unlike the keyring, that entry is safe to overwrite with stale data.
   */
  seal(): void {
    const keyring = this.#keyring;
    const rootKey = this.#rootKey;
    this.#keyring = undefined;
    this.#rootKey = undefined;
    this.#epoch += 1;
    this.#forget();
    if (keyring === undefined || rootKey === undefined) return;
    try {
      if (keyring.totalEncryptions() !== this.#savedEncryptions) {
        const blob = encryptWithKey(rootKey, BARRIER_KEYS.keyringUsage, encodeUsage(keyring));
        // Started synchronously, so a physical.close() right after seal() still flushes it.
        this.#usageWrite = this.#physical.put(BARRIER_KEYS.keyringUsage, blob).catch(() => {
          // Advisory counts: losing them must not fail or block sealing.
        });
      }
    } finally {
      keyring.wipe();
      rootKey.fill(0);
    }
  }

  /**
   * Adds term N+1 as the active term and persists the keyring (with the current counts);
   * older terms stay for decryption. The new term is used only once it is durably stored.
   */
  rotate(): Promise<{ term: number; installTime: string }> {
    const run = this.#keyringLock.then(() => this.#rotateNow());
    this.#keyringLock = run.catch(() => undefined);
    return run;
  }

  async #rotateNow(): Promise<{ term: number; installTime: string }> {
    const keyring = this.#unsealedKeyring();
    const rootKey = this.#rootKey!;
    const epoch = this.#epoch;
    const fresh = randomBytes(KEY_BYTES);
    const next = keyring.withNewTerm(fresh, this.#now());
    fresh.fill(0);
    const active = next.active;
    const encoded = next.serialize();
    let blob: Uint8Array;
    try {
      blob = encryptWithKey(rootKey, BARRIER_KEYS.keyring, encoded);
    } catch (err) {
      active.key.fill(0);
      throw err;
    } finally {
      encoded.fill(0);
    }
    const savedEncryptions = next.totalEncryptions();
    try {
      await this.#physical.put(BARRIER_KEYS.keyring, blob);
    } catch (err) {
      active.key.fill(0);
      throw err;
    }
    if (epoch !== this.#epoch) {
      // Sealed meanwhile: the stored keyring has the new term, but nothing encrypted with it.
      active.key.fill(0);
      throw sealedError();
    }
    this.#keyring = next;
    this.#savedEncryptions = savedEncryptions;
    return { term: active.term, installTime: new Date(active.installTimeMs).toISOString() };
  }

  /**
   * HA: re-reads the keyring with the root key held since unseal and drops every cached
   * entry, so a node that becomes active sees terms another node added (sys/rotate) and no
   * ciphertext it cached before. A no-op while sealed.
   */
  reload(): Promise<void> {
    const run = this.#keyringLock.then(async () => {
      const rootKey = this.#rootKey;
      const current = this.#keyring;
      if (rootKey === undefined || current === undefined) return;
      const epoch = this.#epoch;
      const stored = await this.#physical.get(BARRIER_KEYS.keyring);
      // Sealed meanwhile: the root key held here is zero-filled; nothing to reload. (Rotations
      // and reloads are serialised, and an unseal needs a seal first, so only a seal changes
      // the keyring while this read is in flight.)
      if (epoch !== this.#epoch) return;
      if (stored === undefined)
        throw new CofferError('integrity_failure', 'the keyring is missing');
      let encoded: Uint8Array;
      try {
        encoded = decryptWithKey(rootKey, BARRIER_KEYS.keyring, stored);
      } catch (cause) {
        throw new CofferError(
          'integrity_failure',
          'the stored keyring failed its integrity check',
          {
            cause,
          },
        );
      }
      let keyring: Keyring;
      try {
        keyring = Keyring.parse(encoded);
      } finally {
        encoded.fill(0);
      }
      this.#keyring = keyring;
      this.#savedEncryptions = keyring.totalEncryptions();
      current.wipe();
      this.#forget();
    });
    this.#keyringLock = run.catch(() => undefined);
    return run;
  }

  /** The active term, when it was installed, and how many encryptions it has made. */
  keyStatus(): KeyStatus {
    const active = this.#unsealedKeyring().active;
    return {
      term: active.term,
      installTime: new Date(active.installTimeMs).toISOString(),
      encryptions: active.encryptions,
    };
  }

  /**
   * Drops cached ciphertext for `key` (or everything): for writes made by another node on the
   * same physical store, which this barrier cannot see.
   */
  invalidateCache(key?: string): void {
    this.#forget(key);
  }

  /** Drops cached ciphertext and zero-fills cached plaintext, of `key` or of everything. */
  #forget(key?: string): void {
    if (key === undefined) {
      this.#cache.clear();
      this.#plain.clear();
    } else {
      this.#cache.invalidate(key);
      this.#plain.drop(key);
    }
  }

  #unsealedKeyring(): Keyring {
    const keyring = this.#keyring;
    if (keyring === undefined) throw sealedError();
    return keyring;
  }

  #encrypt(keyring: Keyring, key: string, value: Uint8Array): Uint8Array {
    const active = keyring.active;
    const blob = encryptBlob(active.key, active.term, key, value);
    active.encryptions += 1;
    return blob;
  }

  #decrypt(keyring: Keyring, key: string, blob: Uint8Array): Uint8Array {
    const term = headerTerm(blob);
    const entry = term === undefined ? undefined : keyring.term(term);
    if (entry === undefined) throw integrityFailure(key);
    return decryptBlob(entry.key, key, blob);
  }

  /** How long a value read again may be served decrypted from memory, in ms (0: never). */
  get plaintextLifetimeMs(): number {
    return this.#plain.lifetimeMs;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.#unsealedKeyring();
    checkPath(key, 'key');
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      // Kept only from a cache hit: `cached` is then what storage holds (CiphertextCache's
      // invariant), and the plaintext is served only while that same buffer is cached.
      const kept = this.#plain.get(key, cached);
      if (kept !== undefined) return kept;
      const plaintext = this.#decrypt(this.#unsealedKeyring(), key, cached);
      if (this.#plain.accepts(plaintext.length)) this.#plain.keep(key, cached, plaintext.slice());
      return plaintext;
    }
    const token = this.#cache.readToken();
    const blob = await this.#physical.get(key);
    // Re-checked after the await: a seal may have happened while reading.
    const keyring = this.#unsealedKeyring();
    if (blob === undefined) return undefined;
    const plaintext = this.#decrypt(keyring, key, blob);
    this.#cache.fill(key, blob, token);
    return plaintext;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ op: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ op: 'delete', key }]);
  }

  async list(prefix: string): Promise<string[]> {
    this.#unsealedKeyring();
    checkPath(prefix, 'prefix');
    const children = await this.#physical.list(prefix);
    this.#unsealedKeyring();
    return children;
  }

  /** Encrypts every put, then applies all ops in one physical batch (all or nothing). */
  async batch(ops: readonly StorageOp[]): Promise<void> {
    const keyring = this.#unsealedKeyring();
    for (const op of ops) {
      checkPath(op.key, 'key');
      if (isReservedKey(op.key)) {
        throw new CofferError(
          'permission_denied',
          `${op.key} is reserved for the barrier and the seal`,
          { field: 'key' },
        );
      }
    }
    const encrypted = ops.map((op): StorageOp =>
      op.op === 'put'
        ? { op: 'put', key: op.key, value: this.#encrypt(keyring, op.key, op.value) }
        : op,
    );
    for (const op of ops) this.#forget(op.key);
    try {
      await this.#physical.batch(encrypted);
    } finally {
      for (const op of ops) this.#forget(op.key);
    }
  }
}

function checkRootKey(rootKey: Uint8Array): void {
  if (!(rootKey instanceof Uint8Array) || rootKey.length !== KEY_BYTES) {
    throw new CofferError('invalid_request', `the root key must be ${KEY_BYTES} bytes`);
  }
}
