// DescribeSecret, ListSecrets, ListSecretVersionIds, tags, UpdateSecretVersionStage,
// DeleteSecret / RestoreSecret (recovery windows enforced by the core's scheduler) and
// GetRandomPassword.
import { randomInt } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import { versionById, versionByLabel, type SecretMeta } from '../../sdk/versioned-store.js';
import {
  ATTRS,
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  attrsOf,
  awsError,
  describeJson,
  epochSeconds,
  invalidParameter,
  nameOfKey,
  optBool,
  optInt,
  optList,
  optString,
  reqString,
  requireLive,
  requirePrimary,
  requireSecret,
  secretArn,
  STAGE_LIMITS,
  toJson,
  validation,
  without,
  type ActionEnv,
  type Found,
  type Input,
  type SecretRef,
} from './common.js';

/** The scheduler job that purges a secret whose recovery window ended. */
export function purgeJob(key: string): string {
  return `purge/${key}`;
}

const MAX_TAGS = 50;

/** Tags [{Key 1..128, Value 0..256}], `aws:` reserved; undefined when absent. */
export function checkTags(input: Input, member: string): Record<string, string> | undefined {
  const list = optList(input, member, 0, MAX_TAGS);
  if (list === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw awsError('SerializationException', `${member}: expected {Key, Value} objects`, member);
    }
    const tag = item as Input;
    const key = reqString(tag, 'Key', { min: 1, max: 128 });
    const value = optString(tag, 'Value', { max: 256 }) ?? '';
    if (key.toLowerCase().startsWith('aws:')) {
      throw invalidParameter('Invalid tag key: the prefix aws: is reserved.', 'Tags');
    }
    out[key] = value;
  }
  return out;
}

export async function describeSecret(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const found = await requireSecret(env, ref);
  return describeJson(found, ref.region, ref.name, 'VersionIdsToStages');
}

// ---- Pagination ----

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeToken(token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof parsed.o === 'number' && Number.isSafeInteger(parsed.o) && parsed.o >= 0) {
      return parsed.o;
    }
  } catch {
    // falls through
  }
  throw awsError('InvalidNextTokenException', 'The NextToken value is invalid.', 'NextToken');
}

function page<T>(items: readonly T[], input: Input, maxDefault: number, maxLimit: number) {
  const max = optInt(input, 'MaxResults', 1, maxLimit) ?? maxDefault;
  const start = decodeToken(optString(input, 'NextToken', { min: 1, max: 4096 }));
  const slice = items.slice(start, start + max);
  const next = start + max < items.length ? encodeToken(start + max) : undefined;
  return { slice, next };
}

// ---- ListSecrets ----

const FILTER_KEYS = new Set([
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
]);

interface Filter {
  readonly key: string;
  readonly values: readonly string[];
}

export function parseFilters(input: Input): Filter[] {
  const list = optList(input, 'Filters', 0, 10) ?? [];
  return list.map((item, i) => {
    if (item === null || typeof item !== 'object') {
      throw awsError('SerializationException', 'Filters: expected objects', 'Filters');
    }
    const filter = item as Input;
    const key = reqString(filter, 'Key', { min: 1, max: 64 });
    if (!FILTER_KEYS.has(key)) {
      throw validation(
        `filters.${i + 1}.member.key`,
        'satisfy enum value set: [all, name, tag-key, description, tag-value, primary-region, owning-service]',
      );
    }
    const values = (optList(filter, 'Values', 1, 10) ?? []).map((v) => {
      if (typeof v !== 'string' || v.length > 512 || !/^!?[a-zA-Z0-9 :_@/+=.\-!]*$/.test(v)) {
        throw invalidParameter('Invalid filter values.', 'Filters');
      }
      return v;
    });
    if (values.length === 0) throw validation(`filters.${i + 1}.member.values`, 'not be null');
    return { key, values };
  });
}

function matchesValue(filter: string, candidates: readonly string[], caseless: boolean): boolean {
  const negate = filter.startsWith('!');
  const wanted = negate ? filter.slice(1) : filter;
  const norm = (s: string) => (caseless ? s.toLowerCase() : s);
  const hit = candidates.some((c) => norm(c).startsWith(norm(wanted)));
  return negate ? !hit : hit;
}

