// The engine factory: its type, that mounts take no options, and that the engine offers the
// lease, rollback, schedule and close hooks the core calls.
import { expect, it } from 'vitest';
import { databaseEngineFactory } from './engine.js';

it('is the "database" engine, with every hook, and takes no mount options', async () => {
  expect(databaseEngineFactory.type).toBe('database');
  expect(databaseEngineFactory.normaliseOptions?.({})).toEqual({});
  expect(() => databaseEngineFactory.normaliseOptions?.({ version: '2' })).toThrow(
    expect.objectContaining({ code: 'invalid_request', field: 'options.version' }),
  );
  const engine = databaseEngineFactory.create({
    path: 'database/',
    uuid: 'u',
    accessor: 'a',
    type: 'database',
    options: {},
    config: { defaultLeaseTtlSeconds: 60, maxLeaseTtlSeconds: 60 },
  });
  for (const hook of ['revokeLease', 'renewLease', 'rollback', 'runScheduled', 'close'] as const) {
    expect(typeof engine[hook]).toBe('function');
  }
  await engine.close?.();
});
