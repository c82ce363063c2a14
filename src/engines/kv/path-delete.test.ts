// KV v2 delete/, undelete/ and destroy/: per-version state changes and their 404 bodies.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, T0 } from './testing.js';

async function threeVersions() {
  const h = harness();
  for (let i = 1; i <= 3; i++) await h.call('update', 'data/k', { data: { i } });
  h.nowMs = T0 + 10_000;
  return h;
}

describe('kv v2 delete/undelete/destroy', () => {
  it('soft-deletes listed versions only', async () => {
    const h = await threeVersions();
    expect(await h.call('update', 'delete/k', { versions: [1, 3] })).toEqual({ kind: 'empty' });
    expect(await h.call('read', 'data/k', { version: 1 })).toMatchObject({
      absent: true,
      data: { data: null, metadata: { deletion_time: '2026-01-01T00:00:10Z', destroyed: false } },
    });
    expect((await h.data('read', 'data/k', { version: 2 })).data).toEqual({ i: 2 });
    expect(await h.call('read', 'data/k')).toMatchObject({ absent: true });
  });

  it('undeletes soft-deleted versions', async () => {
    const h = await threeVersions();
    await h.call('update', 'delete/k', { versions: '1,2' });
    await h.call('create', 'undelete/k', { versions: ['2'] });
    expect(await h.call('read', 'data/k', { version: 1 })).toMatchObject({ absent: true });
    expect(await h.data('read', 'data/k', { version: 2 })).toMatchObject({
      data: { i: 2 },
      metadata: { deletion_time: '' },
    });
  });

  it('destroys versions for good: 404 body with destroyed true, undelete cannot restore', async () => {
    const h = await threeVersions();
    await h.call('update', 'destroy/k', { versions: [2] });
    expect(await h.call('read', 'data/k', { version: 2 })).toEqual({
      kind: 'data',
      absent: true,
      data: {
        data: null,
        metadata: {
          created_time: '2026-01-01T00:00:00Z',
          custom_metadata: null,
          deletion_time: '',
          destroyed: true,
          version: 2,
        },
      },
    });
    expect(h.storage.entries.has('value/k/2')).toBe(false);
    await h.call('update', 'undelete/k', { versions: [2] });
    expect(await h.call('read', 'data/k', { version: 2 })).toMatchObject({ absent: true });
    expect((await h.data('read', 'metadata/k')).versions).toMatchObject({
      '2': { destroyed: true },
    });
  });

  it('requires versions and refuses other fields', async () => {
    const h = await threeVersions();
    for (const action of ['delete', 'undelete', 'destroy']) {
      await expect(h.call('update', `${action}/k`, {})).rejects.toMatchObject({
        code: 'invalid_request',
        message: 'no version number provided',
      });
      await expectCoffer(h.call('update', `${action}/k`, { versions: [] }), 'invalid_request');
      await expectCoffer(h.call('update', `${action}/k`, { versions: ['x'] }), 'invalid_request');
      await expectCoffer(
        h.call('update', `${action}/k`, { versions: [1], data: {} }),
        'invalid_request',
        'data',
      );
      await expectCoffer(
        h.call('update', `${action}/../k`, { versions: [1] }),
        'invalid_request',
        'path',
      );
      await expectCoffer(h.call('read', `${action}/k`), 'unsupported_operation');
    }
  });

  it('accepts missing keys and versions silently (Vault answers 204)', async () => {
    const h = harness();
    expect(await h.call('update', 'delete/none', { versions: [1] })).toEqual({ kind: 'empty' });
    expect(await h.call('update', 'destroy/none', { versions: [1] })).toEqual({ kind: 'empty' });
    expect(h.storage.entries.size).toBe(0);
    await h.call('update', 'data/k', { data: {} });
    expect(await h.call('update', 'undelete/k', { versions: [9] })).toEqual({ kind: 'empty' });
  });

  it('has no existence check (writes are updates)', async () => {
    const h = harness();
    expect(await h.exists('update', 'delete/k')).toBeUndefined();
  });
});
