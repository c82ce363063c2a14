// What every action of the AWS Secrets Manager engine shares: AWS's errors, input checks,
// secret names ↔ store keys, ARNs, the per-secret AWS attributes and the output shapes.
import { randomInt } from 'node:crypto';
import { CofferError, type ErrorCode } from '../../sdk/errors.js';
import type { EngineContext, EngineRequest } from '../../sdk/engine.js';
import type { Storage } from '../../sdk/storage.js';
import type { Outbound } from '../../shared/outbound.js';
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import {
  versionByLabel,
  type SecretMeta,
  type VersionedStore,
  type VersionRecord,
} from '../../sdk/versioned-store.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';

/** The door-attribute namespace of this engine in SecretMeta.attributes. */
export const ATTRS = 'aws';

// ---- Errors ----

const CODE_OF: Readonly<Record<string, ErrorCode>> = {
  ResourceNotFoundException: 'not_found',
  AccessDeniedException: 'permission_denied',
  InternalServiceError: 'internal',
};

/** An error in AWS's vocabulary; the adapter renders `__type` from `doorCode`. */
export function awsError(type: string, message: string, field?: string): CofferError {
  return new CofferError(CODE_OF[type] ?? 'invalid_request', message, {
    doorCode: type,
    ...(field === undefined ? {} : { field }),
  });
}

export const SECRET_NOT_FOUND = "Secrets Manager can't find the specified secret.";

export function notFound(): CofferError {
  return awsError('ResourceNotFoundException', SECRET_NOT_FOUND);
}

export function markedForDeletion(): CofferError {
  return awsError(
    'InvalidRequestException',
    "You can't perform this operation on the secret because it was marked for deletion.",
  );
}

/** AWS's front-end constraint error. SECURITY: names the member, never its value. */
export function validation(member: string, constraint: string): CofferError {
  return awsError(
    'ValidationException',
    `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must ${constraint}`,
    member,
  );
}

export function invalidParameter(message: string, field?: string): CofferError {
  return awsError('InvalidParameterException', message, field);
}

// ---- Input checks (the 2017-10-17 model's constraints) ----

export type Input = Readonly<Record<string, unknown>>;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

export function optString(
  input: Input,
  name: string,
  limits: { min?: number; max: number; pattern?: RegExp } = { max: 2048 },
): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  const member = lowerFirst(name);
  if (typeof value !== 'string') {
    throw awsError('SerializationException', `${name}: expected a string`, name);
  }
  const min = limits.min ?? 0;
  if (value.length < min) {
    throw validation(member, `have length greater than or equal to ${min}`);
  }
  if (value.length > limits.max) {
    throw validation(member, `have length less than or equal to ${limits.max}`);
  }
  if (limits.pattern !== undefined && !limits.pattern.test(value)) {
    throw validation(member, `satisfy regular expression pattern: ${limits.pattern.source}`);
  }
  return value;
}

export function reqString(
  input: Input,
  name: string,
  limits: { min?: number; max: number; pattern?: RegExp },
): string {
  const value = optString(input, name, limits);
  if (value === undefined) throw validation(lowerFirst(name), 'not be null');
  return value;
}

export function optBool(input: Input, name: string): boolean | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw awsError('SerializationException', `${name}: expected a boolean`, name);
  }
  return value;
}

export function optInt(input: Input, name: string, min: number, max: number): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw awsError('SerializationException', `${name}: expected an integer`, name);
  }
  if (value < min) throw validation(lowerFirst(name), `have value greater than or equal to ${min}`);
  if (value > max) throw validation(lowerFirst(name), `have value less than or equal to ${max}`);
  return value;
}

export function optList(
  input: Input,
  name: string,
  min: number,
  max: number,
): unknown[] | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    throw awsError('SerializationException', `${name}: expected a list`, name);
  }
  if (value.length < min) {
    throw validation(lowerFirst(name), `have length greater than or equal to ${min}`);
  }
  if (value.length > max) {
    throw validation(lowerFirst(name), `have length less than or equal to ${max}`);
  }
  return value as unknown[];
}

export function optStringList(
  input: Input,
  name: string,
  count: { min: number; max: number },
  each: { min?: number; max: number; pattern?: RegExp },
): string[] | undefined {
  const list = optList(input, name, count.min, count.max);
  if (list === undefined) return undefined;
  return list.map((item, i) => {
    if (typeof item !== 'string') {
      throw awsError('SerializationException', `${name}: expected strings`, name);
    }
    return optString({ [`${name}.${i + 1}`]: item }, `${name}.${i + 1}`, each)!;
  });
}

