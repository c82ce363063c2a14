// ReplicateSecretToRegions, RemoveRegionsFromReplication, StopReplicationToReplica. A region
// is a namespace of the one store, so a replica is a read-only copy of the primary under the
// replica region's key, rewritten from the primary after every change (kept InSync).
import type { JsonObject } from '../../sdk/json.js';
import {
  ATTRS,
  attrsOf,
  awsError,
  checkRegion,
  describeJson,
  nameOfKey,
  optBool,
  optList,
  optString,
  requireLive,
  requirePrimary,
  requireSecret,
  storeKey,
  toJson,
  without,
  KMS_LIMITS,
  type ActionEnv,
  type AwsAttributes,
  type Input,
  type ReplicaState,
  type SecretRef,
} from './common.js';

/** Rewrites the replica of `primaryKey` in `region` from the primary: versions, labels, tags. */
export async function syncReplica(
  env: ActionEnv,
  primaryKey: string,
  name: string,
  replica: ReplicaState,
  primaryRegion: string,
): Promise<void> {
  const primary = await env.store.readMeta(primaryKey);
  const attrs = primary === undefined ? undefined : attrsOf(primary);
  if (primary === undefined || attrs === undefined) return;
  const key = storeKey(replica.Region, name);
  await env.store.deleteAll(key);
  const replicaAttrs: AwsAttributes = {
    arnSuffix: attrs.arnSuffix,
    lastChangedAt: attrs.lastChangedAt,
    primaryRegion,
    ...(replica.KmsKeyId === undefined ? {} : { kmsKeyId: replica.KmsKeyId }),
    ...(attrs.type === undefined ? {} : { type: attrs.type }),
  };
  await env.store.updateMeta(
    key,
    {
      description: primary.description,
      tags: { ...primary.tags },
      maxVersions: 100,
      attributes: { [ATTRS]: toJson(replicaAttrs) },
    },
    { createIfMissing: true },
  );
  const versions = Object.values(primary.versions).sort((a, b) => a.number - b.number);
  for (const v of versions) {
    if (v.state === 'destroyed') continue;
    const read = await env.store.readVersion(primaryKey, v.number);
    if (read?.value === undefined) continue;
    await env.store.writeVersion(key, read.value, { id: v.id, labels: [...v.labels] });
  }
}

/** Brings every replica of a primary in sync (after a write on the primary). */
export async function syncReplicas(env: ActionEnv, primaryKey: string): Promise<void> {
  const meta = await env.store.readMeta(primaryKey);
  const attrs = meta === undefined ? undefined : attrsOf(meta);
  if (attrs?.replicas === undefined || attrs.replicas.length === 0) return;
  const region = primaryKey.slice(0, primaryKey.indexOf('/'));
  const name = primaryKey.slice(region.length + 1);
  for (const replica of attrs.replicas) {
    await syncReplica(env, primaryKey, nameOfKey(name), replica, region);
  }
}

function regionList(input: Input): { Region: string; KmsKeyId?: string }[] {
  const list = optList(input, 'AddReplicaRegions', 1, 50);
  if (list === undefined) {
    throw awsError(
      'ValidationException',
      "1 validation error detected: Value at 'addReplicaRegions' failed to satisfy constraint: Member must not be null",
      'AddReplicaRegions',
    );
  }
  return list.map((item) => {
    const r = (item ?? {}) as Input;
    const Region = optString(r, 'Region', { min: 1, max: 128 });
    if (Region === undefined)
      throw awsError('InvalidParameterException', 'Region is required.', 'AddReplicaRegions');
    checkRegion(Region, 'addReplicaRegions.region');
    const KmsKeyId = optString(r, 'KmsKeyId', KMS_LIMITS);
    return { Region, ...(KmsKeyId === undefined ? {} : { KmsKeyId }) };
  });
}

