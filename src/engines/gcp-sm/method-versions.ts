// Version methods: AddSecretVersion (64 KiB, CRC32C checked), AccessSecretVersion (by number,
// `latest` or alias; CRC32C returned), GetSecretVersion, ListSecretVersions (filter, paging)
// and the state machine ENABLED ⇄ DISABLED → DESTROYED (with versionDestroyTtl: DISABLED plus
// a scheduled destroy). Versions are the shared model's versions; their etags, checksums and
// destroy times live in attributes.gcp.versions.
import type { SecretMeta, VersionRecord, VersionState } from '../../sdk/versioned-store.js';
import {
  attrsPatch,
  checkEtag,
  gcpAttrs,
  gcpError,
  invalidArgument,
  isJsonObject,
  newEtag,
  parseInt64,
  refFromKey,
  secretName,
  storeKey,
  timestamp,
  type GcpVersionAttrs,
  type Out,
  type SecretRef,
} from './common.js';
import { crc32c } from './crc32c.js';
import type { GcpEvent, MethodEnv } from './env.js';
import { compileFilter } from './filter.js';
import { isExpired, notFoundSecret, pageOf, readSecret } from './method-secrets.js';

export const MAX_PAYLOAD_BYTES = 64 * 1024;

export type VersionRef = SecretRef & { readonly version: string };

const STATE_NAMES: Readonly<Record<VersionState, string>> = {
  enabled: 'ENABLED',
  disabled: 'DISABLED',
  deleted: 'DISABLED',
  destroyed: 'DESTROYED',
};

export function versionName(ref: SecretRef, n: number): string {
  return `${secretName(ref)}/versions/${n}`;
}

/** The version a number, `latest` or an alias names; NOT_FOUND otherwise. */
export function resolveVersion(meta: SecretMeta, ref: VersionRef): VersionRecord {
  let version: VersionRecord | undefined;
  if (ref.version === 'latest') {
    version = meta.versions[String(meta.currentVersion)];
    if (version === undefined) {
      throw gcpError('NOT_FOUND', `Secret [${secretName(ref)}] not found or has no versions.`);
    }
    return version;
  }
  if (/^[0-9]+$/.test(ref.version)) version = meta.versions[ref.version];
  else version = Object.values(meta.versions).find((v) => v.labels.includes(ref.version));
  if (version === undefined) {
    throw gcpError(
      'NOT_FOUND',
      `Secret Version [${secretName(ref)}/versions/${ref.version}] not found.`,
    );
  }
  return version;
}

function versionAttrs(meta: SecretMeta, n: number): GcpVersionAttrs {
  return gcpAttrs(meta).versions[String(n)] ?? { etag: '"0"', crc32c: '0', clientChecksum: false };
}

export function renderVersion(ref: SecretRef, meta: SecretMeta, v: VersionRecord): Out {
  const attrs = versionAttrs(meta, v.number);
  const out: Out = {
    name: versionName(ref, v.number),
    createTime: timestamp(v.createdAt),
    state: STATE_NAMES[v.state],
  };
  if (attrs.destroyTime !== undefined) out['destroyTime'] = timestamp(attrs.destroyTime);
  if (ref.location === undefined) {
    const replication = gcpAttrs(meta).replication;
    out['replicationStatus'] =
      'userManaged' in replication
        ? { userManaged: replication['userManaged'] ?? {} }
        : { automatic: {} };
  }
  out['etag'] = attrs.etag;
  out['clientSpecifiedPayloadChecksum'] = attrs.clientChecksum;
  if (attrs.scheduledDestroyTime !== undefined) {
    out['scheduledDestroyTime'] = timestamp(attrs.scheduledDestroyTime);
  }
  return out;
}

