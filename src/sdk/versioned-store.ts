// The one versioned-secret model: storage layout, version lifecycle and per-key serialisation
// behind KV v2 now and the AWS Secrets Manager and Google Secret Manager doors later.
//
// Storage layout (keys relative to the Storage handed in, i.e. one mount's own view). This is an
// irreversible format: add optional fields, never rename or move.
//
//   config              JSON StoreConfig: defaults for every secret in this area.
//   meta/<key>          JSON SecretMeta: secret-level settings plus the table of versions.
//                       LIST of a folder is storage.list('meta/' + folder).
//   value/<key>/<n>     JSON object: the value of version n. Kept apart from the metadata so that
//                       metadata reads never touch values and destroying a version deletes exactly
//                       one entry. The mapping is injective: keys have no empty segments and the
//                       last segment is always the decimal version number.
//
// Concurrency: every read-modify-write of one key runs inside KeyLocks.run(key), a per-key
// promise chain held in memory, and commits metadata and values in one storage.batch. That
// serialises writers on ONE node only; every user of the same storage area must share one
// KeyLocks instance (the engine keeps one per mount). Several nodes rely on writes being
// forwarded to the leader.
import { randomUUID } from 'node:crypto';
import { CofferError, invalidField } from './errors.js';
import type { JsonObject } from './json.js';
import { encodeJson, getJson, type Storage, type StorageOp } from './storage.js';

/** Storage keys and prefixes owned by this module (never assembled elsewhere). */
export const STORE_KEYS = Object.freeze({
  config: 'config',
  metaPrefix: 'meta/',
  valuePrefix: 'value/',
});

/** Versions kept per secret when neither the store nor the secret sets a limit (Vault's 10). */
export const DEFAULT_MAX_VERSIONS = 10;

/**
 * The stored state of a version. A version whose `deletedAt` has passed while its state is
 * still 'enabled' reads as 'deleted' (delete-after scheduling): see {@link versionStateAt}.
 */
export type VersionState = 'enabled' | 'disabled' | 'deleted' | 'destroyed';

export interface VersionRecord {
  /** 1, 2, 3, ...: Vault's version, GCP's version name. Never reused within one secret. */
  readonly number: number;
  /** Stable random UUID: the AWS VersionId. Never changes once assigned. */
  readonly id: string;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly state: VersionState;
  /**
   * Epoch ms at which the version was soft-deleted or, while the state is 'enabled', at which
   * it is scheduled to read as deleted (Vault `deletion_time`). Kept after a destroy.
   */
  readonly deletedAt?: number;
  /** Labels (AWS staging labels, GCP aliases); a label is on at most one version of a secret. */
  readonly labels: readonly string[];
}

export interface SecretMeta {
  /** The secret's key path, '/'-separated, without empty, '.' or '..' segments. */
  readonly key: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last version write (or of creation). */
  readonly updatedAt: number;
  /** Number of the newest version; 0 while the secret has no version. */
  readonly currentVersion: number;
  /** Vault's oldest_version: 0 until versions are first trimmed, then the oldest kept number. */
  readonly oldestVersion: number;
  /** Versions to keep; 0 = the store's setting. The larger of the two applies. */
  readonly maxVersions: number;
  /** Writes must state the version they expect (check-and-set). */
  readonly casRequired: boolean;
  /** Seconds after creation at which new versions read as deleted; 0 = unset. */
  readonly deleteVersionAfterSeconds: number;
  /** Vault custom_metadata, GCP annotations. */
  readonly customMetadata: Readonly<Record<string, string>>;
  readonly description: string;
  /** AWS tags, GCP labels. */
  readonly tags: Readonly<Record<string, string>>;
  /** Rotation settings, opaque here; owned by the rotation scheduler and the doors. */
  readonly rotation?: JsonObject;
  /** Epoch ms at which the whole secret is scheduled for deletion (AWS recovery window). */
  readonly deletionScheduledAt?: number;
  /** Epoch ms at which the secret expires (GCP expire_time). */
  readonly expiresAt?: number;
  /**
   * Door-owned attributes, one opaque object per door ("aws": ARN suffix, KMS key id, replica
   * regions; "gcp": etag, replication). Written in the same batch as the versions, so a door's
   * view of a secret never disagrees with its versions after a crash.
   */
  readonly attributes?: Readonly<Record<string, JsonObject>>;
  /** Kept versions by decimal number. Destroyed versions stay listed; trimmed ones do not. */
  readonly versions: Readonly<Record<string, VersionRecord>>;
}

