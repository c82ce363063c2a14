// The lease manager: registers, renews and revokes leases (leased secrets and tokens), and
// revokes them when they expire. Leases are indexed by expiry time in storage; memory holds
// only the index entries due within the next window, never every lease.
import { formatGoDuration } from '../sdk/duration.js';
import { CofferError, invalidField, isCofferError, type ErrorCode } from '../sdk/errors.js';
import { isPlainObject, type JsonValue } from '../sdk/json.js';
import { getJson, encodeJson, type Storage, type StorageOp } from '../sdk/storage.js';
import {
  EXPIRY_DAY_MS,
  LEASE_KEYS,
  bucketCeil,
  bucketStart,
  expiryBucketFolder,
  expiryDayFolder,
  expiryKey,
  irrevocableKey,
  leaseRecordFolder,
  leaseRecordKey,
  parseExpiryEntry,
  parseIndexedId,
  parseTimeFolder,
  tokenIndexFolder,
  tokenIndexKey,
} from './lease-keys.js';
import { randomBase62 } from './random-id.js';

/** Random base62 characters after the path in a generated lease id (≈131 bits). */
export const LEASE_ID_RANDOM_CHARS = 22;
export const DEFAULT_LEASE_WINDOW_MS = 60_000;
export const DEFAULT_REVOKE_RETRY_BASE_MS = 10_000;
export const DEFAULT_REVOKE_MAX_ATTEMPTS = 6;
/** Due leases handled per timer turn. */
export const DEFAULT_EXPIRY_BATCH = 500;
/** Revocations in flight at once (lets the storage group commits). */
export const DEFAULT_REVOKE_CONCURRENCY = 32;
/** Index entries held in memory before loading pauses (plus at most one minute bucket). */
export const DEFAULT_MAX_LOADED = 10_000;

const MAX_LEASE_ID_LENGTH = 2_048;
const MAX_ERROR_LENGTH = 240;
const MAX_TIMER_DELAY_MS = 2_147_483_647;
const SEGMENT_PATTERN = /^[0-9A-Za-z._-]{1,256}$/;
const EMPTY = new Uint8Array(0);
/** Failures that retrying cannot fix: the lease goes irrevocable at once (as in Vault). */
const UNRECOVERABLE: ReadonlySet<ErrorCode> = new Set([
  'invalid_request',
  'unsupported_path',
  'unsupported_operation',
  'no_route',
]);

/** A leased secret from an engine, or a token's own lease. */
export type LeaseKind = 'secret' | 'token';

/** One lease as stored at `id/<lease id>`. Times are epoch ms. */
export interface LeaseRecord {
  /** `<request path>/<random>`, e.g. "database/creds/app/<22 base62>". Not a secret. */
  readonly id: string;
  readonly kind: LeaseKind;
  /** The full logical request path that created it, e.g. "database/creds/app". */
  readonly path: string;
  /** The issuing mount, e.g. "database/". */
  readonly mountPath: string;
  readonly secretType?: string;
  /** What the issuing engine needs to renew or revoke it (e.g. the username it created). */
  readonly internal?: JsonValue;
  /** HMAC hash of the token that owns it: revoking that token revokes this lease. */
  readonly tokenHash?: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** The TTL granted at issue; a renewal without an increment grants it again. */
  readonly ttlSeconds: number;
  readonly lastRenewalAt?: number;
  readonly renewable: boolean;
  /** Lifetime cap counted from `issuedAt`, whatever renewals ask; 0 = none. */
  readonly maxTtlSeconds: number;
  /** Failed automatic revocations so far. */
  readonly attempts?: number;
  /** When the next automatic revocation attempt runs (after a failure). */
  readonly nextAttemptAt?: number;
  /** Revocation gave up; only revoke-force (or a successful revoke) removes it. */
  readonly irrevocable?: boolean;
  /** SECURITY: an error code and CofferError message only, never a secret value. */
  readonly lastError?: string;
}

export interface RegisterLeaseOptions {
  /** The full logical request path, e.g. "database/creds/app". */
  readonly path: string;
  readonly mountPath: string;
  readonly secretType?: string;
  readonly internal?: JsonValue;
  /** Positive whole seconds; capped by `maxTtlSeconds`. */
  readonly ttlSeconds: number;
  /** 0 = no cap (callers pass the mount's effective maximum). */
  readonly maxTtlSeconds: number;
  readonly renewable: boolean;
  readonly tokenHash?: string;
  /** Default 'secret'. Token leases are not put in the per-token index. */
  readonly kind?: LeaseKind;
  /** A chosen id (a token's lease: path + hash); default `<path>/<random>`. */
  readonly id?: string;
}

