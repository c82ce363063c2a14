// Test fixtures for the approle tests: the engine on an auth mount (see ../testing.ts) with
// logins by role and secret ID, and a role set up with one secret ID. Not part of the build.
import type { LoginGrant } from '../../../sdk/engine.js';
import { memoryStorage, type EngineHarness } from '../../../sdk/testing.js';
import { authHarness, loginOf, UNLIMITED_LOGINS } from '../testing.js';
import { createAppRoleEngine, type AppRoleEngineOptions } from './engine.js';

export { expectCoffer, storedText, T0 } from '../testing.js';

export interface Harness extends EngineHarness {
  login(roleId: string, secretId?: string): Promise<LoginGrant>;
  /** Creates a role and returns its role ID and one fresh secret ID. */
  setup(
    role: string,
    roleFields?: Record<string, unknown>,
    secretIdFields?: Record<string, unknown>,
  ): Promise<{ roleId: string; secretId: string; accessor: string }>;
}

export function harness(
  options: AppRoleEngineOptions = {},
  storage: ReturnType<typeof memoryStorage> = memoryStorage(),
): Harness {
  const h = authHarness(
    createAppRoleEngine({ rateLimit: UNLIMITED_LOGINS, ...options }),
    'approle',
    storage,
  );
  const approle: Pick<Harness, 'login' | 'setup'> = {
    async login(roleId, secretId) {
      return loginOf(
        await h.call('update', 'login', {
          role_id: roleId,
          ...(secretId === undefined ? {} : { secret_id: secretId }),
        }),
      );
    },
    async setup(role, roleFields = {}, secretIdFields = {}) {
      await h.call('update', `role/${role}`, roleFields);
      const roleId = str((await h.data('read', `role/${role}/role-id`)).role_id);
      const issued = await h.data('update', `role/${role}/secret-id`, secretIdFields);
      return {
        roleId,
        secretId: str(issued.secret_id),
        accessor: str(issued.secret_id_accessor),
      };
    },
  };
  return Object.assign(h, approle);
}

/** A response field that must be a string (fails the test otherwise). */
export function str(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${typeof value}`);
  return value;
}
