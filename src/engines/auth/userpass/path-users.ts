// userpass `users/`: LIST users, `users/:username` create/update/read/delete,
// `users/:username/password` and `users/:username/policies`.
import type { EngineRequest, EngineResult } from '../../../sdk/engine.js';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import type { FieldValues } from '../../../sdk/fields.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import {
  DEFAULT_TOKEN_SETTINGS,
  renderTokenSettings,
  TOKEN_FIELDS,
  updateTokenSettings,
} from '../token-fields.js';
import { USER_PREFIX } from './keys.js';
import type { UserpassDeps } from './deps.js';
import { checkPassword, readUser, usernameForWrite, writeUser } from './users.js';

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

function withWarnings(warnings: readonly string[]): EngineResult {
  return warnings.length === 0 ? { kind: 'empty' } : { kind: 'empty', warnings };
}

export function pathUsersList(): PathSpec {
  return definePath({
    pattern: 'users',
    fields: {},
    operations: {
      async list(req) {
        const keys = (await req.storage.list(USER_PREFIX)).filter((k) => !k.endsWith('/'));
        if (keys.length === 0) throw new CofferError('not_found', 'no users');
        return { kind: 'data', data: { keys } };
      },
    },
    help: 'Lists the usernames of this mount (canonical: trimmed and lowercase).',
  });
}

export function pathUser(deps: UserpassDeps): PathSpec {
  async function write(
    req: EngineRequest,
    fields: FieldValues<typeof USER_FIELDS>,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> {
    const name = usernameForWrite(params.username ?? '');
    return deps.mutex.run(`user:${name}`, async () => {
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
      return withWarnings(warnings);
    });
  }

  return definePath({
    pattern: 'users/:username',
    fields: USER_FIELDS,
    operations: {
      async read(req, _fields, params) {
        const user = await readUser(req.storage, usernameForWrite(params.username ?? ''));
        if (user === undefined) throw new CofferError('not_found', 'user not found');
        // SECURITY: the password hash is never rendered.
        return { kind: 'data', data: renderTokenSettings(user.token) };
      },
      create: write,
      update: write,
      async delete(req, _fields, params) {
        const name = usernameForWrite(params.username ?? '');
        await deps.mutex.run(`user:${name}`, async () => {
          await req.storage.delete(`${USER_PREFIX}${name}`);
          await deps.lockout.clear(req.storage, name);
        });
        return { kind: 'empty' };
      },
    },
    exists: async (req, params) =>
      (await readUser(req.storage, usernameForWrite(params.username ?? ''))) !== undefined,
    help:
      'A user: its password (write only; stored as an argon2id hash) and the token_* fields ' +
      'of the tokens its logins get. Usernames are stored trimmed and lowercase.',
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
        return deps.mutex.run(`user:${name}`, async () => {
          const user = await readUser(req.storage, name);
          if (user === undefined) throw new CofferError('not_found', 'user not found');
          await writeUser(req.storage, name, {
            ...user,
            passwordHash: await deps.hasher.hash(password),
          });
          return { kind: 'empty' };
        });
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
        return deps.mutex.run(`user:${name}`, async () => {
          const user = await readUser(req.storage, name);
          if (user === undefined) throw new CofferError('not_found', 'user not found');
          const { settings } = updateTokenSettings(user.token, {
            token_policies: fields.token_policies,
            policies: fields.policies,
          });
          await writeUser(req.storage, name, { ...user, token: settings });
          return { kind: 'empty' };
        });
      },
    },
    help: "Replaces a user's token_policies.",
  });
}
