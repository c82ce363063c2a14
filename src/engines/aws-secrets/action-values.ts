// CreateSecret, PutSecretValue, UpdateSecret and GetSecretValue: secret values as versions of
// the shared model, with AWS's staging labels, idempotency tokens and ARNs.
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../../sdk/json.js';
import {
  versionById,
  versionByLabel,
  type MetaPatch,
  type SecretMeta,
} from '../../sdk/versioned-store.js';
import {
  ATTRS,
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  attrsOf,
  awsError,
  checkName,
  clientToken,
  dayOf,
  epochSeconds,
  findSecret,
  invalidParameter,
  KMS_LIMITS,
  newArnSuffix,
  optList,
  optString,
  optStringList,
  requireLive,
  requirePrimary,
  requireSecret,
  requireToken,
  sameValue,
  secretArn,
  secretValue,
  STAGE_LIMITS,
  storeKey,
  toJson,
  type ActionEnv,
  type AwsAttributes,
  type AwsValue,
  type Found,
  type SecretRef,
} from './common.js';
import { checkTags } from './action-metadata.js';
import { requireMayLendAdmin } from './action-policy.js';

function valueJson(value: AwsValue): JsonObject {
  return { ...value };
}

function tokenInUse(token: string, arn: string): Error {
  return awsError(
    'ResourceExistsException',
    `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${arn}.`,
  );
}

/**
 * Writes a new version with `stages` in one batch: each stage leaves the version that held it;
 * if AWSCURRENT moves, the version that had it gets AWSPREVIOUS (taken from wherever it was).
 */
async function writeNewVersion(
  env: ActionEnv,
  found: Found,
  value: AwsValue,
  token: string,
  stages: readonly string[],
  patch: Partial<AwsAttributes>,
): Promise<{ versionId: string; stages: string[] }> {
  const now = env.req.now();
  const labels = [...stages];
  const written = await env.store.writeVersion(found.key, valueJson(value), {
    id: token,
    labels,
    relabel: (meta) => previousMove(meta, labels),
    metaPatch: (meta) => {
      const attrs = attrsOf(meta)!;
      const next: AwsAttributes = { ...attrs, ...patch, lastChangedAt: now };
      if (attrs.pending?.versionId === token) delete (next as { pending?: unknown }).pending;
      return { attributes: { [ATTRS]: toJson(next) } } satisfies MetaPatch;
    },
  });
  return { versionId: written.version.id, stages: [...written.version.labels] };
}

/** When AWSCURRENT moves off a version, AWSPREVIOUS moves onto it. */
export function previousMove(
  meta: SecretMeta,
  newLabels: readonly string[],
): Record<string, string[]> {
  const old = versionByLabel(meta, AWSCURRENT);
  if (old === undefined || !newLabels.includes(AWSCURRENT)) return {};
  const out: Record<string, string[]> = {};
  const prev = versionByLabel(meta, AWSPREVIOUS);
  if (prev !== undefined && prev.number !== old.number) {
    out[String(prev.number)] = prev.labels.filter((l) => l !== AWSPREVIOUS);
  }
  out[String(old.number)] = [...old.labels.filter((l) => l !== AWSPREVIOUS), AWSPREVIOUS];
  return out;
}

/**
 * The idempotent replay of a write whose token names an existing version: the same value is a
 * success without a new version; another value is refused.
 */
async function replay(
  env: ActionEnv,
  found: Found,
  token: string,
  value: AwsValue,
): Promise<{ versionId: string; stages: string[] } | undefined> {
  const version = versionById(found.meta, token);
  if (version === undefined) return undefined;
  const stored = await env.store.readVersion(found.key, version.number);
  if (!sameValue(stored?.value, value)) throw tokenInUse(token, found.arn);
  return { versionId: version.id, stages: [...version.labels] };
}

