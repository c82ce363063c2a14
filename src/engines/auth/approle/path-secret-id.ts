// approle secret IDs of one role: issue (`secret-id`, `custom-secret-id`), LIST accessors,
// lookup and destroy by secret ID or by accessor. Every operation finds the secret ID through
// the role in the path only (Vault CVE-2023-24999: an accessor of another role was destroyable).
import { randomUUID } from 'node:crypto';
import type { EngineRequest, EngineResult } from '../../../sdk/engine.js';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import type { FieldValues } from '../../../sdk/fields.js';
import { isPlainObject, type JsonObject } from '../../../sdk/json.js';
import { encodeJson, getJson } from '../../../sdk/storage.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { cidrsWithin, parseCidrList } from '../cidr.js';
import type { AppRoleDeps } from './deps.js';
import { accessorKey, keyedHash, secretIdFolder, secretIdKey, TIDY_JOB } from './keys.js';
import {
  credentialOf,
  deleteSecretId,
  formatTime,
  hmacKey,
  readRole,
  readSecretId,
  readSecretIdValue,
  roleNameOf,
  secretIdHmacOfAccessor,
  type RoleEntry,
  type SecretIdEntry,
} from './store.js';

/** How long after issuing an expiring secret ID the tidy job first runs. */
export const TIDY_INTERVAL_MS = 3_600_000;

const MAX_METADATA_PAIRS = 64;
const MAX_METADATA_KEY = 128;
const MAX_METADATA_VALUE = 512;

const ROLE_NAME_FIELD = {
  role_name: { type: 'string', description: 'Ignored: the role name is in the path.' },
} as const;

const ISSUE_FIELDS = {
  ...ROLE_NAME_FIELD,
  metadata: {
    type: 'any',
    description:
      'A JSON object of strings (or a string holding one), copied into the metadata of the ' +
      'tokens this secret ID logs in to. Not secret: it is rendered and audited in clear.',
  },
  cidr_list: {
    type: 'string-list',
    description:
      "Addresses or CIDR blocks logins with this secret ID may come from (within the role's).",
  },
  token_bound_cidrs: {
    type: 'string-list',
    description:
      "Replaces the role's token_bound_cidrs for tokens from this secret ID (within them).",
  },
  ttl: { type: 'duration', description: "Lifetime; at most the role's secret_id_ttl." },
  num_uses: { type: 'int', description: "Logins allowed; at most the role's secret_id_num_uses." },
} as const;

const CUSTOM_FIELDS = {
  ...ISSUE_FIELDS,
  secret_id: { type: 'string', description: 'The secret ID to register.' },
} as const;

const BY_SECRET_ID = {
  ...ROLE_NAME_FIELD,
  secret_id: { type: 'string', description: 'The secret ID.' },
} as const;

const BY_ACCESSOR = {
  ...ROLE_NAME_FIELD,
  secret_id_accessor: { type: 'string', description: "The secret ID's accessor." },
} as const;

/** The metadata field: a JSON object of strings, or a string holding one; '' = none. */
export function parseMetadata(value: unknown): Record<string, string> {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return {};
    try {
      parsed = JSON.parse(value);
    } catch {
      throw invalidField('metadata', 'must be a JSON object of strings');
    }
  }
  if (!isPlainObject(parsed)) throw invalidField('metadata', 'must be a JSON object of strings');
  const entries = Object.entries(parsed);
  if (entries.length > MAX_METADATA_PAIRS) {
    throw invalidField('metadata', `must have at most ${MAX_METADATA_PAIRS} keys`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw invalidField('metadata', 'values must be strings');
    if (k === '' || k.length > MAX_METADATA_KEY) {
      throw invalidField('metadata', `keys must be 1 to ${MAX_METADATA_KEY} characters`);
    }
    if (v.length > MAX_METADATA_VALUE) {
      throw invalidField('metadata', `values must be at most ${MAX_METADATA_VALUE} characters`);
    }
    out[k] = v;
  }
  return out;
}

/** Vault's lookup shape. */
export function renderSecretId(entry: SecretIdEntry): JsonObject {
  return {
    cidr_list: [...entry.cidrList],
    creation_time: formatTime(entry.createdAt),
    expiration_time: formatTime(entry.expiresAt),
    last_updated_time: formatTime(entry.updatedAt),
    metadata: { ...entry.metadata },
    secret_id_accessor: entry.accessor,
    secret_id_num_uses: entry.numUses,
    secret_id_ttl: entry.ttlSeconds,
    token_bound_cidrs: [...entry.tokenBoundCidrs],
  };
}

async function roleOrNotFound(req: EngineRequest, rawName: string): Promise<RoleEntry> {
  const role = await readRole(req.storage, roleNameOf(rawName));
  if (role === undefined) throw new CofferError('not_found', 'role not found');
  return role;
}

