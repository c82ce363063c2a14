// The seal: how the root key is protected at rest and recovered at unseal. Shamir shares of
// an unseal key (or, weaker, a static key from a file) decrypt the stored root key, and the
// root key unseals the barrier, which proves the rebuilt key by decrypting the keyring.
import { randomBytes, randomUUID } from 'node:crypto';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import { decryptWithKey, encryptWithKey } from '../barrier/aes-gcm-barrier.js';
import type { PhysicalBackend } from '../physical/physical.js';
import { CofferError, invalidField, isCofferError } from '../sdk/errors.js';
import { combineShares, splitKey } from './shamir.js';

/** Physical keys the seal owns. They sit below the barrier (the barrier needs them to open). */
export const SEAL_KEYS = {
  /** Plaintext JSON: seal type, shares, threshold. */
  config: 'core/seal-config',
  /** The root key, AES-256-GCM encrypted under the unseal key (Shamir) or the static key. */
  rootKey: 'core/seal/root-key',
} as const;

export type SealType = 'shamir' | 'static';

interface StoredSealConfig {
  readonly type: SealType;
  readonly secretShares: number;
  readonly secretThreshold: number;
}

export interface SealStatus {
  readonly type: SealType;
  readonly initialized: boolean;
  readonly sealed: boolean;
  /** Threshold. */
  readonly t: number;
  /** Number of shares. */
  readonly n: number;
  readonly progress: number;
  readonly nonce: string;
}

export interface InitResult {
  /** Unseal key shares (empty with a static seal). */
  readonly shares: Uint8Array[];
}

const KEY_BYTES = 32;

export class SealManager {
  readonly #physical: PhysicalBackend;
  readonly #barrier: AesGcmBarrier;
  readonly #type: SealType;
  readonly #staticKey: Uint8Array | undefined;
  #config: StoredSealConfig | undefined;
  #pending: Uint8Array[] = [];
  #nonce = '';

  /**
   * @param staticKey with a static seal, the 32-byte key that protects the root key. SECURITY:
   *   whoever can read it can unseal; it is weaker than Shamir and documented as such.
   */
  constructor(deps: { physical: PhysicalBackend; barrier: AesGcmBarrier; staticKey?: Uint8Array }) {
    this.#physical = deps.physical;
    this.#barrier = deps.barrier;
    this.#staticKey = deps.staticKey;
    this.#type = deps.staticKey === undefined ? 'shamir' : 'static';
    if (deps.staticKey !== undefined && deps.staticKey.length !== KEY_BYTES) {
      throw new CofferError('invalid_request', 'the static seal key must be 32 bytes');
    }
  }

  get type(): SealType {
    return this.#type;
  }

  async #loadConfig(): Promise<StoredSealConfig | undefined> {
    if (this.#config !== undefined) return this.#config;
    const raw = await this.#physical.get(SEAL_KEYS.config);
    if (raw === undefined) return undefined;
    this.#config = JSON.parse(Buffer.from(raw).toString('utf8')) as StoredSealConfig;
    return this.#config;
  }

  async isInitialized(): Promise<boolean> {
    return (await this.#loadConfig()) !== undefined;
  }

  async status(): Promise<SealStatus> {
    const config = await this.#loadConfig();
    return {
      type: config?.type ?? this.#type,
      initialized: config !== undefined,
      sealed: this.#barrier.isSealed(),
      t: config?.secretThreshold ?? 0,
      n: config?.secretShares ?? 0,
      progress: this.#pending.length,
      nonce: this.#nonce,
    };
  }

  /**
   * Creates the root key, initialises the barrier with it and returns the unseal shares.
   * The barrier stays sealed; the caller unseals with the shares (or auto-unseals).
   */
  async initialize(options: {
    secretShares: number;
    secretThreshold: number;
  }): Promise<InitResult> {
    if (await this.isInitialized()) {
      throw new CofferError('already_initialized', 'Vault is already initialized');
    }
    const rootKey = randomBytes(KEY_BYTES);
    let shares: Uint8Array[] = [];
    let wrappingKey: Uint8Array;
    let config: StoredSealConfig;
    if (this.#type === 'static') {
      wrappingKey = this.#staticKey!;
      config = { type: 'static', secretShares: 0, secretThreshold: 0 };
    } else {
      wrappingKey = randomBytes(KEY_BYTES);
      shares = await splitKey(wrappingKey, options.secretShares, options.secretThreshold);
      config = {
        type: 'shamir',
        secretShares: options.secretShares,
        secretThreshold: options.secretThreshold,
      };
    }
    await this.#barrier.initialize(rootKey);
    await this.#physical.batch([
      {
        op: 'put',
        key: SEAL_KEYS.rootKey,
        value: encryptWithKey(wrappingKey, SEAL_KEYS.rootKey, rootKey),
      },
      { op: 'put', key: SEAL_KEYS.config, value: Buffer.from(JSON.stringify(config)) },
    ]);
    rootKey.fill(0);
    if (this.#type === 'shamir') wrappingKey.fill(0);
    this.#config = config;
    return { shares };
  }

