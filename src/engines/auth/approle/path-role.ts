// approle roles: `role/:role_name` create/update/read/delete, and
// `role/:role_name/role-id` read/write.
import { randomUUID } from 'node:crypto';
import type { EngineRequest } from '../../../sdk/engine.js';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import type { JsonObject } from '../../../sdk/json.js';
import type { StorageOp } from '../../../sdk/storage.js';
import { encodeJson } from '../../../sdk/storage.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { parseCidrList } from '../cidr.js';
import { emptyWithWarnings, pathNamedRecord } from '../record-paths.js';
import {
  DEFAULT_TOKEN_SETTINGS,
  renderTokenSettings,
  TOKEN_FIELDS,
  updateTokenSettings,
} from '../token-fields.js';
import type { AppRoleDeps } from './deps.js';
import { keyedHash, roleIdKey, roleKey } from './keys.js';
import {
  credentialOf,
  hmacKey,
  readRole,
  roleChildKeys,
  roleIdOwner,
  roleNameOf,
  type RoleEntry,
} from './store.js';

const ROLE_NAME_FIELD = {
  role_name: { type: 'string', description: 'Ignored: the role name is in the path.' },
} as const;

const ROLE_FIELDS = {
  ...ROLE_NAME_FIELD,
  bind_secret_id: {
    type: 'bool',
    description: 'Whether logins must present a secret ID (default true).',
  },
  secret_id_bound_cidrs: {
    type: 'string-list',
    description: 'Addresses or CIDR blocks logins with this role may come from.',
  },
  bound_cidr_list: {
    type: 'string-list',
    description: 'Deprecated: use secret_id_bound_cidrs (ignored when that is set).',
  },
  secret_id_num_uses: {
    type: 'int',
    description: 'Default number of logins each secret ID allows; 0 = unlimited.',
  },
  secret_id_ttl: {
    type: 'duration',
    description: 'Default lifetime of the secret IDs issued; 0 = no expiry.',
  },
  local_secret_ids: {
    type: 'bool',
    description: 'Only when the role is created: secret IDs are local to this cluster.',
  },
  role_id: { type: 'string', description: 'A custom role ID; a random UUID by default.' },
  ...TOKEN_FIELDS,
} as const;

/** Vault's rule: a role must demand something of a login. */
function checkConstraints(role: RoleEntry): void {
  if (
    !role.bindSecretId &&
    role.secretIdBoundCidrs.length === 0 &&
    role.token.boundCidrs.length === 0
  ) {
    throw invalidField(
      'bind_secret_id',
      'at least one constraint should be enabled on the role (bind_secret_id, ' +
        'secret_id_bound_cidrs or token_bound_cidrs)',
    );
  }
}

function renderRole(role: RoleEntry): JsonObject {
  return {
    bind_secret_id: role.bindSecretId,
    local_secret_ids: role.localSecretIds,
    secret_id_bound_cidrs: [...role.secretIdBoundCidrs],
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtlSeconds,
    ...renderTokenSettings(role.token),
  };
}

/**
 * Stores `role`, moving the role-ID index from `previous` when the role ID changed. Call under
 * the role's lock; takes the `role-ids` lock for the uniqueness check and the write.
 */
async function saveRole(
  req: EngineRequest,
  deps: AppRoleDeps,
  role: RoleEntry,
  previous: RoleEntry | undefined,
): Promise<void> {
  const key = (await hmacKey(req.storage, deps.mutex, true))!;
  await deps.mutex.run('role-ids', async () => {
    const ops: StorageOp[] = [{ op: 'put', key: roleKey(role.name), value: encodeJson(role) }];
    if (previous?.roleId !== role.roleId) {
      const owner = await roleIdOwner(req.storage, key, role.roleId);
      if (owner !== undefined && owner !== role.name) {
        throw invalidField('role_id', 'already in use');
      }
      if (previous !== undefined) {
        ops.push({ op: 'delete', key: roleIdKey(keyedHash(key, 'role-id', previous.roleId)) });
      }
      ops.push({
        op: 'put',
        key: roleIdKey(keyedHash(key, 'role-id', role.roleId)),
        value: encodeJson({ name: role.name }),
      });
    }
    await req.storage.batch(ops);
  });
}

