// Test fixtures for the KV engine tests: an engine over memory storage with a settable clock,
// and a matcher for CofferError codes. Not part of the build.
import type { EngineResult, Operation, SecretEngine } from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import { memoryStorage, testMount, testRequest } from '../../sdk/testing.js';

export { expectCoffer } from '../../sdk/testing.js';
import { createKv1Engine, createKv2Engine } from './engine.js';

/** 2026-01-01T00:00:00Z, the default test clock. */
export const T0 = Date.UTC(2026, 0, 1);

export interface Harness {
  readonly engine: SecretEngine;
  readonly storage: ReturnType<typeof memoryStorage>;
  /** Epoch ms the next request sees; tests move it forward. */
  nowMs: number;
  call(operation: Operation, path: string, data?: Record<string, unknown>): Promise<EngineResult>;
  /** Like call, but returns the `data` of a data result (fails the test otherwise). */
  data(operation: Operation, path: string, data?: Record<string, unknown>): Promise<JsonObject>;
  exists(operation: Operation, path: string): Promise<boolean | undefined>;
}

export function harness(version: '1' | '2' = '2'): Harness {
  const storage = memoryStorage();
  const engine = version === '2' ? createKv2Engine() : createKv1Engine();
  const mount = testMount({ options: { version } });
  const h: Harness = {
    engine,
    storage,
    nowMs: T0,
    call(operation, path, data = {}) {
      return engine.handle(
        testRequest(operation, path, data, storage, { mount, now: () => h.nowMs }),
      );
    },
    async data(operation, path, data = {}) {
      const result = await h.call(operation, path, data);
      if (result.kind !== 'data') throw new Error(`expected a data result, got ${result.kind}`);
      return result.data;
    },
    exists(operation, path) {
      return engine.exists(
        testRequest(operation, path, {}, storage, { mount, now: () => h.nowMs }),
      );
    },
  };
  return h;
}