export interface StoreConfig {
  /** Versions kept per secret; 0 = DEFAULT_MAX_VERSIONS. A secret's larger setting wins. */
  readonly maxVersions: number;
  readonly casRequired: boolean;
  /**
   * Seconds after creation at which new versions read as deleted; 0 = unset; negative =
   * disabled for every secret, whatever the secret says.
   */
  readonly deleteVersionAfterSeconds: number;
}

export type ConfigPatch = Partial<StoreConfig>;

/** Settings an update may change; `null` clears an optional setting. */
export interface MetaPatch {
  readonly maxVersions?: number;
  readonly casRequired?: boolean;
  readonly deleteVersionAfterSeconds?: number;
  readonly customMetadata?: Readonly<Record<string, string>>;
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly rotation?: JsonObject | null;
  readonly deletionScheduledAt?: number | null;
  readonly expiresAt?: number | null;
  /** Replaces the named doors' attribute objects; `null` removes one. */
  readonly attributes?: Readonly<Record<string, JsonObject | null>>;
}

export interface WriteVersionOptions {
  /**
   * Check-and-set: the write succeeds only while the secret's current version is this number
   * (0 = the secret does not exist or has no version yet).
   */
  readonly expectedCurrentVersion?: number;
  /** Labels to put on the new version; they are taken off whichever version held them. */
  readonly labels?: readonly string[];
  /**
   * A caller-chosen stable id for the new version (AWS: the ClientRequestToken becomes the
   * VersionId). Must not be the id of another kept version of the secret (invalid_request).
   */
  readonly id?: string;
  /** Secret-level changes committed in the same batch as the version (computed under the lock). */
  readonly metaPatch?: MetaPatch | ((current: SecretMeta) => MetaPatch);
  /**
   * Label changes on existing versions, committed in the same batch (AWS: the version that
   * loses AWSCURRENT gets AWSPREVIOUS). Returns the new label lists by version number; applied
   * before the new version takes `labels`.
   */
  readonly relabel?: (current: SecretMeta) => Readonly<Record<string, readonly string[]>>;
}

export interface WrittenVersion {
  readonly meta: SecretMeta;
  readonly version: VersionRecord;
}

/** Result of a write derived from the latest value (Vault PATCH). */
export type DerivedWrite =
  | ({ readonly outcome: 'written' } & WrittenVersion)
  /** No secret, or it has no current version. */
  | { readonly outcome: 'missing' }
  /** The current version exists but is not readable (deleted, destroyed or disabled). */
  | ({ readonly outcome: 'unreadable' } & WrittenVersion);

export interface VersionRead {
  readonly meta: SecretMeta;
  readonly version: VersionRecord;
  /** The state now, with delete-after scheduling applied. */
  readonly state: VersionState;
  /** The value, present only when `state` is 'enabled'. */
  readonly value: JsonObject | undefined;
}

export interface VersionedStoreOptions {
  /** Shared by every store over the same storage area; see the header comment. */
  readonly locks?: KeyLocks;
  /** The injected clock, epoch ms. */
  readonly now: () => number;
  /** Version id generator; random UUIDs by default. */
  readonly newId?: () => string;
  /**
   * Which versions trimming may drop when a secret has more than its maximum: 'any' (Vault:
   * the oldest, labelled or not; the default) or 'unlabelled' (AWS: versions holding a staging
   * label are kept whatever their age; only the oldest unlabelled ones go).
   */
  readonly trim?: 'any' | 'unlabelled';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const DEFAULT_CONFIG: StoreConfig = {
  maxVersions: 0,
  casRequired: false,
  deleteVersionAfterSeconds: 0,
};

/** A lock name no valid key can take (keys have no empty segments). */
const CONFIG_LOCK = '';

/**
 * Per-key mutual exclusion inside one process: each key has a promise chain, and a task starts
 * when the previous one for the same key settles. Entries are dropped when a key goes idle.
 */
export class KeyLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    try {
      await previous;
      return await task();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with a task queued or running (for tests and metrics). */
  get activeKeys(): number {
    return this.#tails.size;
  }
}

/**
 * Checks a secret key: '/'-separated, no empty, '.' or '..' segment (so no leading, trailing or
 * doubled slash). SECURITY: keys become storage keys; this keeps them inside their prefix.
 */
export function validateKey(key: string, field = 'path'): void {
  if (key === '') throw invalidField(field, 'missing path');
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw invalidField(field, "must not contain empty, '.' or '..' segments");
    }
  }
}

