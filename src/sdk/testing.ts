// Test fixtures for engines: an in-memory Storage and a request builder, no HTTP, no core.
import type {
  EngineContext,
  EngineRequest,
  MountInfo,
  Operation,
  Schedule,
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