export const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
const TOKEN_LIMITS = { min: 32, max: 64 };
export const STAGE_LIMITS = { min: 1, max: 256 };
export const KMS_LIMITS = { min: 0, max: 2048 };

export function checkName(name: string): void {
  if (name.length < 1 || name.length > 512) {
    throw validation('name', 'have length between 1 and 512');
  }
  if (!NAME_PATTERN.test(name)) {
    throw awsError(
      'ValidationException',
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      'Name',
    );
  }
}

export function clientToken(input: Input): string | undefined {
  return optString(input, 'ClientRequestToken', TOKEN_LIMITS);
}

export function requireToken(token: string | undefined): string {
  if (token === undefined) {
    throw awsError(
      'InvalidRequestException',
      'You must provide a ClientRequestToken value. We recommend a UUID-type value.',
      'ClientRequestToken',
    );
  }
  return token;
}

/** The stored value of a version: exactly one of the two members, kept byte for byte. */
export type AwsValue = { SecretString: string } | { SecretBinary: string };

/** SecretString or SecretBinary (base64), 1..65536 bytes, never both. */
export function secretValue(input: Input): AwsValue | undefined {
  const text = input['SecretString'];
  const binary = input['SecretBinary'];
  if (text !== undefined && text !== null && binary !== undefined && binary !== null) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (text !== undefined && text !== null) {
    return { SecretString: reqString(input, 'SecretString', { min: 1, max: 65536 }) };
  }
  if (binary !== undefined && binary !== null) {
    if (typeof binary !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(binary)) {
      throw awsError('SerializationException', 'SecretBinary: expected base64', 'SecretBinary');
    }
    const bytes = Buffer.from(binary, 'base64').length;
    if (bytes < 1 || bytes > 65536) {
      throw validation('secretBinary', 'have length between 1 and 65536');
    }
    return { SecretBinary: Buffer.from(binary, 'base64').toString('base64') };
  }
  return undefined;
}

export function sameValue(a: JsonObject | undefined, b: AwsValue): boolean {
  if (a === undefined) return false;
  return (
    a['SecretString'] === (b as { SecretString?: string }).SecretString &&
    a['SecretBinary'] === (b as { SecretBinary?: string }).SecretBinary
  );
}

// ---- Names, keys, regions, ARNs ----

export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

export function checkRegion(region: string, member = 'region'): void {
  if (!REGION_PATTERN.test(region)) {
    throw validation(member, 'be a region name such as us-east-1');
  }
}

/**
 * The store key of a secret: `<region>/<name segments>`. AWS names may hold segments the
 * store refuses ('', '.', '..', as in "/app/db"); those become '~', '~.' and '~..'. '~' never
 * occurs in an AWS name, so the mapping is injective (docs/adr/0004-cloud-doors.md).
 */
export function storeKey(region: string, name: string): string {
  const segments = name.split('/').map((s) => (s === '' || s === '.' || s === '..' ? `~${s}` : s));
  return `${region}/${segments.join('/')}`;
}

/** The AWS name of a store key below its region (inverse of storeKey). */
export function nameOfKey(keyInRegion: string): string {
  return keyInRegion
    .split('/')
    .map((s) => (s.startsWith('~') ? s.slice(1) : s))
    .join('/');
}

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function newArnSuffix(): string {
  let out = '';
  for (let i = 0; i < 6; i++) out += SUFFIX_ALPHABET.charAt(randomInt(SUFFIX_ALPHABET.length));
  return out;
}

export function secretArn(region: string, account: string, name: string, suffix: string): string {
  return `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${suffix}`;
}

/** A SecretId as the adapter hands it on: the name, plus the ARN suffix when one was given. */
export interface SecretRef {
  readonly region: string;
  readonly name: string;
  readonly arnSuffix?: string;
}

const ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$/;

/**
 * Resolves a SecretId (a name, a full ARN or a partial ARN without the random suffix) against
 * the request's region. A full ARN's trailing `-XXXXXX` is checked against the stored suffix
 * later, so a name that itself ends in six characters after a hyphen (which AWS advises
 * against) is found by its name or full ARN, not by a partial ARN.
 */