export async function addSecretVersion(env: MethodEnv, ref: SecretRef): Promise<Out> {
  const payload = env.input['payload'];
  if (!isJsonObject(payload)) throw invalidArgument('payload', 'is required');
  const data = payload['data'] ?? '';
  if (typeof data !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(data)) {
    throw invalidArgument('payload.data', 'must be base64');
  }
  const bytes = Buffer.from(
    data,
    data.includes('-') || data.includes('_') ? 'base64url' : 'base64',
  );
  if (bytes.length > MAX_PAYLOAD_BYTES) {
    throw invalidArgument('payload.data', `must be at most ${MAX_PAYLOAD_BYTES} bytes`);
  }
  const crc = crc32c(bytes);
  const given = parseInt64(payload['dataCrc32c'] ?? payload['data_crc32c'], 'payload.dataCrc32c');
  if (given !== undefined && given !== crc) {
    throw invalidArgument('payload.dataCrc32c', 'does not match the CRC32C of payload.data');
  }
  const key = storeKey(ref);
  await readSecret(env, ref);
  const written = await env.store.writeVersion(
    key,
    { data: bytes.toString('base64') },
    {
      metaPatch: (meta) => {
        if (isExpired(meta, env.now) || meta.attributes?.['gcp'] === undefined) {
          throw notFoundSecret(ref);
        }
        const attrs = gcpAttrs(meta);
        const n = meta.currentVersion + 1;
        const entry: GcpVersionAttrs = {
          etag: newEtag(),
          crc32c: String(crc),
          clientChecksum: given !== undefined,
        };
        return {
          attributes: attrsPatch({ ...attrs, versions: { ...attrs.versions, [n]: entry } }),
        };
      },
    },
  );
  await env.afterChange(key, [
    {
      type: 'SECRET_VERSION_ADD',
      secretId: secretName(ref),
      versionId: versionName(ref, written.version.number),
    },
  ]);
  return renderVersion(ref, written.meta, written.version);
}

export async function getSecretVersion(env: MethodEnv, ref: VersionRef): Promise<Out> {
  const meta = await readSecret(env, ref);
  return renderVersion(ref, meta, resolveVersion(meta, ref));
}

export async function accessSecretVersion(env: MethodEnv, ref: VersionRef): Promise<Out> {
  const meta = await readSecret(env, ref);
  const version = resolveVersion(meta, ref);
  if (version.state !== 'enabled') {
    throw gcpError(
      'FAILED_PRECONDITION',
      `Secret Version [${versionName(ref, version.number)}] is in ${STATE_NAMES[version.state]} state.`,
    );
  }
  const read = await env.store.readVersion(storeKey(ref), version.number);
  const data = read?.value?.['data'];
  if (read === undefined || read.state !== 'enabled' || typeof data !== 'string') {
    throw gcpError(
      'FAILED_PRECONDITION',
      `Secret Version [${versionName(ref, version.number)}] is in DESTROYED state.`,
    );
  }
  return {
    name: versionName(ref, version.number),
    payload: { data, dataCrc32c: versionAttrs(read.meta, version.number).crc32c },
  };
}

export async function listSecretVersions(env: MethodEnv, ref: SecretRef): Promise<Out> {
  const meta = await readSecret(env, ref);
  const filterText = env.input['filter'];
  if (filterText !== undefined && typeof filterText !== 'string') {
    throw invalidArgument('filter', 'must be a string');
  }
  const predicate = compileFilter(filterText ?? '', ['name', 'state', 'create_time']);
  const versions = Object.values(meta.versions)
    .filter((v) =>
      predicate((f) => {
        if (f === 'name') return versionName(ref, v.number);
        if (f === 'state') return STATE_NAMES[v.state];
        if (f === 'create_time') return v.createdAt;
        return undefined;
      }),
    )
    .sort((a, b) => b.number - a.number);
  const { page, next } = pageOf(versions, env.input);
  const out: Out = { versions: page.map((v) => renderVersion(ref, meta, v)) };
  if (next !== undefined) out['nextPageToken'] = next;
  out['totalSize'] = filterText === undefined || filterText === '' ? versions.length : 0;
  return out;
}

export type VersionVerb = 'enable' | 'disable' | 'destroy';

/** The job that destroys a version whose destroy was delayed by versionDestroyTtl. */
export function destroyJob(key: string, n: number): string {
  return `destroy/${key}/${n}`;
}

