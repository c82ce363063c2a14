// The token store: creates service and batch tokens, resolves a presented token to its entry
// (expiry, use counts, parent chain, bound CIDRs), renews and revokes tokens and whole token
// trees, tidies its indices and keeps token roles. Tokens are never stored in clear.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { CofferError, invalidField } from '../sdk/errors.js';
import { isPlainObject } from '../sdk/json.js';
import { encodeJson, getJson, type Storage, type StorageOp } from '../sdk/storage.js';
import { TOKEN_KEYS } from './keys.js';
import { randomBase62 } from './random-id.js';

/** Service tokens start with this prefix so secret scanners can recognise a leaked one. */
export const SERVICE_TOKEN_PREFIX = 'cfs.';
/** Batch tokens: this prefix + base64url of an AES-256-GCM sealed entry (never stored). */
export const BATCH_TOKEN_PREFIX = 'cfb.';
/** Vault's system default and maximum lease TTL: 32 days. */
export const DEFAULT_SYSTEM_TTL_SECONDS = 2_764_800;

const TOKEN_RANDOM_CHARS = 44; // ≈ 262 bits of entropy (≥ 32 random bytes)
const ACCESSOR_CHARS = 24;
const ACCESSOR_PATTERN = /^[0-9A-Za-z]{1,128}$/;
const HASH_PATTERN = /^[0-9a-f]{64}$/;
const ROLE_NAME_PATTERN = /^\w(?:[\w.-]{0,126}\w)?$/;
const MAX_CUSTOM_ID_LENGTH = 512;
/** Longer presented strings are refused before hashing (a batch token is well under this). */
const MAX_PRESENTED_TOKEN_LENGTH = 16_384;
/** Token cache size; the oldest entry is evicted first. */
const CACHE_MAX_ENTRIES = 50_000;
/** Parent chains deeper than this are treated as corrupt (fail closed). */
const MAX_CHAIN_DEPTH = 1_000;
const BATCH_FORMAT_VERSION = 1;
const BATCH_IV_BYTES = 12;
const BATCH_TAG_BYTES = 16;
/** Random bytes sealed into each batch token; with the IV, 32 random bytes per token. */
const BATCH_NONCE_BYTES = 20;
const BATCH_AAD = Buffer.from('coffer batch token v1', 'utf8');
const BATCH_KEY_INFO = 'coffer batch token key v1';
const INDEX_MARKER = encodeJson({});

export type TokenType = 'service' | 'batch';

/** What a token role says about the type of the tokens it creates (Vault's four values). */
export type TokenRoleType = 'service' | 'batch' | 'default-service' | 'default-batch';

export interface TokenEntry {
  /** Public handle for lookup/renew/revoke without the token itself; '' for batch tokens. */
  readonly accessor: string;
  /** Normalised: trimmed, lower-case, unique, sorted; exactly ["root"] for root tokens. */
  readonly policies: readonly string[];
  /** The path that created it, e.g. "auth/token/root" or "auth/token/create/<role>". */
  readonly path: string;
  readonly displayName: string;
  readonly meta: Readonly<Record<string, string>> | null;
  /** Epoch ms. */
  readonly createdAt: number;
  /** The TTL granted at creation (`creation_ttl`); 0 = never expires (root tokens only). */
  readonly ttlSeconds: number;
  /** Hard lifetime limit counted from creation, whatever renewals ask; 0 = none. */
  readonly explicitMaxTtlSeconds: number;
  /** Renewal cap from the role's `token_max_ttl` (0 = only the system maximum applies). */
  readonly maxTtlSeconds: number;
  /** Periodic token: every renewal grants exactly this; 0 = not periodic. */
  readonly periodSeconds: number;
  /** Epoch ms; undefined = never expires. */
  readonly expiresAt?: number;
  /** Uses left; 0 = unlimited; -1 = its last use is in progress (dead to every lookup). */
  readonly numUses: number;
  readonly renewable: boolean;
  /** True exactly when `parent` is undefined. */
  readonly orphan: boolean;
  /** HMAC hash of the parent token. SECURITY: never the parent token in clear. */
  readonly parent?: string;
  readonly type: TokenType;
  /** Epoch ms of the last renewal. */
  readonly lastRenewalAt?: number;
  /** The token role it was created against. */
  readonly role?: string;
  /** Normalised CIDRs the client must connect from; absent = anywhere. */
  readonly boundCidrs?: readonly string[];
  /** The identity entity the token acts for (set by logins; inherited by child tokens). */
  readonly entityId?: string;
}

export interface CreateTokenOptions {
  /** A caller-chosen token id (root only; dev mode `-dev-root-token-id`); otherwise random. */
  readonly id?: string;
  /** Default 'service'. */
  readonly type?: TokenType;
  /** Normalised by the store (trim, lower-case, dedupe, sort; "root" wins alone). */
  readonly policies: readonly string[];
  readonly path: string;
  readonly displayName: string;
  readonly meta?: Readonly<Record<string, string>> | null;
  /** Requested TTL; 0/absent = the system default, except root-policy tokens: never expire. */
  readonly ttlSeconds?: number;
  readonly explicitMaxTtlSeconds?: number;
  /** Backend maximum (a role's `token_max_ttl`); 0/absent = the system maximum. */
  readonly maxTtlSeconds?: number;
  readonly periodSeconds?: number;
  /** 0/absent = unlimited. */
  readonly numUses?: number;
  /** Default true; forced false for batch and non-expiring tokens. */
  readonly renewable?: boolean;
  /** The parent token in clear; absent = an orphan. */
  readonly parentToken?: string;
  /**
   * Expiry (epoch ms) of the token asking for this one, parent or not: an expiring token
   * cannot mint a token that never expires.
   */
  readonly issuerExpiresAt?: number;
  readonly role?: string;
  readonly boundCidrs?: readonly string[];
  /** The identity entity the token acts for; absent/'' = none. */
  readonly entityId?: string;
  /**
   * Internal callers only (door credentials): the token never expires, whatever its policies,
   * and lives until it is revoked. Never reachable from a request field.
   */
  readonly neverExpires?: boolean;
}

export interface CreatedToken {
  /** The token in clear: returned once, never stored. */
  readonly token: string;
  readonly entry: TokenEntry;
  readonly warnings: readonly string[];
}