export function parseSecretId(secretId: string, region: string): SecretRef {
  const m = ARN.exec(secretId);
  if (m === null) {
    checkName(secretId);
    return { region, name: secretId };
  }
  const arnRegion = m[1]!;
  checkRegion(arnRegion, 'secretId');
  const rest = m[3]!;
  const suffixed = /^(.+)-([A-Za-z0-9]{6})$/.exec(rest);
  if (suffixed !== null) return { region: arnRegion, name: suffixed[1]!, arnSuffix: suffixed[2]! };
  checkName(rest);
  return { region: arnRegion, name: rest };
}

// ---- Per-secret AWS attributes (SecretMeta.attributes.aws) ----

export interface ReplicaState {
  readonly Region: string;
  readonly KmsKeyId?: string;
  readonly Status: 'InSync' | 'Failed' | 'InProgress';
  readonly StatusMessage?: string;
}

export interface AwsAttributes {
  readonly arnSuffix: string;
  readonly kmsKeyId?: string;
  readonly type?: string;
  /** The ClientRequestToken of a CreateSecret without a value (its idempotency). */
  readonly createToken?: string;
  /** Epoch ms. */
  readonly lastChangedAt: number;
  /** Epoch ms, midnight UTC of the last read day. */
  readonly lastAccessedAt?: number;
  /** Epoch ms when DeleteSecret was called (DeletedDate). */
  readonly deletedAt?: number;
  /**
   * The version RotateSecret created with AWSPENDING and no value yet (AWS's empty pending
   * version): listed with its stage, filled by PutSecretValue with the same token.
   */
  readonly pending?: { readonly versionId: string; readonly createdAt: number };
  /** Set on a replica: the region of its primary. */
  readonly primaryRegion?: string;
  /** Set on a primary with replicas. */
  readonly replicas?: readonly ReplicaState[];
  /** Epoch ms of the last successful rotation. */
  readonly lastRotatedAt?: number;
  /** ExternalSecretRotation* members, stored and echoed. */
  readonly external?: JsonObject;
  /** A resource policy is stored under the engine's `policy/<key>`. */
  readonly hasPolicy?: boolean;
}

export function attrsOf(meta: SecretMeta): AwsAttributes | undefined {
  return meta.attributes?.[ATTRS] as AwsAttributes | undefined;
}

export function toJson(attrs: AwsAttributes): JsonObject {
  return JSON.parse(JSON.stringify(attrs)) as JsonObject;
}

/** A secret of this engine as an action sees it. */
export interface Found {
  readonly key: string;
  readonly meta: SecretMeta;
  readonly attrs: AwsAttributes;
  readonly arn: string;
}

export interface ActionEnv {
  readonly req: EngineRequest;
  /** A scheduled job (rotation steps, purges): no caller, `req` is a stand-in. */
  readonly scheduled: boolean;
  /** The mount's context (also for scheduled jobs, which have no request). */
  readonly ctx: EngineContext;
  /** The mount's storage view, for the engine's own keys (resource policies, functions). */
  readonly storage: Storage;
  readonly input: Input;
  readonly region: string;
  readonly account: string;
  readonly store: VersionedStore;
  /** Serialises every action on one secret (key), across the store calls it makes. */
  locked<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** After a new value on a primary: replicas are brought in sync. */
  afterWrite?(key: string): Promise<void>;
  findOrUndefined(ref: SecretRef): Promise<Found | undefined>;
  /** Removes a secret for good: versions, metadata, resource policy, purge job. */
  purge(key: string): Promise<void>;
  readonly rotation?: { readonly outbound: Outbound };
  /**
   * Fault injection for the crash tests only (test/fixtures/hanging-rotator-server.js sets it):
   * runs after a built-in rotator finished a step, before the step counts as done.
   */
  readonly afterBuiltinStep?: (step: string) => Promise<void>;
}

export async function findSecret(env: ActionEnv, ref: SecretRef): Promise<Found | undefined> {
  const key = storeKey(ref.region, ref.name);
  const meta = await env.store.readMeta(key);
  if (meta === undefined) return undefined;
  const attrs = attrsOf(meta);
  if (attrs === undefined) return undefined;
  if (ref.arnSuffix !== undefined && ref.arnSuffix !== attrs.arnSuffix) return undefined;
  return { key, meta, attrs, arn: secretArn(ref.region, env.account, ref.name, attrs.arnSuffix) };
}