/** Filters AND together; the values of one filter OR. Prefix matches, `!` negates. */
export function matchesFilters(
  filters: readonly Filter[],
  name: string,
  meta: SecretMeta,
  primaryRegion: string,
): boolean {
  return filters.every((f) =>
    f.values.some((value) => {
      switch (f.key) {
        case 'name':
          return matchesValue(value, [name], false);
        case 'description':
          return matchesValue(value, meta.description.split(/\s+/).concat(meta.description), true);
        case 'tag-key':
          return matchesValue(value, Object.keys(meta.tags), false);
        case 'tag-value':
          return matchesValue(value, Object.values(meta.tags), false);
        case 'primary-region':
          return matchesValue(value, [primaryRegion], false);
        case 'owning-service':
          return matchesValue(value, [], false);
        default: {
          // all: every word of the value against every attribute, case-insensitive.
          const attrs = [
            name,
            ...meta.description.split(/\s+/),
            ...Object.keys(meta.tags),
            ...Object.values(meta.tags),
            primaryRegion,
          ];
          const negate = value.startsWith('!');
          const words = (negate ? value.slice(1) : value).split(/\s+/).filter((w) => w !== '');
          const hit = words.some((w) => matchesValue(w, attrs, true));
          return negate ? !hit : hit;
        }
      }
    }),
  );
}

/** Every secret of the request's region, as Describe-shaped entries (newest model first). */
export async function allSecrets(env: ActionEnv): Promise<{ name: string; found: Found }[]> {
  const keys = await env.store.listKeys(`${env.region}/`);
  const out: { name: string; found: Found }[] = [];
  for (const key of keys) {
    const meta = await env.store.readMeta(key);
    const attrs = meta === undefined ? undefined : attrsOf(meta);
    if (meta === undefined || attrs === undefined) continue;
    const name = nameOfKey(key.slice(env.region.length + 1));
    out.push({
      name,
      found: { key, meta, attrs, arn: secretArn(env.region, env.account, name, attrs.arnSuffix) },
    });
  }
  return out;
}

const SORT_BY: Readonly<Record<string, (f: Found, name: string) => number | string>> = {
  'created-date': (f) => f.meta.createdAt,
  'last-accessed-date': (f) => f.attrs.lastAccessedAt ?? 0,
  'last-changed-date': (f) => f.attrs.lastChangedAt,
  name: (_f, name) => name,
};

export async function listSecrets(env: ActionEnv): Promise<JsonObject> {
  const { input } = env;
  const includeDeleted = optBool(input, 'IncludePlannedDeletion') ?? false;
  const filters = parseFilters(input);
  const order = optString(input, 'SortOrder', { max: 4 }) ?? 'asc';
  if (order !== 'asc' && order !== 'desc') {
    throw validation('sortOrder', 'satisfy enum value set: [asc, desc]');
  }
  const sortBy = optString(input, 'SortBy', { max: 32 }) ?? 'created-date';
  const sortKey = SORT_BY[sortBy];
  if (sortKey === undefined) {
    throw validation(
      'sortBy',
      'satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]',
    );
  }
  const all = (await allSecrets(env)).filter(
    ({ name, found }) =>
      (includeDeleted || found.meta.deletionScheduledAt === undefined) &&
      matchesFilters(filters, name, found.meta, found.attrs.primaryRegion ?? env.region),
  );
  all.sort((a, b) => {
    const x = sortKey(a.found, a.name);
    const y = sortKey(b.found, b.name);
    const c = x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    return order === 'asc' ? c : -c;
  });
  const { slice, next } = page(all, input, 100, 100);
  return {
    SecretList: slice.map(({ name, found }) =>
      describeJson(found, env.region, name, 'SecretVersionsToStages'),
    ),
    ...(next === undefined ? {} : { NextToken: next }),
  };
}

/** Names ListSecrets would return for `Filters` (BatchGetSecretValue's filter form). */
export async function filteredNames(env: ActionEnv, filters: Input): Promise<string[]> {
  const parsed = parseFilters(filters);
  return (await allSecrets(env))
    .filter(
      ({ name, found }) =>
        found.meta.deletionScheduledAt === undefined &&
        matchesFilters(parsed, name, found.meta, found.attrs.primaryRegion ?? env.region),
    )
    .sort((a, b) => a.found.meta.createdAt - b.found.meta.createdAt)
    .map(({ name }) => name);
}

export async function listSecretVersionIds(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const { input } = env;
  const includeDeprecated = optBool(input, 'IncludeDeprecated') ?? false;
  const found = await requireSecret(env, ref);
  requireLive(found);
  const versions: JsonValue[] = [];
  const sorted = Object.values(found.meta.versions).sort((a, b) => b.number - a.number);
  const pending = found.attrs.pending;
  if (pending !== undefined) {
    versions.push({
      VersionId: pending.versionId,
      VersionStages: [AWSPENDING],
      CreatedDate: epochSeconds(pending.createdAt),
      KmsKeyIds: ['DefaultEncryptionKey'],
    });
  }
  for (const v of sorted) {
    if (v.state === 'destroyed' || (v.labels.length === 0 && !includeDeprecated)) continue;
    versions.push({
      VersionId: v.id,
      VersionStages: [...v.labels],
      CreatedDate: epochSeconds(v.createdAt),
      KmsKeyIds: [found.attrs.kmsKeyId ?? 'DefaultEncryptionKey'],
    });
  }
  const { slice, next } = page(versions, input, 100, 100);
  return {
    Versions: slice,
    ...(next === undefined ? {} : { NextToken: next }),
    ARN: found.arn,
    Name: ref.name,
  };
}