export async function replicateSecretToRegions(
  env: ActionEnv,
  ref: SecretRef,
): Promise<JsonObject> {
  const wanted = regionList(env.input);
  const overwrite = optBool(env.input, 'ForceOverwriteReplicaSecret') ?? false;
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    requirePrimary(found);
    const replicas: ReplicaState[] = [...(found.attrs.replicas ?? [])];
    for (const r of wanted) {
      if (r.Region === ref.region) {
        throw awsError(
          'InvalidParameterException',
          'A secret cannot be replicated to its own region.',
          'AddReplicaRegions',
        );
      }
      if (replicas.some((x) => x.Region === r.Region)) continue;
      const existing = await env.store.readMeta(storeKey(r.Region, ref.name));
      const status: ReplicaState =
        existing !== undefined && !overwrite
          ? {
              Region: r.Region,
              ...(r.KmsKeyId === undefined ? {} : { KmsKeyId: r.KmsKeyId }),
              Status: 'Failed',
              StatusMessage:
                'Replication failed: Secret name already exists in region. Use ForceOverwriteReplicaSecret to overwrite it.',
            }
          : {
              Region: r.Region,
              ...(r.KmsKeyId === undefined ? {} : { KmsKeyId: r.KmsKeyId }),
              Status: 'InSync',
            };
      if (status.Status === 'InSync')
        await syncReplica(env, found.key, ref.name, status, ref.region);
      replicas.push(status);
    }
    const updated = await env.store.updateMeta(
      found.key,
      (meta) => ({ attributes: { [ATTRS]: toJson({ ...attrsOf(meta)!, replicas }) } }),
      { createIfMissing: false },
    );
    return {
      ARN: found.arn,
      ReplicationStatus: replicas.map((r) => ({ ...r })),
      ...(updated === undefined ? {} : {}),
    };
  });
}

export async function removeRegionsFromReplication(
  env: ActionEnv,
  ref: SecretRef,
): Promise<JsonObject> {
  const regions = optList(env.input, 'RemoveReplicaRegions', 1, 50);
  if (regions === undefined) {
    throw awsError(
      'ValidationException',
      "1 validation error detected: Value at 'removeReplicaRegions' failed to satisfy constraint: Member must not be null",
      'RemoveReplicaRegions',
    );
  }
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requirePrimary(found);
    const drop = new Set(regions.map(String));
    for (const region of drop) {
      const replica = found.attrs.replicas?.find((r) => r.Region === region);
      if (replica?.Status === 'InSync') await env.store.deleteAll(storeKey(region, ref.name));
    }
    const replicas = (found.attrs.replicas ?? []).filter((r) => !drop.has(r.Region));
    await env.store.updateMeta(
      found.key,
      (meta) => ({ attributes: { [ATTRS]: toJson({ ...attrsOf(meta)!, replicas }) } }),
      { createIfMissing: false },
    );
    return { ARN: found.arn, ReplicationStatus: replicas.map((r) => ({ ...r })) };
  });
}

/** Called in the replica's region: the replica becomes a standalone (writable) secret. */
export async function stopReplicationToReplica(
  env: ActionEnv,
  ref: SecretRef,
): Promise<JsonObject> {
  const found = await requireSecret(env, ref);
  const primaryRegion = found.attrs.primaryRegion;
  if (primaryRegion === undefined) {
    throw awsError('InvalidRequestException', 'The secret is not a replica.');
  }
  const primaryKey = storeKey(primaryRegion, ref.name);
  await env.locked(primaryKey, async () => {
    await env.store.updateMeta(
      primaryKey,
      (meta) => {
        const attrs = attrsOf(meta);
        if (attrs === undefined) return {};
        const replicas = (attrs.replicas ?? []).filter((r) => r.Region !== ref.region);
        return { attributes: { [ATTRS]: toJson({ ...attrs, replicas }) } };
      },
      { createIfMissing: false },
    );
  });
  await env.store.updateMeta(
    found.key,
    (meta) => {
      const rest = without(attrsOf(meta)!, 'primaryRegion');
      return { attributes: { [ATTRS]: toJson(rest) } };
    },
    { createIfMissing: false },
  );
  return { ARN: found.arn };
}

export { describeJson };