export async function createSecret(env: ActionEnv): Promise<JsonObject> {
  const { input, region } = env;
  const name = optString(input, 'Name', { min: 1, max: 512 });
  if (name === undefined)
    throw awsError(
      'ValidationException',
      "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must not be null",
      'Name',
    );
  checkName(name);
  const value = secretValue(input);
  const token = clientToken(input);
  if (value !== undefined) requireToken(token);
  const description = optString(input, 'Description', { max: 2048 });
  const kmsKeyId = optString(input, 'KmsKeyId', KMS_LIMITS);
  const type = optString(input, 'Type', { max: 256 });
  const tags = checkTags(input, 'Tags');
  if (value !== undefined) await requireMayLendAdmin(env, value);
  if (optList(input, 'AddReplicaRegions', 1, 50) !== undefined) {
    throw awsError(
      'InvalidRequestException',
      'AddReplicaRegions on CreateSecret is not supported by Coffer; call ReplicateSecretToRegions after creating the secret.',
      'AddReplicaRegions',
    );
  }
  const key = storeKey(region, name);
  return env.locked(key, async () => {
    const existing = await findSecret(env, { region, name });
    if (existing !== undefined) {
      if (existing.meta.deletionScheduledAt !== undefined) {
        throw awsError(
          'InvalidRequestException',
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      if (token !== undefined) {
        if (value !== undefined) {
          const again = await replay(env, existing, token, value);
          if (again !== undefined) {
            return { ARN: existing.arn, Name: name, VersionId: again.versionId };
          }
        } else if (existing.attrs.createToken === token) {
          return { ARN: existing.arn, Name: name };
        }
      }
      throw awsError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const now = env.req.now();
    const attrs: AwsAttributes = {
      arnSuffix: newArnSuffix(),
      lastChangedAt: now,
      ...(kmsKeyId === undefined || kmsKeyId === '' ? {} : { kmsKeyId }),
      ...(type === undefined ? {} : { type }),
      ...(value === undefined && token !== undefined ? { createToken: token } : {}),
    };
    const patch: MetaPatch = {
      description: description ?? '',
      tags: tags ?? {},
      maxVersions: 100,
      attributes: { [ATTRS]: toJson(attrs) },
    };
    const arn = secretArn(region, env.account, name, attrs.arnSuffix);
    if (value === undefined) {
      await env.store.updateMeta(key, patch, { createIfMissing: true });
      return { ARN: arn, Name: name };
    }
    const written = await env.store.writeVersion(key, valueJson(value), {
      id: token!,
      labels: [AWSCURRENT],
      expectedCurrentVersion: 0,
      metaPatch: patch,
    });
    return { ARN: arn, Name: name, VersionId: written.version.id };
  });
}

export async function putSecretValue(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const { input } = env;
  const value = secretValue(input);
  const token = clientToken(input);
  const stages = optStringList(input, 'VersionStages', { min: 1, max: 20 }, STAGE_LIMITS);
  optString(input, 'RotationToken', { min: 36, max: 256 });
  if (value === undefined) {
    throw invalidParameter('You must provide either SecretString or SecretBinary.', 'SecretString');
  }
  const chosen = requireToken(token);
  await requireMayLendAdmin(env, value);
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    requirePrimary(found);
    const again = await replay(env, found, chosen, value);
    if (again !== undefined) {
      return {
        ARN: found.arn,
        Name: ref.name,
        VersionId: again.versionId,
        VersionStages: again.stages,
      };
    }
    const written = await writeNewVersion(env, found, value, chosen, stages ?? [AWSCURRENT], {});
    await env.afterWrite?.(found.key);
    return {
      ARN: found.arn,
      Name: ref.name,
      VersionId: written.versionId,
      VersionStages: written.stages,
    };
  });
}

export async function updateSecret(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const { input } = env;
  const value = secretValue(input);
  const token = clientToken(input);
  if (value !== undefined) requireToken(token);
  const description = optString(input, 'Description', { max: 2048 });
  const kmsKeyId = optString(input, 'KmsKeyId', KMS_LIMITS);
  const type = optString(input, 'Type', { max: 256 });
  if (value !== undefined) await requireMayLendAdmin(env, value);
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    requirePrimary(found);
    const now = env.req.now();
    const attrsPatch: Partial<AwsAttributes> = {
      ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
      ...(type === undefined ? {} : { type }),
    };
    if (value !== undefined) {
      const again = await replay(env, found, token!, value);
      if (again !== undefined)
        return { ARN: found.arn, Name: ref.name, VersionId: again.versionId };
      if (description !== undefined) {
        await env.store.updateMeta(found.key, { description }, { createIfMissing: false });
      }
      const written = await writeNewVersion(env, found, value, token!, [AWSCURRENT], attrsPatch);
      await env.afterWrite?.(found.key);
      return { ARN: found.arn, Name: ref.name, VersionId: written.versionId };
    }
    await env.store.updateMeta(
      found.key,
      (meta) => ({
        ...(description === undefined ? {} : { description }),
        attributes: {
          [ATTRS]: toJson({ ...attrsOf(meta)!, ...attrsPatch, lastChangedAt: now }),
        },
      }),
      { createIfMissing: false },
    );
    return { ARN: found.arn, Name: ref.name };
  });
}

export async function getSecretValue(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const { input } = env;
  const versionId = optString(input, 'VersionId', { min: 32, max: 64 });
  const stage = optString(input, 'VersionStage', STAGE_LIMITS);
  const found = await requireSecret(env, ref);
  requireLive(found);
  const { meta } = found;
  let version = versionId !== undefined ? versionById(meta, versionId) : undefined;
  if (versionId !== undefined) {
    if (version === undefined) {
      throw awsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
      );
    }
    if (stage !== undefined && !version.labels.includes(stage)) {
      throw awsError(
        'InvalidRequestException',
        'You provided a VersionStage that is not associated to the provided VersionId.',
      );
    }
  } else {
    const label = stage ?? AWSCURRENT;
    version = versionByLabel(meta, label);
    if (version === undefined) {
      throw awsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for staging label: ${label}`,
      );
    }
  }
  const read = await env.store.readVersion(found.key, version.number);
  if (read?.value === undefined) {
    throw awsError(
      'ResourceNotFoundException',
      `Secrets Manager can't find the specified secret value for VersionId: ${version.id}`,
    );
  }
  // LastAccessedDate is kept to the day: at most one write per secret and day.
  const today = dayOf(env.req.now());
  if (found.attrs.lastAccessedAt !== today) {
    await env.store.updateMeta(
      found.key,
      (m) => ({ attributes: { [ATTRS]: toJson({ ...attrsOf(m)!, lastAccessedAt: today }) } }),
      { createIfMissing: false },
    );
  }
  return {
    ARN: found.arn,
    Name: ref.name,
    VersionId: version.id,
    ...read.value,
    VersionStages: [...version.labels],
    CreatedDate: epochSeconds(version.createdAt),
  };
}

/** A fresh token where AWS makes one up (the pending version of a rotation). */
export function newVersionId(): string {
  return randomUUID();
}

export { AWSPENDING };