export async function tagResource(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const tags = checkTags(env.input, 'Tags');
  if (tags === undefined) throw validation('tags', 'not be null');
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    requirePrimary(found);
    const merged = { ...found.meta.tags, ...tags };
    if (Object.keys(merged).length > MAX_TAGS) {
      throw awsError('LimitExceededException', `A secret can have at most ${MAX_TAGS} tags.`);
    }
    await env.store.updateMeta(found.key, { tags: merged }, { createIfMissing: false });
    await env.afterWrite?.(found.key);
    return {};
  });
}

export async function untagResource(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const keys = optList(env.input, 'TagKeys', 0, 200);
  if (keys === undefined) throw validation('tagKeys', 'not be null');
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    requirePrimary(found);
    const tags = { ...found.meta.tags };
    for (const key of keys) {
      if (typeof key !== 'string') {
        throw awsError('SerializationException', 'TagKeys: expected strings', 'TagKeys');
      }
      Reflect.deleteProperty(tags, key);
    }
    await env.store.updateMeta(found.key, { tags }, { createIfMissing: false });
    await env.afterWrite?.(found.key);
    return {};
  });
}

export async function updateSecretVersionStage(
  env: ActionEnv,
  ref: SecretRef,
): Promise<JsonObject> {
  const { input } = env;
  const stage = reqString(input, 'VersionStage', STAGE_LIMITS);
  const moveTo = optString(input, 'MoveToVersionId', { min: 32, max: 64 });
  const removeFrom = optString(input, 'RemoveFromVersionId', { min: 32, max: 64 });
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    requirePrimary(found);
    const pending = found.attrs.pending;
    // The empty pending version of a rotation holds AWSPENDING outside the version table.
    if (stage === AWSPENDING && pending !== undefined && removeFrom === pending.versionId) {
      const rest = without(found.attrs, 'pending');
      await env.store.updateMeta(
        found.key,
        { attributes: { [ATTRS]: toJson({ ...rest, lastChangedAt: env.req.now() }) } },
        { createIfMissing: false },
      );
      if (moveTo === undefined) return { ARN: found.arn, Name: ref.name };
    }
    await env.store.changeLabels(found.key, (meta) => {
      const holder = versionByLabel(meta, stage);
      const target = moveTo === undefined ? undefined : versionById(meta, moveTo);
      if (moveTo !== undefined && target === undefined) {
        throw invalidParameter(
          `The version ${moveTo} does not exist for this secret.`,
          'MoveToVersionId',
        );
      }
      if (removeFrom !== undefined && holder?.id !== removeFrom) {
        if (!(stage === AWSPENDING && removeFrom === pending?.versionId)) {
          throw invalidParameter(
            `The staging label ${stage} is not attached to version ${removeFrom}, so you can't remove it.`,
            'RemoveFromVersionId',
          );
        }
      }
      if (target === undefined) {
        if (removeFrom === undefined) {
          throw invalidParameter(
            'You must specify MoveToVersionId or RemoveFromVersionId.',
            'RemoveFromVersionId',
          );
        }
        if (stage === AWSCURRENT) {
          throw invalidParameter(
            "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.",
            'RemoveFromVersionId',
          );
        }
        if (holder === undefined) return undefined;
        return { labels: { [String(holder.number)]: holder.labels.filter((l) => l !== stage) } };
      }
      if (holder !== undefined && holder.number === target.number) return undefined;
      if (holder !== undefined && removeFrom === undefined) {
        throw invalidParameter(
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
          'RemoveFromVersionId',
        );
      }
      if (target.labels.length >= 20) {
        throw awsError('LimitExceededException', 'A version can have at most 20 staging labels.');
      }
      const labels: Record<string, string[]> = {};
      const set = (n: number, list: string[]) => {
        labels[String(n)] = list;
      };
      const current = (n: number) => labels[String(n)] ?? [...meta.versions[String(n)]!.labels];
      if (holder !== undefined)
        set(
          holder.number,
          current(holder.number).filter((l) => l !== stage),
        );
      set(target.number, [...current(target.number).filter((l) => l !== stage), stage]);
      if (stage === AWSCURRENT && holder !== undefined) {
        const prev = versionByLabel(meta, AWSPREVIOUS);
        if (prev !== undefined) {
          set(
            prev.number,
            current(prev.number).filter((l) => l !== AWSPREVIOUS),
          );
        }
        set(
          target.number,
          current(target.number).filter((l) => l !== AWSPREVIOUS),
        );
        set(holder.number, [...current(holder.number), AWSPREVIOUS]);
      }
      return {
        labels,
        patch: {
          attributes: {
            [ATTRS]: toJson({ ...attrsOf(meta)!, lastChangedAt: env.req.now() }),
          },
        },
      };
    });
    await env.afterWrite?.(found.key);
    return { ARN: found.arn, Name: ref.name };
  });
}