/** Shared by `secret-id` and `custom-secret-id`. */
async function issue(
  req: EngineRequest,
  deps: AppRoleDeps,
  fields: FieldValues<typeof ISSUE_FIELDS>,
  rawName: string,
  secretId: string,
): Promise<EngineResult> {
  const name = roleNameOf(rawName);
  // Under the role's lock, so a role being deleted cannot gain a secret ID afterwards.
  return deps.mutex.run(`role:${name}`, async () => {
    const role = await readRole(req.storage, name);
    if (role === undefined) throw new CofferError('not_found', 'role not found');
    if (!role.bindSecretId) throw invalidField('bind_secret_id', 'is not set on the role');
    const cidrList = parseCidrList(fields.cidr_list ?? [], 'cidr_list');
    if (!cidrsWithin(cidrList, role.secretIdBoundCidrs)) {
      throw invalidField('cidr_list', "must lie within the role's secret_id_bound_cidrs");
    }
    const tokenBoundCidrs = parseCidrList(fields.token_bound_cidrs ?? [], 'token_bound_cidrs');
    if (!cidrsWithin(tokenBoundCidrs, role.token.boundCidrs)) {
      throw invalidField('token_bound_cidrs', "must lie within the role's token_bound_cidrs");
    }
    let numUses = role.secretIdNumUses;
    if (fields.num_uses !== undefined) {
      numUses = fields.num_uses;
      if (numUses < 0) throw invalidField('num_uses', 'cannot be negative');
      const roleMax = role.secretIdNumUses;
      if (roleMax > 0 && (numUses === 0 || numUses > roleMax)) {
        throw invalidField('num_uses', "cannot be higher than the role's secret_id_num_uses");
      }
    }
    let ttlSeconds = role.secretIdTtlSeconds;
    if (fields.ttl !== undefined) {
      ttlSeconds = fields.ttl;
      const roleMax = role.secretIdTtlSeconds;
      if (roleMax > 0 && (ttlSeconds === 0 || ttlSeconds > roleMax)) {
        throw invalidField('ttl', "cannot be longer than the role's secret_id_ttl");
      }
    }
    // As Vault: a lifetime beyond the mount's maximum lease TTL is cut to it.
    const mountMax = req.mount.config.maxLeaseTtlSeconds;
    const effectiveTtl = mountMax > 0 && ttlSeconds > mountMax ? mountMax : ttlSeconds;
    const metadata = fields.metadata === undefined ? {} : parseMetadata(fields.metadata);
    const key = (await hmacKey(req.storage, deps.mutex, true))!;
    const secretIdHmac = keyedHash(key, 'secret-id', secretId);
    const now = req.now();
    const entry: SecretIdEntry = {
      accessor: randomUUID(),
      roleUuid: role.uuid,
      numUses,
      ttlSeconds,
      createdAt: now,
      expiresAt: effectiveTtl > 0 ? now + effectiveTtl * 1000 : 0,
      updatedAt: now,
      metadata,
      cidrList,
      tokenBoundCidrs,
    };
    await deps.mutex.run(`sid:${role.uuid}/${secretIdHmac}`, async () => {
      if ((await req.storage.get(secretIdKey(role.uuid, secretIdHmac))) !== undefined) {
        throw invalidField('secret_id', 'is already registered on this role');
      }
      await req.storage.batch([
        { op: 'put', key: secretIdKey(role.uuid, secretIdHmac), value: encodeJson(entry) },
        {
          op: 'put',
          key: accessorKey(role.uuid, keyedHash(key, 'accessor', entry.accessor)),
          value: encodeJson({ secretIdHmac }),
        },
      ]);
    });
    if (entry.expiresAt > 0 && (await req.schedule.get(TIDY_JOB)) === undefined) {
      await req.schedule.set(TIDY_JOB, now + TIDY_INTERVAL_MS);
    }
    return {
      kind: 'data',
      data: {
        secret_id: secretId,
        secret_id_accessor: entry.accessor,
        secret_id_num_uses: numUses,
        secret_id_ttl: effectiveTtl,
      },
    };
  });
}

export function pathSecretId(deps: AppRoleDeps): PathSpec {
  return definePath({
    pattern: 'role/:role_name/secret-id',
    fields: ISSUE_FIELDS,
    operations: {
      update: (req, fields, params) =>
        issue(req, deps, fields, params.role_name ?? '', randomUUID()),
      async list(req, _fields, params) {
        const role = await roleOrNotFound(req, params.role_name ?? '');
        const folder = secretIdFolder(role.uuid);
        const keys: string[] = [];
        for (const name of await req.storage.list(folder)) {
          if (name.endsWith('/')) continue;
          const raw = await getJson<unknown>(req.storage, `${folder}${name}`);
          if (raw !== undefined) keys.push(readSecretIdValue(raw).accessor);
        }
        if (keys.length === 0) throw new CofferError('not_found', 'no secret IDs');
        return { kind: 'data', data: { keys: keys.sort() } };
      },
    },
    help:
      'Issues a new random secret ID for the role (the response is its only appearance in ' +
      'clear), or lists the accessors of its secret IDs.',
  });
}

