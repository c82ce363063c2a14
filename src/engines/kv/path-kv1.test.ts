// KV v1: round trip of arbitrary bodies, ttl as lease duration, idempotent delete, folder lists.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness } from './testing.js';
import { kv1LeaseSeconds } from './path-kv1.js';

const MOUNT_DEFAULT = 2_764_800;

describe('kv v1', () => {
  it('stores any body as-is and reads it back with the mount default lease', async () => {
    const h = harness('1');
    const body = { user: 'app', port: 5432, nested: { ok: true, list: [1, 'two', null] } };
    expect(await h.call('create', 'app/db', body)).toEqual({ kind: 'empty' });
    expect(await h.call('read', 'app/db')).toEqual({
      kind: 'data',
      data: body,
      leaseDurationSeconds: MOUNT_DEFAULT,
    });
    expect([...h.storage.entries.keys()]).toEqual(['entry/app/db']);
  });

  it('replaces the whole entry on a second write', async () => {
    const h = harness('1');
    await h.call('create', 'k', { a: 1, b: 2 });
    await h.call('update', 'k', { c: 3 });
    expect(await h.data('read', 'k')).toEqual({ c: 3 });
  });

  it('accepts an empty body and stores {}', async () => {
    const h = harness('1');
    await h.call('create', 'empty', {});
    expect(await h.data('read', 'empty')).toEqual({});
  });

  it('advertises the entry ttl (or legacy lease) as the lease duration', async () => {
    const h = harness('1');
    await h.call('create', 'a', { v: 1, ttl: '1h' });
    await h.call('create', 'b', { v: 1, ttl: 90 });
    await h.call('create', 'c', { v: 1, lease: '2m' });
    await h.call('create', 'd', { v: 1, ttl: 'not a duration' });
    const lease = async (key: string) => {
      const r = await h.call('read', key);
      return r.kind === 'data' ? r.leaseDurationSeconds : undefined;
    };
    expect(await lease('a')).toBe(3600);
    expect(await lease('b')).toBe(90);
    expect(await lease('c')).toBe(120);
    expect(await lease('d')).toBe(MOUNT_DEFAULT);
    expect(kv1LeaseSeconds({ ttl: '30s', lease: '1h' }, 5)).toBe(30);
    expect(kv1LeaseSeconds({}, 5)).toBe(5);
  });

  it('answers not_found for a missing or deleted entry; delete is idempotent', async () => {
    const h = harness('1');
    await expectCoffer(h.call('read', 'missing'), 'not_found');
    await expectCoffer(h.call('read', ''), 'not_found');
    await h.call('create', 'k', { a: 1 });
    expect(await h.call('delete', 'k')).toEqual({ kind: 'empty' });
    expect(await h.call('delete', 'k')).toEqual({ kind: 'empty' });
    await expectCoffer(h.call('read', 'k'), 'not_found');
  });

  it('lists keys and folders; an empty folder is not_found', async () => {
    const h = harness('1');
    for (const key of ['b', 'a', 'dir/x', 'dir/sub/y']) await h.call('create', key, { v: 1 });
    expect(await h.data('list', '')).toEqual({ keys: ['a', 'b', 'dir/'] });
    expect(await h.data('list', '/')).toEqual({ keys: ['a', 'b', 'dir/'] });
    expect(await h.data('list', 'dir/')).toEqual({ keys: ['sub/', 'x'] });
    expect(await h.data('list', 'dir')).toEqual({ keys: ['sub/', 'x'] });
    await expectCoffer(h.call('list', 'none/'), 'not_found');
  });

  it('rejects an empty path on write and path tricks everywhere', async () => {
    const h = harness('1');
    await expectCoffer(h.call('create', '', { a: 1 }), 'invalid_request', 'path');
    for (const path of ['../x', 'a/./b', 'a//b', 'a/']) {
      await expectCoffer(h.call('create', path, { a: 1 }), 'invalid_request', 'path');
      await expectCoffer(h.call('delete', path), 'invalid_request', 'path');
    }
    await expectCoffer(h.call('read', 'a/../b'), 'invalid_request', 'path');
    await expectCoffer(h.call('list', '../'), 'invalid_request', 'path');
    expect(h.storage.entries.size).toBe(0);
  });

  it('refuses a body that is not plain JSON', async () => {
    const h = harness('1');
    await expectCoffer(h.call('create', 'k', { when: new Date(0) }), 'invalid_request', 'when');
    await expectCoffer(h.call('create', 'k', { n: Number.NaN }), 'invalid_request', 'n');
  });

  it('reports existence by the entry', async () => {
    const h = harness('1');
    expect(await h.exists('create', 'k')).toBe(false);
    expect(await h.exists('create', '../k')).toBe(false);
    await h.call('create', 'k', {});
    expect(await h.exists('update', 'k')).toBe(true);
  });

  it('does not treat v2 paths specially', async () => {
    const h = harness('1');
    await h.call('create', 'data/k', { data: { a: 1 } });
    expect(await h.data('read', 'data/k')).toEqual({ data: { a: 1 } });
  });
});
