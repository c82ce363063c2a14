// Secret-level methods: CreateSecret, GetSecret, UpdateSecret (updateMask, etag), DeleteSecret
// (etag) and ListSecrets (filter, paging), and the Secret resource in proto3 JSON. Google's
// fields map onto the shared versioned model as docs/engines/gcp-sm.md describes: labels →
// tags, annotations → customMetadata, expireTime → expiresAt, versionAliases → version
// labels, and the rest (etag, replication, topics, rotation, versionDestroyTtl, per-version
// etags and checksums) → attributes.gcp.
import type { JsonObject } from '../../sdk/json.js';
import type { MetaPatch, SecretMeta } from '../../sdk/versioned-store.js';
import {
  ALIAS_PATTERN,
  attrsPatch,
  checkEtag,
  field,
  gcpAttrs,
  gcpError,
  invalidArgument,
  isJsonObject,
  newEtag,
  parseDuration,
  parseInt64,
  parseStringMap,
  parseTimestamp,
  secretName,
  storeFolder,
  storeKey,
  timestamp,
  type GcpAttrs,
  type Out,
  type Parent,
  type SecretRef,
} from './common.js';
import type { GcpEvent, MethodEnv } from './env.js';
import { compileFilter } from './filter.js';
import { iamKey } from './iam.js';

/** GCP keeps every version; the shared model trims beyond this (documented limit). */
export const GCP_MAX_VERSIONS = 100_000;
const MAX_PAGE_SIZE = 25_000;
const YEAR_SECONDS = 100 * 365 * 24 * 3600;

const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const ANNOTATION_KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const TOPIC = /^projects\/[^/]+\/topics\/[^/]+$/;

export function notFoundSecret(ref: SecretRef): Error {
  return gcpError('NOT_FOUND', `Secret [${secretName(ref)}] not found.`);
}

export async function readSecret(env: MethodEnv, ref: SecretRef): Promise<SecretMeta> {
  const meta = await env.store.readMeta(storeKey(ref));
  if (meta === undefined || isExpired(meta, env.now)) throw notFoundSecret(ref);
  return meta;
}

/** A secret whose expireTime has passed reads as gone even before its job deletes it. */
export function isExpired(meta: SecretMeta, now: number): boolean {
  return meta.expiresAt !== undefined && meta.expiresAt <= now;
}

// ---- Input checks ----

function parseLabels(value: unknown): Record<string, string> {
  const labels = parseStringMap(value, 'labels');
  const entries = Object.entries(labels);
  if (entries.length > 64) throw invalidArgument('labels', 'must have at most 64 entries');
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k) || Buffer.byteLength(k) > 128) {
      throw invalidArgument(
        'labels',
        'keys must start with a lowercase letter and hold lowercase letters, digits, _ and - (≤63)',
      );
    }
    if (!LABEL_VALUE.test(v) || Buffer.byteLength(v) > 128) {
      throw invalidArgument(`labels.${k}`, 'must hold lowercase letters, digits, _ and - (≤63)');
    }
  }
  return labels;
}

function parseAnnotations(value: unknown): Record<string, string> {
  const annotations = parseStringMap(value, 'annotations');
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) {
    if (!ANNOTATION_KEY.test(k)) {
      throw invalidArgument(
        'annotations',
        'keys must be 1-63 characters, alphanumeric at both ends, with -, _ or . inside',
      );
    }
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size >= 16 * 1024) {
    throw invalidArgument('annotations', 'keys and values together must be under 16 KiB');
  }
  return annotations;
}

function parseTopics(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 10) {
    throw invalidArgument('topics', 'must be a list of at most 10 topics');
  }
  return value.map((t, i) => {
    const name = isJsonObject(t) ? t['name'] : undefined;
    if (typeof name !== 'string' || !TOPIC.test(name)) {
      throw invalidArgument(`topics[${i}].name`, 'must be projects/*/topics/*');
    }
    return name;
  });
}