/** Like validateKey for a folder: '' (the root) or a valid key followed by '/'. */
export function validateFolder(folder: string, field = 'path'): void {
  if (folder === '') return;
  if (!folder.endsWith('/')) throw invalidField(field, 'a folder must end with "/"');
  validateKey(folder.slice(0, -1), field);
}

/**
 * The folder a list request names: '' and '/' are the root, a missing trailing '/' is added
 * (list paths normally arrive with one). Validated like validateFolder.
 */
export function listFolder(pathParam: string, field = 'path'): string {
  if (pathParam === '' || pathParam === '/') return '';
  const folder = pathParam.endsWith('/') ? pathParam : `${pathParam}/`;
  validateFolder(folder, field);
  return folder;
}

/** The state a version has at `now` (epoch ms), applying delete-after scheduling. */
export function versionStateAt(version: VersionRecord, now: number): VersionState {
  if (version.state === 'enabled' && version.deletedAt !== undefined && version.deletedAt <= now) {
    return 'deleted';
  }
  return version.state;
}

/** The version holding `label`, if any. */
export function versionByLabel(meta: SecretMeta, label: string): VersionRecord | undefined {
  return Object.values(meta.versions).find((v) => v.labels.includes(label));
}

/** The version with the stable id `id`, if it is still kept. */
export function versionById(meta: SecretMeta, id: string): VersionRecord | undefined {
  return Object.values(meta.versions).find((v) => v.id === id);
}

function metaKey(key: string): string {
  return `${STORE_KEYS.metaPrefix}${key}`;
}

function valueKey(key: string, version: number): string {
  return `${STORE_KEYS.valuePrefix}${key}/${version}`;
}

function checkCount(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidField(field, 'must be a non-negative integer');
  }
}

function checkLabel(label: string): void {
  if (label === '') throw invalidField('label', 'must not be empty');
}

/** The delete-after deadline for a version created at `createdAt`, or undefined. */
function scheduledDeletion(
  createdAt: number,
  config: StoreConfig,
  meta: SecretMeta,
): number | undefined {
  if (config.deleteVersionAfterSeconds < 0) return undefined;
  // Vault: the smaller of the two non-zero settings.
  let seconds = meta.deleteVersionAfterSeconds > 0 ? meta.deleteVersionAfterSeconds : 0;
  const mount = config.deleteVersionAfterSeconds;
  if (mount > 0 && (seconds === 0 || mount < seconds)) seconds = mount;
  return seconds > 0 ? createdAt + seconds * 1000 : undefined;
}

function freshMeta(key: string, now: number): SecretMeta {
  return {
    key,
    createdAt: now,
    updatedAt: now,
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfterSeconds: 0,
    customMetadata: {},
    description: '',
    tags: {},
    versions: {},
  };
}

function withoutLabels(
  versions: Readonly<Record<string, VersionRecord>>,
  labels: readonly string[],
): Record<string, VersionRecord> {
  if (labels.length === 0) return { ...versions };
  const out: Record<string, VersionRecord> = {};
  for (const [n, v] of Object.entries(versions)) {
    out[n] = v.labels.some((l) => labels.includes(l))
      ? { ...v, labels: v.labels.filter((l) => !labels.includes(l)) }
      : v;
  }
  return out;
}