/** What the issuing engine answers to a renewal. */
export interface LeaseRenewal {
  /** The engine's TTL, used when the caller asked for no increment. */
  readonly ttlSeconds?: number;
  /** A tighter cap from the engine (e.g. its role's max TTL); 0/absent = none. */
  readonly maxTtlSeconds?: number;
  /** Replaces the stored engine data. */
  readonly internal?: JsonValue;
}

export interface RenewedLease {
  readonly lease: LeaseRecord;
  /** The lease duration granted by this renewal (whole seconds). */
  readonly ttlSeconds: number;
  readonly warnings: readonly string[];
}

/** Injectable so tests drive expiry with a fake clock. */
export interface LeaseTimers {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LeaseLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface LeaseManagerDeps {
  /** The barrier view sys/expire/ (LEASE_KEYS.prefix). */
  readonly storage: Storage;
  /** Epoch ms. */
  readonly now: () => number;
  /** Revokes the object behind a lease (the core routes it to the engine or token store). */
  readonly revoker: (lease: LeaseRecord) => Promise<void>;
  /** Asks the issuing engine to renew; absent = renew by TTL arithmetic alone. */
  readonly renewer?: (lease: LeaseRecord, incrementSeconds: number) => Promise<LeaseRenewal>;
  readonly timers?: LeaseTimers;
  /** How far ahead index entries are loaded into memory; default 60 s. */
  readonly windowMs?: number;
  readonly retry?: { readonly baseMs?: number; readonly maxAttempts?: number };
  readonly batchSize?: number;
  readonly concurrency?: number;
  readonly maxLoaded?: number;
  readonly logger?: LeaseLogger;
}

export interface LeaseManagerStats {
  readonly open: boolean;
  /** Index entries held in memory (the due window). */
  readonly inMemory: number;
  /** Epoch ms: every index entry due before it is in memory. */
  readonly horizon: number;
}

type MutableLease = { -readonly [K in keyof LeaseRecord]: LeaseRecord[K] };

interface DueEntry {
  readonly dueAt: number;
  readonly id: string;
}

const SYSTEM_TIMERS: LeaseTimers = {
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref(); // expiry never keeps the process alive on its own
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** When the manager next acts on a lease: a retry time after a failure, else its expiry. */
function dueOf(lease: LeaseRecord): number {
  return lease.nextAttemptAt ?? lease.expiresAt;
}

/** Why a lease cannot be renewed at `now`, or undefined when it can (Vault's messages). */
export function renewRefusal(lease: LeaseRecord, now: number): string | undefined {
  if (lease.irrevocable === true) {
    return 'lease is expired and has failed previous revocation attempts';
  }
  if (lease.expiresAt <= now) return 'lease expired';
  if (!lease.renewable) return 'lease is not renewable';
  return undefined;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function optional(value: unknown, check: (v: unknown) => boolean): boolean {
  return value === undefined || check(value);
}

const isString = (v: unknown): boolean => typeof v === 'string';

function isLeaseRecord(value: unknown): value is LeaseRecord {
  if (!isPlainObject(value)) return false;
  return (
    typeof value.id === 'string' &&
    (value.kind === 'secret' || value.kind === 'token') &&
    typeof value.path === 'string' &&
    typeof value.mountPath === 'string' &&
    isTime(value.issuedAt) &&
    isTime(value.expiresAt) &&
    isTime(value.ttlSeconds) &&
    isTime(value.maxTtlSeconds) &&
    typeof value.renewable === 'boolean' &&
    optional(value.secretType, isString) &&
    optional(value.tokenHash, isString) &&
    optional(value.lastRenewalAt, isTime) &&
    optional(value.attempts, isTime) &&
    optional(value.nextAttemptAt, isTime) &&
    optional(value.irrevocable, (v) => typeof v === 'boolean') &&
    optional(value.lastError, isString)
  );
}

function hasBadCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = text.charCodeAt(i + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return true;
      i += 1;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      return true;
    }
  }
  return false;
}

/** A lease id from a client: relative, no empty, '.' or '..' segments, printable. */
function checkLeaseId(id: string, field: string): void {
  if (
    id === '' ||
    id.length > MAX_LEASE_ID_LENGTH ||
    hasBadCharacter(id) ||
    id.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw invalidField(field, 'is not a valid lease ID');
  }
}

/** A lease id prefix: '' or segments ending with '/'. */
function checkPrefix(prefix: string, field: string): void {
  if (prefix === '') return;
  if (!prefix.endsWith('/')) throw invalidField(field, 'must end with "/"');
  checkLeaseId(prefix.slice(0, -1), field);
}

function checkSegment(value: string, what: string): void {
  if (!SEGMENT_PATTERN.test(value)) {
    throw new CofferError('internal', `lease manager: ${what} is not a valid key segment`);
  }
}

function positiveInt(value: number | undefined, fallback: number, what: string): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen <= 0) {
    throw new CofferError('internal', `lease manager: ${what} must be a positive integer`);
  }
  return chosen;
}

