// JWT/OIDC `login {role, jwt}`: a signed JWT for a jwt role becomes a LoginGrant (the core
// makes the token). Unauthenticated; rate-limited per client before any work.
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { requireConfig, type JwtConfig } from './config.js';
import type { JwtDeps } from './deps.js';
import { canonicalRoleName } from '../record-paths.js';
import { readRole, type JwtRole } from './role.js';
import { checkLoginAddress, grantFor, verifyJwtLogin } from './verify.js';

const FIELDS = {
  role: { type: 'string', description: 'Role to log in with; default_role when omitted.' },
  jwt: { type: 'string', description: 'The signed JWT.', required: true },
} as const;

/** The role a login names (or the default role), loaded; refuses a missing one. */
export async function loginRole(
  storage: Parameters<typeof readRole>[0],
  config: JwtConfig,
  requested: string | undefined,
): Promise<{ name: string; role: JwtRole }> {
  const raw = requested === undefined || requested === '' ? config.defaultRole : requested;
  if (raw === '') throw invalidField('role', 'missing role');
  const name = canonicalRoleName(raw, 'role');
  const role = await readRole(storage, name);
  if (role === undefined) throw invalidField('role', 'role could not be found');
  return { name, role };
}

export function pathLogin(deps: JwtDeps): PathSpec {
  return definePath({
    pattern: 'login',
    fields: FIELDS,
    operations: {
      async update(req, fields) {
        deps.limiter.take(req.remoteAddress, req.now());
        const config = await requireConfig(req.storage);
        const { name, role } = await loginRole(req.storage, config, fields.role);
        if (role.roleType !== 'jwt') {
          throw new CofferError('invalid_request', 'role with oidc role_type is not allowed', {
            field: 'role',
          });
        }
        checkLoginAddress(role, req.remoteAddress);
        const jwt = (fields.jwt ?? '').trim();
        if (jwt === '') throw invalidField('jwt', 'missing token');
        const claims = await verifyJwtLogin(jwt, role, config, deps.keys.for(config), req.now());
        return { kind: 'login', login: grantFor(name, role, claims) };
      },
    },
    help:
      'Logs in with a signed JWT under a role of type "jwt". The token must verify under the ' +
      "configured keys and satisfy the role; the Coffer token gets the role's token settings, " +
      'metadata {role, claim mappings} and the user claim as its alias.',
  });
}