export async function requireSecret(env: ActionEnv, ref: SecretRef): Promise<Found> {
  const found = await findSecret(env, ref);
  if (found === undefined) throw notFound();
  return found;
}

/** Refuses a secret scheduled for deletion (every action but Describe, Restore, Delete). */
export function requireLive(found: Found): void {
  if (found.meta.deletionScheduledAt !== undefined) throw markedForDeletion();
}

/** Refuses writes to a replica (AWS: replicas are read-only copies). */
export function requirePrimary(found: Found): void {
  if (found.attrs.primaryRegion !== undefined) {
    throw awsError(
      'InvalidRequestException',
      'Operation is not permitted on a replica secret. Perform it on the primary secret.',
    );
  }
}

/** Epoch seconds with milliseconds, as AWS renders timestamps (numbers, never strings). */
export function epochSeconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** VersionId → stages for every labelled version, plus the empty pending version. */
export function versionStages(meta: SecretMeta, attrs: AwsAttributes): JsonObject {
  const out: Record<string, JsonValue> = {};
  for (const v of Object.values(meta.versions)) {
    if (v.labels.length > 0 && v.state !== 'destroyed') out[v.id] = [...v.labels];
  }
  if (attrs.pending !== undefined) out[attrs.pending.versionId] = [AWSPENDING];
  return out;
}

export function currentVersion(meta: SecretMeta): VersionRecord | undefined {
  return versionByLabel(meta, AWSCURRENT);
}

export function tagList(meta: SecretMeta): JsonValue[] {
  return Object.entries(meta.tags).map(([Key, Value]) => ({ Key, Value }));
}

/** DescribeSecret's (and ListSecrets' entries') fields: only those that are set. */
export function describeJson(
  found: Found,
  region: string,
  name: string,
  stagesMember: 'VersionIdsToStages' | 'SecretVersionsToStages',
): JsonObject {
  const { meta, attrs } = found;
  const rotation = meta.rotation;
  const out: JsonObject = { ARN: found.arn, Name: name };
  if (attrs.type !== undefined) out['Type'] = attrs.type;
  if (meta.description !== '') out['Description'] = meta.description;
  if (attrs.kmsKeyId !== undefined && attrs.kmsKeyId !== '') out['KmsKeyId'] = attrs.kmsKeyId;
  if (rotation !== undefined) {
    out['RotationEnabled'] = rotation['enabled'] === true;
    if (typeof rotation['lambdaArn'] === 'string') {
      out['RotationLambdaARN'] = rotation['lambdaArn'];
    }
    if (rotation['rules'] !== undefined) out['RotationRules'] = rotation['rules'];
    if (typeof rotation['nextAt'] === 'number' && rotation['enabled'] === true) {
      out['NextRotationDate'] = epochSeconds(rotation['nextAt']);
    }
  }
  if (attrs.lastRotatedAt !== undefined) out['LastRotatedDate'] = epochSeconds(attrs.lastRotatedAt);
  out['LastChangedDate'] = epochSeconds(attrs.lastChangedAt);
  if (attrs.lastAccessedAt !== undefined) {
    out['LastAccessedDate'] = epochSeconds(attrs.lastAccessedAt);
  }
  if (attrs.deletedAt !== undefined && meta.deletionScheduledAt !== undefined) {
    out['DeletedDate'] = epochSeconds(attrs.deletedAt);
  }
  if (Object.keys(meta.tags).length > 0) out['Tags'] = tagList(meta);
  out[stagesMember] = versionStages(meta, attrs);
  out['CreatedDate'] = epochSeconds(meta.createdAt);
  out['PrimaryRegion'] = attrs.primaryRegion ?? region;
  if (attrs.replicas !== undefined && attrs.replicas.length > 0) {
    out['ReplicationStatus'] = attrs.replicas.map((r) => ({ ...r }));
  }
  if (attrs.external !== undefined) Object.assign(out, attrs.external);
  return out;
}

/** A copy of `obj` without `keys` (for clearing optional attributes). */
export function without<T extends object, K extends keyof T>(obj: T, ...keys: K[]): Omit<T, K> {
  const copy: Partial<T> = { ...obj };
  for (const key of keys) Reflect.deleteProperty(copy, key);
  return copy as Omit<T, K>;
}

/** The midnight (UTC) of `ms`: AWS keeps LastAccessedDate to the day. */
export function dayOf(ms: number): number {
  return Math.floor(ms / 86_400_000) * 86_400_000;
}
