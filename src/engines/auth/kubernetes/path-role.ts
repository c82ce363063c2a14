// Kubernetes `role/:name` (read, write, delete) and `LIST role/`.
import { CofferError } from '../../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../../sdk/engine.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { ROLE_PREFIX, roleKey } from './keys.js';
import {
  applyRoleWrite,
  canonicalRoleName,
  readRole,
  renderRole,
  ROLE_FIELDS,
  writeRole,
  type RoleFieldValues,
} from './role.js';

export function pathRoleList(): PathSpec {
  return definePath({
    pattern: 'role',
    fields: {},
    operations: {
      async list(req) {
        const keys = await req.storage.list(ROLE_PREFIX);
        if (keys.length === 0) throw new CofferError('not_found', 'no roles');
        return { kind: 'data', data: { keys } };
      },
    },
    help: 'Lists the roles of this mount.',
  });
}

export function pathRole(): PathSpec {
  async function write(
    req: EngineRequest,
    fields: RoleFieldValues,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> {
    const name = canonicalRoleName(params.name ?? '');
    const { role, warnings } = applyRoleWrite(await readRole(req.storage, name), fields);
    await writeRole(req.storage, name, role);
    return warnings.length > 0 ? { kind: 'empty', warnings } : { kind: 'empty' };
  }

  return definePath({
    pattern: 'role/:name',
    fields: ROLE_FIELDS,
    operations: {
      async read(req, _fields, params) {
        const role = await readRole(req.storage, canonicalRoleName(params.name ?? ''));
        if (role === undefined) throw new CofferError('not_found', 'role not found');
        return { kind: 'data', data: renderRole(role) };
      },
      create: write,
      update: write,
      async delete(req, _fields, params) {
        await req.storage.delete(roleKey(canonicalRoleName(params.name ?? '')));
        return { kind: 'empty' };
      },
    },
    exists: async (req, params) =>
      (await readRole(req.storage, canonicalRoleName(params.name ?? ''))) !== undefined,
    help:
      'A role names the service accounts that may log in (bound_service_account_names and ' +
      'bound_service_account_namespaces, "*" or globs), the audience their JWT must carry, ' +
      'how the alias is named (alias_name_source) and the token_* settings of the token.',
  });
}
