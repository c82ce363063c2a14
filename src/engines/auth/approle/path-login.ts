// approle `login {role_id, secret_id}`: the unauthenticated login. The client's rate limit
// first; then the role by its role ID; then, under the secret ID's lock, its expiry, its CIDRs
// and the role's, and only then one use is spent, so two logins racing for a last use cannot
// both win.
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { encodeJson } from '../../../sdk/storage.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { addressInCidrs } from '../cidr.js';
import { loginGrant } from '../token-fields.js';
import type { AppRoleDeps } from './deps.js';
import { keyedHash, secretIdKey } from './keys.js';
import { deleteSecretId, hmacKey, readSecretId, roleByRoleId, type RoleEntry } from './store.js';

/** Vault's words, for every credential that does not log in (unknown, expired, used up). */
export const INVALID_CREDENTIALS = 'invalid role or secret ID';

function invalid(): CofferError {
  return new CofferError('invalid_request', INVALID_CREDENTIALS);
}

function checkRoleCidrs(role: RoleEntry, remoteAddress: string | undefined): void {
  if (
    role.secretIdBoundCidrs.length > 0 &&
    !addressInCidrs(remoteAddress, role.secretIdBoundCidrs)
  ) {
    throw new CofferError(
      'invalid_request',
      'source address unauthorized by CIDR restrictions on the role',
    );
  }
}

export function pathLogin(deps: AppRoleDeps): PathSpec {
  return definePath({
    pattern: 'login',
    fields: {
      role_id: { type: 'string', description: 'The role ID.' },
      secret_id: { type: 'string', description: 'A secret ID of the role (if it binds them).' },
    },
    operations: {
      async update(req, fields) {
        deps.limiter.take(req.remoteAddress, req.now());
        const roleId = (fields.role_id ?? '').trim();
        if (roleId === '') throw invalidField('role_id', 'is required');
        const key = await hmacKey(req.storage, deps.mutex, false);
        const role = key === undefined ? undefined : await roleByRoleId(req.storage, key, roleId);
        if (key === undefined || role === undefined) throw invalid();

        let metadata: Readonly<Record<string, string>> = {};
        let boundCidrs = role.token.boundCidrs;
        if (role.bindSecretId) {
          const secretId = (fields.secret_id ?? '').trim();
          if (secretId === '') throw invalidField('secret_id', 'is required');
          const hmac = keyedHash(key, 'secret-id', secretId);
          // SECURITY: check-then-spend under one lock per secret ID (see the file header).
          const entry = await deps.mutex.run(`sid:${role.uuid}/${hmac}`, async () => {
            const found = await readSecretId(req.storage, role, hmac);
            if (found === undefined) throw invalid();
            const now = req.now();
            if (found.expiresAt > 0 && now >= found.expiresAt) {
              await deleteSecretId(req.storage, key, role, hmac, found);
              throw invalid();
            }
            if (found.cidrList.length > 0 && !addressInCidrs(req.remoteAddress, found.cidrList)) {
              throw new CofferError(
                'invalid_request',
                'source address unauthorized by CIDR restrictions on the secret ID',
              );
            }
            checkRoleCidrs(role, req.remoteAddress);
            if (found.numUses === 1) {
              await deleteSecretId(req.storage, key, role, hmac, found);
            } else if (found.numUses > 1) {
              await req.storage.put(
                secretIdKey(role.uuid, hmac),
                encodeJson({ ...found, numUses: found.numUses - 1, updatedAt: now }),
              );
            }
            return found;
          });
          metadata = entry.metadata;
          if (entry.tokenBoundCidrs.length > 0) boundCidrs = entry.tokenBoundCidrs;
        } else {
          checkRoleCidrs(role, req.remoteAddress);
        }
        const tokenMetadata = { ...metadata, role_name: role.name };
        return {
          kind: 'login',
          login: loginGrant(role.token, {
            displayName: '',
            metadata: tokenMetadata,
            aliasName: role.roleId,
            boundCidrs,
          }),
        };
      },
    },
    help:
      'Logs in with a role ID and (if the role binds them) a secret ID. Unknown, expired and ' +
      'used-up credentials all get 400 "invalid role or secret ID".',
  });
}
