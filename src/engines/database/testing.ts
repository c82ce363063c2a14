// Test fixtures for the database engine (unit and integration tests): the engine over memory
// storage with a recording schedule and write-ahead log, a settable clock, and helpers that
// play the core's part for leases. Not part of the build's behaviour.
import { expect } from 'vitest';
import type {
  EngineContext,
  EngineResult,
  LeaseGrant,
  LeaseInfo,
  Operation,
  SecretEngine,
} from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import {
  memorySchedule,
  memoryStorage,
  memoryWal,
  testContext,
  testMount,
  testRequest,
} from '../../sdk/testing.js';
import type { DriverOptions } from './driver.js';
import { createDatabaseEngine } from './engine.js';

export const MOUNT = testMount({
  path: 'database/',
  type: 'database',
  accessor: 'database_00000000',
  options: {},
  config: { defaultLeaseTtlSeconds: 3600, maxLeaseTtlSeconds: 86_400 },
});

export interface DatabaseHarness {
  readonly engine: SecretEngine;
  readonly storage: ReturnType<typeof memoryStorage>;
  readonly schedule: ReturnType<typeof memorySchedule>;
  readonly wal: ReturnType<typeof memoryWal>;
  /** Epoch ms every call sees; tests move it. */
  nowMs: number;
  ctx(): EngineContext;
  call(operation: Operation, path: string, data?: Record<string, unknown>): Promise<EngineResult>;
  /** `data` of a data result (fails the test otherwise). */
  data(operation: Operation, path: string, data?: Record<string, unknown>): Promise<JsonObject>;
  exists(path: string): Promise<boolean | undefined>;
  /** Reads creds/<role> and returns the grant with the lease the core would register. */
  creds(role: string): Promise<{ data: JsonObject; grant: LeaseGrant; lease: LeaseInfo }>;
  /** A stored record, parsed (tests look behind the API, e.g. at a rotated password). */
  stored(key: string): unknown;
}

let leaseCounter = 0;

export function databaseHarness(options: { driver?: DriverOptions; nowMs?: number } = {}) {
  const storage = memoryStorage();
  const schedule = memorySchedule();
  const engine = createDatabaseEngine(
    options.driver === undefined ? {} : { driver: options.driver },
  );
  const h: DatabaseHarness = {
    engine,
    storage,
    schedule,
    wal: memoryWal(() => h.nowMs),
    nowMs: options.nowMs ?? Date.UTC(2026, 0, 1),
    ctx() {
      return testContext(storage, { mount: MOUNT, now: () => h.nowMs, schedule, wal: h.wal });
    },
    call(operation, path, data = {}) {
      return engine.handle(
        testRequest(operation, path, data, storage, {
          mount: MOUNT,
          now: () => h.nowMs,
          schedule,
          wal: h.wal,
        }),
      );
    },
    async data(operation, path, data = {}) {
      const result = await h.call(operation, path, data);
      if (result.kind !== 'data') throw new Error(`expected a data result, got ${result.kind}`);
      return result.data;
    },
    exists(path) {
      return engine.exists(
        testRequest('update', path, {}, storage, { mount: MOUNT, now: () => h.nowMs }),
      );
    },
    async creds(role) {
      const result = await h.call('read', `creds/${role}`);
      if (result.kind !== 'lease') throw new Error(`expected a lease result, got ${result.kind}`);
      const ttlSeconds = result.lease.ttlSeconds || MOUNT.config.defaultLeaseTtlSeconds;
      leaseCounter += 1;
      const lease: LeaseInfo = {
        id: `database/creds/${role}/lease-${leaseCounter}`,
        path: `database/creds/${role}`,
        secretType: result.lease.secretType,
        internal: result.lease.internal,
        issuedAt: h.nowMs,
        expiresAt: h.nowMs + ttlSeconds * 1000,
        ttlSeconds,
      };
      return { data: result.data, grant: result.lease, lease };
    },
    stored(key) {
      const raw = storage.entries.get(key);
      return raw === undefined ? undefined : (JSON.parse(new TextDecoder().decode(raw)) as unknown);
    },
  };
  return h;
}

/** Asserts a CofferError of `code` whose message contains `contains` and none of `secrets`. */
export async function expectCoffer(
  promise: Promise<unknown>,
  code: string,
  options: { contains?: string; secrets?: readonly string[]; field?: string } = {},
): Promise<string> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toMatchObject({ name: 'CofferError', code });
  const message = (caught as Error).message;
  if (options.contains !== undefined) expect(message).toContain(options.contains);
  if (options.field !== undefined) expect(caught).toMatchObject({ field: options.field });
  for (const secret of options.secrets ?? []) expect(message).not.toContain(secret);
  return message;
}