export async function deleteSecret(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const { input } = env;
  const window = optInt(input, 'RecoveryWindowInDays', -1_000_000, 1_000_000);
  const force = optBool(input, 'ForceDeleteWithoutRecovery') ?? false;
  if (force && window !== undefined) {
    throw invalidParameter(
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      'RecoveryWindowInDays',
    );
  }
  if (window !== undefined && (window < 7 || window > 30)) {
    throw invalidParameter(
      'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      'RecoveryWindowInDays',
    );
  }
  const now = env.req.now();
  const found0 = await env.findOrUndefined(ref);
  if (found0 === undefined) {
    if (force) {
      return {
        ARN: `arn:aws:secretsmanager:${ref.region}:${env.account}:secret:${ref.name}`,
        Name: ref.name,
        DeletionDate: epochSeconds(now),
      };
    }
    throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    if ((found.attrs.replicas ?? []).length > 0) {
      throw awsError(
        'InvalidRequestException',
        "You can't delete secret " +
          ref.name +
          ' that still has replica regions [' +
          (found.attrs.replicas ?? []).map((r) => r.Region).join(', ') +
          ']',
      );
    }
    if (force) {
      await env.purge(found.key);
      return { ARN: found.arn, Name: ref.name, DeletionDate: epochSeconds(now) };
    }
    if (found.meta.deletionScheduledAt !== undefined) {
      throw awsError(
        'InvalidRequestException',
        "You can't delete secret because it was already marked for deletion.",
      );
    }
    const at = now + (window ?? 30) * 86_400_000;
    await env.store.updateMeta(
      found.key,
      (meta) => ({
        deletionScheduledAt: at,
        attributes: { [ATTRS]: toJson({ ...attrsOf(meta)!, deletedAt: now }) },
      }),
      { createIfMissing: false },
    );
    await env.req.schedule.set(purgeJob(found.key), at);
    return { ARN: found.arn, Name: ref.name, DeletionDate: epochSeconds(at) };
  });
}

export async function restoreSecret(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    if (found.meta.deletionScheduledAt !== undefined) {
      await env.store.updateMeta(
        found.key,
        (meta) => {
          const rest = without(attrsOf(meta)!, 'deletedAt');
          return { deletionScheduledAt: null, attributes: { [ATTRS]: toJson(rest) } };
        },
        { createIfMissing: false },
      );
      await env.req.schedule.cancel(purgeJob(found.key));
    }
    return { ARN: found.arn, Name: ref.name };
  });
}

// ---- GetRandomPassword ----

const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export function getRandomPassword(env: ActionEnv): Promise<JsonObject> {
  const { input } = env;
  const length = optInt(input, 'PasswordLength', 1, 4096) ?? 32;
  const exclude = optString(input, 'ExcludeCharacters', { max: 4096 }) ?? '';
  const classes: string[] = [];
  if (!(optBool(input, 'ExcludeLowercase') ?? false)) classes.push('abcdefghijklmnopqrstuvwxyz');
  if (!(optBool(input, 'ExcludeUppercase') ?? false)) classes.push('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  if (!(optBool(input, 'ExcludeNumbers') ?? false)) classes.push('0123456789');
  if (!(optBool(input, 'ExcludePunctuation') ?? false)) classes.push(PUNCTUATION);
  if (optBool(input, 'IncludeSpace') ?? false) classes.push(' ');
  const requireEach = optBool(input, 'RequireEachIncludedType') ?? true;
  const sets = classes
    .map((c) =>
      Array.from(c)
        .filter((ch) => !exclude.includes(ch))
        .join(''),
    )
    .filter((c) => c !== '');
  if (sets.length === 0) {
    throw invalidParameter("The password can't be generated: every character type is excluded.");
  }
  if (requireEach && length < sets.length) {
    throw invalidParameter(
      'The password length is too short to include every required character type.',
      'PasswordLength',
    );
  }
  const all = sets.join('');
  const chars: string[] = [];
  if (requireEach) for (const set of sets) chars.push(set.charAt(randomInt(set.length)));
  while (chars.length < length) chars.push(all.charAt(randomInt(all.length)));
  // Fisher–Yates, so the required characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return Promise.resolve({ RandomPassword: chars.join('') });
}