export interface RenewedToken {
  readonly entry: TokenEntry;
  /** The lease duration granted by this renewal. */
  readonly ttlSeconds: number;
  readonly warnings: readonly string[];
}

export interface TidyCounts {
  readonly tokensScanned: number;
  /** Expired, used-up or parentless tokens revoked (each with its subtree). */
  readonly tokensRevoked: number;
  readonly parentEntriesScanned: number;
  readonly parentEntriesDeleted: number;
  readonly accessorsScanned: number;
  readonly accessorsDeleted: number;
}

/** A token role (`auth/token/roles/<name>`), stored at `role/<name>`. */
export interface TokenRole {
  readonly name: string;
  readonly allowedPolicies: readonly string[];
  readonly disallowedPolicies: readonly string[];
  readonly allowedPoliciesGlob: readonly string[];
  readonly disallowedPoliciesGlob: readonly string[];
  readonly orphan: boolean;
  readonly renewable: boolean;
  readonly pathSuffix: string;
  readonly allowedEntityAliases: readonly string[];
  readonly tokenType: TokenRoleType;
  readonly tokenTtlSeconds: number;
  readonly tokenMaxTtlSeconds: number;
  readonly tokenExplicitMaxTtlSeconds: number;
  readonly tokenPeriodSeconds: number;
  readonly tokenNumUses: number;
  readonly tokenNoDefaultPolicy: boolean;
  readonly tokenBoundCidrs: readonly string[];
}

export interface TokenStoreDeps {
  /** The token store's own view (sys/token/). */
  readonly storage: Storage;
  /** Epoch ms. */
  readonly now: () => number;
  /** System default token TTL; default 32 days. */
  readonly defaultLeaseTtlSeconds?: number;
  /** System maximum token TTL; default 32 days. */
  readonly maxLeaseTtlSeconds?: number;
  /**
   * Called once a service token has been deleted (revoked, expired or used up), with its
   * hash, so what belongs to the token (its cubbyhole) goes with it. Must not throw.
   */
  readonly onDeleted?: (hash: string, entry: TokenEntry) => Promise<void>;
  /**
   * Called after a service token was stored or renewed, with its new entry, so its lease
   * can be registered or moved to the new expiry. Must not throw.
   */
  readonly onWritten?: (hash: string, entry: TokenEntry) => Promise<void>;
}

/**
 * Vault's policy sanitising: trim, lower-case, drop empties, dedupe, sort; "root" anywhere
 * means exactly ["root"] (and no "default"). SECURITY: every root check must run on the
 * output of this, so " ROOT" is root too.
 */
export function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  const out = new Set<string>();
  for (const raw of policies) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    if (name === 'root') return ['root'];
    out.add(name);
  }
  if (addDefault) out.add('default');
  return [...out].sort();
}

/** Validates an IP address or CIDR block and returns it as `address/prefix`. */
export function normaliseCidr(text: string, field: string): string {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const family = isIP(address);
  if (family === 0) throw invalidField(field, 'must be a list of IP addresses or CIDR blocks');
  const max = family === 4 ? 32 : 128;
  if (slash === -1) return `${address}/${max}`;
  const prefix = trimmed.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
    throw invalidField(field, 'has a CIDR block with an invalid prefix length');
  }
  return `${address}/${Number(prefix)}`;
}

const blockLists = new WeakMap<readonly string[], BlockList>();

/**
 * Whether `remoteAddress` is inside one of `cidrs` (an empty list allows any address).
 * SECURITY: an unknown client address never matches a non-empty list.
 */
export function addressAllowed(
  cidrs: readonly string[],
  remoteAddress: string | undefined,
): boolean {
  if (cidrs.length === 0) return true;
  if (remoteAddress === undefined) return false;
  let address = remoteAddress.trim();
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped !== null) address = mapped[1]!;
  const family = isIP(address);
  if (family === 0) return false;
  let list = blockLists.get(cidrs);
  if (list === undefined) {
    list = new BlockList();
    for (const cidr of cidrs) {
      const [network = '', prefix] = cidr.split('/');
      const networkFamily = isIP(network);
      if (networkFamily === 0) continue;
      // SECURITY: fail closed on a stored entry normaliseCidr did not write: no prefix is the
      // one address (not /0, which would allow every address), a malformed one allows nothing.
      const full = networkFamily === 4 ? 32 : 128;
      const bits = prefix === undefined ? full : Number(prefix);
      if (prefix === '' || !Number.isInteger(bits) || bits < 0 || bits > full) continue;
      list.addSubnet(network, bits, networkFamily === 4 ? 'ipv4' : 'ipv6');
    }
    blockLists.set(cidrs, list);
  }
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function idKey(hash: string): string {
  return TOKEN_KEYS.idPrefix + hash;
}

function accessorKey(accessor: string): string {
  return TOKEN_KEYS.accessorPrefix + accessor;
}

function childrenPrefix(parentHash: string): string {
  return `${TOKEN_KEYS.parentPrefix}${parentHash}/`;
}

function childKey(parentHash: string, childHash: string): string {
  return `${TOKEN_KEYS.parentPrefix}${parentHash}/${childHash}`;
}

function roleKey(name: string): string {
  return TOKEN_KEYS.rolePrefix + name;
}

function assertRoleName(name: string): void {
  if (!ROLE_NAME_PATTERN.test(name)) {
    throw invalidField(
      'role_name',
      'must be 1 to 128 letters, digits, "_", "-" or ".", starting and ending with a letter or digit',
    );
  }
}

function assertCustomId(id: string): void {
  if (id.length === 0 || id.length > MAX_CUSTOM_ID_LENGTH) {
    throw invalidField('id', 'token ids must be 1 to 512 characters');
  }
  // SECURITY: with no '.', a custom id can never pose as a cfs. or cfb. token (a cfb. id would
  // be parsed as a sealed batch token).
  if (id.includes('.')) throw invalidField('id', "custom token ids cannot contain '.'");
  if (!/^[\x21-\x7e]+$/.test(id)) {
    throw invalidField('id', 'custom token ids must be printable ASCII without spaces');
  }
}

function wholeSeconds(value: number | undefined, field: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidField(field, 'must be a non-negative whole number of seconds');
  }
  return value;
}

