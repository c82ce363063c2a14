// Endpoint shapes the auth methods share: LIST of named records (roles, users), one named
// record's read/write/delete, a role whose write merges into the stored one (jwt, kubernetes),
// and the mount's one configuration entry; plus Vault's role-name rule for jwt and kubernetes.
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { FieldSpecs, FieldValues } from '../../sdk/fields.js';
import { isPlainObject, type JsonObject } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { pathNameList, pathNamedRecord } from '../../sdk/record-paths.js';
import { getJson, putJson, type Storage } from '../../sdk/storage.js';
import { readTokenSettings, type TokenSettings } from './token-fields.js';

/** An empty result carrying Vault's warnings when there are any. */
export function emptyWithWarnings(warnings: readonly string[]): EngineResult {
  return warnings.length === 0 ? { kind: 'empty' } : { kind: 'empty', warnings };
}

/** Vault's role names: word characters, '-' and '.', starting and ending with a word one. */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;

/** The one form a role name is stored and looked up in (Vault lowercases jwt and k8s names). */
export function canonicalRoleName(raw: string, field = 'name'): string {
  const name = raw.trim().toLowerCase();
  if (name.length > 256 || !ROLE_NAME.test(name)) {
    throw invalidField(field, 'must be letters, digits, "_", "-" and "."');
  }
  return name;
}

/**
 * A role stored as one JSON object with its token settings under `token`. `wellFormed` checks
 * the method's own fields; a stored role that fails it is an integrity failure.
 */
export async function readStoredRole<R extends { readonly token: TokenSettings }>(
  storage: Storage,
  key: string,
  wellFormed: (raw: Readonly<Record<string, unknown>>) => boolean,
): Promise<R | undefined> {
  const raw = await getJson<unknown>(storage, key);
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw) || !wellFormed(raw)) {
    throw new CofferError('integrity_failure', 'stored role is malformed');
  }
  return { ...(raw as unknown as R), token: readTokenSettings(raw.token) };
}

/** LIST `role/` of a mount whose roles live under `prefix`. */
export function pathRoleList(prefix: string): PathSpec {
  return pathNameList({
    pattern: 'role',
    prefix,
    noun: 'roles',
    help: 'Lists the roles of this mount.',
  });
}

export { pathNameList, pathNamedRecord };

/** Where a method keeps its roles: the storage prefix and a role's key (its keys.ts). */
export interface RoleKeys {
  readonly ROLE_PREFIX: string;
  readonly roleKey: (name: string) => string;
}

/**
 * A role kept as one JSON entry (at `roleKey`) whose write merges the fields sent into the
 * stored role (or the defaults) and touches nothing else: what the jwt and kubernetes methods'
 * role.ts export.
 */
export interface MergedRoleModule<R extends object, F extends FieldSpecs> {
  readonly ROLE_FIELDS: F;
  readonly readRole: (storage: Storage, name: string) => Promise<R | undefined>;
  /** Merges a write into the stored role; throws invalid_request for a role Vault refuses. */
  readonly applyRoleWrite: (current: R | undefined, fields: FieldValues<F>) => RoleWriteResult<R>;
  /** Vault's read shape. */
  readonly renderRole: (role: R) => JsonObject;
}

export interface RoleWriteResult<R> {
  readonly role: R;
  readonly warnings: readonly string[];
}

/** LIST `role/` and `role/:name` (read, write, delete) for the roles `roles` describes. */
export function mergedRolePaths<R extends object, F extends FieldSpecs>(
  keys: RoleKeys,
  roles: MergedRoleModule<R, F>,
  help: string,
): PathSpec[] {
  const role = pathNamedRecord({
    pattern: 'role/:name',
    param: 'name',
    fields: roles.ROLE_FIELDS,
    canonicalName: (raw) => canonicalRoleName(raw),
    read: roles.readRole,
    render: roles.renderRole,
    notFound: 'role not found',
    async write(req, fields, name) {
      const current = await roles.readRole(req.storage, name);
      const { role: updated, warnings } = roles.applyRoleWrite(current, fields);
      await putJson(req.storage, keys.roleKey(name), updated);
      return emptyWithWarnings(warnings);
    },
    async delete(req, name) {
      await req.storage.delete(keys.roleKey(name));
    },
    help,
  });
  return [pathRoleList(keys.ROLE_PREFIX), role];
}

/** A mount's configuration: one entry that a write replaces whole. */
export interface ConfigRecordSpec<C, F extends FieldSpecs> {
  readonly fields: F;
  readonly load: (storage: Storage) => Promise<C | undefined>;
  /** Vault's read shape. SECURITY: never a credential of the configuration. */
  readonly render: (config: C) => JsonObject;
  /** Checks and stores the configuration the fields describe; returns warnings, if any. */
  readonly write: (
    req: EngineRequest,
    fields: FieldValues<F>,
  ) => Promise<readonly string[] | undefined>;
  readonly help: string;
}

/** `config` (read, write) with its existence check. */
export function pathConfigRecord<C, F extends FieldSpecs>(spec: ConfigRecordSpec<C, F>): PathSpec {
  return definePath({
    pattern: 'config',
    fields: spec.fields,
    operations: {
      async read(req) {
        const config = await spec.load(req.storage);
        if (config === undefined) throw new CofferError('not_found', 'configuration not found');
        return { kind: 'data', data: spec.render(config) };
      },
      async update(req, fields) {
        const warnings = await spec.write(req, fields);
        return emptyWithWarnings(warnings ?? []);
      },
    },
    exists: async (req) => (await spec.load(req.storage)) !== undefined,
    help: spec.help,
  });
}
