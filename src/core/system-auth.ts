// `sys/auth`: enabling, listing, tuning and disabling auth methods. Auth methods live in their
// own mount table and are routed under auth/; the token method is built in at auth/token/.
import type { MountInfo } from '../sdk/engine.js';
import { invalidField } from '../sdk/errors.js';
import type { FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { Caller } from './caller.js';
import { mountTablePaths } from './mount-paths.js';
import { renderMount } from './mount-render.js';
import { normaliseMountPath, type MountTable } from './mount-table.js';

export interface AuthMountPathDeps {
  readonly authMounts: MountTable;
  readonly beforeUnmount: (info: MountInfo) => Promise<void>;
}

/** The built-in token method, listed as Vault lists it. */
function tokenMountEntry(): JsonObject {
  return {
    type: 'token',
    description: 'token based credentials',
    accessor: 'auth_token_00000000',
    uuid: '00000000-0000-0000-0000-000000000001',
    config: {
      default_lease_ttl: 0,
      max_lease_ttl: 0,
      force_no_cache: false,
      token_type: 'default-service',
    },
    options: null,
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
  };
}

/** Every auth method as `sys/auth` and the UI probe list them, keyed "userpass/". */
export function listAuthMounts(authMounts: MountTable): JsonObject {
  const data: JsonObject = { 'token/': tokenMountEntry() };
  for (const entry of authMounts.entries()) data[entry.path] = renderMount(authMounts, entry);
  return data;
}

function authPath(raw: string | undefined): string {
  const path = normaliseMountPath(raw ?? '');
  if (path === 'token/') throw invalidField('path', 'the token auth method is built in');
  return path;
}

export function authMountPaths(deps: AuthMountPathDeps): PathSpec<FieldSpecs, Caller>[] {
  const { authMounts } = deps;

  const list = definePath({
    pattern: 'auth',
    fields: {},
    help: 'Lists the enabled auth methods.',
    operations: {
      read: () => Promise.resolve({ kind: 'data', data: listAuthMounts(authMounts) }),
    },
  });

  const [tune, mount] = mountTablePaths({
    table: authMounts,
    prefix: 'auth',
    what: 'auth method',
    pathOf: authPath,
    resolveType: (type, options) => [type, options],
    tuneExtras: { token_type: 'default-service' },
    beforeUnmount: deps.beforeUnmount,
  });

  return [list, tune, mount];
}
