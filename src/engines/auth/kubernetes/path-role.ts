// Kubernetes `role/:name` (read, write, delete) and `LIST role/`.
import type { PathSpec } from '../../../sdk/path.js';
import { mergedRolePaths } from '../record-paths.js';
import * as keys from './keys.js';
import * as roles from './role.js';

export function rolePaths(): PathSpec[] {
  return mergedRolePaths(
    keys,
    roles,
    'A role names the service accounts that may log in (bound_service_account_names and ' +
      'bound_service_account_namespaces, "*" or globs), the audience their JWT must carry, ' +
      'how the alias is named (alias_name_source) and the token_* settings of the token.',
  );
}
