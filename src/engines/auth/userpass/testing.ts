// Test fixtures for the userpass tests: an engine over memory storage with a settable clock and
// client address, and a fast hasher that counts KDF runs. Not part of the build.
import { createHash, timingSafeEqual } from 'node:crypto';
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
import { createUserpassEngine, type UserpassEngineOptions } from './engine.js';
import type { PasswordHasher } from './hasher.js';

export const T0 = Date.UTC(2026, 0, 1);

/** A hasher that stands in for argon2 (SHA-256 with a fixed salt) and counts its runs. */
export interface CountingHasher extends PasswordHasher {
  /** KDF runs: verifications, including those against the dummy hash. */
  verifies: number;
  hashes: number;
}

export function countingHasher(): CountingHasher {
  const digest = (password: string): string =>
    createHash('sha256').update(`test-salt:${password}`).digest('hex');
  const h: CountingHasher = {
    verifies: 0,
    hashes: 0,
    hash(password) {
      h.hashes += 1;
      return Promise.resolve(`$test$${digest(password)}`);
    },
    verify(stored, password) {
      h.verifies += 1;
      const a = Buffer.from(stored);
      const b = Buffer.from(`$test$${digest(password)}`);
      return Promise.resolve(a.length === b.length && timingSafeEqual(a, b));
    },
    dummyHash: () => Promise.resolve(`$test$${digest('dummy-nobody-knows')}-`),
  };
  return h;
}

export interface Harness {
  readonly engine: SecretEngine;
  readonly storage: ReturnType<typeof memoryStorage>;
  readonly schedule: ReturnType<typeof memorySchedule>;
  readonly hasher: CountingHasher;
  nowMs: number;
  /** The client address of the next request. */
  remoteAddress: string | undefined;
  call(operation: Operation, path: string, data?: Record<string, unknown>): Promise<EngineResult>;
  data(operation: Operation, path: string, data?: Record<string, unknown>): Promise<JsonObject>;
  login(username: string, password: string): Promise<LoginGrant>;
  exists(path: string): Promise<boolean | undefined>;
  /** The context the core hands scheduled jobs. */
  context(): EngineContext;
}

export function harness(
  options: UserpassEngineOptions = {},
  storage: ReturnType<typeof memoryStorage> = memoryStorage(),
): Harness {
  const schedule = memorySchedule();
  const hasher = countingHasher();
  const engine = createUserpassEngine({
    hasher,
    rateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
    ...options,
  });
  const mount = testMount({ path: 'auth/userpass/', type: 'userpass', options: {} });
  const h: Harness = {
    engine,
    storage,
    schedule,
    hasher,
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
    async login(username, password) {
      const result = await h.call('update', `login/${username}`, { password });
      if (result.kind !== 'login') throw new Error(`expected a login result, got ${result.kind}`);
      return result.login;
    },
    context() {
      return testContext(storage, { mount, now: () => h.nowMs, schedule });
    },
    exists(path) {
      return engine.exists(testRequest('update', path, {}, storage, { mount, now: () => h.nowMs }));
    },
  };
  return h;
}

/** Asserts that `promise` rejects with a CofferError of `code` (and `message`, when given). */
export async function expectCoffer(
  promise: Promise<unknown>,
  code: string,
  message?: string,
): Promise<void> {
  await expect(promise).rejects.toMatchObject(
    message === undefined ? { name: 'CofferError', code } : { name: 'CofferError', code, message },
  );
}

/** Every stored byte as one string, to search for secrets that must not be there. */
export function storedText(storage: ReturnType<typeof memoryStorage>): string {
  return [...storage.entries].map(([k, v]) => `${k}=${Buffer.from(v).toString('utf8')}`).join('\n');
}