function applyMetaPatch(meta: SecretMeta, patch: MetaPatch): SecretMeta {
  const next: Mutable<SecretMeta> = { ...meta };
  if (patch.maxVersions !== undefined) {
    checkCount(patch.maxVersions, 'max_versions');
    next.maxVersions = patch.maxVersions;
  }
  if (patch.casRequired !== undefined) next.casRequired = patch.casRequired;
  if (patch.deleteVersionAfterSeconds !== undefined) {
    checkCount(patch.deleteVersionAfterSeconds, 'delete_version_after');
    next.deleteVersionAfterSeconds = patch.deleteVersionAfterSeconds;
  }
  if (patch.customMetadata !== undefined) next.customMetadata = { ...patch.customMetadata };
  if (patch.description !== undefined) next.description = patch.description;
  if (patch.tags !== undefined) next.tags = { ...patch.tags };
  if (patch.rotation === null) delete next.rotation;
  else if (patch.rotation !== undefined) next.rotation = patch.rotation;
  if (patch.deletionScheduledAt === null) delete next.deletionScheduledAt;
  else if (patch.deletionScheduledAt !== undefined) {
    next.deletionScheduledAt = patch.deletionScheduledAt;
  }
  if (patch.expiresAt === null) delete next.expiresAt;
  else if (patch.expiresAt !== undefined) next.expiresAt = patch.expiresAt;
  if (patch.attributes !== undefined) {
    const attributes: Record<string, JsonObject> = { ...(meta.attributes ?? {}) };
    for (const [door, value] of Object.entries(patch.attributes)) {
      if (value === null) Reflect.deleteProperty(attributes, door);
      else attributes[door] = value;
    }
    next.attributes = attributes;
  }
  return next;
}

/** A version change inside one locked update: the new table plus any value entries to drop. */
interface VersionsChange {
  readonly versions: Record<string, VersionRecord>;
  readonly ops: StorageOp[];
}

/**
 * The versioned-secret store over one storage area. Cheap to construct: build one per request
 * with that request's clock, sharing the mount's KeyLocks.
 */
export class VersionedStore {
  readonly #storage: Storage;
  readonly #locks: KeyLocks;
  readonly #now: () => number;
  readonly #newId: () => string;
  readonly #trim: 'any' | 'unlabelled';

  constructor(storage: Storage, options: VersionedStoreOptions) {
    this.#storage = storage;
    this.#locks = options.locks ?? new KeyLocks();
    this.#now = options.now;
    this.#newId = options.newId ?? randomUUID;
    this.#trim = options.trim ?? 'any';
  }