  /** Forgets the shares submitted so far (`sys/unseal {reset:true}`). */
  resetProgress(): void {
    for (const share of this.#pending) share.fill(0);
    this.#pending = [];
    this.#nonce = '';
  }

  /**
   * Adds one share. When the threshold is reached, rebuilds the unseal key and unseals; a
   * wrong combination decrypts nothing, resets progress and is reported as invalid.
   */
  async submitShare(share: Uint8Array): Promise<SealStatus> {
    const config = await this.#loadConfig();
    if (config === undefined) throw new CofferError('invalid_request', 'Vault is not initialized');
    if (!this.#barrier.isSealed()) return this.status();
    if (config.type !== 'shamir') {
      throw new CofferError(
        'invalid_request',
        'this server uses a static seal; unseal keys are not used',
      );
    }
    const expectedLength = config.secretShares === 1 ? KEY_BYTES : KEY_BYTES + 1;
    if (share.length !== expectedLength) {
      throw invalidField('key', `must be ${expectedLength} bytes (hex or base64 encoded)`);
    }
    // A duplicate share is ignored, as in Vault.
    if (this.#pending.some((p) => Buffer.compare(p, share) === 0)) return this.status();
    if (this.#pending.length === 0) this.#nonce = randomUUID();
    this.#pending.push(Uint8Array.from(share));
    if (this.#pending.length < config.secretThreshold) return this.status();

    const shares = this.#pending;
    this.#pending = [];
    this.#nonce = '';
    let unsealKey: Uint8Array | undefined;
    try {
      unsealKey = await combineShares(shares);
      await this.#unsealWith(unsealKey);
    } finally {
      unsealKey?.fill(0);
      for (const s of shares) s.fill(0);
    }
    return this.status();
  }

  /** Unseals with the static key (auto-unseal at start-up). */
  async autoUnseal(): Promise<void> {
    if (this.#type !== 'static')
      throw new CofferError('internal', 'auto-unseal needs a static seal');
    if (!this.#barrier.isSealed()) return;
    await this.#unsealWith(this.#staticKey!);
  }

  async #unsealWith(wrappingKey: Uint8Array): Promise<void> {
    const sealed = await this.#physical.get(SEAL_KEYS.rootKey);
    if (sealed === undefined)
      throw new CofferError('integrity_failure', 'the stored root key is missing');
    let rootKey: Uint8Array;
    try {
      rootKey = decryptWithKey(wrappingKey, SEAL_KEYS.rootKey, sealed);
    } catch (cause) {
      throw new CofferError('invalid_request', 'unseal failed: the unseal keys are not valid', {
        cause,
      });
    }
    try {
      // SECURITY: the barrier verifies the root key by decrypting the keyring with it.
      await this.#barrier.unseal(rootKey);
    } catch (cause) {
      // The root key itself authenticated under the unseal key, so the keys were right: a
      // keyring that does not open is damaged storage, not a wrong share.
      if (isCofferError(cause) && cause.code === 'invalid_request') {
        throw new CofferError(
          'integrity_failure',
          'the stored keyring failed its integrity check',
          {
            cause,
          },
        );
      }
      throw cause;
    } finally {
      rootKey.fill(0);
    }
  }

  seal(): void {
    this.resetProgress();
    this.#barrier.seal();
  }

  /** The Shamir configuration (threshold, shares); throws when there is none. */
  async shamirConfig(): Promise<{ secretShares: number; secretThreshold: number }> {
    const config = await this.#loadConfig();
    if (config === undefined) throw new CofferError('invalid_request', 'Vault is not initialized');
    if (config.type !== 'shamir') {
      throw new CofferError(
        'invalid_request',
        'this server uses a static seal; unseal keys are not used',
      );
    }
    return config;
  }

  /** Checks one submitted share's length against the stored configuration. */
  async checkShare(share: Uint8Array): Promise<void> {
    const config = await this.shamirConfig();
    const expectedLength = config.secretShares === 1 ? KEY_BYTES : KEY_BYTES + 1;
    if (share.length !== expectedLength) {
      throw invalidField('key', `must be ${expectedLength} bytes (hex or base64 encoded)`);
    }
  }

  /**
   * Rebuilds the unseal key from `shares` and proves it by decrypting the stored root key
   * (the ceremonies' authorisation). Returns the root key; the caller zeroes it.
   */
  async rootKeyFromShares(shares: readonly Uint8Array[]): Promise<Uint8Array> {
    const sealed = await this.#physical.get(SEAL_KEYS.rootKey);
    if (sealed === undefined) {
      throw new CofferError('integrity_failure', 'the stored root key is missing');
    }
    const unsealKey = await combineShares([...shares]);
    try {
      return decryptWithKey(unsealKey, SEAL_KEYS.rootKey, sealed);
    } catch (cause) {
      throw new CofferError('invalid_request', 'the unseal keys are not valid', { cause });
    } finally {
      unsealKey.fill(0);
    }
  }

  /** Splits a new unseal key into shares, without installing it (rekey verification waits). */
  async newUnsealKey(
    secretShares: number,
    secretThreshold: number,
  ): Promise<{ unsealKey: Uint8Array; shares: Uint8Array[] }> {
    const unsealKey = randomBytes(KEY_BYTES);
    return { unsealKey, shares: await splitKey(unsealKey, secretShares, secretThreshold) };
  }

  /**
   * Installs a new unseal key: the root key re-encrypted under it and the new share count and
   * threshold, in one batch. The keyring and its terms are unchanged (as Vault's rekey).
   */
  async installUnsealKey(
    rootKey: Uint8Array,
    unsealKey: Uint8Array,
    secretShares: number,
    secretThreshold: number,
  ): Promise<void> {
    const config: StoredSealConfig = { type: 'shamir', secretShares, secretThreshold };
    await this.#physical.batch([
      {
        op: 'put',
        key: SEAL_KEYS.rootKey,
        value: encryptWithKey(unsealKey, SEAL_KEYS.rootKey, rootKey),
      },
      { op: 'put', key: SEAL_KEYS.config, value: Buffer.from(JSON.stringify(config)) },
    ]);
    this.#config = config;
  }
}
