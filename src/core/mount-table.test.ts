import { describe, expect, it } from 'vitest';
import { builtinEngines } from '../engines/registry.js';
import { memoryStorage } from '../sdk/testing.js';
import { MountTable, normaliseMountPath } from './mount-table.js';

function table(storage = memoryStorage()) {
  return new MountTable({
    barrier: storage,
    engines: builtinEngines(),
    now: () => 1000,
    defaultLeaseTtlSeconds: 3600,
    maxLeaseTtlSeconds: 7200,
  });
}

describe('MountTable', () => {
  it('enables, persists and reloads mounts', async () => {
    const storage = memoryStorage();
    const mounts = table(storage);
    await mounts.load();
    const entry = await mounts.enable('/team/kv/', { type: 'kv', options: { version: '2' } });
    expect(entry.path).toBe('team/kv/');
    expect(entry.accessor).toMatch(/^kv_[0-9a-f]{8}$/);
    const reloaded = table(storage);
    await reloaded.load();
    expect(reloaded.entries().map((e) => e.path)).toEqual(['team/kv/']);
    expect(reloaded.get('team/kv/')?.options).toEqual({ version: '2' });
  });

  it('routes by longest prefix', async () => {
    const mounts = table();
    await mounts.load();
    await mounts.enable('a', { type: 'kv' });
    await mounts.enable('b/c', { type: 'kv' });
    expect(mounts.route('a/x/y')?.relativePath).toBe('x/y');
    expect(mounts.route('b/c/d')?.mount.entry.path).toBe('b/c/');
    expect(mounts.route('b/d')).toBeUndefined();
    expect(mounts.route('a')?.relativePath).toBe('');
  });

  it('refuses reserved, overlapping and tricky paths, and unknown types', async () => {
    const mounts = table();
    await mounts.load();
    await mounts.enable('kv', { type: 'kv' });
    await expect(mounts.enable('sys', { type: 'kv' })).rejects.toMatchObject({ field: 'path' });
    await expect(mounts.enable('auth/x', { type: 'kv' })).rejects.toMatchObject({ field: 'path' });
    await expect(mounts.enable('kv/inner', { type: 'kv' })).rejects.toThrow(
      'path is already in use at kv/',
    );
    await expect(mounts.enable('x', { type: 'nope' })).rejects.toMatchObject({ field: 'type' });
    expect(() => normaliseMountPath('a/../b')).toThrow('".."');
    expect(() => normaliseMountPath('a//b')).toThrow('empty');
  });

  it('deletes a mount and every entry in its storage view', async () => {
    const storage = memoryStorage();
    const mounts = table(storage);
    await mounts.load();
    const entry = await mounts.enable('kv', { type: 'kv' });
    const routed = mounts.route('kv/x')!;
    await routed.mount.storage.put('deep/nested/key', new Uint8Array([1]));
    await routed.mount.storage.put('top', new Uint8Array([2]));
    await mounts.disable('kv');
    expect([...storage.entries.keys()].filter((k) => k.includes(entry.uuid))).toEqual([]);
    expect(mounts.route('kv/x')).toBeUndefined();
  });

  it('tunes TTLs, storing a maximum above the system one but capping what engines get', async () => {
    const mounts = table();
    await mounts.load();
    await mounts.enable('kv', { type: 'kv' });
    await mounts.tune('kv', { defaultLeaseTtlSeconds: 60, maxLeaseTtlSeconds: 120 });
    expect(mounts.effectiveConfig(mounts.get('kv/')!)).toEqual({
      defaultLeaseTtlSeconds: 60,
      maxLeaseTtlSeconds: 120,
    });
    await mounts.tune('kv', { maxLeaseTtlSeconds: 99999 });
    expect(mounts.configuredConfig(mounts.get('kv/')!).maxLeaseTtlSeconds).toBe(99999);
    expect(mounts.effectiveConfig(mounts.get('kv/')!).maxLeaseTtlSeconds).toBe(7200);
    expect(mounts.route('kv/x')!.mount.info.config.maxLeaseTtlSeconds).toBe(7200);
    await mounts.tune('kv', { maxLeaseTtlSeconds: 120 });
    await expect(mounts.tune('kv', { defaultLeaseTtlSeconds: 500 })).rejects.toMatchObject({
      field: 'default_lease_ttl',
    });
  });
});