function parseRotation(value: unknown, now: number): GcpAttrs['rotation'] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) throw invalidArgument('rotation', 'must be an object');
  const next = field(value, 'nextRotationTime');
  const period = field(value, 'rotationPeriod');
  if (next === undefined) {
    if (period !== undefined) {
      throw invalidArgument('rotation.rotationPeriod', 'requires rotation.nextRotationTime');
    }
    return undefined;
  }
  const nextAt = parseTimestamp(next, 'rotation.nextRotationTime');
  if (nextAt < now + 300_000 || nextAt > now + YEAR_SECONDS * 1000) {
    throw invalidArgument(
      'rotation.nextRotationTime',
      'must be at least 5 minutes and at most 100 years in the future',
    );
  }
  if (period === undefined) return { nextRotationTime: nextAt };
  const seconds = parseDuration(period, 'rotation.rotationPeriod');
  if (seconds < 3600 || seconds > YEAR_SECONDS) {
    throw invalidArgument('rotation.rotationPeriod', 'must be between 3600s and 100 years');
  }
  return { nextRotationTime: nextAt, rotationPeriodSeconds: seconds };
}

/** expireTime or ttl (a oneof): the epoch ms, null to clear, undefined when neither given. */
function parseExpiry(secret: Readonly<Record<string, unknown>>, now: number): number | null {
  const expire = field(secret, 'expireTime');
  const ttl = secret['ttl'];
  if (expire !== undefined && expire !== null && ttl !== undefined && ttl !== null) {
    throw invalidArgument('ttl', 'only one of expireTime and ttl may be set');
  }
  if (ttl !== undefined && ttl !== null) {
    const seconds = parseDuration(ttl, 'ttl');
    if (seconds < 60) throw invalidArgument('ttl', 'must be at least 60s');
    return now + seconds * 1000;
  }
  if (expire !== undefined && expire !== null) {
    const at = parseTimestamp(expire, 'expireTime');
    if (at <= now + 60_000)
      throw invalidArgument('expireTime', 'must be at least 60s in the future');
    return at;
  }
  return null;
}

function parseDestroyTtl(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return parseDuration(value, 'versionDestroyTtl');
}

function parseReplication(value: unknown, parent: Parent): JsonObject {
  if (parent.location !== undefined) {
    if (
      value !== undefined &&
      value !== null &&
      !(isJsonObject(value) && Object.keys(value).length === 0)
    ) {
      throw invalidArgument('replication', 'must not be set on a regional secret');
    }
    return {};
  }
  if (!isJsonObject(value)) {
    throw invalidArgument(
      'replication',
      'is required: {"automatic": {}} or {"userManaged": {...}}',
    );
  }
  const automatic = value['automatic'];
  const user = field(value, 'userManaged');
  if ((automatic === undefined) === (user === undefined)) {
    throw invalidArgument('replication', 'must set exactly one of automatic and userManaged');
  }
  if (automatic !== undefined) return { automatic: {} };
  const replicas = isJsonObject(user) ? user['replicas'] : undefined;
  if (!Array.isArray(replicas) || replicas.length === 0) {
    throw invalidArgument('replication.userManaged.replicas', 'must list at least one location');
  }
  const locations = replicas.map((r, i) => {
    const l = isJsonObject(r) ? r['location'] : undefined;
    if (typeof l !== 'string' || !/^[a-z][a-z0-9-]{0,62}$/.test(l)) {
      throw invalidArgument(
        `replication.userManaged.replicas[${i}].location`,
        'must be a location',
      );
    }
    return { location: l };
  });
  return { userManaged: { replicas: locations } };
}

/** versionAliases: alias → an existing version number. */
function parseAliases(value: unknown, meta: SecretMeta | undefined): Record<string, number> {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw invalidArgument('versionAliases', 'must be an object');
  const entries = Object.entries(value);
  if (entries.length > 50) throw invalidArgument('versionAliases', 'must have at most 50 entries');
  const out: Record<string, number> = {};
  for (const [alias, v] of entries) {
    if (!ALIAS_PATTERN.test(alias) || alias === 'latest' || alias === 'NEW') {
      throw invalidArgument(
        'versionAliases',
        'aliases must start with a letter, hold letters, digits, _ and - (≤63), and not be latest or NEW',
      );
    }
    const n = parseInt64(v, `versionAliases.${alias}`)!;
    if (meta?.versions[String(n)] === undefined) {
      throw invalidArgument(`versionAliases.${alias}`, 'must name an existing version');
    }
    out[alias] = n;
  }
  return out;
}