export function pathCustomSecretId(deps: AppRoleDeps): PathSpec {
  return definePath({
    pattern: 'role/:role_name/custom-secret-id',
    fields: CUSTOM_FIELDS,
    operations: {
      update: (req, fields, params) =>
        issue(
          req,
          deps,
          fields,
          params.role_name ?? '',
          credentialOf(fields.secret_id ?? '', 'secret_id'),
        ),
    },
    help: 'Registers a secret ID chosen by the caller (the "push" model).',
  });
}

/** Finds a secret ID of the path's role by its value, and runs `fn` under its lock. */
async function withSecretId<T>(
  req: EngineRequest,
  deps: AppRoleDeps,
  params: Readonly<Record<string, string>>,
  secretIdRaw: string | undefined,
  fn: (role: RoleEntry, key: Uint8Array, hmac: string, entry: SecretIdEntry) => Promise<T>,
): Promise<T> {
  const role = await roleOrNotFound(req, params.role_name ?? '');
  const secretId = credentialOf(secretIdRaw ?? '', 'secret_id');
  const key = await hmacKey(req.storage, deps.mutex, false);
  if (key === undefined) throw new CofferError('not_found', 'secret ID not found');
  const hmac = keyedHash(key, 'secret-id', secretId);
  return deps.mutex.run(`sid:${role.uuid}/${hmac}`, async () => {
    const entry = await readSecretId(req.storage, role, hmac);
    if (entry === undefined) throw new CofferError('not_found', 'secret ID not found');
    return fn(role, key, hmac, entry);
  });
}

/** Finds a secret ID of the path's role by its accessor, and runs `fn` under its lock. */
async function withAccessor<T>(
  req: EngineRequest,
  deps: AppRoleDeps,
  params: Readonly<Record<string, string>>,
  accessorRaw: string | undefined,
  fn: (role: RoleEntry, key: Uint8Array, hmac: string, entry: SecretIdEntry) => Promise<T>,
): Promise<T> {
  const role = await roleOrNotFound(req, params.role_name ?? '');
  const accessor = (accessorRaw ?? '').trim();
  if (accessor === '') throw invalidField('secret_id_accessor', 'is required');
  const key = await hmacKey(req.storage, deps.mutex, false);
  const hmac =
    key === undefined ? undefined : await secretIdHmacOfAccessor(req.storage, key, role, accessor);
  if (key === undefined || hmac === undefined) {
    throw new CofferError('not_found', 'secret ID accessor not found');
  }
  return deps.mutex.run(`sid:${role.uuid}/${hmac}`, async () => {
    const entry = await readSecretId(req.storage, role, hmac);
    if (entry?.accessor !== accessor) {
      throw new CofferError('not_found', 'secret ID accessor not found');
    }
    return fn(role, key, hmac, entry);
  });
}

export function pathSecretIdActions(deps: AppRoleDeps): PathSpec[] {
  // As Vault, the destroy paths answer DELETE (with the field in the query) as well as POST.
  const destroyBySecretId = (
    req: EngineRequest,
    fields: FieldValues<typeof BY_SECRET_ID>,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> =>
    withSecretId(req, deps, params, fields.secret_id, async (role, key, hmac, entry) => {
      await deleteSecretId(req.storage, key, role, hmac, entry);
      return { kind: 'empty' };
    });
  const destroyByAccessor = (
    req: EngineRequest,
    fields: FieldValues<typeof BY_ACCESSOR>,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> =>
    withAccessor(req, deps, params, fields.secret_id_accessor, async (role, key, hmac, entry) => {
      await deleteSecretId(req.storage, key, role, hmac, entry);
      return { kind: 'empty' };
    });
  return [
    definePath({
      pattern: 'role/:role_name/secret-id/lookup',
      fields: BY_SECRET_ID,
      operations: {
        update: (req, fields, params) =>
          withSecretId(req, deps, params, fields.secret_id, (_r, _k, _h, entry) =>
            Promise.resolve<EngineResult>({ kind: 'data', data: renderSecretId(entry) }),
          ),
      },
      help: "Reads a secret ID's properties (never the secret ID itself).",
    }),
    definePath({
      pattern: 'role/:role_name/secret-id/destroy',
      fields: BY_SECRET_ID,
      operations: {
        update: destroyBySecretId,
        delete: destroyBySecretId,
      },
      help: 'Destroys a secret ID of this role.',
    }),
    definePath({
      pattern: 'role/:role_name/secret-id-accessor/lookup',
      fields: BY_ACCESSOR,
      operations: {
        update: (req, fields, params) =>
          withAccessor(req, deps, params, fields.secret_id_accessor, (_r, _k, _h, entry) =>
            Promise.resolve<EngineResult>({ kind: 'data', data: renderSecretId(entry) }),
          ),
      },
      help: "Reads a secret ID's properties by its accessor.",
    }),
    definePath({
      pattern: 'role/:role_name/secret-id-accessor/destroy',
      fields: BY_ACCESSOR,
      operations: {
        update: destroyByAccessor,
        delete: destroyByAccessor,
      },
      help: 'Destroys a secret ID of this role by its accessor.',
    }),
  ];
}