/**
 * The error text kept on a lease after a failed revocation. SECURITY: only a CofferError's
 * code and message (which never carry secrets by contract); anything else is named by its
 * class alone, since a driver's message may quote a connection string.
 */
function describeFailure(err: unknown): string {
  const text = isCofferError(err)
    ? `${err.code}: ${err.message}`
    : `internal: revocation failed (${err instanceof Error ? err.name : 'non-error value'})`;
  return text.slice(0, MAX_ERROR_LENGTH);
}

function codeOf(err: unknown): string {
  return isCofferError(err) ? err.code : 'internal';
}

function withoutRetry(lease: MutableLease): MutableLease {
  delete lease.nextAttemptAt;
  return lease;
}

/** The index keys that must exist while `lease` is stored. */
function indexKeys(lease: LeaseRecord): string[] {
  const keys = [
    lease.irrevocable === true ? irrevocableKey(lease.id) : expiryKey(dueOf(lease), lease.id),
  ];
  if (lease.tokenHash !== undefined && lease.kind === 'secret') {
    keys.push(tokenIndexKey(lease.tokenHash, lease.id));
  }
  return keys;
}

/** One atomic change from `before` to `after` (either may be absent): record plus indices. */
function writeOps(before: LeaseRecord | undefined, after: LeaseRecord | undefined): StorageOp[] {
  const ops: StorageOp[] = [];
  const id = (after ?? before)?.id;
  if (id === undefined) return ops;
  if (after !== undefined)
    ops.push({ op: 'put', key: leaseRecordKey(id), value: encodeJson(after) });
  else ops.push({ op: 'delete', key: leaseRecordKey(id) });
  const old = new Set(before === undefined ? [] : indexKeys(before));
  const next = new Set(after === undefined ? [] : indexKeys(after));
  for (const key of old) if (!next.has(key)) ops.push({ op: 'delete', key });
  for (const key of next) if (!old.has(key)) ops.push({ op: 'put', key, value: EMPTY });
  return ops;
}

/** Runs `fn` over `items`, at most `limit` at once; stops taking items after a failure. */
async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next]!;
      next += 1;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/** A binary min-heap of due entries ordered by (dueAt, id). */
class DueHeap {
  readonly #items: DueEntry[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): DueEntry | undefined {
    return this.#items[0];
  }

  clear(): void {
    this.#items.length = 0;
  }

  push(entry: DueEntry): void {
    const items = this.#items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!DueHeap.#before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): DueEntry | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && DueHeap.#before(items[left]!, items[smallest]!)) smallest = left;
      if (right < items.length && DueHeap.#before(items[right]!, items[smallest]!)) {
        smallest = right;
      }
      if (smallest === i) break;
      [items[i], items[smallest]] = [items[smallest]!, items[i]!];
      i = smallest;
    }
    return top;
  }

  static #before(a: DueEntry, b: DueEntry): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id);
  }
}

/**
 * Every leased secret and token lease. Invariants:
 * - every stored lease has exactly its index keys (see indexKeys), written in the same batch;
 * - every index entry due before `horizon` is in memory (`#due`), or is being handled;
 * - all changes to one lease happen under its lock, so revocation, renewal and expiry of one
 *   lease never interleave.
 */
export class LeaseManager {
  readonly #storage: Storage;
  readonly #now: () => number;
  readonly #revoker: (lease: LeaseRecord) => Promise<void>;
  readonly #renewer: LeaseManagerDeps['renewer'];
  readonly #timers: LeaseTimers;
  readonly #windowMs: number;
  readonly #retryBaseMs: number;
  readonly #maxAttempts: number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #maxLoaded: number;
  readonly #logger: LeaseLogger | undefined;
  /** Per-lease mutex tails. */
  readonly #locks = new Map<string, Promise<void>>();
  /** Lease id → due time, for the index entries in memory; the heap may hold stale copies. */
  readonly #due = new Map<string, number>();
  readonly #heap = new DueHeap();
  #open = false;
  #horizon = 0;
  #timer: unknown;
  #timerAt: number | undefined;
  #running: Promise<void> | undefined;
  /** After a failed expiry run, the next one waits until then (no hot loop on a broken store). */
  #pausedUntil = 0;