function isExpired(entry: TokenEntry, nowMs: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= nowMs;
}

function withoutParent(entry: TokenEntry): TokenEntry {
  const copy: { -readonly [K in keyof TokenEntry]?: TokenEntry[K] } = { ...entry };
  delete copy.parent;
  return { ...(copy as TokenEntry), orphan: true };
}

interface TtlInput {
  /** Requested TTL (creation) or increment (renewal); 0 = use the fallback. */
  readonly requestedSeconds: number;
  /** Used when nothing was requested: the system default, or the token's creation TTL. */
  readonly fallbackSeconds: number;
  readonly periodSeconds: number;
  readonly explicitMaxTtlSeconds: number;
  readonly backendMaxTtlSeconds: number;
  readonly systemMaxTtlSeconds: number;
  /** Epoch ms the explicit/maximum TTL counts from (the token's creation). */
  readonly startMs: number;
  readonly nowMs: number;
}

/**
 * Vault's `framework.CalculateTTL`: a periodic token gets its period (capped by the maximum,
 * limited only by an explicit max TTL); any other token gets what it asked for (or the
 * fallback), never past start + min(system max, backend max, explicit max).
 */
function calculateTtl(input: TtlInput): {
  ttlSeconds: number;
  periodSeconds: number;
  warnings: string[];
} {
  const warnings: string[] = [];
  let maxTtl = input.systemMaxTtlSeconds;
  if (input.backendMaxTtlSeconds > 0 && input.backendMaxTtlSeconds < maxTtl) {
    maxTtl = input.backendMaxTtlSeconds;
  }
  if (input.explicitMaxTtlSeconds > 0 && input.explicitMaxTtlSeconds < maxTtl) {
    maxTtl = input.explicitMaxTtlSeconds;
  }
  let ttl: number;
  let period = input.periodSeconds;
  let maxValidMs: number | undefined;
  if (period > 0) {
    if (period > maxTtl) {
      warnings.push(
        `period of ${period}s exceeded the effective max_ttl of ${maxTtl}s; period value is capped accordingly`,
      );
      period = maxTtl;
    }
    ttl = period;
    if (input.explicitMaxTtlSeconds > 0) {
      maxValidMs = input.startMs + input.explicitMaxTtlSeconds * 1000;
    }
  } else {
    ttl = input.requestedSeconds > 0 ? input.requestedSeconds : input.fallbackSeconds;
    maxValidMs = input.startMs + maxTtl * 1000;
  }
  if (maxValidMs !== undefined) {
    const leftSeconds = Math.floor((maxValidMs - input.nowMs) / 1000);
    if (leftSeconds <= 0)
      throw new CofferError('invalid_request', 'past the max TTL, cannot renew');
    if (ttl > leftSeconds) {
      warnings.push(
        `TTL of ${ttl}s exceeded the effective max_ttl of ${leftSeconds}s; TTL value is capped accordingly`,
      );
      ttl = leftSeconds;
    }
  }
  return { ttlSeconds: ttl, periodSeconds: period, warnings };
}

/** A batch token's sealed payload must look like a batch entry (it is authenticated anyway). */
function isBatchPayload(value: unknown): value is Record<string, unknown> {
  return (
    isPlainObject(value) &&
    value.type === 'batch' &&
    Array.isArray(value.policies) &&
    value.policies.every((p) => typeof p === 'string') &&
    typeof value.createdAt === 'number' &&
    typeof value.expiresAt === 'number' &&
    typeof value.ttlSeconds === 'number' &&
    typeof value.path === 'string' &&
    typeof value.displayName === 'string' &&
    (value.parent === undefined || typeof value.parent === 'string') &&
    (value.entityId === undefined || typeof value.entityId === 'string')
  );
}

interface Resolved {
  readonly hash: string;
  readonly entry: TokenEntry;
}

interface RevocationFrame {
  readonly hash: string;
  /** The parent whose children index led here (deleted with the token). */
  readonly under: string | undefined;
  /** Children still to revoke; undefined until listed. */
  children: string[] | undefined;
}

export class TokenStore {
  readonly #storage: Storage;
  readonly #onDeleted: ((hash: string, entry: TokenEntry) => Promise<void>) | undefined;
  readonly #onWritten: ((hash: string, entry: TokenEntry) => Promise<void>) | undefined;
  readonly #now: () => number;
  readonly #defaultTtlSeconds: number;
  readonly #maxTtlSeconds: number;
  #salt: Buffer | undefined;
  #batchKey: Buffer | undefined;
  /** Token hash → entry. Holds no token in clear; invalidated on every change. */
  readonly #cache = new Map<string, TokenEntry>();
  /**
   * Bumped around every storage write: a lookup only caches what it read if no write
   * happened meanwhile, so a slow read can never put a revoked or stale entry back.
   */
  #epoch = 0;
  /** Hashes being revoked: dead to lookups at once, and so is every descendant. */
  readonly #pending = new Set<string>();
  readonly #treeRevocations = new Map<string, Promise<void>>();
  /** Per-hash mutex tails (use counts, renewals, child creation, revocation). */
  readonly #locks = new Map<string, Promise<void>>();
  #tidying: Promise<TidyCounts> | undefined;

  constructor(deps: TokenStoreDeps) {
    this.#storage = deps.storage;
    this.#now = deps.now;
    this.#onDeleted = deps.onDeleted;
    this.#onWritten = deps.onWritten;
    const max = deps.maxLeaseTtlSeconds ?? DEFAULT_SYSTEM_TTL_SECONDS;
    const def = deps.defaultLeaseTtlSeconds ?? DEFAULT_SYSTEM_TTL_SECONDS;
    if (!Number.isSafeInteger(max) || max <= 0 || !Number.isSafeInteger(def) || def <= 0) {
      throw new CofferError('internal', 'token store: lease TTLs must be positive whole seconds');
    }
    this.#maxTtlSeconds = max;
    this.#defaultTtlSeconds = Math.min(def, max);
  }

  get defaultLeaseTtlSeconds(): number {
    return this.#defaultTtlSeconds;
  }

  get maxLeaseTtlSeconds(): number {
    return this.#maxTtlSeconds;
  }

