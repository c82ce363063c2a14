// Test fixtures for engines: an in-memory Storage and a request builder, no HTTP, no core.
import type { EngineRequest, MountInfo, Operation } from './engine.js';
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

export function testRequest(
  operation: Operation,
  path: string,
  data: Record<string, unknown>,
  storage: Storage,
  options: { mount?: MountInfo; now?: () => number } = {},
): EngineRequest {
  return Object.freeze({
    operation,
    path,
    data: Object.freeze({ ...data }),
    storage,
    mount: options.mount ?? testMount(),
    requestId: 'test-request',
    now: options.now ?? (() => Date.UTC(2026, 0, 1)),
  });
}
