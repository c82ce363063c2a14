// What every method of the Google Secret Manager engine shares: Google's canonical errors,
// the logical path of a request ↔ the resource it names ↔ the versioned store's key, the
// per-secret Google attributes, and proto3-JSON scalars (timestamps, durations, int64).
import { randomBytes } from 'node:crypto';
import { CofferError, type ErrorCode } from '../../sdk/errors.js';
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import type { SecretMeta } from '../../sdk/versioned-store.js';

/** The door-attribute namespace of this engine in SecretMeta.attributes. */
export const ATTRS = 'gcp';

// ---- Errors ----

/** Google's canonical codes this door answers with (the adapters map them to HTTP and gRPC). */
export type GoogleStatus =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'OUT_OF_RANGE'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'INTERNAL'
  | 'UNIMPLEMENTED'
  | 'UNAVAILABLE';

const CODE_OF: Readonly<Partial<Record<GoogleStatus, ErrorCode>>> = {
  NOT_FOUND: 'not_found',
  PERMISSION_DENIED: 'permission_denied',
  UNAUTHENTICATED: 'permission_denied',
  ABORTED: 'cas_mismatch',
  INTERNAL: 'internal',
  UNIMPLEMENTED: 'unsupported_operation',
};

/** An error in Google's vocabulary; the adapters render `status` from `doorCode`. */
export function gcpError(status: GoogleStatus, message: string, field?: string): CofferError {
  return new CofferError(CODE_OF[status] ?? 'invalid_request', message, {
    doorCode: status,
    ...(field === undefined ? {} : { field }),
  });
}

/** INVALID_ARGUMENT naming the field. SECURITY: never the value. */
export function invalidArgument(field: string, why: string): CofferError {
  return gcpError('INVALID_ARGUMENT', `${field}: ${why}`, field);
}

// ---- Resources and paths ----

/** Where a secret lives: a project, and a location for regional secrets. */
export interface Parent {
  readonly project: string;
  /** Absent for global secrets. */
  readonly location?: string;
}

export interface SecretRef extends Parent {
  readonly secret: string;
}

export const PROJECT_PATTERN = /^[a-z0-9][a-z0-9.:-]{0,62}$/;
export const LOCATION_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const SECRET_ID_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;
/** Version aliases: letters first, then letters, digits, `_` and `-`; ≤63 chars. */
export const ALIAS_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

/** The store key of a secret: `<project>/-/<secret>` (global) or `<project>/<location>/<secret>`. */
export function storeKey(ref: SecretRef): string {
  return `${ref.project}/${ref.location ?? '-'}/${ref.secret}`;
}

/** The inverse of storeKey. */
export function refFromKey(key: string): SecretRef {
  const [project = '', location = '-', secret = ''] = key.split('/');
  return location === '-' ? { project, secret } : { project, location, secret };
}

/** The store folder of a parent's secrets. */
export function storeFolder(parent: Parent): string {
  return `${parent.project}/${parent.location ?? '-'}/`;
}

/** `projects/p` or `projects/p/locations/l`. */
export function parentName(parent: Parent): string {
  return parent.location === undefined
    ? `projects/${parent.project}`
    : `projects/${parent.project}/locations/${parent.location}`;
}

export function secretName(ref: SecretRef): string {
  return `${parentName(ref)}/secrets/${ref.secret}`;
}

/** What a logical path (relative to the mount) names. */
export interface Target extends Parent {
  readonly secret?: string;
  /** A version number, `latest` or an alias. */
  readonly version?: string;
  /**
   * The tail after the resource: `secrets/` (list), `versions/` (list), `add-version`,
   * `access`, `enable`, `disable`, `destroy`, `iam-policy`, `test-iam-permissions`,
   * `locations/` (list), or '' for the resource itself.
   */
  readonly tail: string;
  /** GetLocation's location when the path is `projects/p/locations/l`. */
  readonly locationResource?: string;
}

/**
 * Parses `projects/<p>[/locations/<l>][/secrets/[<s>[/versions/[<v>[/<verb>]]|/<verb>]]]`
 * and the project-level `iam-policy`, `test-iam-permissions` and `locations/[<l>]`.
 * Undefined when the path is not one of these shapes. SECURITY: every segment is checked
 * against its pattern here, so store keys never hold anything else.
 */