  /** Loads (or, on a new store, creates) the salt. Called after every unseal. */
  async open(): Promise<void> {
    const stored = await this.#storage.get(TOKEN_KEYS.salt);
    let salt: Buffer;
    if (stored !== undefined) {
      salt = Buffer.from(stored);
    } else {
      salt = randomBytes(32);
      // A copy: close() wipes `salt`, and a storage may keep the very buffer it is given.
      await this.#storage.put(TOKEN_KEYS.salt, Buffer.from(salt));
    }
    this.#salt = salt;
    this.#batchKey = Buffer.from(hkdfSync('sha256', salt, Buffer.alloc(0), BATCH_KEY_INFO, 32));
  }

  /** Forgets the salt, the batch key and the cache (on seal). */
  close(): void {
    this.#salt?.fill(0);
    this.#salt = undefined;
    this.#batchKey?.fill(0);
    this.#batchKey = undefined;
    this.#cache.clear();
  }

  hashToken(token: string): string {
    if (this.#salt === undefined) throw new CofferError('sealed', 'Vault is sealed');
    return createHmac('sha256', this.#salt).update(token, 'utf8').digest('hex');
  }

  // ---------------------------------------------------------------------------------------
  // Creation

  /**
   * Creates a token. TTLs follow Vault (see calculateTtl); a child's TTL is further capped by
   * its parent's remaining TTL, since the child dies with the parent anyway. Permission rules
   * (policy subsets, sudo, who may grant root) are the caller's job: see token-backend.ts.
   */
  async create(options: CreateTokenOptions): Promise<CreatedToken> {
    const type = options.type ?? 'service';
    const policies = sanitizePolicies(options.policies, false);
    const numUses = wholeSeconds(options.numUses, 'num_uses');
    const periodSeconds = wholeSeconds(options.periodSeconds, 'period');
    const explicitMaxTtlSeconds = wholeSeconds(options.explicitMaxTtlSeconds, 'explicit_max_ttl');
    wholeSeconds(options.ttlSeconds, 'ttl');
    wholeSeconds(options.maxTtlSeconds, 'max_ttl');
    if (type === 'batch') {
      if (options.id !== undefined)
        throw invalidField('id', 'batch tokens cannot have a custom id');
      // SECURITY: batch tokens cannot be revoked, so they must never carry root.
      if (policies.includes('root')) {
        throw new CofferError('invalid_request', 'batch tokens cannot be root tokens');
      }
      if (numUses !== 0) throw invalidField('num_uses', 'batch tokens cannot have "num_uses" set');
      if (periodSeconds !== 0)
        throw invalidField('period', 'batch tokens cannot have "period" set');
      if (explicitMaxTtlSeconds !== 0) {
        throw invalidField('explicit_max_ttl', 'batch tokens cannot have "explicit_max_ttl" set');
      }
    }
    if (options.id !== undefined) assertCustomId(options.id);
    const boundCidrs = (options.boundCidrs ?? []).map((c) => normaliseCidr(c, 'token_bound_cidrs'));
    const parentToken = options.parentToken;

    let parent: Resolved | undefined;
    if (parentToken !== undefined) {
      parent = await this.#resolve(parentToken);
      if (parent === undefined) {
        throw new CofferError('invalid_request', 'parent token lookup failed: no parent found');
      }
      if (parent.entry.type === 'batch') {
        throw new CofferError('invalid_request', 'batch tokens cannot create more tokens');
      }
    }

    const build = (
      parentEntry: TokenEntry | undefined,
    ): { entry: TokenEntry; warnings: string[] } => {
      // SECURITY: a use-limited token could escape its limit through children.
      if (parentEntry !== undefined && parentEntry.numUses !== 0) {
        throw new CofferError(
          'invalid_request',
          'restricted use token cannot generate child tokens',
        );
      }
      return this.#buildEntry(options, {
        type,
        policies,
        numUses,
        periodSeconds,
        explicitMaxTtlSeconds,
        boundCidrs,
        parentHash: parent?.hash,
        parentExpiresAt: parentEntry?.expiresAt,
      });
    };

    if (type === 'batch') {
      const { entry, warnings } = build(parent?.entry);
      const token = this.#sealBatch(entry);
      return { token, entry, warnings };
    }

    const token = options.id ?? SERVICE_TOKEN_PREFIX + randomBase62(TOKEN_RANDOM_CHARS);
    const hash = this.hashToken(token);
    const store = async (): Promise<CreatedToken> => {
      // Under the parent's lock: a revocation of the parent either sees this child in the
      // children index, or has already started, in which case the parent is not live here.
      const parentEntry =
        parent === undefined
          ? undefined
          : this.#livePassive(parent.hash, await this.#readStored(parent.hash));
      if (parent !== undefined && parentEntry === undefined) {
        throw new CofferError('invalid_request', 'parent token lookup failed: no parent found');
      }
      const { entry, warnings } = build(parentEntry);
      const ops: StorageOp[] = [
        { op: 'put', key: idKey(hash), value: encodeJson(entry) },
        { op: 'put', key: accessorKey(entry.accessor), value: encodeJson({ hash }) },
      ];
      if (entry.parent !== undefined) {
        ops.push({ op: 'put', key: childKey(entry.parent, hash), value: INDEX_MARKER });
      }
      await this.#write(ops, () => {
        this.#cacheSet(hash, entry);
      });
      await this.#onWritten?.(hash, entry);
      return { token, entry, warnings };
    };
    const underParent = (): Promise<CreatedToken> =>
      parent === undefined ? store() : this.#withLock(parent.hash, store);
    if (options.id === undefined) return underParent();
    // Lock order is always new token → parent, and revocations only lock parent → child, so
    // the two cannot wait on each other.
    return this.#withLock(hash, async () => {
      if ((await this.#storage.get(idKey(hash))) !== undefined) {
        throw invalidField('id', 'a token with this id already exists');
      }
      return underParent();
    });
  }

  #buildEntry(
    options: CreateTokenOptions,
    derived: {
      type: TokenType;
      policies: string[];
      numUses: number;
      periodSeconds: number;
      explicitMaxTtlSeconds: number;
      boundCidrs: string[];
      parentHash: string | undefined;
      parentExpiresAt: number | undefined;
    },
  ): { entry: TokenEntry; warnings: string[] } {
    const now = this.#now();
    const requested = options.ttlSeconds ?? 0;
    const isRoot = derived.policies.includes('root');
    let ttl = requested;
    let period = derived.periodSeconds;
    const warnings: string[] = [];
    if (options.neverExpires !== true && (period > 0 || requested > 0 || !isRoot)) {
      const computed = calculateTtl({
        requestedSeconds: requested,
        fallbackSeconds: this.#defaultTtlSeconds,
        periodSeconds: period,
        explicitMaxTtlSeconds: derived.explicitMaxTtlSeconds,
        backendMaxTtlSeconds: options.maxTtlSeconds ?? 0,
        systemMaxTtlSeconds: this.#maxTtlSeconds,
        startMs: now,
        nowMs: now,
      });
      ttl = computed.ttlSeconds;
      period = computed.periodSeconds;
      warnings.push(...computed.warnings);
    }
    // Root tokens are still bound by an explicit max TTL.
    if (ttl === 0 && derived.explicitMaxTtlSeconds > 0) ttl = derived.explicitMaxTtlSeconds;
    let renewable = derived.type === 'service' && (options.renewable ?? true);
    if (ttl === 0) {
      if (derived.parentExpiresAt !== undefined || options.issuerExpiresAt !== undefined) {
        throw new CofferError(
          'invalid_request',
          'expiring root tokens cannot create non-expiring root tokens',
        );
      }
      renewable = false;
    }
    if (derived.parentExpiresAt !== undefined) {
      const leftSeconds = Math.floor((derived.parentExpiresAt - now) / 1000);
      if (leftSeconds <= 0) {
        throw new CofferError('invalid_request', 'parent token lookup failed: no parent found');
      }
      if (ttl > leftSeconds) {
        warnings.push(
          `TTL of ${ttl}s exceeded the parent token's remaining TTL; capped to ${leftSeconds}s`,
        );
        ttl = leftSeconds;
      }
    }
    const entry: TokenEntry = {
      accessor: derived.type === 'batch' ? '' : randomBase62(ACCESSOR_CHARS),
      policies: derived.policies,
      path: options.path,
      displayName: options.displayName,
      meta: options.meta === undefined || options.meta === null ? null : { ...options.meta },
      createdAt: now,
      ttlSeconds: ttl,
      explicitMaxTtlSeconds: derived.explicitMaxTtlSeconds,
      maxTtlSeconds: options.maxTtlSeconds ?? 0,
      periodSeconds: period,
      ...(ttl > 0 ? { expiresAt: now + ttl * 1000 } : {}),
      numUses: derived.numUses,
      renewable,
      orphan: derived.parentHash === undefined,
      ...(derived.parentHash === undefined ? {} : { parent: derived.parentHash }),
      type: derived.type,
      ...(options.role === undefined ? {} : { role: options.role }),
      ...(derived.boundCidrs.length === 0 ? {} : { boundCidrs: derived.boundCidrs }),
      ...(options.entityId === undefined || options.entityId === ''
        ? {}
        : { entityId: options.entityId }),
    };
    return { entry, warnings };
  }

  // ---------------------------------------------------------------------------------------
  // Lookup and use

  /** The live entry of `token` (unknown, expired, used-up or revoked → undefined). No use is consumed. */
  async lookup(token: string): Promise<TokenEntry | undefined> {
    return (await this.#resolve(token))?.entry;
  }

  /** The live entry of the token with this accessor; never any other token's. */
  async lookupByAccessor(accessor: string): Promise<TokenEntry | undefined> {
    return (await this.#resolveAccessor(accessor))?.entry;
  }

  /**
   * Resolves the token presented with a request and consumes one use. Returns undefined for
   * unknown, expired, used-up or revoked tokens, for a token whose parent chain is not live,
   * and for a token bound to CIDRs when `remoteAddress` is unknown or outside them. On its last
   * use the entry comes back with `numUses: -1`: the token already fails every other lookup,
   * and `completeUse` revokes it once this request is done.
   */
  async authenticate(
    token: string,
    options: { readonly remoteAddress?: string } = {},
  ): Promise<TokenEntry | undefined> {
    const found = await this.#resolve(token);
    if (found === undefined) return undefined;
    if (!addressAllowed(found.entry.boundCidrs ?? [], options.remoteAddress)) return undefined;
    if (found.entry.numUses === 0) return found.entry;
    return this.#withLock(found.hash, async () => {
      const fresh = this.#livePassive(found.hash, await this.#readStored(found.hash));
      if (fresh === undefined) return undefined;
      if (fresh.numUses === 0) return fresh;
      const next: TokenEntry = { ...fresh, numUses: fresh.numUses === 1 ? -1 : fresh.numUses - 1 };
      await this.#write([{ op: 'put', key: idKey(found.hash), value: encodeJson(next) }], () => {
        this.#cacheSet(found.hash, next);
      });
      return next;
    });
  }

  /**
   * Ends a request authenticated with `token` (call it in a `finally`): when that request was
   * the token's last use, the token is revoked now, after the use. Free for other tokens.
   */
  async completeUse(token: string, entry: TokenEntry): Promise<void> {
    if (entry.numUses !== -1 || entry.type === 'batch') return;
    await this.#revokeTree(this.hashToken(token));
  }

  // ---------------------------------------------------------------------------------------
  // Renewal

  /** Renews a live service token (see calculateTtl); `incrementSeconds` 0 = its creation TTL. */
  async renew(token: string, incrementSeconds = 0): Promise<RenewedToken> {
    const found = await this.#resolve(token);
    if (found === undefined) throw new CofferError('invalid_request', 'token not found');
    if (found.entry.type === 'batch') {
      throw new CofferError('invalid_request', 'batch tokens cannot be renewed');
    }
    return this.#renewHash(found.hash, incrementSeconds, 'token not found');
  }

  /** Renews exactly the token that owns `accessor`. */
  async renewByAccessor(accessor: string, incrementSeconds = 0): Promise<RenewedToken> {
    const found = await this.#resolveAccessor(accessor);
    if (found === undefined) throw new CofferError('invalid_request', 'invalid accessor');
    return this.#renewHash(found.hash, incrementSeconds, 'invalid accessor');
  }

  async #renewHash(
    hash: string,
    incrementSeconds: number,
    notFound: string,
  ): Promise<RenewedToken> {
    const increment = wholeSeconds(incrementSeconds, 'increment');
    // Resolve the parent chain (which may revoke expired ancestors) before taking the lock.
    const resolved = await this.#resolveHash(hash);
    if (resolved === undefined) throw new CofferError('invalid_request', notFound);
    const parentEntry =
      resolved.parent === undefined ? undefined : await this.#liveEntry(resolved.parent);
    if (resolved.parent !== undefined && parentEntry === undefined) {
      throw new CofferError('invalid_request', notFound);
    }
    if (resolved.role !== undefined && (await this.getRole(resolved.role)) === undefined) {
      throw new CofferError(
        'invalid_request',
        `original token role "${resolved.role}" could not be found, not renewing`,
      );
    }
    return this.#withLock(hash, async () => {
      const entry = this.#livePassive(hash, await this.#readStored(hash));
      if (entry === undefined) throw new CofferError('invalid_request', notFound);
      if (entry.expiresAt === undefined || !entry.renewable || entry.type !== 'service') {
        throw new CofferError('invalid_request', 'lease is not renewable');
      }
      const now = this.#now();
      const computed = calculateTtl({
        requestedSeconds: increment,
        fallbackSeconds: entry.ttlSeconds > 0 ? entry.ttlSeconds : this.#defaultTtlSeconds,
        periodSeconds: entry.periodSeconds,
        explicitMaxTtlSeconds: entry.explicitMaxTtlSeconds,
        backendMaxTtlSeconds: entry.maxTtlSeconds,
        systemMaxTtlSeconds: this.#maxTtlSeconds,
        startMs: entry.createdAt,
        nowMs: now,
      });
      let ttl = computed.ttlSeconds;
      const warnings = [...computed.warnings];
      if (parentEntry?.expiresAt !== undefined) {
        const leftSeconds = Math.floor((parentEntry.expiresAt - now) / 1000);
        if (leftSeconds <= 0) throw new CofferError('invalid_request', notFound);
        if (ttl > leftSeconds) {
          warnings.push(
            `TTL of ${ttl}s exceeded the parent token's remaining TTL; capped to ${leftSeconds}s`,
          );
          ttl = leftSeconds;
        }
      }
      const next: TokenEntry = { ...entry, expiresAt: now + ttl * 1000, lastRenewalAt: now };
      await this.#write([{ op: 'put', key: idKey(hash), value: encodeJson(next) }], () => {
        this.#cacheSet(hash, next);
      });
      await this.#onWritten?.(hash, next);
      return { entry: next, ttlSeconds: ttl, warnings };
    });
  }

  // ---------------------------------------------------------------------------------------
  // Revocation

  /** Revokes the token with this hash and its subtree (a token lease expired). */
  async revokeHash(hash: string): Promise<void> {
    if (!HASH_PATTERN.test(hash)) throw new CofferError('invalid_request', 'invalid token hash');
    await this.#revokeTree(hash);
  }

  /** Revokes the token and its whole subtree. Unknown tokens are a no-op; batch tokens refuse. */
  async revoke(token: string): Promise<void> {
    if (token === '' || token.length > MAX_PRESENTED_TOKEN_LENGTH) return;
    if (token.startsWith(BATCH_TOKEN_PREFIX)) {
      if (this.#openBatch(token) !== undefined) {
        throw new CofferError('invalid_request', 'batch tokens cannot be revoked');
      }
      return;
    }
    await this.#revokeTree(this.hashToken(token));
  }

  /**
   * Revokes the token but not its children, which become orphans (re-parented before the
   * token is deleted, so no child ever points at a missing parent). False if unknown.
   */
  async revokeOrphan(token: string): Promise<boolean> {
    if (token === '' || token.length > MAX_PRESENTED_TOKEN_LENGTH) return false;
    if (token.startsWith(BATCH_TOKEN_PREFIX)) {
      if (this.#openBatch(token) !== undefined) {
        throw new CofferError('invalid_request', 'batch tokens cannot be revoked');
      }
      return false;
    }
    const hash = this.hashToken(token);
    return this.#withLock(hash, async () => {
      if ((await this.#readStored(hash)) === undefined) return false;
      // Holding this token's lock, no new child can be created under it meanwhile.
      const children = await this.#listChildren(hash);
      for (const child of children) {
        await this.#withLock(child, async () => {
          const fresh = await this.#readStored(child);
          const ops: StorageOp[] = [{ op: 'delete', key: childKey(hash, child) }];
          let next: TokenEntry | undefined;
          if (fresh !== undefined && fresh.parent === hash) {
            next = withoutParent(fresh);
            ops.push({ op: 'put', key: idKey(child), value: encodeJson(next) });
          }
          await this.#write(ops, () => {
            if (next !== undefined) this.#cacheSet(child, next);
          });
        });
      }
      this.#pending.add(hash);
      try {
        await this.#deleteToken(hash, undefined);
      } finally {
        this.#pending.delete(hash);
      }
      return true;
    });
  }

  /** Revokes exactly the token that owns `accessor`, with its subtree. False if unknown. */
  async revokeByAccessor(accessor: string): Promise<boolean> {
    const hash = await this.#hashForAccessor(accessor);
    if (hash === undefined) return false;
    const entry = await this.#readStored(hash);
    // SECURITY: act only when the index points at the token that owns this accessor.
    if (entry === undefined || entry.accessor !== accessor) return false;
    await this.#revokeTree(hash);
    return true;
  }

  /** Accessors of every stored (service) token. Batch tokens have none and are never listed. */
  async listAccessors(): Promise<string[]> {
    return (await this.#storage.list(TOKEN_KEYS.accessorPrefix)).filter((k) => !k.endsWith('/'));
  }

  /**
   * Repairs the indices: revokes expired, used-up and parentless tokens (with their
   * subtrees), and deletes children-index and accessor entries that point at nothing. One
   * tidy runs at a time; a second call joins it.
   */
  tidy(): Promise<TidyCounts> {
    this.#tidying ??= this.#tidyNow().finally(() => {
      this.#tidying = undefined;
    });
    return this.#tidying;
  }

  async #tidyNow(): Promise<TidyCounts> {
    let tokensScanned = 0;
    let tokensRevoked = 0;
    let parentEntriesScanned = 0;
    let parentEntriesDeleted = 0;
    let accessorsScanned = 0;
    let accessorsDeleted = 0;

    for (const hash of await this.#storage.list(TOKEN_KEYS.idPrefix)) {
      if (!HASH_PATTERN.test(hash)) continue;
      tokensScanned += 1;
      const entry = await this.#readStored(hash);
      if (entry === undefined) continue;
      const dead =
        entry.numUses < 0 ||
        isExpired(entry, this.#now()) ||
        (entry.parent !== undefined &&
          (await this.#storage.get(idKey(entry.parent))) === undefined);
      if (dead) {
        await this.#revokeTree(hash);
        tokensRevoked += 1;
      }
    }

    for (const folder of await this.#storage.list(TOKEN_KEYS.parentPrefix)) {
      if (!folder.endsWith('/')) continue;
      const parentHash = folder.slice(0, -1);
      const parentExists = (await this.#storage.get(idKey(parentHash))) !== undefined;
      for (const child of await this.#listChildren(parentHash)) {
        parentEntriesScanned += 1;
        const childEntry = await this.#readStored(child);
        if (childEntry !== undefined && childEntry.parent === parentHash) {
          if (parentExists) continue;
          // Its parent is gone, so the child is dead: revoke it rather than resurrect it.
          await this.#revokeTree(child);
          tokensRevoked += 1;
        }
        await this.#storage.delete(childKey(parentHash, child));
        parentEntriesDeleted += 1;
      }
    }

    for (const accessor of await this.listAccessors()) {
      accessorsScanned += 1;
      const index = await getJson<{ hash?: unknown }>(this.#storage, accessorKey(accessor));
      const hash =
        typeof index?.hash === 'string' && HASH_PATTERN.test(index.hash) ? index.hash : undefined;
      const entry = hash === undefined ? undefined : await this.#readStored(hash);
      if (entry?.accessor === accessor) continue;
      await this.#storage.delete(accessorKey(accessor));
      accessorsDeleted += 1;
    }

    return {
      tokensScanned,
      tokensRevoked,
      parentEntriesScanned,
      parentEntriesDeleted,
      accessorsScanned,
      accessorsDeleted,
    };
  }

  // ---------------------------------------------------------------------------------------
  // Roles

  async getRole(name: string): Promise<TokenRole | undefined> {
    assertRoleName(name);
    return getJson<TokenRole>(this.#storage, roleKey(name));
  }

  async putRole(role: TokenRole): Promise<void> {
    assertRoleName(role.name);
    await this.#storage.put(roleKey(role.name), encodeJson(role));
  }

  async deleteRole(name: string): Promise<void> {
    assertRoleName(name);
    await this.#storage.delete(roleKey(name));
  }

  async listRoles(): Promise<string[]> {
    return (await this.#storage.list(TOKEN_KEYS.rolePrefix)).filter((k) => !k.endsWith('/'));
  }

  // ---------------------------------------------------------------------------------------
  // Internals: resolution

  /** A live token with a live parent chain, by the token in clear. */
  async #resolve(token: string): Promise<Resolved | undefined> {
    if (token === '' || token.length > MAX_PRESENTED_TOKEN_LENGTH) return undefined;
    const hash = this.hashToken(token);
    if (token.startsWith(BATCH_TOKEN_PREFIX)) {
      let entry = this.#cache.get(hash);
      if (entry === undefined) {
        entry = this.#openBatch(token);
        if (entry === undefined) return undefined;
        this.#cacheSet(hash, entry);
      }
      if (isExpired(entry, this.#now())) {
        this.#cache.delete(hash);
        return undefined;
      }
      return (await this.#ancestorsLive(entry, hash)) ? { hash, entry } : undefined;
    }
    const entry = await this.#resolveHash(hash);
    return entry === undefined ? undefined : { hash, entry };
  }

  async #resolveHash(hash: string): Promise<TokenEntry | undefined> {
    const entry = await this.#liveEntry(hash);
    if (entry === undefined) return undefined;
    return (await this.#ancestorsLive(entry, hash)) ? entry : undefined;
  }

  async #hashForAccessor(accessor: string): Promise<string | undefined> {
    if (!ACCESSOR_PATTERN.test(accessor)) return undefined;
    const index = await getJson<{ hash?: unknown }>(this.#storage, accessorKey(accessor));
    const hash = index?.hash;
    return typeof hash === 'string' && HASH_PATTERN.test(hash) ? hash : undefined;
  }

  async #resolveAccessor(accessor: string): Promise<Resolved | undefined> {
    const hash = await this.#hashForAccessor(accessor);
    if (hash === undefined) return undefined;
    const entry = await this.#resolveHash(hash);
    // SECURITY: the index must point at the token that owns this accessor; a stale or corrupt
    // index entry is treated as unknown, so an accessor can never reach another token.
    if (entry === undefined || entry.accessor !== accessor) return undefined;
    return { hash, entry };
  }

  /**
   * Every ancestor must be live: a revoked (or being revoked) or expired ancestor makes the
   * whole subtree dead at once, before the revocation has reached it. Iterative; a cycle or
   * an absurd depth fails closed.
   */
  async #ancestorsLive(entry: TokenEntry, selfHash: string): Promise<boolean> {
    const seen = new Set<string>([selfHash]);
    let parent = entry.parent;
    while (parent !== undefined) {
      if (seen.has(parent) || seen.size > MAX_CHAIN_DEPTH) return false;
      seen.add(parent);
      const parentEntry = await this.#liveEntry(parent);
      if (parentEntry === undefined) return false;
      parent = parentEntry.parent;
    }
    return true;
  }

  /**
   * The entry if it is live by itself (ancestors not checked). An expired token found here is
   * revoked with its subtree. Never call this while holding a lock (the revocation takes locks).
   */
  async #liveEntry(hash: string): Promise<TokenEntry | undefined> {
    if (this.#pending.has(hash)) return undefined;
    const entry = await this.#loadEntry(hash);
    if (entry === undefined || entry.numUses < 0) return undefined;
    if (!isExpired(entry, this.#now())) return entry;
    // Confirm against storage (a renewal may have raced the cache) before revoking.
    const stored = await this.#readStored(hash);
    if (stored === undefined) return undefined;
    if (isExpired(stored, this.#now())) {
      await this.#revokeTree(hash);
      return undefined;
    }
    return this.#livePassive(hash, stored);
  }

  /** Liveness without side effects, for use under a lock. */
  #livePassive(hash: string, entry: TokenEntry | undefined): TokenEntry | undefined {
    if (entry === undefined || this.#pending.has(hash) || entry.numUses < 0) return undefined;
    return isExpired(entry, this.#now()) ? undefined : entry;
  }

  async #loadEntry(hash: string): Promise<TokenEntry | undefined> {
    const cached = this.#cache.get(hash);
    if (cached !== undefined) return cached;
    const epoch = this.#epoch;
    const entry = await this.#readStored(hash);
    if (entry !== undefined && epoch === this.#epoch && !this.#pending.has(hash)) {
      this.#cacheSet(hash, entry);
    }
    return entry;
  }

  #readStored(hash: string): Promise<TokenEntry | undefined> {
    return getJson<TokenEntry>(this.#storage, idKey(hash));
  }

  async #listChildren(parentHash: string): Promise<string[]> {
    return (await this.#storage.list(childrenPrefix(parentHash))).filter((c) =>
      HASH_PATTERN.test(c),
    );
  }

  // ---------------------------------------------------------------------------------------
  // Internals: writes, cache, locks

  async #write(ops: readonly StorageOp[], onWritten: () => void): Promise<void> {
    this.#epoch += 1;
    try {
      await this.#storage.batch(ops);
    } finally {
      this.#epoch += 1;
    }
    onWritten();
  }

  #cacheSet(hash: string, entry: TokenEntry): void {
    if (!this.#cache.has(hash) && this.#cache.size >= CACHE_MAX_ENTRIES) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(hash, entry);
  }

  async #withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.#locks.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Internals: tree revocation

  /** Revokes `rootHash` and all its descendants; concurrent calls for one root share the work. */
  #revokeTree(rootHash: string): Promise<void> {
    const running = this.#treeRevocations.get(rootHash);
    if (running !== undefined) return running;
    const job = this.#revokeTreeNow(rootHash).finally(() => {
      this.#treeRevocations.delete(rootHash);
    });
    this.#treeRevocations.set(rootHash, job);
    return job;
  }

  /**
   * Depth-first, children before parents, without recursion. Memory holds the current path
   * and the not-yet-visited children of the tokens on it, never the whole tree. The root is
   * marked pending first, so it and every descendant fail lookups from the first moment.
   */
  async #revokeTreeNow(rootHash: string): Promise<void> {
    this.#pending.add(rootHash);
    this.#cache.delete(rootHash);
    try {
      const stack: RevocationFrame[] = [{ hash: rootHash, under: undefined, children: undefined }];
      const onPath = new Set<string>([rootHash]);
      while (stack.length > 0) {
        const frame = stack[stack.length - 1]!;
        const next = frame.children?.pop();
        if (next !== undefined) {
          if (onPath.has(next)) {
            // A cycle in a corrupt index: drop the index entry instead of looping.
            await this.#storage.delete(childKey(frame.hash, next));
            continue;
          }
          stack.push({ hash: next, under: frame.hash, children: undefined });
          onPath.add(next);
          continue;
        }
        // No known children left: list again under the token's lock (catching a child created
        // meanwhile) and delete the token once it has none.
        const deleted = await this.#withLock(frame.hash, async () => {
          const children = await this.#listChildren(frame.hash);
          if (children.length > 0) {
            frame.children = children;
            return false;
          }
          await this.#deleteToken(frame.hash, frame.under);
          return true;
        });
        if (deleted) {
          stack.pop();
          onPath.delete(frame.hash);
        }
      }
    } finally {
      this.#pending.delete(rootHash);
    }
  }

  /** Deletes one token with its accessor and children-index entries, in one batch. */
  async #deleteToken(hash: string, under: string | undefined): Promise<void> {
    const entry = await this.#readStored(hash);
    const keys = new Set<string>();
    if (entry !== undefined) {
      keys.add(idKey(hash));
      if (entry.accessor !== '') keys.add(accessorKey(entry.accessor));
      if (entry.parent !== undefined) keys.add(childKey(entry.parent, hash));
    }
    if (under !== undefined) keys.add(childKey(under, hash));
    this.#cache.delete(hash);
    if (keys.size === 0) return;
    await this.#write(
      [...keys].map((key) => ({ op: 'delete', key })),
      () => this.#cache.delete(hash),
    );
    if (entry !== undefined) await this.#onDeleted?.(hash, entry);
  }

  // ---------------------------------------------------------------------------------------
  // Internals: batch tokens

  #sealBatch(entry: TokenEntry): string {
    const key = this.#requireBatchKey();
    const iv = randomBytes(BATCH_IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(BATCH_AAD);
    const payload = { ...entry, n: randomBytes(BATCH_NONCE_BYTES).toString('base64url') };
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    const raw = Buffer.concat([Buffer.of(BATCH_FORMAT_VERSION), iv, body, cipher.getAuthTag()]);
    return BATCH_TOKEN_PREFIX + raw.toString('base64url');
  }

  /** The sealed entry of a batch token; undefined for anything malformed or tampered with. */
  #openBatch(token: string): TokenEntry | undefined {
    const key = this.#requireBatchKey();
    const encoded = token.slice(BATCH_TOKEN_PREFIX.length);
    if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
    const raw = Buffer.from(encoded, 'base64url');
    if (raw.length < 1 + BATCH_IV_BYTES + BATCH_TAG_BYTES + 2) return undefined;
    if (raw[0] !== BATCH_FORMAT_VERSION) return undefined;
    const iv = raw.subarray(1, 1 + BATCH_IV_BYTES);
    const tag = raw.subarray(raw.length - BATCH_TAG_BYTES);
    const body = raw.subarray(1 + BATCH_IV_BYTES, raw.length - BATCH_TAG_BYTES);
    let plaintext: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(BATCH_AAD);
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(plaintext);
    } catch {
      return undefined;
    }
    if (!isBatchPayload(parsed)) return undefined;
    delete parsed.n;
    return parsed as unknown as TokenEntry;
  }

  #requireBatchKey(): Buffer {
    if (this.#batchKey === undefined) throw new CofferError('sealed', 'Vault is sealed');
    return this.#batchKey;
  }
}
