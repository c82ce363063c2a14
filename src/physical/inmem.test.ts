// Runs the PhysicalBackend conformance suite against the in-memory backend.
import { describe, expect, it } from 'vitest';
import { createInmemBackend } from './inmem.js';
import { describePhysicalBackend } from './physical.contract.js';

describePhysicalBackend('inmem', () =>
  Promise.resolve({ backend: createInmemBackend(), cleanup: () => Promise.resolve() }),
);

describe('inmem backend', () => {
  it('reports its type', () => {
    expect(createInmemBackend().type).toBe('inmem');
  });

  it('starts empty for every instance', async () => {
    const a = createInmemBackend();
    await a.put('k', Uint8Array.of(1));
    expect(await createInmemBackend().get('k')).toBeUndefined();
  });

  it('rejects a batch with a non-byte value as a whole', async () => {
    const backend = createInmemBackend();
    await expect(
      backend.batch([
        { op: 'put', key: 'good', value: Uint8Array.of(1) },
        { op: 'put', key: 'bad', value: 'text' as unknown as Uint8Array },
      ]),
    ).rejects.toMatchObject({ code: 'internal' });
    expect(await backend.get('good')).toBeUndefined();
  });
});
