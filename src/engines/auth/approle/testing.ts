// Test fixtures for the approle tests: an engine over memory storage with a settable clock and
// client address. Not part of the build.
import { expect } from 'vitest';
import type {
  EngineContext,
  EngineResult,
  LoginGrant,
  Operation,
  SecretEngine,
} from '../../../sdk/engine.js';
import type { JsonObject } from '../../../sdk/json.js';
import {
  memorySchedule,
  memoryStorage,
  testContext,
  testMount,
  testRequest,
} from '../../../sdk/testing.js';
import { createAppRoleEngine, type AppRoleEngineOptions } from './engine.js';

export const T0 = Date.UTC(2026, 0, 1);

export interface Harness {
  readonly engine: SecretEngine;
  readonly storage: ReturnType<typeof memoryStorage>;
  readonly schedule: ReturnType<typeof memorySchedule>;
  nowMs: number;
  remoteAddress: string | undefined;
  call(operation: Operation, path: string, data?: Record<string, unknown>): Promise<EngineResult>;
  data(operation: Operation, path: string, data?: Record<string, unknown>): Promise<JsonObject>;
  login(roleId: string, secretId?: string): Promise<LoginGrant>;
  exists(path: string): Promise<boolean | undefined>;
  context(): EngineContext;
  /** Creates a role and returns its role ID and one fresh secret ID. */
  setup(
    role: string,
    roleFields?: Record<string, unknown>,
    secretIdFields?: Record<string, unknown>,
  ): Promise<{ roleId: string; secretId: string; accessor: string }>;
}

export function harness(options: AppRoleEngineOptions = {}): Harness {
  const storage = memoryStorage();
  const schedule = memorySchedule();
  const engine = createAppRoleEngine({
    rateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
    ...options,
  });
  const mount = testMount({ path: 'auth/approle/', type: 'approle', options: {} });
  const h: Harness = {
    engine,
    storage,
    schedule,
    nowMs: T0,
    remoteAddress: '127.0.0.1',
    call(operation, path, data = {}) {
      return engine.handle(
        testRequest(operation, path, data, storage, {
          mount,
          now: () => h.nowMs,
          schedule,
          ...(h.remoteAddress === undefined ? {} : { remoteAddress: h.remoteAddress }),
        }),
      );
    },
    async data(operation, path, data = {}) {
      const result = await h.call(operation, path, data);
      if (result.kind !== 'data') throw new Error(`expected a data result, got ${result.kind}`);
      return result.data;
    },
    async login(roleId, secretId) {
      const result = await h.call('update', 'login', {
        role_id: roleId,
        ...(secretId === undefined ? {} : { secret_id: secretId }),
      });
      if (result.kind !== 'login') throw new Error(`expected a login result, got ${result.kind}`);
      return result.login;
    },
    exists(path) {
      return engine.exists(testRequest('update', path, {}, storage, { mount, now: () => h.nowMs }));
    },
    context() {
      return testContext(storage, { mount, now: () => h.nowMs, schedule });
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
  return h;
}

/** A response field that must be a string (fails the test otherwise). */
export function str(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${typeof value}`);
  return value;
}

export async function expectCoffer(
  promise: Promise<unknown>,
  code: string,
  message?: string,
): Promise<void> {
  await expect(promise).rejects.toMatchObject(
    message === undefined ? { name: 'CofferError', code } : { name: 'CofferError', code, message },
  );
}

export function storedText(storage: ReturnType<typeof memoryStorage>): string {
  return [...storage.entries].map(([k, v]) => `${k}=${Buffer.from(v).toString('utf8')}`).join('\n');
}