  constructor(deps: LeaseManagerDeps) {
    this.#storage = deps.storage;
    this.#now = deps.now;
    this.#revoker = deps.revoker;
    this.#renewer = deps.renewer;
    this.#timers = deps.timers ?? SYSTEM_TIMERS;
    this.#windowMs = positiveInt(deps.windowMs, DEFAULT_LEASE_WINDOW_MS, 'windowMs');
    this.#retryBaseMs = positiveInt(deps.retry?.baseMs, DEFAULT_REVOKE_RETRY_BASE_MS, 'baseMs');
    this.#maxAttempts = positiveInt(
      deps.retry?.maxAttempts,
      DEFAULT_REVOKE_MAX_ATTEMPTS,
      'maxAttempts',
    );
    this.#batchSize = positiveInt(deps.batchSize, DEFAULT_EXPIRY_BATCH, 'batchSize');
    this.#concurrency = positiveInt(deps.concurrency, DEFAULT_REVOKE_CONCURRENCY, 'concurrency');
    this.#maxLoaded = positiveInt(deps.maxLoaded, DEFAULT_MAX_LOADED, 'maxLoaded');
    this.#logger = deps.logger;
  }

  // ---------------------------------------------------------------------------------------
  // Life cycle

  /**
   * Starts expiry after an unseal (or on becoming leader): loads only the index entries due
   * within the window (overdue ones included, up to maxLoaded) and arms one timer. Leases
   * that came due while the server was down are revoked right after, on the timer.
   */
  async open(): Promise<void> {
    if (this.#open) return;
    await this.settled();
    this.#open = true;
    this.#horizon = 0;
    this.#pausedUntil = 0;
    try {
      await this.#loadUntil(bucketCeil(this.#now() + this.#windowMs));
    } catch (err) {
      this.close();
      throw err;
    }
    this.#arm();
  }

  /**
   * Stored leases by how soon they expire: counts[i] holds those due before `now + edges[i]`
   * (and not in an earlier bucket), the last slot the rest; irrevocable ones apart. Reads only
   * index keys (to the minute), never a lease record. Cost grows with the number of leases,
   * so callers cache it (metrics do).
   */
  async countByExpiry(
    edgesMs: readonly number[],
  ): Promise<{ readonly counts: number[]; readonly irrevocable: number }> {
    const now = this.#now();
    const counts = new Array<number>(edgesMs.length + 1).fill(0);
    const slotOf = (dueAt: number): number => {
      const index = edgesMs.findIndex((edge) => dueAt < now + edge);
      return index === -1 ? edgesMs.length : index;
    };
    for (const dayName of await this.#storage.list(LEASE_KEYS.expiryPrefix)) {
      const day = parseTimeFolder(dayName);
      if (day === undefined) continue;
      for (const minuteName of await this.#storage.list(expiryDayFolder(day))) {
        const minute = parseTimeFolder(minuteName);
        if (minute === undefined) continue;
        const entries = await this.#storage.list(expiryBucketFolder(minute));
        const slot = slotOf(minute);
        counts[slot] = (counts[slot] ?? 0) + entries.length;
      }
    }
    const irrevocable = (await this.#storage.list(LEASE_KEYS.irrevocablePrefix)).length;
    return { counts, irrevocable };
  }

  /** Stops expiry (on seal): clears the timer and forgets the window. Stored leases stay. */
  close(): void {
    this.#open = false;
    this.#clearTimer();
    this.#due.clear();
    this.#heap.clear();
    this.#horizon = 0;
  }

  /** Resolves once no expiry run is in progress (tests, orderly shutdown). */
  async settled(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  stats(): LeaseManagerStats {
    return { open: this.#open, inMemory: this.#due.size, horizon: this.#horizon };
  }

  // ---------------------------------------------------------------------------------------
  // Operations

  /** Stores a new lease with its indices in one atomic batch. */
  async register(options: RegisterLeaseOptions): Promise<LeaseRecord> {
    const path = options.path.replace(/\/+$/, '');
    if (path === '') throw new CofferError('internal', 'lease manager: a lease needs a path');
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new CofferError('internal', 'lease manager: ttlSeconds must be a positive integer');
    }
    if (!Number.isSafeInteger(options.maxTtlSeconds) || options.maxTtlSeconds < 0) {
      throw new CofferError('internal', 'lease manager: maxTtlSeconds must be 0 or positive');
    }
    if (options.tokenHash !== undefined) checkSegment(options.tokenHash, 'the token hash');
    const id = options.id ?? `${path}/${randomBase62(LEASE_ID_RANDOM_CHARS)}`;
    checkLeaseId(id, 'lease_id');
    const ttlSeconds =
      options.maxTtlSeconds > 0
        ? Math.min(options.ttlSeconds, options.maxTtlSeconds)
        : options.ttlSeconds;
    const now = this.#now();
    const lease: LeaseRecord = Object.freeze({
      id,
      kind: options.kind ?? 'secret',
      path,
      mountPath: options.mountPath,
      ...(options.secretType === undefined ? {} : { secretType: options.secretType }),
      ...(options.internal === undefined ? {} : { internal: options.internal }),
      ...(options.tokenHash === undefined ? {} : { tokenHash: options.tokenHash }),
      issuedAt: now,
      expiresAt: now + ttlSeconds * 1000,
      ttlSeconds,
      renewable: options.renewable,
      maxTtlSeconds: options.maxTtlSeconds,
    });
    return this.#withLock(id, async () => {
      if (options.id !== undefined && (await this.#read(id)) !== undefined) {
        throw invalidField('lease_id', 'a lease with this ID already exists');
      }
      await this.#storage.batch(writeOps(undefined, lease));
      this.#track(id, lease.expiresAt);
      return lease;
    });
  }

  /** The stored lease, or undefined. */
  async lookup(id: string): Promise<LeaseRecord | undefined> {
    checkLeaseId(id, 'lease_id');
    return this.#read(id);
  }

  /**
   * Renews a lease by `incrementSeconds` (0 = the engine's TTL, else the TTL granted at
   * issue), never past `issuedAt + maxTtlSeconds` (a warning says so when capped). Token
   * leases renew through the token store; `allowToken` is for that path only.
   */
  async renew(
    id: string,
    incrementSeconds: number,
    options: { readonly allowToken?: boolean } = {},
  ): Promise<RenewedLease> {
    checkLeaseId(id, 'lease_id');
    if (!Number.isSafeInteger(incrementSeconds) || incrementSeconds < 0) {
      throw invalidField('increment', 'must be a non-negative number of seconds');
    }
    return this.#withLock(id, async () => {
      const lease = await this.#read(id);
      if (lease === undefined) throw new CofferError('invalid_request', 'lease not found');
      const now = this.#now();
      const refusal = renewRefusal(lease, now);
      if (refusal !== undefined) throw new CofferError('invalid_request', refusal);
      if (lease.kind === 'token' && options.allowToken !== true) {
        throw new CofferError('invalid_request', 'tokens cannot be renewed through this endpoint');
      }
      const renewal: LeaseRenewal =
        this.#renewer === undefined ? {} : await this.#renewer(lease, incrementSeconds);
      const requested =
        incrementSeconds > 0 ? incrementSeconds : (renewal.ttlSeconds ?? lease.ttlSeconds);
      const caps = [lease.maxTtlSeconds, renewal.maxTtlSeconds ?? 0].filter((n) => n > 0);
      const warnings: string[] = [];
      let expiresAt = now + requested * 1000;
      if (caps.length > 0) {
        const maxTtl = Math.min(...caps);
        const cap = lease.issuedAt + maxTtl * 1000;
        if (expiresAt > cap) {
          expiresAt = Math.max(cap, now);
          warnings.push(
            `TTL of "${formatGoDuration(requested)}" exceeded the effective max_ttl of ` +
              `"${formatGoDuration(maxTtl)}"; TTL value is capped accordingly`,
          );
        }
      }
      const next: LeaseRecord = Object.freeze({
        ...lease,
        expiresAt,
        lastRenewalAt: now,
        ...(renewal.internal === undefined ? {} : { internal: renewal.internal }),
      });
      await this.#storage.batch(writeOps(lease, next));
      this.#track(id, dueOf(next));
      return { lease: next, ttlSeconds: Math.floor((expiresAt - now) / 1000), warnings };
    });
  }

  /**
   * Moves a lease's expiry to `expiresAt` (epoch ms) without asking its engine: for the core
   * after the token store renewed a token whose lease this is. Undefined when unknown.
   */
  async reschedule(id: string, expiresAt: number): Promise<LeaseRecord | undefined> {
    checkLeaseId(id, 'lease_id');
    if (!isTime(expiresAt)) {
      throw new CofferError('internal', 'lease manager: expiresAt must be epoch ms');
    }
    return this.#withLock(id, async () => {
      const lease = await this.#read(id);
      if (lease === undefined || lease.irrevocable === true) return lease;
      const next = Object.freeze(
        withoutRetry({ ...lease, expiresAt, lastRenewalAt: this.#now() }),
      ) as LeaseRecord;
      await this.#storage.batch(writeOps(lease, next));
      this.#track(id, dueOf(next));
      return next;
    });
  }

  /**
   * Revokes one lease: the issuing engine first, then the record and its indices. Unknown
   * ids are not an error (revocation is idempotent): the result says whether it existed.
   * `sync: false` only marks it due now and lets expiry revoke it (with retries); `force`
   * removes it even when the engine fails.
   */
  async revoke(
    id: string,
    options: { readonly sync?: boolean; readonly force?: boolean } = {},
  ): Promise<boolean> {
    checkLeaseId(id, 'lease_id');
    if (options.sync === false && options.force !== true) return this.#expireNow(id);
    return this.#withLock(id, () => this.#revokeLocked(id, options.force === true));
  }

  /** Removes a lease without calling the revoker (its object is already gone). */
  async forget(id: string): Promise<boolean> {
    checkLeaseId(id, 'lease_id');
    return this.#withLock(id, async () => {
      const lease = await this.#read(id);
      if (lease === undefined) return false;
      await this.#storage.batch(writeOps(lease, undefined));
      this.#untrack(id);
      return true;
    });
  }

  /**
   * Revokes every lease whose id starts with `prefix`. Without a trailing '/', an exact lease
   * id is revoked alone when it exists, else '/' is appended (as Vault does). Walks the id
   * folders one at a time. Non-forced revocation stops at the first engine failure and
   * throws it; `force` deletes regardless; `sync: false` marks them due now instead.
   * Returns how many leases were found.
   */
  async revokePrefix(
    prefix: string,
    options: { readonly force?: boolean; readonly sync?: boolean } = {},
  ): Promise<number> {
    const force = options.force === true;
    const sync = force || options.sync !== false;
    if (prefix === '') throw invalidField('prefix', 'is required');
    let folder = prefix;
    if (!folder.endsWith('/')) {
      checkLeaseId(folder, 'prefix');
      if ((await this.#read(folder)) !== undefined) {
        return (await this.revoke(folder, { sync, force })) ? 1 : 0;
      }
      folder += '/';
    }
    checkPrefix(folder, 'prefix');
    let count = 0;
    const pending = [folder];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const ids: string[] = [];
      for (const name of await this.#storage.list(leaseRecordFolder(next))) {
        if (name.endsWith('/')) pending.push(next + name);
        else ids.push(next + name);
      }
      await forEachLimit(ids, this.#concurrency, async (id) => {
        const found = sync
          ? await this.#withLock(id, () => this.#revokeLocked(id, force))
          : await this.#expireNow(id);
        if (found) count += 1;
      });
    }
    return count;
  }

  /**
   * Marks every lease the token owns due now (Vault's RevokeByToken): expiry revokes them on
   * the next turn, with retries, so revoking a token never waits on its engines. Returns
   * how many were found.
   */
  async revokeByToken(tokenHash: string): Promise<number> {
    checkSegment(tokenHash, 'the token hash');
    const ids: string[] = [];
    for (const name of await this.#storage.list(tokenIndexFolder(tokenHash))) {
      const id = parseIndexedId(name);
      if (id !== undefined) ids.push(id);
    }
    let count = 0;
    await forEachLimit(ids, this.#concurrency, async (id) => {
      if (await this.#expireNow(id)) count += 1;
      else await this.#storage.delete(tokenIndexKey(tokenHash, id)); // dangling index entry
    });
    return count;
  }

  /** Direct children of a lease id prefix (`sys/leases/lookup/<prefix>`): folders end in '/'. */
  async listByPrefix(prefix: string): Promise<string[]> {
    const folder = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    checkPrefix(folder, 'prefix');
    return this.#storage.list(leaseRecordFolder(folder));
  }

  /** Leases whose revocation gave up, by expiry time, at most `limit`. */
  async irrevocable(limit = 10_000): Promise<LeaseRecord[]> {
    const out: LeaseRecord[] = [];
    for (const name of await this.#storage.list(LEASE_KEYS.irrevocablePrefix)) {
      if (out.length >= limit) break;
      const id = parseIndexedId(name);
      if (id === undefined) continue;
      const lease = await this.#read(id);
      if (lease?.irrevocable === true) out.push(lease);
    }
    return out.sort((a, b) => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : 1));
  }

  // ---------------------------------------------------------------------------------------
  // Internals: one lease

  async #read(id: string): Promise<LeaseRecord | undefined> {
    const value = await getJson<unknown>(this.#storage, leaseRecordKey(id));
    if (value === undefined) return undefined;
    if (!isLeaseRecord(value) || value.id !== id) {
      throw new CofferError('integrity_failure', 'stored lease record is malformed');
    }
    return Object.freeze(value);
  }

  async #revokeLocked(id: string, force: boolean): Promise<boolean> {
    const lease = await this.#read(id);
    if (lease === undefined) return false;
    try {
      await this.#revoker(lease);
    } catch (err) {
      if (!force) {
        throw isCofferError(err)
          ? err
          : new CofferError('internal', 'lease revocation failed', { cause: err });
      }
      this.#logger?.warn(
        { lease_id: id, error: describeFailure(err) },
        'revoke-force: the issuing backend failed to revoke; removing the lease anyway',
      );
    }
    await this.#storage.batch(writeOps(lease, undefined));
    this.#untrack(id);
    return true;
  }

  /** Lazy revocation: the lease comes due now and expiry revokes it. */
  #expireNow(id: string): Promise<boolean> {
    return this.#withLock(id, async () => {
      const lease = await this.#read(id);
      if (lease === undefined) return false;
      if (lease.irrevocable === true) return true;
      const now = this.#now();
      if (dueOf(lease) <= now) {
        this.#track(id, dueOf(lease));
        return true;
      }
      const next = Object.freeze(
        withoutRetry({ ...lease, expiresAt: Math.min(lease.expiresAt, now) }),
      ) as LeaseRecord;
      await this.#storage.batch(writeOps(lease, next));
      this.#track(id, dueOf(next));
      return true;
    });
  }

  /** Expiry of one index entry taken from memory. Never throws. */
  async #expireEntry(entry: DueEntry): Promise<void> {
    try {
      await this.#withLock(entry.id, () => this.#expireLocked(entry));
    } catch (err) {
      // Storage trouble, not the engine (that is counted in #recordFailure): try again later,
      // kept in memory even past the horizon so the entry cannot be skipped.
      this.#logger?.warn({ lease_id: entry.id, code: codeOf(err) }, 'lease expiry failed');
      this.#track(entry.id, this.#now() + this.#retryBaseMs, true);
    }
  }

  async #expireLocked(entry: DueEntry): Promise<void> {
    const lease = await this.#read(entry.id);
    if (lease === undefined) {
      // Revoked meanwhile, or an index entry without its record: drop the entry.
      await this.#storage.delete(expiryKey(entry.dueAt, entry.id));
      return;
    }
    if (lease.irrevocable === true) return;
    const now = this.#now();
    const due = dueOf(lease);
    if (due > now) {
      this.#track(lease.id, due); // renewed since it was loaded
      return;
    }
    try {
      await this.#revoker(lease);
    } catch (err) {
      await this.#recordFailure(lease, err, now);
      return;
    }
    await this.#storage.batch(writeOps(lease, undefined));
    this.#untrack(lease.id);
  }

  /** Exponential backoff from retry.baseMs; irrevocable after maxAttempts failures. */
  async #recordFailure(lease: LeaseRecord, err: unknown, now: number): Promise<void> {
    const attempts = (lease.attempts ?? 0) + 1;
    const lastError = describeFailure(err);
    const unrecoverable = isCofferError(err) && UNRECOVERABLE.has(err.code);
    if (attempts >= this.#maxAttempts || unrecoverable) {
      const next = Object.freeze(
        withoutRetry({ ...lease, attempts, lastError, irrevocable: true }),
      ) as LeaseRecord;
      await this.#storage.batch(writeOps(lease, next));
      this.#untrack(lease.id);
      this.#logger?.warn(
        { lease_id: lease.id, attempts, error: lastError },
        'lease is irrevocable: revocation kept failing; sys/leases/revoke-force removes it',
      );
      return;
    }
    const nextAttemptAt = now + this.#retryBaseMs * 2 ** (attempts - 1);
    const next: LeaseRecord = Object.freeze({ ...lease, attempts, lastError, nextAttemptAt });
    await this.#storage.batch(writeOps(lease, next));
    this.#track(lease.id, nextAttemptAt);
    this.#logger?.warn(
      { lease_id: lease.id, attempts, next_attempt_at: nextAttemptAt, error: lastError },
      'lease revocation failed; will retry',
    );
  }

  async #withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(id);
    let unlock!: () => void;
    const held = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    const tail = before === undefined ? held : before.then(() => held);
    this.#locks.set(id, tail);
    if (before !== undefined) await before;
    try {
      return await fn();
    } finally {
      unlock();
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Internals: the due window

  /**
   * Records where a lease is due, after a write under its lock. Beyond the horizon it is
   * dropped from memory (its index entry is loaded with its bucket); `force` keeps it anyway.
   */
  #track(id: string, dueAt: number, force = false): void {
    if (!this.#open) return;
    if (dueAt >= this.#horizon && !force) {
      this.#due.delete(id);
      return;
    }
    if (this.#due.get(id) !== dueAt) {
      this.#due.set(id, dueAt);
      this.#heap.push({ dueAt, id });
    }
    if (this.#timerAt === undefined || dueAt < this.#timerAt) this.#arm();
  }

  #untrack(id: string): void {
    this.#due.delete(id);
  }

  /** An entry read from the index: a possibly stale copy, so the earlier time wins. */
  #remember(id: string, dueAt: number): void {
    const known = this.#due.get(id);
    if (known !== undefined && known <= dueAt) return;
    this.#due.set(id, dueAt);
    this.#heap.push({ dueAt, id });
  }

  /**
   * Loads index entries of buckets in [horizon, limit) in time order, pausing once maxLoaded
   * entries are in memory. The horizon is raised before anything is listed, so a lease
   * written during the load is either listed here or tracked by its writer (never neither).
   */
  async #loadUntil(limit: number): Promise<void> {
    const previous = this.#horizon;
    if (limit <= previous) return;
    this.#horizon = limit;
    for (const dayName of await this.#storage.list(LEASE_KEYS.expiryPrefix)) {
      const day = parseTimeFolder(dayName);
      if (day === undefined || day + EXPIRY_DAY_MS <= previous) continue;
      if (day >= limit) break;
      for (const minuteName of await this.#storage.list(expiryDayFolder(day))) {
        const minute = parseTimeFolder(minuteName);
        if (minute === undefined || minute < previous) continue;
        if (minute >= limit || !this.#open) return;
        if (this.#due.size >= this.#maxLoaded) {
          this.#horizon = minute; // the rest waits until memory drains
          return;
        }
        for (const name of await this.#storage.list(expiryBucketFolder(minute))) {
          const entry = parseExpiryEntry(name);
          if (entry === undefined || bucketStart(entry.dueAt) !== minute) {
            this.#logger?.warn({ bucket: minute }, 'malformed lease expiry index entry skipped');
            continue;
          }
          this.#remember(entry.id, entry.dueAt);
        }
      }
    }
  }

  /** The earliest heap entry that still matches memory (stale copies are dropped). */
  #validTop(): DueEntry | undefined {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      if (this.#due.get(top.id) === top.dueAt) return top;
      this.#heap.pop();
    }
    return undefined;
  }

  #takeDue(now: number): DueEntry[] {
    const batch: DueEntry[] = [];
    while (batch.length < this.#batchSize) {
      const top = this.#validTop();
      if (top === undefined || top.dueAt > now) break;
      this.#heap.pop();
      this.#due.delete(top.id);
      batch.push(top);
    }
    return batch;
  }

  /** One timer turn: extend the window if needed, then revoke one bounded batch. */
  async #tick(): Promise<void> {
    const limit = bucketCeil(this.#now() + this.#windowMs);
    if (this.#horizon < limit && this.#due.size < this.#maxLoaded) await this.#loadUntil(limit);
    if (!this.#open) return;
    const batch = this.#takeDue(this.#now());
    await forEachLimit(batch, this.#concurrency, (entry) => this.#expireEntry(entry));
  }

  /** Arms the one timer for the earliest due entry or the horizon, whichever is first. */
  #arm(): void {
    if (!this.#open || this.#running !== undefined) return;
    const now = this.#now();
    // While memory is full the horizon cannot move, so only due entries can wake us.
    const horizon = this.#due.size >= this.#maxLoaded ? Number.POSITIVE_INFINITY : this.#horizon;
    const target = Math.max(
      Math.min(this.#validTop()?.dueAt ?? Number.POSITIVE_INFINITY, horizon),
      this.#pausedUntil,
    );
    const delay = Math.min(Math.max(0, target - now), MAX_TIMER_DELAY_MS);
    const at = now + delay;
    if (this.#timerAt !== undefined && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = this.#timers.setTimeout(() => {
      this.#fire();
    }, delay);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = undefined;
    if (!this.#open || this.#running !== undefined) return;
    this.#running = this.#tick()
      .catch((err: unknown) => {
        this.#pausedUntil = this.#now() + this.#retryBaseMs;
        this.#logger?.warn({ code: codeOf(err) }, 'lease expiry run failed; pausing');
      })
      .finally(() => {
        this.#running = undefined;
        this.#arm();
      });
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }
}