// ---- Rendering ----

export function aliasesOf(meta: SecretMeta): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of Object.values(meta.versions)) for (const l of v.labels) out[l] = String(v.number);
  return out;
}

export function renderSecret(ref: SecretRef, meta: SecretMeta): Out {
  const attrs = gcpAttrs(meta);
  const aliases = aliasesOf(meta);
  const out: Out = { name: secretName(ref) };
  if (ref.location === undefined) out['replication'] = attrs.replication;
  out['createTime'] = timestamp(meta.createdAt);
  if (Object.keys(meta.tags).length > 0) out['labels'] = { ...meta.tags };
  if (attrs.topics.length > 0) out['topics'] = attrs.topics.map((name) => ({ name }));
  if (meta.expiresAt !== undefined) out['expireTime'] = timestamp(meta.expiresAt);
  out['etag'] = attrs.etag;
  if (attrs.rotation !== undefined) {
    out['rotation'] = {
      nextRotationTime: timestamp(attrs.rotation.nextRotationTime),
      ...(attrs.rotation.rotationPeriodSeconds === undefined
        ? {}
        : { rotationPeriod: `${attrs.rotation.rotationPeriodSeconds}s` }),
    };
  }
  if (Object.keys(aliases).length > 0) out['versionAliases'] = aliases;
  if (Object.keys(meta.customMetadata).length > 0) out['annotations'] = { ...meta.customMetadata };
  if (attrs.versionDestroyTtlSeconds > 0) {
    out['versionDestroyTtl'] = `${attrs.versionDestroyTtlSeconds}s`;
  }
  return out;
}

// ---- Methods ----

function secretInput(env: MethodEnv): Readonly<Record<string, unknown>> {
  const secret = env.input['secret'];
  if (secret === undefined || secret === null) return {};
  if (!isJsonObject(secret)) throw invalidArgument('secret', 'must be an object');
  return secret;
}

export async function createSecret(env: MethodEnv, ref: SecretRef): Promise<Out> {
  const secret = secretInput(env);
  if (ref.location !== undefined && !env.locations.includes(ref.location)) {
    throw invalidArgument('parent', 'names a location this Coffer mount does not serve');
  }
  const labels = parseLabels(secret['labels']);
  const annotations = parseAnnotations(secret['annotations']);
  const topics = parseTopics(secret['topics']);
  const rotation = parseRotation(secret['rotation'], env.now);
  if (rotation !== undefined && topics.length === 0) {
    throw invalidArgument('topics', 'a secret with rotation must have at least one topic');
  }
  const expiresAt = parseExpiry(secret, env.now);
  const destroyTtl = parseDestroyTtl(field(secret, 'versionDestroyTtl'));
  const replication = parseReplication(secret['replication'], ref);
  parseAliases(field(secret, 'versionAliases'), undefined);
  const tags = parseStringMap(secret['tags'], 'tags');
  const attrs: GcpAttrs = {
    etag: newEtag(),
    replication,
    topics,
    versionDestroyTtlSeconds: destroyTtl,
    ...(rotation === undefined ? {} : { rotation }),
    ...(Object.keys(tags).length === 0 ? {} : { tags }),
    versions: {},
  };
  const key = storeKey(ref);
  const previous = await env.store.readMeta(key);
  // An expired secret's job may not have run yet: it is gone, so its name is free.
  if (previous !== undefined && isExpired(previous, env.now)) await env.store.deleteAll(key);
  let created = false;
  const meta = await env.store.updateMeta(
    key,
    (current) => {
      if (current.currentVersion !== 0 || current.attributes?.['gcp'] !== undefined) {
        if (!isExpired(current, env.now)) {
          throw gcpError('ALREADY_EXISTS', `Secret [${secretName(ref)}] already exists.`);
        }
      }
      created = true;
      return {
        maxVersions: GCP_MAX_VERSIONS,
        tags: labels,
        customMetadata: annotations,
        expiresAt,
        attributes: attrsPatch(attrs),
      };
    },
    { createIfMissing: true },
  );
  if (!created || meta === undefined) throw gcpError('INTERNAL', 'internal error');
  const events: GcpEvent[] = [{ type: 'SECRET_CREATE', secretId: secretName(ref) }];
  if (topics.length > 0) events.push({ type: 'TOPIC_CONFIGURED', secretId: secretName(ref) });
  await env.afterChange(key, events);
  return renderSecret(ref, meta);
}