export function pathRole(deps: AppRoleDeps): PathSpec {
  return pathNamedRecord({
    pattern: 'role/:role_name',
    param: 'role_name',
    fields: ROLE_FIELDS,
    canonicalName: roleNameOf,
    read: readRole,
    render: renderRole,
    notFound: 'role not found',
    write: (req, fields, name) =>
      deps.mutex.run(`role:${name}`, async () => {
        const current = await readRole(req.storage, name);
        if (current !== undefined && fields.local_secret_ids !== undefined) {
          throw invalidField('local_secret_ids', 'can only be set when the role is created');
        }
        if (fields.secret_id_num_uses !== undefined && fields.secret_id_num_uses < 0) {
          throw invalidField('secret_id_num_uses', 'cannot be negative');
        }
        const { settings, warnings } = updateTokenSettings(
          current?.token ?? DEFAULT_TOKEN_SETTINGS,
          fields,
        );
        const role: RoleEntry = {
          name,
          uuid: current?.uuid ?? randomUUID(),
          roleId:
            fields.role_id !== undefined
              ? credentialOf(fields.role_id, 'role_id')
              : (current?.roleId ?? randomUUID()),
          bindSecretId: fields.bind_secret_id ?? current?.bindSecretId ?? true,
          secretIdBoundCidrs:
            fields.secret_id_bound_cidrs !== undefined
              ? parseCidrList(fields.secret_id_bound_cidrs, 'secret_id_bound_cidrs')
              : fields.bound_cidr_list !== undefined
                ? parseCidrList(fields.bound_cidr_list, 'bound_cidr_list')
                : (current?.secretIdBoundCidrs ?? []),
          secretIdNumUses: fields.secret_id_num_uses ?? current?.secretIdNumUses ?? 0,
          secretIdTtlSeconds: fields.secret_id_ttl ?? current?.secretIdTtlSeconds ?? 0,
          localSecretIds: current?.localSecretIds ?? fields.local_secret_ids ?? false,
          token: settings,
        };
        if (fields.bound_cidr_list !== undefined) {
          warnings.push('"bound_cidr_list" is deprecated; use "secret_id_bound_cidrs"');
        }
        checkConstraints(role);
        await saveRole(req, deps, role, current);
        return emptyWithWarnings(warnings);
      }),
    delete: (req, name) =>
      deps.mutex.run(`role:${name}`, async () => {
        const role = await readRole(req.storage, name);
        if (role === undefined) return;
        const key = (await hmacKey(req.storage, deps.mutex, true))!;
        // Its secret IDs go with it, in the same commit as the role and its index.
        const ops: StorageOp[] = (await roleChildKeys(req.storage, role.uuid)).map((k) => ({
          op: 'delete',
          key: k,
        }));
        ops.push({ op: 'delete', key: roleKey(name) });
        await deps.mutex.run('role-ids', async () => {
          if ((await roleIdOwner(req.storage, key, role.roleId)) === name) {
            ops.push({ op: 'delete', key: roleIdKey(keyedHash(key, 'role-id', role.roleId)) });
          }
          await req.storage.batch(ops);
        });
      }),
    help:
      'An AppRole: what a login must present (a secret ID, a source address) and the token_* ' +
      'fields of the tokens its logins get.',
  });
}

export function pathRoleId(deps: AppRoleDeps): PathSpec {
  return definePath({
    pattern: 'role/:role_name/role-id',
    fields: {
      ...ROLE_NAME_FIELD,
      role_id: { type: 'string', description: 'The new role ID (required on write).' },
    },
    operations: {
      async read(req, _fields, params) {
        const role = await readRole(req.storage, roleNameOf(params.role_name ?? ''));
        if (role === undefined) throw new CofferError('not_found', 'role not found');
        return { kind: 'data', data: { role_id: role.roleId } };
      },
      async update(req, fields, params) {
        const name = roleNameOf(params.role_name ?? '');
        const roleId = credentialOf(fields.role_id ?? '', 'role_id');
        return deps.mutex.run(`role:${name}`, async () => {
          const current = await readRole(req.storage, name);
          if (current === undefined) throw new CofferError('not_found', 'role not found');
          await saveRole(req, deps, { ...current, roleId }, current);
          return { kind: 'empty' };
        });
      },
    },
    help: "Reads or replaces a role's role ID (the public half of its login credential).",
  });
}
