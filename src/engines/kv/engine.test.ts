// The kv engine factory: option normalisation and the choice between v1 and v2.
import { describe, expect, it } from 'vitest';
import { memoryStorage, testMount, testRequest } from '../../sdk/testing.js';
import { kvEngineFactory, normaliseKvOptions } from './engine.js';

describe('kvEngineFactory', () => {
  it('is the "kv" type', () => {
    expect(kvEngineFactory.type).toBe('kv');
    expect(kvEngineFactory.description).not.toBe('');
  });

  it('normalises version: missing means "1", "1" and "2" pass', () => {
    expect(kvEngineFactory.normaliseOptions?.({})).toEqual({ version: '1' });
    expect(kvEngineFactory.normaliseOptions?.({ version: '1' })).toEqual({ version: '1' });
    expect(kvEngineFactory.normaliseOptions?.({ version: '2' })).toEqual({ version: '2' });
  });

  it('refuses other versions and unknown option keys, naming the option', () => {
    for (const version of ['3', '0', 'v2', '', ' 2']) {
      expect(() => normaliseKvOptions({ version })).toThrow(
        expect.objectContaining({ code: 'invalid_request', field: 'options.version' }),
      );
    }
    expect(() => normaliseKvOptions({ version: '2', versoin: '2' })).toThrow(
      expect.objectContaining({ code: 'invalid_request', field: 'options.versoin' }),
    );
  });

  it('creates a v2 engine for version "2" and a v1 engine otherwise', async () => {
    const storage = memoryStorage();
    const v2Mount = testMount({ options: { version: '2' } });
    const v2 = kvEngineFactory.create(v2Mount);
    await v2.handle(
      testRequest('create', 'data/k', { data: { a: 1 } }, storage, { mount: v2Mount }),
    );
    const read = await v2.handle(testRequest('read', 'data/k', {}, storage, { mount: v2Mount }));
    expect(read).toMatchObject({
      kind: 'data',
      data: { data: { a: 1 }, metadata: { version: 1 } },
    });

    const v1Mount = testMount({ options: {} });
    const v1 = kvEngineFactory.create(v1Mount);
    const v1Storage = memoryStorage();
    await v1.handle(
      testRequest('create', 'data/k', { data: { a: 1 } }, v1Storage, { mount: v1Mount }),
    );
    expect(
      await v1.handle(testRequest('read', 'data/k', {}, v1Storage, { mount: v1Mount })),
    ).toEqual({
      kind: 'data',
      data: { data: { a: 1 } },
      leaseDurationSeconds: 2_764_800,
    });
  });

  it('refuses to create an engine from invalid options', () => {
    expect(() => kvEngineFactory.create(testMount({ options: { version: '9' } }))).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
  });
});
