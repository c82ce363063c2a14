// Storage keys of the lease manager (the barrier view sys/expire/): lease records, the expiry
// index bucketed by day and minute, the per-token index and the irrevocable list.
import { CofferError } from '../sdk/errors.js';

/** Epoch-ms widths and bucket sizes of the expiry index. Part of the on-disk format. */
const TIME_DIGITS = 15;
export const EXPIRY_DAY_MS = 86_400_000;
export const EXPIRY_BUCKET_MS = 60_000;

export const LEASE_KEYS = {
  /** The lease manager's barrier view. */
  prefix: 'sys/expire/',
  /** id/<lease id> → lease record (JSON). Lease ids contain '/', so prefixes list as folders. */
  idPrefix: 'id/',
  /**
   * exp/<day start ms>/<minute start ms>/<due ms>.<encoded lease id> → empty. Listing `exp/`
   * gives the days with pending leases, a day gives its minutes, a minute its entries: the
   * first due entries are found with three small lists, whatever the total count.
   */
  expiryPrefix: 'exp/',
  /** token/<token hash>/<encoded lease id> → empty: the leases a token owns. */
  tokenPrefix: 'token/',
  /** irrevocable/<encoded lease id> → empty: leases whose revocation gave up. */
  irrevocablePrefix: 'irrevocable/',
} as const;

function pad(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || String(ms).length > TIME_DIGITS) {
    throw new CofferError('internal', 'lease expiry time is out of range');
  }
  return String(ms).padStart(TIME_DIGITS, '0');
}

/** A lease id as one key segment (no '/'); reversible. */
function encodeId(id: string): string {
  return encodeURIComponent(id);
}

function decodeId(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function dayStart(ms: number): number {
  return Math.floor(ms / EXPIRY_DAY_MS) * EXPIRY_DAY_MS;
}

export function bucketStart(ms: number): number {
  return Math.floor(ms / EXPIRY_BUCKET_MS) * EXPIRY_BUCKET_MS;
}

/** The first bucket boundary at or after `ms`. */
export function bucketCeil(ms: number): number {
  return Math.ceil(ms / EXPIRY_BUCKET_MS) * EXPIRY_BUCKET_MS;
}

export function leaseRecordKey(id: string): string {
  return `${LEASE_KEYS.idPrefix}${id}`;
}

/** The folder listed for leases under an id prefix ('' or ending with '/'). */
export function leaseRecordFolder(prefix: string): string {
  return `${LEASE_KEYS.idPrefix}${prefix}`;
}

export function expiryDayFolder(dayStartMs: number): string {
  return `${LEASE_KEYS.expiryPrefix}${pad(dayStartMs)}/`;
}

export function expiryBucketFolder(bucketStartMs: number): string {
  return `${expiryDayFolder(dayStart(bucketStartMs))}${pad(bucketStartMs)}/`;
}

/** The index entry that makes lease `id` come due at `dueAt` (epoch ms). */
export function expiryKey(dueAt: number, id: string): string {
  return `${expiryBucketFolder(bucketStart(dueAt))}${pad(dueAt)}.${encodeId(id)}`;
}

/** A folder name listed under `exp/` or a day folder ("000…/") as its start time, or undefined. */
export function parseTimeFolder(name: string): number | undefined {
  if (name.length !== TIME_DIGITS + 1 || !name.endsWith('/')) return undefined;
  const digits = name.slice(0, TIME_DIGITS);
  return /^\d+$/.test(digits) ? Number(digits) : undefined;
}

/** An entry listed in a minute bucket as `{dueAt, id}`, or undefined when malformed. */
export function parseExpiryEntry(name: string): { dueAt: number; id: string } | undefined {
  if (name.length <= TIME_DIGITS + 1 || name.charAt(TIME_DIGITS) !== '.') return undefined;
  const digits = name.slice(0, TIME_DIGITS);
  if (!/^\d+$/.test(digits)) return undefined;
  const id = decodeId(name.slice(TIME_DIGITS + 1));
  return id === undefined || id === '' ? undefined : { dueAt: Number(digits), id };
}

export function tokenIndexFolder(tokenHash: string): string {
  return `${LEASE_KEYS.tokenPrefix}${tokenHash}/`;
}

export function tokenIndexKey(tokenHash: string, id: string): string {
  return `${tokenIndexFolder(tokenHash)}${encodeId(id)}`;
}

export function irrevocableKey(id: string): string {
  return `${LEASE_KEYS.irrevocablePrefix}${encodeId(id)}`;
}

/** A name listed under `token/<hash>/` or `irrevocable/` back to its lease id. */
export function parseIndexedId(name: string): string | undefined {
  if (name === '' || name.endsWith('/')) return undefined;
  const id = decodeId(name);
  return id === '' ? undefined : id;
}