export async function getSecret(env: MethodEnv, ref: SecretRef): Promise<Out> {
  return renderSecret(ref, await readSecret(env, ref));
}

/** The updateMask paths UpdateSecret accepts, snake_case. */
const MUTABLE = new Set([
  'labels',
  'annotations',
  'topics',
  'rotation',
  'rotation.next_rotation_time',
  'rotation.rotation_period',
  'expire_time',
  'ttl',
  'version_aliases',
  'version_destroy_ttl',
  'etag',
]);

function parseMask(value: unknown): string[] {
  const raw =
    typeof value === 'string'
      ? value.split(',')
      : isJsonObject(value) && Array.isArray(value['paths'])
        ? value['paths']
        : undefined;
  if (raw === undefined) throw invalidArgument('updateMask', 'is required');
  const paths = raw
    .map((p) => (typeof p === 'string' ? p.trim() : ''))
    .filter((p) => p !== '')
    .map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  if (paths.length === 0) throw invalidArgument('updateMask', 'is required');
  for (const p of paths) {
    if (!MUTABLE.has(p)) {
      throw invalidArgument(
        'updateMask',
        `names a field that cannot be updated (${p.slice(0, 64)})`,
      );
    }
  }
  return paths;
}

export async function updateSecret(env: MethodEnv, ref: SecretRef): Promise<Out> {
  const secret = secretInput(env);
  const mask = new Set(parseMask(field(env.input, 'updateMask')));
  const has = (p: string) => mask.has(p);
  const key = storeKey(ref);
  const labels = has('labels') ? parseLabels(secret['labels']) : undefined;
  const annotations = has('annotations') ? parseAnnotations(secret['annotations']) : undefined;
  const topics = has('topics') ? parseTopics(secret['topics']) : undefined;
  const rotationMasked =
    has('rotation') || has('rotation.next_rotation_time') || has('rotation.rotation_period');
  const rotation = rotationMasked ? parseRotation(secret['rotation'], env.now) : undefined;
  const expiry = has('expire_time') || has('ttl') ? parseExpiry(secret, env.now) : undefined;
  const destroyTtl = has('version_destroy_ttl')
    ? parseDestroyTtl(field(secret, 'versionDestroyTtl'))
    : undefined;
  const events: GcpEvent[] = [{ type: 'SECRET_UPDATE', secretId: secretName(ref) }];
  const meta = await env.store.changeLabels(key, (current) => {
    if (isExpired(current, env.now)) throw notFoundSecret(ref);
    const attrs = gcpAttrs(current);
    checkEtag(secret['etag'], attrs.etag);
    const nextTopics = topics ?? attrs.topics;
    const nextRotation = rotationMasked ? rotation : attrs.rotation;
    if (nextRotation !== undefined && nextTopics.length === 0) {
      throw invalidArgument('topics', 'a secret with rotation must have at least one topic');
    }
    if (topics !== undefined && topics.some((t) => !attrs.topics.includes(t))) {
      events.push({ type: 'TOPIC_CONFIGURED', secretId: secretName(ref) });
    }
    const nextAttrs: GcpAttrs = {
      ...attrs,
      etag: newEtag(),
      topics: nextTopics,
      versionDestroyTtlSeconds: destroyTtl ?? attrs.versionDestroyTtlSeconds,
    };
    if (nextRotation === undefined) delete (nextAttrs as { rotation?: unknown }).rotation;
    else (nextAttrs as { rotation?: unknown }).rotation = nextRotation;
    const patch: MetaPatch = {
      ...(labels === undefined ? {} : { tags: labels }),
      ...(annotations === undefined ? {} : { customMetadata: annotations }),
      ...(expiry === undefined ? {} : { expiresAt: expiry }),
      attributes: attrsPatch(nextAttrs),
    };
    if (!has('version_aliases')) return { labels: {}, patch };
    const aliases = parseAliases(field(secret, 'versionAliases'), current);
    const labelsByVersion: Record<string, string[]> = {};
    for (const v of Object.values(current.versions)) {
      if (v.labels.length > 0) labelsByVersion[String(v.number)] = [];
    }
    for (const [alias, n] of Object.entries(aliases)) {
      (labelsByVersion[String(n)] ??= []).push(alias);
    }
    return { labels: labelsByVersion, patch };
  });
  if (meta === undefined) throw notFoundSecret(ref);
  await env.afterChange(key, events);
  return renderSecret(ref, meta);
}

