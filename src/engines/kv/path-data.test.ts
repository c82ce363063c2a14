// KV v2 data/<key>: reads, writes with check-and-set, merge-patch, soft delete, and the 404
// shapes Vault clients depend on.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, T0 } from './testing.js';

const T0_TEXT = '2026-01-01T00:00:00Z';

describe('kv v2 data: write and read', () => {
  it('writes versions and reads the latest or a given one, in Vault shapes', async () => {
    const h = harness();
    const written = await h.call('create', 'data/app/db', { data: { password: 's3cr3t' } });
    expect(written).toEqual({
      kind: 'data',
      data: {
        created_time: T0_TEXT,
        custom_metadata: null,
        deletion_time: '',
        destroyed: false,
        version: 1,
      },
    });
    h.nowMs = T0 + 1500;
    await h.call('update', 'data/app/db', { data: { password: 'rotated' }, options: {} });

    expect(await h.call('read', 'data/app/db')).toEqual({
      kind: 'data',
      data: {
        data: { password: 'rotated' },
        metadata: {
          created_time: '2026-01-01T00:00:01.5Z',
          custom_metadata: null,
          deletion_time: '',
          destroyed: false,
          version: 2,
        },
      },
    });
    const v1 = await h.data('read', 'data/app/db', { version: '1' });
    expect(v1.data).toEqual({ password: 's3cr3t' });
    const v0 = await h.data('read', 'data/app/db', { version: 0 });
    expect(v0.data).toEqual({ password: 'rotated' });
  });

  it('answers not_found for a missing key or version', async () => {
    const h = harness();
    await expectCoffer(h.call('read', 'data/nope'), 'not_found');
    await h.call('create', 'data/k', { data: {} });
    await expectCoffer(h.call('read', 'data/k', { version: 2 }), 'not_found');
  });

  it('refuses a write without data, a bad data field and unknown fields', async () => {
    const h = harness();
    await expect(h.call('create', 'data/k', {})).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'no data provided',
    });
    await expectCoffer(h.call('create', 'data/k', { data: null }), 'invalid_request', 'data');
    await expectCoffer(h.call('create', 'data/k', { data: 'text' }), 'invalid_request', 'data');
    await expectCoffer(
      h.call('create', 'data/k', { data: {}, extra: 1 }),
      'invalid_request',
      'extra',
    );
    await expectCoffer(
      h.call('create', 'data/k', { data: {}, version: 1 }),
      'invalid_request',
      'version',
    );
    await expectCoffer(
      h.call('create', 'data/k', { data: {}, options: { max: 1 } }),
      'invalid_request',
      'options.max',
    );
    await expectCoffer(h.call('read', 'data/k', { data: {} }), 'invalid_request', 'data');
  });

  it('accepts data sent as a JSON string (weak decoding)', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: '{"a":"b"}' });
    expect((await h.data('read', 'data/k')).data).toEqual({ a: 'b' });
  });

  it.each(['data/../x', 'data/a/./b', 'data/a//b', 'data/', 'data/a/'])(
    'rejects the path trick %j',
    async (path) => {
      const h = harness();
      await expectCoffer(h.call('create', path, { data: { a: 1 } }), 'invalid_request', 'path');
      await expectCoffer(h.call('read', path), 'invalid_request', 'path');
      expect(h.storage.entries.size).toBe(0);
    },
  );
});

describe('kv v2 data: check-and-set', () => {
  it('takes cas 0 on a new key only, then the current version', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: { a: 1 }, options: { cas: 0 } });
    await expect(
      h.call('update', 'data/k', { data: { a: 2 }, options: { cas: 0 } }),
    ).rejects.toMatchObject({
      code: 'cas_mismatch',
      message: 'check-and-set parameter did not match the current version',
    });
    const w = await h.data('update', 'data/k', { data: { a: 2 }, options: { cas: '1' } });
    expect(w.version).toBe(2);
    await expectCoffer(
      h.call('update', 'data/k', { data: { a: 3 }, options: { cas: 'x' } }),
      'invalid_request',
      'options.cas',
    );
  });

  it('requires cas when the mount config says so', async () => {
    const h = harness();
    await h.call('update', 'config', { cas_required: true });
    await expect(h.call('create', 'data/k', { data: {} })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'check-and-set parameter required for this call',
    });
    await h.call('create', 'data/k', { data: {}, options: { cas: 0 } });
  });

  it('requires cas when the key metadata says so', async () => {
    const h = harness();
    await h.call('create', 'metadata/locked', { cas_required: true });
    await expectCoffer(h.call('create', 'data/locked', { data: {} }), 'invalid_request');
    await h.call('create', 'data/free', { data: {} });
    await h.call('create', 'data/locked', { data: {}, options: { cas: 0 } });
  });

  it('lets exactly one of 20 concurrent cas=0 writes succeed', async () => {
    const h = harness();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        h.call('create', 'data/race', { data: { i }, options: { cas: 0 } }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'cas_mismatch' });
    }
    expect((await h.data('read', 'metadata/race')).current_version).toBe(1);
  });

  it('follows the ESO push sequence: metadata with custom_metadata, then data with cas 0', async () => {
    const h = harness();
    await h.call('create', 'metadata/eso/key', {
      custom_metadata: { 'managed-by': 'external-secrets' },
    });
    const w = await h.data('create', 'data/eso/key', { data: { v: '1' }, options: { cas: 0 } });
    expect(w).toMatchObject({ version: 1, custom_metadata: { 'managed-by': 'external-secrets' } });
    const meta = await h.data('read', 'metadata/eso/key');
    await h.call('update', 'data/eso/key', {
      data: { v: '2' },
      options: { cas: meta.current_version },
    });
    await h.call('delete', 'data/eso/key');
    await h.call('delete', 'metadata/eso/key');
    await expectCoffer(h.call('read', 'metadata/eso/key'), 'not_found');
  });
});

