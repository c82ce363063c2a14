// userpass `users/`: LIST users, `users/:username` create/update/read/delete,
// `users/:username/password` and `users/:username/policies`.
import type { EngineRequest, EngineResult } from '../../../sdk/engine.js';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { emptyWithWarnings, pathNameList, pathNamedRecord } from '../record-paths.js';
import {
  DEFAULT_TOKEN_SETTINGS,
  renderTokenSettings,
  TOKEN_FIELDS,
  updateTokenSettings,
} from '../token-fields.js';
import { USER_PREFIX } from './keys.js';
import type { UserpassDeps } from './deps.js';
import { checkPassword, readUser, usernameForWrite, writeUser, type UserEntry } from './users.js';

const USER_NOT_FOUND = 'user not found';

const USERNAME_FIELD = {
  username: {
    type: 'string',
    description: 'Ignored: the username is the last segment of the path.',
  },
} as const;

const USER_FIELDS = {
  ...USERNAME_FIELD,
  password: {
    type: 'string',
    description:
      'The password; required when the user is created. Stored only as an argon2id hash.',
  },
  ...TOKEN_FIELDS,
} as const;

const PASSWORD_FIELDS = {
  ...USERNAME_FIELD,
  password: { type: 'string', description: 'The new password.', required: true },
} as const;

const POLICIES_FIELDS = {
  ...USERNAME_FIELD,
  token_policies: TOKEN_FIELDS.token_policies,
  policies: TOKEN_FIELDS.policies,
} as const;

export function pathUsersList(): PathSpec {
  return pathNameList({
    pattern: 'users',
    prefix: USER_PREFIX,
    noun: 'users',
    help: 'Lists the usernames of this mount (canonical: trimmed and lowercase).',
  });
}

export function pathUser(deps: UserpassDeps): PathSpec {
  return pathNamedRecord({
    pattern: 'users/:username',
    param: 'username',
    fields: USER_FIELDS,
    canonicalName: usernameForWrite,
    read: readUser,
    // SECURITY: the password hash is never rendered.
    render: (user) => renderTokenSettings(user.token),
    notFound: USER_NOT_FOUND,
    write: (req, fields, name) =>
      deps.mutex.run(`user:${name}`, async () => {
        const current = await readUser(req.storage, name);
        if (current === undefined && fields.password === undefined) {
          throw invalidField('password', 'is required when creating a user');
        }
        const { settings, warnings } = updateTokenSettings(
          current?.token ?? DEFAULT_TOKEN_SETTINGS,
          fields,
        );
        const passwordHash =
          fields.password === undefined
            ? current!.passwordHash
            : await deps.hasher.hash(checkPassword(fields.password));
        await writeUser(req.storage, name, { passwordHash, token: settings });
        return emptyWithWarnings(warnings);
      }),
    delete: (req, name) =>
      deps.mutex.run(`user:${name}`, async () => {
        await req.storage.delete(`${USER_PREFIX}${name}`);
        await deps.lockout.clear(req.storage, name);
      }),
    help:
      'A user: its password (write only; stored as an argon2id hash) and the token_* fields ' +
      'of the tokens its logins get. Usernames are stored trimmed and lowercase.',
  });
}

/** Replaces an existing user by `change` of it, under the user's lock; 404 for no such user. */
async function changeUser(
  deps: UserpassDeps,
  req: EngineRequest,
  name: string,
  change: (user: UserEntry) => Promise<UserEntry>,
): Promise<EngineResult> {
  return deps.mutex.run(`user:${name}`, async () => {
    const user = await readUser(req.storage, name);
    if (user === undefined) throw new CofferError('not_found', USER_NOT_FOUND);
    await writeUser(req.storage, name, await change(user));
    return { kind: 'empty' };
  });
}

export function pathUserPassword(deps: UserpassDeps): PathSpec {
  return definePath({
    pattern: 'users/:username/password',
    fields: PASSWORD_FIELDS,
    operations: {
      async update(req, fields, params) {
        const name = usernameForWrite(params.username ?? '');
        const password = checkPassword(fields.password ?? '');
        return changeUser(deps, req, name, async (user) => ({
          ...user,
          passwordHash: await deps.hasher.hash(password),
        }));
      },
    },
    help: "Replaces a user's password.",
  });
}

export function pathUserPolicies(deps: UserpassDeps): PathSpec {
  return definePath({
    pattern: 'users/:username/policies',
    fields: POLICIES_FIELDS,
    operations: {
      async update(req, fields, params) {
        const name = usernameForWrite(params.username ?? '');
        if (fields.token_policies === undefined && fields.policies === undefined) {
          throw invalidField('token_policies', 'is required');
        }
        return changeUser(deps, req, name, (user) => {
          const { settings } = updateTokenSettings(user.token, {
            token_policies: fields.token_policies,
            policies: fields.policies,
          });
          return Promise.resolve({ ...user, token: settings });
        });
      },
    },
    help: "Replaces a user's token_policies.",
  });
}