  /** Store-wide defaults (Vault's mount `config`). */
  async readConfig(): Promise<StoreConfig> {
    const stored = await getJson<Partial<StoreConfig>>(this.#storage, STORE_KEYS.config);
    return { ...DEFAULT_CONFIG, ...stored };
  }

  async updateConfig(patch: ConfigPatch): Promise<StoreConfig> {
    if (patch.maxVersions !== undefined) checkCount(patch.maxVersions, 'max_versions');
    if (patch.deleteVersionAfterSeconds !== undefined) {
      if (!Number.isSafeInteger(patch.deleteVersionAfterSeconds)) {
        throw invalidField('delete_version_after', 'must be a whole number of seconds');
      }
    }
    return this.#locks.run(CONFIG_LOCK, async () => {
      const next: StoreConfig = { ...(await this.readConfig()), ...patch };
      await this.#storage.put(STORE_KEYS.config, encodeJson(next));
      return next;
    });
  }

  async readMeta(key: string): Promise<SecretMeta | undefined> {
    validateKey(key);
    return getJson<SecretMeta>(this.#storage, metaKey(key));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.readMeta(key)) !== undefined;
  }

  /**
   * Reads one version (a number, or 'latest' = the current version). Undefined when the
   * secret or that version does not exist (never written, or trimmed).
   */
  async readVersion(key: string, which: number | 'latest'): Promise<VersionRead | undefined> {
    const first = await this.#readVersionOnce(key, which);
    if (first === undefined || first.state !== 'enabled' || first.value !== undefined) {
      return first;
    }
    // The value vanished between the two reads (a concurrent destroy or trim): read again
    // behind the writers.
    const second = await this.#locks.run(key, () => this.#readVersionOnce(key, which));
    if (second !== undefined && second.state === 'enabled' && second.value === undefined) {
      throw new CofferError('integrity_failure', 'could not find version data');
    }
    return second;
  }

  async #readVersionOnce(key: string, which: number | 'latest'): Promise<VersionRead | undefined> {
    const meta = await this.readMeta(key);
    if (meta === undefined) return undefined;
    const number = which === 'latest' ? meta.currentVersion : which;
    const version = meta.versions[String(number)];
    if (version === undefined) return undefined;
    const state = versionStateAt(version, this.#now());
    const value =
      state === 'enabled'
        ? await getJson<JsonObject>(this.#storage, valueKey(key, version.number))
        : undefined;
    return { meta, version, state, value };
  }

  /**
   * Writes a new version (creating the secret if needed), applies check-and-set and
   * cas-required, schedules delete-after, and trims versions beyond the max, all in one batch.
   * Throws cas_mismatch or invalid_request (cas required but not given).
   */
  async writeVersion(
    key: string,
    value: JsonObject,
    options: WriteVersionOptions = {},
  ): Promise<WrittenVersion> {
    validateKey(key);
    options.labels?.forEach(checkLabel);
    return this.#locks.run(key, async () => {
      const config = await this.readConfig();
      const existing = await this.readMeta(key);
      let meta = existing ?? freshMeta(key, this.#now());
      this.#checkCas(config, meta, options.expectedCurrentVersion);
      if (options.id !== undefined && versionById(meta, options.id) !== undefined) {
        throw invalidField('id', 'a version of this secret already has this id');
      }
      if (options.metaPatch !== undefined) {
        const patch = options.metaPatch;
        meta = applyMetaPatch(meta, typeof patch === 'function' ? patch(meta) : patch);
      }
      if (options.relabel !== undefined) {
        const versions: Record<string, VersionRecord> = { ...meta.versions };
        for (const [n, labels] of Object.entries(options.relabel(meta))) {
          const version = versions[n];
          if (version === undefined) continue;
          labels.forEach(checkLabel);
          versions[n] = { ...version, labels: [...new Set(labels)] };
        }
        meta = { ...meta, versions };
      }
      return this.#commitVersion(config, meta, value, options.labels ?? [], options.id);
    });
  }

  /**
   * Writes a new version computed from the current one (Vault PATCH). The secret and its
   * current version must exist and be readable; check-and-set applies as for writeVersion.
   */
  async writeDerivedVersion(
    key: string,
    derive: (current: JsonObject) => JsonObject,
    options: WriteVersionOptions = {},
  ): Promise<DerivedWrite> {
    validateKey(key);
    options.labels?.forEach(checkLabel);
    return this.#locks.run(key, async (): Promise<DerivedWrite> => {
      const meta = await this.readMeta(key);
      if (meta === undefined) return { outcome: 'missing' };
      const config = await this.readConfig();
      this.#checkCas(config, meta, options.expectedCurrentVersion);
      const version = meta.versions[String(meta.currentVersion)];
      if (version === undefined) return { outcome: 'missing' };
      if (versionStateAt(version, this.#now()) !== 'enabled') {
        return { outcome: 'unreadable', meta, version };
      }
      const current = await getJson<JsonObject>(this.#storage, valueKey(key, version.number));
      if (current === undefined) {
        throw new CofferError('integrity_failure', 'could not find version data');
      }
      const written = await this.#commitVersion(
        config,
        meta,
        derive(current),
        options.labels ?? [],
        options.id,
      );
      return { outcome: 'written', ...written };
    });
  }

  #checkCas(config: StoreConfig, meta: SecretMeta, expected: number | undefined): void {
    if (expected === undefined) {
      if (config.casRequired || meta.casRequired) {
        throw new CofferError('invalid_request', 'check-and-set parameter required for this call', {
          field: 'cas',
        });
      }
      return;
    }
    if (expected !== meta.currentVersion) {
      throw new CofferError(
        'cas_mismatch',
        'check-and-set parameter did not match the current version',
        { field: 'cas' },
      );
    }
  }

  async #commitVersion(
    config: StoreConfig,
    meta: SecretMeta,
    value: JsonObject,
    labels: readonly string[],
    id: string | undefined,
  ): Promise<WrittenVersion> {
    const now = this.#now();
    const number = meta.currentVersion + 1;
    const deletedAt = scheduledDeletion(now, config, meta);
    const version: VersionRecord = {
      number,
      id: id ?? this.#newId(),
      createdAt: now,
      state: 'enabled',
      ...(deletedAt === undefined ? {} : { deletedAt }),
      labels: [...new Set(labels)],
    };
    const versions = withoutLabels(meta.versions, labels);
    versions[String(number)] = version;
    const ops: StorageOp[] = [
      { op: 'put', key: valueKey(meta.key, number), value: encodeJson(value) },
    ];

    // Vault's sliding window: oldest_version stays 0 until the first trim.
    let oldestVersion = meta.oldestVersion;
    const limit = Math.max(meta.maxVersions, config.maxVersions) || DEFAULT_MAX_VERSIONS;
    if (this.#trim === 'unlabelled') {
      const kept = Object.values(versions).sort((a, b) => a.number - b.number);
      let excess = kept.length - limit;
      for (const v of kept) {
        if (excess <= 0) break;
        if (v.labels.length > 0) continue;
        Reflect.deleteProperty(versions, String(v.number));
        ops.push({ op: 'delete', key: valueKey(meta.key, v.number) });
        excess--;
      }
    } else if (number - oldestVersion >= limit) {
      const cut = number - limit;
      for (const n of Object.keys(versions)) {
        if (Number(n) <= cut) {
          Reflect.deleteProperty(versions, n);
          ops.push({ op: 'delete', key: valueKey(meta.key, Number(n)) });
        }
      }
      oldestVersion = cut + 1;
    }
    const next: SecretMeta = {
      ...meta,
      currentVersion: number,
      oldestVersion,
      updatedAt: now,
      versions,
    };
    ops.push({ op: 'put', key: metaKey(meta.key), value: encodeJson(next) });
    await this.#storage.batch(ops);
    return { meta: next, version };
  }

  /**
   * Runs `change` on the secret's version table under the key's lock and commits the result
   * with any value deletions in one batch. Undefined when the secret does not exist.
   */
  async #changeVersions(
    key: string,
    change: (meta: SecretMeta, now: number) => VersionsChange | undefined,
  ): Promise<SecretMeta | undefined> {
    validateKey(key);
    return this.#locks.run(key, async () => {
      const meta = await this.readMeta(key);
      if (meta === undefined) return undefined;
      const result = change(meta, this.#now());
      if (result === undefined) return meta;
      const next: SecretMeta = { ...meta, versions: result.versions };
      await this.#storage.batch([
        ...result.ops,
        { op: 'put', key: metaKey(key), value: encodeJson(next) },
      ]);
      return next;
    });
  }

  /**
   * Soft-deletes versions (or the current one): they keep their value but read as deleted.
   * Versions that are missing, destroyed or already deleted are left alone.
   */
  async softDelete(
    key: string,
    versions: readonly number[] | 'latest',
  ): Promise<SecretMeta | undefined> {
    return this.#changeVersions(key, (meta, now) => {
      const numbers = versions === 'latest' ? [meta.currentVersion] : versions;
      return updateEach(meta, numbers, (v) => {
        const state = versionStateAt(v, now);
        if (state === 'destroyed' || state === 'deleted') return undefined;
        return { ...v, state: 'deleted', deletedAt: now };
      });
    });
  }

  /** Restores soft-deleted versions and cancels scheduled deletions; destroyed stay destroyed. */
  async undelete(key: string, versions: readonly number[]): Promise<SecretMeta | undefined> {
    return this.#changeVersions(key, (meta) =>
      updateEach(meta, versions, (v) => {
        if (v.state === 'destroyed') return undefined;
        if (v.state !== 'deleted' && v.deletedAt === undefined) return undefined;
        const next: Mutable<VersionRecord> = {
          ...v,
          state: v.state === 'deleted' ? 'enabled' : v.state,
        };
        delete next.deletedAt;
        return next;
      }),
    );
  }

  /** Permanently removes the values of versions; their records stay, marked destroyed. */
  async destroy(key: string, versions: readonly number[]): Promise<SecretMeta | undefined> {
    return this.#changeVersions(key, (meta) => {
      const change = updateEach(meta, versions, (v) =>
        v.state === 'destroyed' ? undefined : { ...v, state: 'destroyed' },
      );
      if (change === undefined) return undefined;
      for (const n of versions) {
        if (change.versions[String(n)]?.state === 'destroyed') {
          change.ops.push({ op: 'delete', key: valueKey(key, n) });
        }
      }
      return change;
    });
  }

  /** Disables or re-enables versions (GCP); deleted and destroyed versions are left alone. */
  async setDisabled(
    key: string,
    versions: readonly number[],
    disabled: boolean,
  ): Promise<SecretMeta | undefined> {
    const from: VersionState = disabled ? 'enabled' : 'disabled';
    const to: VersionState = disabled ? 'disabled' : 'enabled';
    return this.#changeVersions(key, (meta, now) =>
      updateEach(meta, versions, (v) =>
        versionStateAt(v, now) === from ? { ...v, state: to } : undefined,
      ),
    );
  }

  /**
   * Sets the states of some versions (by number) and applies a secret-level patch in one
   * locked batch (GCP: enable/disable/destroy with the door's per-version attributes). A
   * version moving to 'destroyed' loses its value in the same batch. `change` sees the current
   * metadata and may throw to refuse (a state transition the door forbids, an etag mismatch);
   * it returns undefined to change nothing. Undefined when the secret does not exist.
   */
  async changeStates(
    key: string,
    change: (
      meta: SecretMeta,
      now: number,
    ) =>
      | {
          readonly states: Readonly<Record<string, VersionState>>;
          readonly patch?: MetaPatch;
        }
      | undefined,
  ): Promise<SecretMeta | undefined> {
    validateKey(key);
    return this.#locks.run(key, async () => {
      const meta = await this.readMeta(key);
      if (meta === undefined) return undefined;
      const result = change(meta, this.#now());
      if (result === undefined) return meta;
      const versions: Record<string, VersionRecord> = { ...meta.versions };
      const ops: StorageOp[] = [];
      for (const [n, state] of Object.entries(result.states)) {
        const version = versions[n];
        if (version === undefined) {
          throw new CofferError('not_found', 'version not found', { field: 'version' });
        }
        if (state === 'destroyed' && version.state !== 'destroyed') {
          ops.push({ op: 'delete', key: valueKey(key, version.number) });
        }
        versions[n] = { ...version, state };
      }
      const next = applyMetaPatch({ ...meta, versions }, result.patch ?? {});
      ops.push({ op: 'put', key: metaKey(key), value: encodeJson(next) });
      await this.#storage.batch(ops);
      return next;
    });
  }

  /**
   * Moves `label` onto version `toVersion` (taking it off any other), or removes it everywhere
   * when `toVersion` is undefined. Throws not_found when the secret or the version is missing.
   */
  async moveLabel(key: string, label: string, toVersion: number | undefined): Promise<SecretMeta> {
    checkLabel(label);
    const result = await this.#changeVersions(key, (meta) => {
      const versions = withoutLabels(meta.versions, [label]);
      if (toVersion !== undefined) {
        const target = versions[String(toVersion)];
        if (target === undefined) {
          throw new CofferError('not_found', 'version not found', { field: 'version' });
        }
        versions[String(toVersion)] = { ...target, labels: [...target.labels, label] };
      }
      return { versions, ops: [] };
    });
    if (result === undefined) throw new CofferError('not_found', 'secret not found');
    return result;
  }

  /**
   * Changes secret-level settings. `patch` may be computed from the current metadata (it runs
   * under the key's lock). Creates the secret (with no version) when `createIfMissing`;
   * otherwise returns undefined for a missing secret.
   */
  async updateMeta(
    key: string,
    patch: MetaPatch | ((current: SecretMeta) => MetaPatch),
    options: { readonly createIfMissing: boolean },
  ): Promise<SecretMeta | undefined> {
    validateKey(key);
    return this.#locks.run(key, async () => {
      const existing = await this.readMeta(key);
      if (existing === undefined && !options.createIfMissing) return undefined;
      const meta = existing ?? freshMeta(key, this.#now());
      const next = applyMetaPatch(meta, typeof patch === 'function' ? patch(meta) : patch);
      await this.#storage.put(metaKey(key), encodeJson(next));
      return next;
    });
  }

  /** Removes the secret, its metadata and every version, in one batch. False if missing. */
  async deleteAll(key: string): Promise<boolean> {
    validateKey(key);
    return this.#locks.run(key, async () => {
      const meta = await this.readMeta(key);
      if (meta === undefined) return false;
      const ops: StorageOp[] = Object.values(meta.versions).map((v) => ({
        op: 'delete',
        key: valueKey(key, v.number),
      }));
      ops.push({ op: 'delete', key: metaKey(key) });
      await this.#storage.batch(ops);
      return true;
    });
  }

  /**
   * Replaces the labels of some versions (by number) and applies a secret-level patch, in one
   * locked batch. `change` sees the current metadata and returns the new label lists of the
   * versions it changes, or undefined to change nothing. It may throw to refuse (e.g. a label
   * that is not where the caller said). Undefined when the secret does not exist.
   */
  async changeLabels(
    key: string,
    change: (
      meta: SecretMeta,
      now: number,
    ) =>
      | { readonly labels: Readonly<Record<string, readonly string[]>>; readonly patch?: MetaPatch }
      | undefined,
  ): Promise<SecretMeta | undefined> {
    validateKey(key);
    return this.#locks.run(key, async () => {
      const meta = await this.readMeta(key);
      if (meta === undefined) return undefined;
      const result = change(meta, this.#now());
      if (result === undefined) return meta;
      const versions: Record<string, VersionRecord> = { ...meta.versions };
      for (const [n, labels] of Object.entries(result.labels)) {
        const version = versions[n];
        if (version === undefined) {
          throw new CofferError('not_found', 'version not found', { field: 'version' });
        }
        labels.forEach(checkLabel);
        versions[n] = { ...version, labels: [...new Set(labels)] };
      }
      const seen = new Set<string>();
      for (const v of Object.values(versions)) {
        for (const label of v.labels) {
          if (seen.has(label))
            throw new CofferError('internal', 'a label would be on two versions');
          seen.add(label);
        }
      }
      const next = applyMetaPatch({ ...meta, versions }, result.patch ?? {});
      await this.#storage.put(metaKey(key), encodeJson(next));
      return next;
    });
  }

  /**
   * Every secret key under a folder ('' or ending in '/'), at any depth, sorted. One storage
   * list per folder: for a door's "list all secrets", not for hot paths.
   */
  async listKeys(folder: string): Promise<string[]> {
    validateFolder(folder);
    const out: string[] = [];
    const pending = [folder];
    while (pending.length > 0) {
      const current = pending.pop()!;
      for (const child of await this.#storage.list(`${STORE_KEYS.metaPrefix}${current}`)) {
        if (child.endsWith('/')) pending.push(`${current}${child}`);
        else out.push(`${current}${child}`);
      }
    }
    return out.sort();
  }

  /** Direct children of a folder ('' or ending in '/'): secret names and 'sub/' folders. */
  async listChildren(folder: string): Promise<string[]> {
    validateFolder(folder);
    return this.#storage.list(`${STORE_KEYS.metaPrefix}${folder}`);
  }
}

/** Applies `update` to each listed version that exists; undefined when nothing changed. */
function updateEach(
  meta: SecretMeta,
  numbers: readonly number[],
  update: (version: VersionRecord) => VersionRecord | undefined,
): VersionsChange | undefined {
  const versions: Record<string, VersionRecord> = { ...meta.versions };
  let changed = false;
  for (const n of new Set(numbers)) {
    const current = versions[String(n)];
    if (current === undefined) continue;
    const next = update(current);
    if (next === undefined) continue;
    versions[String(n)] = next;
    changed = true;
  }
  return changed ? { versions, ops: [] } : undefined;
}