describe('kv v2 data: delete and the 404 body', () => {
  it('soft-deletes the latest version; reads answer absent with the metadata', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: { a: 1 } });
    await h.call('update', 'data/k', { data: { a: 2 } });
    h.nowMs = T0 + 2000;
    expect(await h.call('delete', 'data/k')).toEqual({ kind: 'empty' });
    expect(await h.call('read', 'data/k')).toEqual({
      kind: 'data',
      absent: true,
      data: {
        data: null,
        metadata: {
          created_time: T0_TEXT,
          custom_metadata: null,
          deletion_time: '2026-01-01T00:00:02Z',
          destroyed: false,
          version: 2,
        },
      },
    });
    expect((await h.data('read', 'data/k', { version: 1 })).data).toEqual({ a: 1 });
  });

  it('is a no-op on a missing key or an already deleted version', async () => {
    const h = harness();
    expect(await h.call('delete', 'data/none')).toEqual({ kind: 'empty' });
    expect(h.storage.entries.size).toBe(0);
    await h.call('create', 'data/k', { data: {} });
    await h.call('delete', 'data/k');
    h.nowMs += 5000;
    await h.call('delete', 'data/k');
    const read = await h.call('read', 'data/k');
    expect(read.kind === 'data' && read.data.metadata).toMatchObject({
      deletion_time: T0_TEXT,
    });
  });

  it('reads a version past delete_version_after as deleted, showing when', async () => {
    const h = harness();
    await h.call('create', 'metadata/k', { delete_version_after: '1h' });
    await h.call('create', 'data/k', { data: { a: 1 } });
    const before = await h.call('read', 'data/k');
    expect(before).toMatchObject({
      kind: 'data',
      data: { data: { a: 1 }, metadata: { deletion_time: '2026-01-01T01:00:00Z' } },
    });
    expect(before.kind === 'data' && before.absent).toBeFalsy();
    h.nowMs = T0 + 3_600_000;
    expect(await h.call('read', 'data/k')).toMatchObject({
      kind: 'data',
      absent: true,
      data: { data: null, metadata: { deletion_time: '2026-01-01T01:00:00Z', version: 1 } },
    });
  });
});

describe('kv v2 data: patch', () => {
  it('merge-patches the latest version (null removes a key)', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: { a: 1, b: { c: 2, d: 3 }, gone: 'x' } });
    const w = await h.data('patch', 'data/k', {
      data: { b: { c: 20, d: null }, gone: null, n: 4 },
    });
    expect(w.version).toBe(2);
    expect((await h.data('read', 'data/k')).data).toEqual({ a: 1, b: { c: 20 }, n: 4 });
  });

  it('honours cas and cas_required on a patch', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: { a: 1 } });
    await expectCoffer(
      h.call('patch', 'data/k', { data: { a: 2 }, options: { cas: 0 } }),
      'cas_mismatch',
    );
    await h.call('patch', 'data/k', { data: { a: 2 }, options: { cas: 1 } });
    await h.call('update', 'metadata/k', { cas_required: true });
    await expectCoffer(h.call('patch', 'data/k', { data: { a: 3 } }), 'invalid_request');
  });

  it('answers not_found for a missing key and absent for a deleted or destroyed latest', async () => {
    const h = harness();
    await expectCoffer(h.call('patch', 'data/k', { data: { a: 1 } }), 'not_found');
    await expectCoffer(h.call('patch', 'data/k', {}), 'invalid_request', 'data');
    await h.call('create', 'metadata/k', { max_versions: 3 });
    await expectCoffer(h.call('patch', 'data/k', { data: { a: 1 } }), 'not_found');
    await h.call('create', 'data/k', { data: { a: 1 } });
    await h.call('delete', 'data/k');
    expect(await h.call('patch', 'data/k', { data: { a: 2 } })).toEqual({
      kind: 'data',
      absent: true,
      data: {
        created_time: T0_TEXT,
        custom_metadata: null,
        deletion_time: T0_TEXT,
        destroyed: false,
        version: 1,
      },
    });
    await h.call('update', 'destroy/k', { versions: [1] });
    expect(await h.call('patch', 'data/k', { data: { a: 2 } })).toMatchObject({
      absent: true,
      data: { destroyed: true },
    });
  });
});

describe('kv v2 data: existence and operations', () => {
  it('reports existence by the presence of metadata', async () => {
    const h = harness();
    expect(await h.exists('create', 'data/k')).toBe(false);
    expect(await h.exists('create', 'data/../k')).toBe(false);
    await h.call('create', 'metadata/k', { max_versions: 2 });
    expect(await h.exists('update', 'data/k')).toBe(true);
  });

  it('does not list data/ paths', async () => {
    const h = harness();
    await expectCoffer(h.call('list', 'data/'), 'unsupported_operation');
    await expectCoffer(h.call('read', 'nowhere/k'), 'unsupported_path');
  });
});
