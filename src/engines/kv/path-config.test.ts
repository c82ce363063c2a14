// KV v2 config: mount-wide defaults, their Vault read shape, and their effect on keys.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, T0 } from './testing.js';
import { parseSignedDurationSeconds } from './path-config.js';

describe('kv v2 config', () => {
  it('reads Vault defaults: max_versions 0 (meaning 10), cas off, "0s"', async () => {
    const h = harness();
    expect(await h.call('read', 'config')).toEqual({
      kind: 'data',
      data: { cas_required: false, delete_version_after: '0s', max_versions: 0 },
    });
  });

  it('writes settings with weak coercion and reads them back', async () => {
    const h = harness();
    expect(
      await h.call('update', 'config', {
        max_versions: '7',
        cas_required: 'true',
        delete_version_after: '3h25m19s',
      }),
    ).toEqual({ kind: 'empty' });
    expect(await h.data('read', 'config')).toEqual({
      cas_required: true,
      delete_version_after: '3h25m19s',
      max_versions: 7,
    });
    await h.call('update', 'config', { delete_version_after: 90 });
    expect((await h.data('read', 'config')).delete_version_after).toBe('1m30s');
  });

  it('keeps settings not named in a write, and a write with none is a no-op', async () => {
    const h = harness();
    await h.call('update', 'config', { max_versions: 3 });
    await h.call('update', 'config', { cas_required: true });
    await h.call('update', 'config', {});
    expect(await h.data('read', 'config')).toMatchObject({ max_versions: 3, cas_required: true });
  });

  it('clears delete_version_after with "0s" and disables it with a negative duration', async () => {
    const h = harness();
    await h.call('update', 'config', { delete_version_after: '1h' });
    await h.call('update', 'config', { delete_version_after: '0s' });
    expect((await h.data('read', 'config')).delete_version_after).toBe('0s');
    await h.call('update', 'metadata/k', { delete_version_after: '10s' });
    await h.call('update', 'config', { delete_version_after: '-5m' });
    expect((await h.data('read', 'config')).delete_version_after).toBe('-1s');
    const w = await h.data('update', 'data/k', { data: {} });
    expect(w.deletion_time).toBe('');
  });

  it('applies the mount delete_version_after to new versions', async () => {
    const h = harness();
    await h.call('update', 'config', { delete_version_after: '30s' });
    const w = await h.data('update', 'data/k', { data: { a: 1 } });
    expect(w.deletion_time).toBe('2026-01-01T00:00:30Z');
    h.nowMs = T0 + 30_000;
    expect(await h.call('read', 'data/k')).toMatchObject({ absent: true });
  });

  it('applies the mount max_versions to keys', async () => {
    const h = harness();
    await h.call('update', 'config', { max_versions: 2 });
    for (let i = 0; i < 3; i++) await h.call('update', 'data/k', { data: { i } });
    expect(Object.keys((await h.data('read', 'metadata/k')).versions as object)).toEqual([
      '2',
      '3',
    ]);
  });

  it('refuses unknown fields, bad values, and other operations', async () => {
    const h = harness();
    await expectCoffer(h.call('update', 'config', { max: 1 }), 'invalid_request', 'max');
    await expectCoffer(h.call('update', 'config', { max_versions: -1 }), 'invalid_request');
    await expectCoffer(h.call('update', 'config', { cas_required: 'maybe' }), 'invalid_request');
    await expectCoffer(
      h.call('update', 'config', { delete_version_after: 'soon' }),
      'invalid_request',
      'delete_version_after',
    );
    await expectCoffer(h.call('delete', 'config'), 'unsupported_operation');
    await expectCoffer(h.call('read', 'config', { max_versions: 1 }), 'invalid_request');
  });

  it('always exists (writes are updates)', async () => {
    const h = harness();
    expect(await h.exists('update', 'config')).toBe(true);
  });

  it('parses signed durations', () => {
    expect(parseSignedDurationSeconds('-1s', 'f')).toBe(-1);
    expect(parseSignedDurationSeconds(' -2m ', 'f')).toBe(-120);
    expect(parseSignedDurationSeconds(-3, 'f')).toBe(-3);
    expect(parseSignedDurationSeconds('45', 'f')).toBe(45);
    expect(() => parseSignedDurationSeconds('-x', 'f')).toThrow(
      expect.objectContaining({ code: 'invalid_request', field: 'f' }),
    );
  });
});
