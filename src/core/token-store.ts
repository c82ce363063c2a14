// The token store: creates tokens, resolves a presented token to its entry, revokes it.
// Tokens are never stored in clear, only as an HMAC under a per-store random salt.
import { createHmac, randomBytes } from 'node:crypto';
import { CofferError } from '../sdk/errors.js';
import { getJson, type Storage } from '../sdk/storage.js';
import { TOKEN_KEYS } from './keys.js';
import { randomBase62 } from './random-id.js';

/** Service tokens start with this prefix so secret scanners can recognise a leaked one. */
export const SERVICE_TOKEN_PREFIX = 'cfs.';
const TOKEN_RANDOM_CHARS = 44; // ≈ 262 bits of entropy
const ACCESSOR_CHARS = 24;

export interface TokenEntry {
  readonly accessor: string;
  readonly policies: readonly string[];
  /** The path that created it, e.g. "auth/token/root" or "auth/token/create". */
  readonly path: string;
  readonly displayName: string;
  readonly meta: Readonly<Record<string, string>> | null;
  /** Epoch ms. */
  readonly createdAt: number;
  /** 0 = never expires (root tokens). */
  readonly ttlSeconds: number;
  /** Epoch ms; undefined = never expires. */
  readonly expiresAt?: number;
  readonly orphan: boolean;
  readonly renewable: boolean;
  readonly type: 'service';
}

export interface CreateTokenOptions {
  /** A caller-chosen token id (dev mode `-dev-root-token-id`); otherwise random. */
  readonly id?: string;
  readonly policies: readonly string[];
  readonly path: string;
  readonly displayName: string;
  readonly ttlSeconds: number;
  readonly meta?: Record<string, string>;
  readonly orphan?: boolean;
  readonly renewable?: boolean;
}

export class TokenStore {
  readonly #storage: Storage;
  readonly #now: () => number;
  #salt: Buffer | undefined;
  /** Token hash → entry; invalidated on revoke. Holds no token in clear. */
  readonly #cache = new Map<string, TokenEntry>();

  constructor(deps: { storage: Storage; now: () => number }) {
    this.#storage = deps.storage;
    this.#now = deps.now;
  }

  /** Loads (or, on a new store, creates) the salt. Called after every unseal. */
  async open(): Promise<void> {
    const stored = await this.#storage.get(TOKEN_KEYS.salt);
    if (stored !== undefined) {
      this.#salt = Buffer.from(stored);
      return;
    }
    const salt = randomBytes(32);
    await this.#storage.put(TOKEN_KEYS.salt, salt);
    this.#salt = salt;
  }

  /** Forgets the salt and the cache (on seal). */
  close(): void {
    this.#salt?.fill(0);
    this.#salt = undefined;
    this.#cache.clear();
  }

  hashToken(token: string): string {
    if (this.#salt === undefined) throw new CofferError('sealed', 'Vault is sealed');
    return createHmac('sha256', this.#salt).update(token, 'utf8').digest('hex');
  }

  async create(options: CreateTokenOptions): Promise<{ token: string; entry: TokenEntry }> {
    const token = options.id ?? SERVICE_TOKEN_PREFIX + randomBase62(TOKEN_RANDOM_CHARS);
    if (token.length === 0 || token.length > 512) {
      throw new CofferError('invalid_request', 'id: token ids must be 1 to 512 characters');
    }
    const hash = this.hashToken(token);
    if ((await this.#storage.get(TOKEN_KEYS.idPrefix + hash)) !== undefined) {
      throw new CofferError('invalid_request', 'id: a token with this id already exists');
    }
    const createdAt = this.#now();
    const entry: TokenEntry = {
      accessor: randomBase62(ACCESSOR_CHARS),
      policies: [...options.policies],
      path: options.path,
      displayName: options.displayName,
      meta: options.meta ?? null,
      createdAt,
      ttlSeconds: options.ttlSeconds,
      ...(options.ttlSeconds > 0 ? { expiresAt: createdAt + options.ttlSeconds * 1000 } : {}),
      orphan: options.orphan ?? true,
      renewable: options.renewable ?? false,
      type: 'service',
    };
    await this.#storage.batch([
      { op: 'put', key: TOKEN_KEYS.idPrefix + hash, value: Buffer.from(JSON.stringify(entry)) },
      {
        op: 'put',
        key: TOKEN_KEYS.accessorPrefix + entry.accessor,
        value: Buffer.from(JSON.stringify({ hash })),
      },
    ]);
    this.#cache.set(hash, entry);
    return { token, entry };
  }

  /** Resolves a presented token; undefined when unknown, revoked or expired. */
  async lookup(token: string): Promise<TokenEntry | undefined> {
    if (token === '') return undefined;
    const hash = this.hashToken(token);
    let entry = this.#cache.get(hash);
    if (entry === undefined) {
      entry = await getJson<TokenEntry>(this.#storage, TOKEN_KEYS.idPrefix + hash);
      if (entry === undefined) return undefined;
      this.#cache.set(hash, entry);
    }
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.#now()) return undefined;
    return entry;
  }

  async revoke(token: string): Promise<void> {
    const hash = this.hashToken(token);
    const entry = await getJson<TokenEntry>(this.#storage, TOKEN_KEYS.idPrefix + hash);
    this.#cache.delete(hash);
    if (entry === undefined) return;
    await this.#storage.batch([
      { op: 'delete', key: TOKEN_KEYS.idPrefix + hash },
      { op: 'delete', key: TOKEN_KEYS.accessorPrefix + entry.accessor },
    ]);
  }
}