export async function changeVersionState(
  env: MethodEnv,
  ref: VersionRef,
  verb: VersionVerb,
): Promise<Out> {
  const key = storeKey(ref);
  let event: GcpEvent | undefined;
  let scheduledAt: number | undefined;
  let cancelled = false;
  let number = 0;
  const meta = await env.store.changeStates(key, (current, now) => {
    if (isExpired(current, now) || current.attributes?.['gcp'] === undefined) {
      throw notFoundSecret(ref);
    }
    const version = resolveVersion(current, ref);
    number = version.number;
    const attrs = gcpAttrs(current);
    const vAttrs = versionAttrs(current, version.number);
    checkEtag(env.input['etag'], vAttrs.etag);
    if (version.state === 'destroyed') {
      throw gcpError(
        'FAILED_PRECONDITION',
        `Secret Version [${versionName(ref, version.number)}] is in DESTROYED state.`,
      );
    }
    let state: VersionState;
    const next: { -readonly [K in keyof GcpVersionAttrs]: GcpVersionAttrs[K] } = {
      ...vAttrs,
      etag: newEtag(),
    };
    const versionId = versionName(ref, version.number);
    const secretId = secretName(ref);
    if (verb === 'destroy' && attrs.versionDestroyTtlSeconds > 0) {
      state = 'disabled';
      scheduledAt = now + attrs.versionDestroyTtlSeconds * 1000;
      next.scheduledDestroyTime = scheduledAt;
      event = { type: 'SECRET_VERSION_DESTROY_SCHEDULED', secretId, versionId };
    } else if (verb === 'destroy') {
      state = 'destroyed';
      next.destroyTime = now;
      delete next.scheduledDestroyTime;
      cancelled = true;
      event = { type: 'SECRET_VERSION_DESTROY', secretId, versionId };
    } else {
      state = verb === 'enable' ? 'enabled' : 'disabled';
      if (verb === 'enable' && next.scheduledDestroyTime !== undefined) {
        // Enabling a version scheduled for destruction cancels the destruction, as Google does.
        delete next.scheduledDestroyTime;
        cancelled = true;
      }
      event = {
        type: verb === 'enable' ? 'SECRET_VERSION_ENABLE' : 'SECRET_VERSION_DISABLE',
        secretId,
        versionId,
      };
    }
    return {
      states: { [String(version.number)]: state },
      patch: {
        attributes: attrsPatch({
          ...attrs,
          versions: { ...attrs.versions, [String(version.number)]: next },
        }),
      },
    };
  });
  if (meta === undefined) throw notFoundSecret(ref);
  if (scheduledAt !== undefined) await env.ctx.schedule.set(destroyJob(key, number), scheduledAt);
  else if (cancelled) await env.ctx.schedule.cancel(destroyJob(key, number));
  await env.afterChange(key, event === undefined ? [] : [event]);
  return renderVersion(ref, meta, meta.versions[String(number)]!);
}

/** The scheduled destroy of one version (versionDestroyTtl elapsed). Idempotent. */
export async function runScheduledDestroy(
  env: MethodEnv,
  key: string,
  n: number,
): Promise<GcpEvent[]> {
  const ref = refFromKey(key);
  const events: GcpEvent[] = [];
  await env.store.changeStates(key, (meta, now) => {
    const attrs = gcpAttrs(meta);
    const vAttrs = attrs.versions[String(n)];
    const version = meta.versions[String(n)];
    if (version === undefined || vAttrs?.scheduledDestroyTime === undefined) return undefined;
    if (vAttrs.scheduledDestroyTime > now || version.state === 'destroyed') return undefined;
    events.push({
      type: 'SECRET_VERSION_DESTROY',
      secretId: secretName(ref),
      versionId: versionName(ref, n),
    });
    const next: GcpVersionAttrs = {
      etag: newEtag(),
      crc32c: vAttrs.crc32c,
      clientChecksum: vAttrs.clientChecksum,
      destroyTime: now,
    };
    return {
      states: { [String(n)]: 'destroyed' },
      patch: {
        attributes: attrsPatch({ ...attrs, versions: { ...attrs.versions, [String(n)]: next } }),
      },
    };
  });
  return events;
}
