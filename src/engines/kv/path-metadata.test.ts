// KV v2 metadata/<key>: read shape, LIST of folders, write and patch of settings with Vault's
// custom_metadata limits, delete of every version.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, T0 } from './testing.js';

const T0_TEXT = '2026-01-01T00:00:00Z';

describe('kv v2 metadata: read', () => {
  it('returns the Vault metadata shape with every kept version', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: { a: 1 } });
    h.nowMs = T0 + 1000;
    await h.call('update', 'data/k', { data: { a: 2 } });
    h.nowMs = T0 + 2000;
    await h.call('update', 'delete/k', { versions: [1] });
    await h.call('update', 'destroy/k', { versions: [2] });
    expect(await h.call('read', 'metadata/k')).toEqual({
      kind: 'data',
      data: {
        cas_required: false,
        created_time: T0_TEXT,
        current_version: 2,
        custom_metadata: null,
        delete_version_after: '0s',
        max_versions: 0,
        oldest_version: 0,
        updated_time: '2026-01-01T00:00:01Z',
        versions: {
          '1': { created_time: T0_TEXT, deletion_time: '2026-01-01T00:00:02Z', destroyed: false },
          '2': { created_time: '2026-01-01T00:00:01Z', deletion_time: '', destroyed: true },
        },
      },
    });
  });

  it('answers not_found for a missing key and refuses unknown fields', async () => {
    const h = harness();
    await expectCoffer(h.call('read', 'metadata/none'), 'not_found');
    await expectCoffer(h.call('read', 'metadata/k', { version: 1 }), 'invalid_request', 'version');
    await expectCoffer(
      h.call('create', 'metadata/k', { max_version: 3 }),
      'invalid_request',
      'max_version',
    );
  });

  it('trims versions beyond max_versions, oldest first', async () => {
    const h = harness();
    await h.call('create', 'metadata/k', { max_versions: 2 });
    for (let i = 1; i <= 4; i++) await h.call('update', 'data/k', { data: { i } });
    const meta = await h.data('read', 'metadata/k');
    expect(meta).toMatchObject({ current_version: 4, oldest_version: 3, max_versions: 2 });
    expect(Object.keys(meta.versions as object)).toEqual(['3', '4']);
    await expectCoffer(h.call('read', 'data/k', { version: 2 }), 'not_found');
    expect(h.storage.entries.has('value/k/1')).toBe(false);
    expect(h.storage.entries.has('value/k/2')).toBe(false);
  });
});

describe('kv v2 metadata: list', () => {
  it('lists keys and folders at the root and in a folder', async () => {
    const h = harness();
    for (const key of ['b', 'a', 'dir/x', 'dir/sub/y']) {
      await h.call('create', `data/${key}`, { data: {} });
    }
    expect(await h.data('list', 'metadata/')).toEqual({ keys: ['a', 'b', 'dir/'] });
    expect(await h.data('list', 'metadata/dir/')).toEqual({ keys: ['sub/', 'x'] });
    expect(await h.data('list', 'metadata/dir')).toEqual({ keys: ['sub/', 'x'] });
    expect(await h.data('list', 'metadata/', { after: 'a', limit: '1' })).toEqual({ keys: ['b'] });
  });

  it('answers not_found for an empty or missing folder', async () => {
    const h = harness();
    await expectCoffer(h.call('list', 'metadata/'), 'not_found');
    await h.call('create', 'data/a', { data: {} });
    await expectCoffer(h.call('list', 'metadata/none/'), 'not_found');
    await expectCoffer(h.call('list', 'metadata/', { after: 'z' }), 'not_found');
  });

  it('refuses path tricks and bad paging values', async () => {
    const h = harness();
    await expectCoffer(h.call('list', 'metadata/../'), 'invalid_request', 'path');
    await expectCoffer(h.call('list', 'metadata/a//'), 'invalid_request', 'path');
    await expectCoffer(h.call('list', 'metadata/', { limit: -1 }), 'invalid_request', 'limit');
    await expectCoffer(h.call('list', 'metadata/', { bogus: 1 }), 'invalid_request', 'bogus');
  });
});

