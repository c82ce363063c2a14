// userpass `login/:username {password}`: the unauthenticated login. In order: the client's rate
// limit, then (serialised per canonical name) the lockout check, the KDF against the user's hash
// or a dummy one, and the lockout counter.
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { addressInCidrs } from '../cidr.js';
import { loginGrant } from '../token-fields.js';
import type { UserpassDeps } from './deps.js';
import { lockoutKey } from './keys.js';
import { canonicalUsername, isValidUsername, readUser } from './users.js';

/** Vault's words, and the same for a wrong password and an unknown user. */
export const INVALID_CREDENTIALS = 'invalid username or password';

export function pathLogin(deps: UserpassDeps): PathSpec {
  return definePath({
    pattern: 'login/:username',
    fields: {
      password: { type: 'string', description: 'The password.' },
      username: { type: 'string', description: 'Ignored: the username is in the path.' },
    },
    operations: {
      async update(req, fields, params) {
        // Before anything costly: a flood from one address stops here.
        deps.limiter.take(req.remoteAddress, req.now());
        const password = fields.password;
        if (password === undefined || password === '')
          throw invalidField('password', 'is required');
        const name = canonicalUsername(params.username ?? '');
        // SECURITY: one queue per canonical name, so parallel guesses cannot all pass the
        // lockout check before the first failure is counted.
        return deps.mutex.run(`login:${lockoutKey(name)}`, async () => {
          // SECURITY: a locked name is refused before the KDF runs.
          if (await deps.lockout.isLocked(req.storage, name, req.now())) {
            throw new CofferError('permission_denied', 'permission denied');
          }
          const user = isValidUsername(name) ? await readUser(req.storage, name) : undefined;
          // SECURITY: an unknown user costs one full KDF run too, against a hash with the same
          // parameters, and gets the same error (Vault CVE-2025-6011).
          const stored = user?.passwordHash ?? (await deps.hasher.dummyHash());
          const matches = await deps.hasher.verify(stored, password);
          if (!matches || user === undefined) {
            await deps.lockout.recordFailure(req, name);
            throw new CofferError('invalid_request', INVALID_CREDENTIALS);
          }
          // As Vault: a user bound to CIDRs may log in only from inside them.
          if (
            user.token.boundCidrs.length > 0 &&
            !addressInCidrs(req.remoteAddress, user.token.boundCidrs)
          ) {
            throw new CofferError('permission_denied', 'permission denied');
          }
          await deps.lockout.clear(req.storage, name);
          return {
            kind: 'login',
            login: loginGrant(user.token, {
              displayName: name,
              metadata: { username: name },
              aliasName: name,
            }),
          };
        });
      },
    },
    help:
      'Logs in with a password. Wrong passwords and unknown users get the same 400; after ' +
      'too many failures the name is locked for a while (403).',
  });
}
