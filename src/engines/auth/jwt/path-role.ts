// JWT/OIDC `role/:name` (read, write, delete) and `LIST role/`.
import type { PathSpec } from '../../../sdk/path.js';
import { mergedRolePaths } from '../record-paths.js';
import * as keys from './keys.js';
import * as roles from './role.js';

export function rolePaths(): PathSpec[] {
  return mergedRolePaths(
    keys,
    roles,
    'A role binds what a token must say (bound_audiences, bound_subject, bound_claims, ' +
      'the issuer from config) to the Coffer token a login gets (token_policies, token_ttl ' +
      'and the other token_* fields). user_claim names the user; claim_mappings copy claims ' +
      'into token metadata. role_type "jwt" roles log in with a JWT at login; "oidc" roles ' +
      'through the browser flow (oidc/auth_url and oidc/callback).',
  );
}