export async function deleteSecret(env: MethodEnv, ref: SecretRef): Promise<Out> {
  const key = storeKey(ref);
  const meta = await readSecret(env, ref);
  checkEtag(env.input['etag'], gcpAttrs(meta).etag);
  await env.store.deleteAll(key);
  await env.storage.delete(iamKey(ref));
  await env.afterChange(key, [{ type: 'SECRET_DELETE', secretId: secretName(ref) }], meta);
  return {};
}

/** Opaque page tokens: the offset into the sorted result, base64url. */
export function pageOf<T>(
  items: readonly T[],
  input: Readonly<Record<string, unknown>>,
): {
  page: T[];
  next?: string;
} {
  const size = parseInt64(field(input, 'pageSize'), 'pageSize') ?? 0;
  if (size < 0) throw invalidArgument('pageSize', 'must not be negative');
  const limit = size === 0 ? MAX_PAGE_SIZE : Math.min(size, MAX_PAGE_SIZE);
  const token = field(input, 'pageToken');
  let offset = 0;
  if (typeof token === 'string' && token !== '') {
    const decoded = /^[A-Za-z0-9_-]{1,32}$/.test(token)
      ? Buffer.from(token, 'base64url').toString('utf8')
      : '';
    if (!/^o[0-9]{1,9}$/.test(decoded)) throw invalidArgument('pageToken', 'is not a valid token');
    offset = Number(decoded.slice(1));
  }
  const page = items.slice(offset, offset + limit);
  const nextOffset = offset + limit;
  return nextOffset < items.length
    ? { page, next: Buffer.from(`o${nextOffset}`).toString('base64url') }
    : { page };
}

export async function listSecrets(env: MethodEnv, parent: Parent): Promise<Out> {
  const filterText = env.input['filter'];
  if (filterText !== undefined && typeof filterText !== 'string') {
    throw invalidArgument('filter', 'must be a string');
  }
  const predicate = compileFilter(filterText ?? '', [
    'name',
    'labels.',
    'annotations.',
    'create_time',
    'topics',
    'expire_time',
  ]);
  const metas: { ref: SecretRef; meta: SecretMeta }[] = [];
  for (const key of await env.store.listKeys(storeFolder(parent))) {
    const meta = await env.store.readMeta(key);
    if (meta === undefined || isExpired(meta, env.now) || meta.attributes?.['gcp'] === undefined) {
      continue;
    }
    metas.push({ ref: { ...parent, secret: key.slice(key.lastIndexOf('/') + 1) }, meta });
  }
  const matching = metas.filter(({ ref, meta }) =>
    predicate((f) => {
      if (f === 'name') return secretName(ref);
      if (f === 'create_time') return meta.createdAt;
      if (f === 'expire_time') return meta.expiresAt;
      if (f === 'topics') return gcpAttrs(meta).topics;
      if (f.startsWith('labels.')) return meta.tags[f.slice(7)];
      if (f.startsWith('annotations.')) return meta.customMetadata[f.slice(12)];
      return undefined;
    }),
  );
  matching.sort(
    (a, b) => b.meta.createdAt - a.meta.createdAt || a.ref.secret.localeCompare(b.ref.secret),
  );
  const { page, next } = pageOf(matching, env.input);
  const out: Out = { secrets: page.map(({ ref, meta }) => renderSecret(ref, meta)) };
  if (next !== undefined) out['nextPageToken'] = next;
  out['totalSize'] = filterText === undefined || filterText === '' ? matching.length : 0;
  return out;
}
