// Test fixtures for engines: an in-memory Storage, a request builder, and a harness that sends
// an engine requests over memory storage with a settable clock. No HTTP, no core.
import { expect } from 'vitest';
import type {
  EngineContext,
  EngineRequest,
  EngineResult,
  MountInfo,
  Operation,
  Schedule,
  SecretEngine,
  WalEntry,
  WriteAheadLog,
} from './engine.js';
import type { JsonObject } from './json.js';
import { directChildren, type Storage } from './storage.js';

export function memoryStorage(): Storage & { readonly entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    entries,
    get: (key) => Promise.resolve(entries.get(key)),
    put: (key, value) => {
      entries.set(key, value);
      return Promise.resolve();
    },
    delete: (key) => {
      entries.delete(key);
      return Promise.resolve();
    },
    list: (prefix) => Promise.resolve(directChildren(prefix, [...entries.keys()].sort())),
    batch: (ops) => {
      for (const op of ops) {
        if (op.op === 'put') entries.set(op.key, op.value);
        else entries.delete(op.key);
      }
      return Promise.resolve();
    },
  };
}

export function testMount(overrides: Partial<MountInfo> = {}): MountInfo {
  return {
    path: 'secret/',
    uuid: '00000000-0000-4000-8000-000000000000',
    accessor: 'kv_00000000',
    type: 'kv',
    options: { version: '2' },
    config: { defaultLeaseTtlSeconds: 2_764_800, maxLeaseTtlSeconds: 2_764_800 },
    ...overrides,
  };
}

/** A Schedule that only records: tests read `jobs` and call `runScheduled` themselves. */
export function memorySchedule(): Schedule & { readonly jobs: Map<string, number> } {
  const jobs = new Map<string, number>();
  return {
    jobs,
    set: (name, dueAt) => {
      jobs.set(name, dueAt);
      return Promise.resolve();
    },
    cancel: (name) => {
      jobs.delete(name);
      return Promise.resolve();
    },
    get: (name) => Promise.resolve(jobs.get(name)),
  };
}

/** A WriteAheadLog that only records: tests read `entries` and call `rollback` themselves. */
export function memoryWal(now: () => number = () => Date.UTC(2026, 0, 1)): WriteAheadLog & {
  readonly entries: Map<string, WalEntry>;
} {
  const entries = new Map<string, WalEntry>();
  let next = 0;
  return {
    entries,
    put: (kind: string, data: JsonObject) => {
      next += 1;
      const id = `wal-${next}`;
      entries.set(id, { id, kind, data, createdAt: now() });
      return Promise.resolve(id);
    },
    delete: (id) => {
      entries.delete(id);
      return Promise.resolve();
    },
  };
}

export interface TestContextOptions {
  readonly mount?: MountInfo;
  readonly now?: () => number;
  readonly schedule?: Schedule;
  readonly wal?: WriteAheadLog;
}

/** The context an engine gets for lease, job and rollback calls, over the given storage. */
export function testContext(storage: Storage, options: TestContextOptions = {}): EngineContext {
  const now = options.now ?? (() => Date.UTC(2026, 0, 1));
  return Object.freeze({
    storage,
    mount: options.mount ?? testMount(),
    now,
    schedule: options.schedule ?? memorySchedule(),
    wal: options.wal ?? memoryWal(now),
  });
}

export function testRequest(
  operation: Operation,
  path: string,
  data: Record<string, unknown>,
  storage: Storage,
  options: TestContextOptions & { remoteAddress?: string } = {},
): EngineRequest {
  return Object.freeze({
    ...testContext(storage, options),
    operation,
    path,
    data: Object.freeze({ ...data }),
    requestId: 'test-request',
    ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }),
  });
}

/** 2026-01-01T00:00:00Z, the default test clock. */
export const T0 = Date.UTC(2026, 0, 1);

/** One engine over memory storage, with a recording schedule and write-ahead log. */
export interface EngineHarness<E extends SecretEngine = SecretEngine> {
  readonly engine: E;
  readonly mount: MountInfo;
  readonly storage: ReturnType<typeof memoryStorage>;
  readonly schedule: ReturnType<typeof memorySchedule>;
  readonly wal: ReturnType<typeof memoryWal>;
  /** Epoch ms the next request sees; tests move it forward. */
  nowMs: number;
  /** The client address of the next request; undefined sends none. */
  remoteAddress: string | undefined;
  call(operation: Operation, path: string, data?: Record<string, unknown>): Promise<EngineResult>;
  /** Like call, but returns the `data` of a data result (fails the test otherwise). */
  data(operation: Operation, path: string, data?: Record<string, unknown>): Promise<JsonObject>;
  /** The engine's existence check for `path` (as for an update unless told otherwise). */
  exists(path: string, operation?: Operation): Promise<boolean | undefined>;
  /** The context the core hands lease calls, scheduled jobs and rollbacks. */
  context(): EngineContext;
}

export interface EngineHarnessOptions {
  readonly mount: MountInfo;
  readonly storage?: ReturnType<typeof memoryStorage>;
  /** The first clock value, epoch ms; T0 by default. */
  readonly nowMs?: number;
  readonly remoteAddress?: string;
}

export function engineHarness<E extends SecretEngine>(
  engine: E,
  options: EngineHarnessOptions,
): EngineHarness<E> {
  const storage = options.storage ?? memoryStorage();
  const schedule = memorySchedule();
  const { mount } = options;
  const contextOptions = (): TestContextOptions => ({
    mount,
    now: () => h.nowMs,
    schedule,
    wal: h.wal,
  });
  const h: EngineHarness<E> = {
    engine,
    mount,
    storage,
    schedule,
    wal: memoryWal(() => h.nowMs),
    nowMs: options.nowMs ?? T0,
    remoteAddress: options.remoteAddress,
    call(operation, path, data = {}) {
      return engine.handle(
        testRequest(operation, path, data, storage, {
          ...contextOptions(),
          ...(h.remoteAddress === undefined ? {} : { remoteAddress: h.remoteAddress }),
        }),
      );
    },
    async data(operation, path, data = {}) {
      const result = await h.call(operation, path, data);
      if (result.kind !== 'data') throw new Error(`expected a data result, got ${result.kind}`);
      return result.data;
    },
    exists(path, operation = 'update') {
      return engine.exists(testRequest(operation, path, {}, storage, contextOptions()));
    },
    context() {
      return testContext(storage, contextOptions());
    },
  };
  return h;
}

/** Asserts that `promise` rejects with a CofferError of `code` (and `field`, when given). */
export async function expectCoffer(
  promise: Promise<unknown>,
  code: string,
  field?: string,
): Promise<void> {
  await expect(promise).rejects.toMatchObject(
    field === undefined ? { name: 'CofferError', code } : { name: 'CofferError', code, field },
  );
}
