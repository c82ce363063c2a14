// Kubernetes `login {role, jwt}`: a service account JWT becomes a LoginGrant. The token is
// verified with pem_keys and/or the TokenReview API, then the role's name, namespace and
// audience bindings are checked. Unauthenticated; rate-limited per client before any work.
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import type { Outbound } from '../../../shared/outbound.js';
import { addressInCidrs } from '../cidr.js';
import type { LoginRateLimiter } from '../rate-limit.js';
import { loginGrant } from '../token-fields.js';
import { requireConfig } from './config.js';
import { canonicalRoleName } from '../record-paths.js';
import { boundAllows, readRole } from './role.js';
import { audiencesOf, denied, readToken, serviceAccountOf } from './service-account.js';
import { reviewToken } from './token-review.js';

const FIELDS = {
  role: { type: 'string', description: 'Role to log in with.', required: true },
  jwt: { type: 'string', description: 'The service account JWT.', required: true },
} as const;

export interface LoginDeps {
  readonly outbound: Outbound;
  readonly limiter: LoginRateLimiter;
}

export function pathLogin(deps: LoginDeps): PathSpec {
  return definePath({
    pattern: 'login',
    fields: FIELDS,
    operations: {
      async update(req, fields) {
        const nowMs = req.now();
        deps.limiter.take(req.remoteAddress, nowMs);
        if ((fields.role ?? '') === '') throw invalidField('role', 'missing role');
        const jwt = (fields.jwt ?? '').trim();
        if (jwt === '') throw invalidField('jwt', 'missing jwt');
        const roleName = canonicalRoleName(fields.role ?? '', 'role');
        const role = await readRole(req.storage, roleName);
        if (role === undefined) throw invalidField('role', 'invalid role name');
        // SECURITY: token_bound_cidrs also bind the login, as in Vault.
        if (
          role.token.boundCidrs.length > 0 &&
          !addressInCidrs(req.remoteAddress, role.token.boundCidrs)
        ) {
          throw new CofferError('permission_denied', 'permission denied');
        }
        const config = await requireConfig(req.storage);
        const claims = await readToken(jwt, config, role.audience, nowMs);
        const claimed = serviceAccountOf(claims);
        // Bindings are checked before any TokenReview call, so a token for another account
        // never makes Coffer call the API server.
        if (!boundAllows(role.boundServiceAccountNames, claimed.name)) {
          throw denied('service account name not authorized');
        }
        if (!boundAllows(role.boundServiceAccountNamespaces, claimed.namespace)) {
          throw denied('namespace not authorized');
        }
        let sa = claimed;
        if (config.kubernetesHost !== '') {
          const audiences = role.audience === '' ? audiencesOf(claims) : [role.audience];
          const reviewed = await reviewToken(deps.outbound, config, jwt, audiences);
          if (
            reviewed.name !== claimed.name ||
            reviewed.namespace !== claimed.namespace ||
            reviewed.uid !== claimed.uid
          ) {
            throw denied('JWT claims do not match the TokenReview result');
          }
          sa = { ...reviewed, secretName: claimed.secretName };
        }
        if (sa.uid === '') throw denied('could not parse UID from claims');
        if (sa.name === '' || sa.namespace === '') {
          throw denied('service account namespace and name must be set');
        }
        const saMetadata = {
          service_account_name: sa.name,
          service_account_namespace: sa.namespace,
          service_account_secret_name: sa.secretName,
          service_account_uid: sa.uid,
        };
        const aliasName =
          role.aliasNameSource === 'serviceaccount_name' ? `${sa.namespace}/${sa.name}` : sa.uid;
        const grant = loginGrant(role.token, {
          displayName: `${sa.namespace}-${sa.name}`,
          metadata: { ...saMetadata, role: roleName },
          aliasName,
        });
        return {
          kind: 'login',
          login: { ...grant, alias: { name: aliasName, metadata: saMetadata } },
        };
      },
    },
    help:
      'Logs in with a service account JWT. The token is checked with the TokenReview API ' +
      '(kubernetes_host) and/or the configured pem_keys; its service account must match the ' +
      "role's bound names and namespaces, and its audience the role's audience.",
  });
}