describe('kv v2 metadata: write', () => {
  it('creates metadata without a version and shows it on data writes', async () => {
    const h = harness();
    expect(
      await h.call('create', 'metadata/k', {
        max_versions: '5',
        cas_required: 'true',
        delete_version_after: '1h30m',
        custom_metadata: { owner: 'ops', n: 3 },
      }),
    ).toEqual({ kind: 'empty' });
    expect(await h.data('read', 'metadata/k')).toMatchObject({
      max_versions: 5,
      cas_required: true,
      delete_version_after: '1h30m0s',
      custom_metadata: { owner: 'ops', n: '3' },
      current_version: 0,
      versions: {},
    });
    await expectCoffer(h.call('read', 'data/k'), 'not_found');
    const w = await h.data('create', 'data/k', { data: {}, options: { cas: 0 } });
    expect(w.custom_metadata).toEqual({ owner: 'ops', n: '3' });
  });

  it('does nothing for a write with no setting', async () => {
    const h = harness();
    expect(await h.call('create', 'metadata/k', {})).toEqual({ kind: 'empty' });
    expect(h.storage.entries.size).toBe(0);
  });

  it('replaces custom_metadata on a write; empty renders as null', async () => {
    const h = harness();
    await h.call('create', 'metadata/k', { custom_metadata: { a: '1', b: '2' } });
    await h.call('update', 'metadata/k', { custom_metadata: { c: '3' } });
    expect((await h.data('read', 'metadata/k')).custom_metadata).toEqual({ c: '3' });
    await h.call('update', 'metadata/k', { custom_metadata: {} });
    expect((await h.data('read', 'metadata/k')).custom_metadata).toBeNull();
  });

  it('enforces Vault custom_metadata limits without echoing keys or values', async () => {
    const h = harness();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const cases: Record<string, unknown>[] = [
      many,
      { ['x'.repeat(129)]: 'v' },
      { '': 'v' },
      { key: 'v'.repeat(513) },
      { key: '' },
      { key: null },
      { key: 'tab\there' },
      { key: { nested: true } },
    ];
    for (const custom of cases) {
      const err = await h.call('create', 'metadata/k', { custom_metadata: custom }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'invalid_request', field: 'custom_metadata' });
      expect((err as Error).message).toMatch(/^custom_metadata validation failed: /);
      expect((err as Error).message).not.toContain('vvvv');
      expect((err as Error).message).not.toContain('xxxx');
    }
    expect(h.storage.entries.size).toBe(0);
    const max = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v']));
    await h.call('create', 'metadata/k', {
      custom_metadata: { ...max, k0: 'é'.repeat(256) },
    });
    await h.call('update', 'metadata/j', { custom_metadata: { ['x'.repeat(128)]: 'ok' } });
    await expectCoffer(
      h.call('update', 'metadata/j', { custom_metadata: { ['é'.repeat(65)]: 'v' } }),
      'invalid_request',
    );
  });

  it('refuses negative settings and path tricks', async () => {
    const h = harness();
    await expectCoffer(h.call('create', 'metadata/k', { max_versions: -1 }), 'invalid_request');
    await expectCoffer(
      h.call('create', 'metadata/k', { delete_version_after: '-1s' }),
      'invalid_request',
      'delete_version_after',
    );
    await expectCoffer(
      h.call('create', 'metadata/./k', { max_versions: 1 }),
      'invalid_request',
      'path',
    );
    await expectCoffer(h.call('create', 'metadata/', { max_versions: 1 }), 'invalid_request');
  });

  it('warns when a key turns cas_required off under a mount that requires it', async () => {
    const h = harness();
    await h.call('update', 'config', { cas_required: true });
    const result = await h.call('create', 'metadata/k', { cas_required: false });
    expect(result).toEqual({
      kind: 'empty',
      warnings: [
        '"cas_required" set to false, but is mandated by backend config. This value will be ignored.',
      ],
    });
    await expectCoffer(h.call('create', 'data/k', { data: {} }), 'invalid_request');
  });
});

describe('kv v2 metadata: patch and delete', () => {
  it('merge-patches settings and custom_metadata (null removes a pair)', async () => {
    const h = harness();
    await h.call('create', 'metadata/k', {
      max_versions: 4,
      custom_metadata: { keep: 'a', change: 'b', drop: 'c' },
    });
    await h.call('patch', 'metadata/k', {
      cas_required: true,
      custom_metadata: { change: 'B', drop: null, add: 'd' },
    });
    expect(await h.data('read', 'metadata/k')).toMatchObject({
      max_versions: 4,
      cas_required: true,
      custom_metadata: { keep: 'a', change: 'B', add: 'd' },
    });
    expect(
      Object.keys((await h.data('read', 'metadata/k')).custom_metadata as object),
    ).not.toContain('drop');
    await h.call('patch', 'metadata/k', { delete_version_after: '0s', max_versions: 0 });
    expect(await h.data('read', 'metadata/k')).toMatchObject({
      max_versions: 0,
      delete_version_after: '0s',
      custom_metadata: { keep: 'a' },
    });
  });

  it('answers not_found when patching a missing key, and checks the merged count', async () => {
    const h = harness();
    await expectCoffer(h.call('patch', 'metadata/k', { max_versions: 1 }), 'not_found');
    const full = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v']));
    await h.call('create', 'metadata/k', { custom_metadata: full });
    await expectCoffer(
      h.call('patch', 'metadata/k', { custom_metadata: { extra: 'v' } }),
      'invalid_request',
      'custom_metadata',
    );
    await h.call('patch', 'metadata/k', { custom_metadata: { k0: null, extra: 'v' } });
  });

  it('deletes the key with every version and value', async () => {
    const h = harness();
    await h.call('create', 'data/dir/k', { data: { a: 1 } });
    await h.call('update', 'data/dir/k', { data: { a: 2 } });
    await h.call('create', 'data/other', { data: {} });
    expect(await h.call('delete', 'metadata/dir/k')).toEqual({ kind: 'empty' });
    await expectCoffer(h.call('read', 'data/dir/k'), 'not_found');
    await expectCoffer(h.call('read', 'metadata/dir/k'), 'not_found');
    expect([...h.storage.entries.keys()].filter((k) => k.includes('dir/k'))).toEqual([]);
    expect(await h.data('list', 'metadata/')).toEqual({ keys: ['other'] });
    expect(await h.call('delete', 'metadata/dir/k')).toEqual({ kind: 'empty' });
  });

  it('reports existence by the presence of metadata', async () => {
    const h = harness();
    expect(await h.exists('create', 'metadata/k')).toBe(false);
    await h.call('create', 'metadata/k', { max_versions: 1 });
    expect(await h.exists('update', 'metadata/k')).toBe(true);
  });
});