export function parseTarget(path: string): Target | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'projects' || parts.length < 2) return undefined;
  const project = parts[1]!;
  if (!PROJECT_PATTERN.test(project)) return undefined;
  let i = 2;
  let location: string | undefined;
  if (parts[i] === 'locations') {
    const l = parts[i + 1];
    if (l === '' && parts.length === i + 2) return { project, tail: 'locations/' };
    if (l === undefined || !LOCATION_PATTERN.test(l)) return undefined;
    if (parts.length === i + 2) return { project, tail: '', locationResource: l };
    location = l;
    i += 2;
  }
  const parent: Parent = location === undefined ? { project } : { project, location };
  const rest = parts.slice(i);
  if (rest.length === 1 && (rest[0] === 'iam-policy' || rest[0] === 'test-iam-permissions')) {
    return { ...parent, tail: rest[0] };
  }
  if (rest[0] !== 'secrets') return undefined;
  if (rest.length === 2 && rest[1] === '') return { ...parent, tail: 'secrets/' };
  const secret = rest[1];
  if (secret === undefined || !SECRET_ID_PATTERN.test(secret)) return undefined;
  const ref = { ...parent, secret };
  if (rest.length === 2) return { ...ref, tail: '' };
  const verb = rest[2]!;
  if (rest.length === 3 && ['add-version', 'iam-policy', 'test-iam-permissions'].includes(verb)) {
    return { ...ref, tail: verb };
  }
  if (verb !== 'versions') return undefined;
  if (rest.length === 4 && rest[3] === '') return { ...ref, tail: 'versions/' };
  const version = rest[3];
  if (
    version === undefined ||
    !/^(latest|[1-9][0-9]{0,15}|[A-Za-z][A-Za-z0-9_-]{0,62})$/.test(version)
  ) {
    return undefined;
  }
  if (rest.length === 4) return { ...ref, version, tail: '' };
  if (rest.length === 5 && ['access', 'enable', 'disable', 'destroy'].includes(rest[4]!)) {
    return { ...ref, version, tail: rest[4]! };
  }
  return undefined;
}

// ---- The per-secret Google attributes (SecretMeta.attributes.gcp) ----

/** Per-version attributes the shared model has no field for. */
export interface GcpVersionAttrs {
  readonly etag: string;
  /** The payload's CRC32C, decimal (int64 in proto3 JSON is a string). */
  readonly crc32c: string;
  /** The client sent dataCrc32c (clientSpecifiedPayloadChecksum). */
  readonly clientChecksum: boolean;
  /** Epoch ms; only once DESTROYED. */
  readonly destroyTime?: number;
  /** Epoch ms; a destroy delayed by versionDestroyTtl. */
  readonly scheduledDestroyTime?: number;
}

export interface GcpAttrs {
  readonly etag: string;
  readonly replication: JsonObject;
  readonly topics: readonly string[];
  /** Seconds; 0 = destroy at once. */
  readonly versionDestroyTtlSeconds: number;
  /** Epoch ms, with the period in seconds (input-only in the API, kept to advance the time). */
  readonly rotation?: {
    readonly nextRotationTime: number;
    readonly rotationPeriodSeconds?: number;
  };
  readonly secretType?: number;
  /** Immutable tags given at creation (input-only in the API). */
  readonly tags?: Readonly<Record<string, string>>;
  readonly versions: Readonly<Record<string, GcpVersionAttrs>>;
}

export function gcpAttrs(meta: SecretMeta): GcpAttrs {
  const stored = meta.attributes?.[ATTRS] as unknown as GcpAttrs | undefined;
  return (
    stored ?? {
      etag: newEtag(),
      replication: { automatic: {} },
      topics: [],
      versionDestroyTtlSeconds: 0,
      versions: {},
    }
  );
}

/** For MetaPatch.attributes. */
export function attrsPatch(attrs: GcpAttrs): Record<string, JsonObject> {
  return { [ATTRS]: attrs as unknown as JsonObject };
}

/** A fresh etag: an opaque quoted string, as Google sends it. */
export function newEtag(): string {
  return `"${randomBytes(9).toString('base64url')}"`;
}

/** Checks a caller's etag (quoted or bare) against the current one: ABORTED on mismatch. */
export function checkEtag(given: unknown, current: string, field = 'etag'): void {
  if (given === undefined || given === null || given === '') return;
  if (typeof given !== 'string') throw invalidArgument(field, 'must be a string');
  const bare = (s: string) => s.replace(/^W\//, '').replace(/^"|"$/g, '');
  if (bare(given) !== bare(current)) {
    throw gcpError('ABORTED', `${field} does not match the current etag`, field);
  }
}

// ---- proto3 JSON scalars ----

/** RFC 3339 with a Z, as Google renders Timestamps. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** Parses an RFC 3339 timestamp (any fractional precision, Z or offset) to epoch ms. */
export function parseTimestamp(value: unknown, field: string): number {
  if (
    typeof value !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(value)
  ) {
    throw invalidArgument(field, 'must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z');
  }
  const ms = Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(ms)) throw invalidArgument(field, 'is not a valid timestamp');
  return ms;
}

/** Parses a proto3 Duration ("3600s", "1.5s") to whole seconds (fractions rounded up). */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value !== 'string' || !/^\d{1,12}(\.\d{1,9})?s$/.test(value)) {
    throw invalidArgument(field, 'must be a duration such as "3600s"');
  }
  return Math.ceil(Number(value.slice(0, -1)));
}

/** int64 in proto3 JSON: a decimal string or a number. Undefined when absent. */
export function parseInt64(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^-?\d{1,20}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw invalidArgument(field, 'must be an integer');
  }
  return n;
}

/** A string → string map from a proto3 JSON object. */
export function parseStringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgument(field, 'must be an object of strings');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalidArgument(`${field}.${k}`, 'must be a string');
    out[k] = v;
  }
  return out;
}

/** Reads a request field by its lowerCamelCase or snake_case name. */
export function field(input: Readonly<Record<string, unknown>>, camel: string): unknown {
  if (input[camel] !== undefined) return input[camel];
  return input[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type Out = Record<string, JsonValue>;

/** A request message in proto3 JSON (not yet validated). */
export type Input = Readonly<Record<string, unknown>>;
