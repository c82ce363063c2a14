// Tests of the versioned-secret model itself, as the KV v2, AWS and GCP doors rely on it.
import { describe, expect, it } from 'vitest';
import type { Storage, StorageOp } from './storage.js';
import { expectCoffer, memoryStorage, T0 } from './testing.js';
import {
  DEFAULT_MAX_VERSIONS,
  KeyLocks,
  STORE_KEYS,
  VersionedStore,
  listFolder,
  validateFolder,
  validateKey,
  versionById,
  versionByLabel,
  versionStateAt,
} from './versioned-store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function setup(storage: Storage = memoryStorage()) {
  const clock = { now: T0 };
  const locks = new KeyLocks();
  const store = new VersionedStore(storage, { locks, now: () => clock.now });
  return { store, clock, locks, storage };
}

/** A storage that records every call, to check atomicity and what reads touch. */
function recordingStorage() {
  const inner = memoryStorage();
  const gets: string[] = [];
  const batches: (readonly StorageOp[])[] = [];
  const singles: string[] = [];
  const storage: Storage = {
    get: (key) => {
      gets.push(key);
      return inner.get(key);
    },
    put: (key, value) => {
      singles.push(`put ${key}`);
      return inner.put(key, value);
    },
    delete: (key) => {
      singles.push(`delete ${key}`);
      return inner.delete(key);
    },
    list: (prefix) => inner.list(prefix),
    batch: (ops) => {
      batches.push(ops);
      return inner.batch(ops);
    },
  };
  return { storage, inner, gets, batches, singles };
}

describe('versioned store: keys', () => {
  it.each(['', 'a/', '/a', 'a//b', '.', '..', 'a/../b', 'a/./b', '../x'])(
    'rejects the key %j',
    (key) => {
      expect(() => {
        validateKey(key);
      }).toThrow(expect.objectContaining({ code: 'invalid_request', field: 'path' }));
    },
  );

  it('accepts keys with any characters inside segments', () => {
    for (const key of ['a', 'a/b/c', 'with space', 'ünï/cödé', 'x.y', '...', 'a..b']) {
      validateKey(key);
    }
    validateFolder('');
    expect(listFolder('')).toBe('');
    expect(listFolder('/')).toBe('');
    expect(listFolder('a/b')).toBe('a/b/');
    expect(listFolder('a/b/')).toBe('a/b/');
    expect(() => listFolder('a//')).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    validateFolder('a/b/');
    expect(() => {
      validateFolder('a/b');
    }).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('refuses path tricks in every operation', async () => {
    const { store } = setup();
    await expectCoffer(store.writeVersion('../x', {}), 'invalid_request', 'path');
    await expectCoffer(store.readMeta('a/./b'), 'invalid_request', 'path');
    await expectCoffer(store.deleteAll('a//b'), 'invalid_request', 'path');
    await expectCoffer(store.listChildren('../'), 'invalid_request', 'path');
  });
});

describe('versioned store: versions', () => {
  it('writes numbered versions with stable random ids and separate value entries', async () => {
    const { store, clock, storage } = setup(memoryStorage());
    const first = await store.writeVersion('app/db', { password: 'one' });
    clock.now += 1000;
    const second = await store.writeVersion('app/db', { password: 'two' });

    expect(first.version).toMatchObject({ number: 1, state: 'enabled', createdAt: T0, labels: [] });
    expect(first.version.id).toMatch(UUID);
    expect(second.version.id).toMatch(UUID);
    expect(second.version.id).not.toBe(first.version.id);
    expect(second.meta).toMatchObject({
      key: 'app/db',
      currentVersion: 2,
      oldestVersion: 0,
      createdAt: T0,
      updatedAt: T0 + 1000,
    });

    const keys = [...(storage as ReturnType<typeof memoryStorage>).entries.keys()].sort();
    expect(keys).toEqual(['meta/app/db', 'value/app/db/1', 'value/app/db/2']);

    const v1 = await store.readVersion('app/db', 1);
    expect(v1?.value).toEqual({ password: 'one' });
    expect(v1?.version.id).toBe(first.version.id);
    const latest = await store.readVersion('app/db', 'latest');
    expect(latest?.value).toEqual({ password: 'two' });
    expect(await store.readVersion('app/db', 3)).toBeUndefined();
    expect(await store.readVersion('nope', 'latest')).toBeUndefined();
  });

  it('keeps a version id stable through delete and undelete', async () => {
    const { store } = setup();
    const { version } = await store.writeVersion('k', { a: 1 });
    await store.softDelete('k', [1]);
    await store.undelete('k', [1]);
    const meta = await store.readMeta('k');
    expect(meta?.versions['1']?.id).toBe(version.id);
    expect(versionById(meta!, version.id)?.number).toBe(1);
    expect(versionById(meta!, 'other')).toBeUndefined();
  });

  it('uses an injected id generator', async () => {
    let n = 0;
    const store = new VersionedStore(memoryStorage(), {
      now: () => T0,
      newId: () => `id-${++n}`,
    });
    await store.writeVersion('k', {});
    const { version } = await store.writeVersion('k', {});
    expect(version.id).toBe('id-2');
  });

  it('reads metadata without reading any value entry', async () => {
    const rec = recordingStorage();
    const { store } = setup(rec.storage);
    await store.writeVersion('k', { secret: 'x' });
    rec.gets.length = 0;
    await store.readMeta('k');
    await store.exists('k');
    await store.listChildren('');
    expect(rec.gets.every((key) => key.startsWith(STORE_KEYS.metaPrefix))).toBe(true);
  });

  it('commits each logical operation as exactly one batch', async () => {
    const rec = recordingStorage();
    const { store } = setup(rec.storage);
    await store.updateConfig({ maxVersions: 2 });
    rec.singles.length = 0;
    await store.writeVersion('k', { v: 1 });
    await store.writeVersion('k', { v: 2 });
    await store.writeVersion('k', { v: 3 }); // trims version 1 in the same batch
    await store.softDelete('k', [2]);
    await store.destroy('k', [3]);
    await store.deleteAll('k');
    expect(rec.singles).toEqual([]);
    expect(rec.batches).toHaveLength(6);
    expect(rec.batches[2]!.map((op) => `${op.op} ${op.key}`)).toEqual([
      'put value/k/3',
      'delete value/k/1',
      'put meta/k',
    ]);
    expect(rec.batches[4]!.map((op) => `${op.op} ${op.key}`)).toEqual([
      'delete value/k/3',
      'put meta/k',
    ]);
    expect(rec.inner.entries.size).toBe(1); // only the config remains
  });
});

describe('versioned store: check-and-set', () => {
  it('allows expected 0 only while the secret has no version', async () => {
    const { store } = setup();
    await store.writeVersion('k', { a: 1 }, { expectedCurrentVersion: 0 });
    await expectCoffer(
      store.writeVersion('k', { a: 2 }, { expectedCurrentVersion: 0 }),
      'cas_mismatch',
    );
    await store.writeVersion('k', { a: 2 }, { expectedCurrentVersion: 1 });
    await expectCoffer(
      store.writeVersion('k', { a: 3 }, { expectedCurrentVersion: 1 }),
      'cas_mismatch',
    );
    expect((await store.readMeta('k'))?.currentVersion).toBe(2);
  });

  it('enforces cas_required from the store config or the secret', async () => {
    const { store } = setup();
    await store.updateConfig({ casRequired: true });
    await expectCoffer(store.writeVersion('k', {}), 'invalid_request');
    await store.writeVersion('k', {}, { expectedCurrentVersion: 0 });
    await store.updateConfig({ casRequired: false });
    await store.updateMeta('other', { casRequired: true }, { createIfMissing: true });
    await expect(store.writeVersion('other', {})).rejects.toThrow(
      'check-and-set parameter required for this call',
    );
    await store.writeVersion('k', {});
  });

  it('lets exactly one of 20 concurrent expected-0 writes win', async () => {
    const { store, locks } = setup();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.writeVersion('race', { i }, { expectedCurrentVersion: 0 }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(19);
    for (const r of rejected) expect(r.reason).toMatchObject({ code: 'cas_mismatch' });
    expect((await store.readMeta('race'))?.currentVersion).toBe(1);
    expect(locks.activeKeys).toBe(0);
  });

  it('serialises through a shared KeyLocks even across store instances', async () => {
    const storage = memoryStorage();
    const locks = new KeyLocks();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        new VersionedStore(storage, { locks, now: () => T0 }).writeVersion(
          'k',
          {},
          { expectedCurrentVersion: 0 },
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('versioned store: max versions', () => {
  it('keeps 10 versions by default and trims the oldest', async () => {
    const { store, storage } = setup(memoryStorage());
    for (let i = 1; i <= 12; i++) await store.writeVersion('k', { i });
    const meta = (await store.readMeta('k'))!;
    expect(
      Object.keys(meta.versions)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(meta.oldestVersion).toBe(3);
    expect(DEFAULT_MAX_VERSIONS).toBe(10);
    const entries = (storage as ReturnType<typeof memoryStorage>).entries;
    expect(entries.has('value/k/1')).toBe(false);
    expect(entries.has('value/k/2')).toBe(false);
    expect(entries.has('value/k/3')).toBe(true);
    expect(await store.readVersion('k', 2)).toBeUndefined();
  });

  it('keeps oldest_version at 0 until the first trim, as Vault does', async () => {
    const { store } = setup();
    await store.updateConfig({ maxVersions: 3 });
    await store.writeVersion('k', {});
    await store.writeVersion('k', {});
    expect((await store.readMeta('k'))?.oldestVersion).toBe(0);
    await store.writeVersion('k', {});
    expect((await store.readMeta('k'))?.oldestVersion).toBe(1);
    await store.writeVersion('k', {});
    const meta = (await store.readMeta('k'))!;
    expect(meta.oldestVersion).toBe(2);
    expect(Object.keys(meta.versions)).toEqual(['2', '3', '4']);
  });

  it('applies the larger of the secret and store limits, and a lowered limit at the next write', async () => {
    const { store } = setup();
    await store.updateConfig({ maxVersions: 2 });
    await store.updateMeta('k', { maxVersions: 4 }, { createIfMissing: true });
    for (let i = 0; i < 6; i++) await store.writeVersion('k', {});
    expect(Object.keys((await store.readMeta('k'))!.versions)).toHaveLength(4);
    await store.updateMeta('k', { maxVersions: 1 }, { createIfMissing: false });
    await store.updateConfig({ maxVersions: 1 });
    expect(Object.keys((await store.readMeta('k'))!.versions)).toHaveLength(4);
    await store.writeVersion('k', {});
    expect(Object.keys((await store.readMeta('k'))!.versions)).toEqual(['7']);
  });
});

describe('versioned store: states', () => {
  it('soft-deletes, undeletes and destroys per version', async () => {
    const { store, clock, storage } = setup(memoryStorage());
    for (let i = 1; i <= 3; i++) await store.writeVersion('k', { i });
    clock.now = T0 + 5000;
    await store.softDelete('k', [1, 2, 99]);
    let meta = (await store.readMeta('k'))!;
    expect(meta.versions['1']).toMatchObject({ state: 'deleted', deletedAt: T0 + 5000 });
    expect(meta.versions['3']?.state).toBe('enabled');
    const deleted = await store.readVersion('k', 1);
    expect(deleted).toMatchObject({ state: 'deleted', value: undefined });

    await store.destroy('k', [2]);
    meta = (await store.readMeta('k'))!;
    expect(meta.versions['2']).toMatchObject({ state: 'destroyed', deletedAt: T0 + 5000 });
    expect((storage as ReturnType<typeof memoryStorage>).entries.has('value/k/2')).toBe(false);

    await store.undelete('k', [1, 2]);
    meta = (await store.readMeta('k'))!;
    expect(meta.versions['1']?.state).toBe('enabled');
    expect(meta.versions['1']?.deletedAt).toBeUndefined();
    expect(meta.versions['2']?.state).toBe('destroyed');
    expect((await store.readVersion('k', 1))?.value).toEqual({ i: 1 });

    await store.softDelete('k', 'latest');
    expect((await store.readMeta('k'))!.versions['3']?.state).toBe('deleted');
  });

  it('leaves an already deleted version with its first deletion time', async () => {
    const { store, clock } = setup();
    await store.writeVersion('k', {});
    await store.softDelete('k', 'latest');
    clock.now += 60_000;
    await store.softDelete('k', [1]);
    expect((await store.readMeta('k'))!.versions['1']?.deletedAt).toBe(T0);
  });

  it('returns undefined and writes nothing for a missing secret', async () => {
    const rec = recordingStorage();
    const { store } = setup(rec.storage);
    expect(await store.softDelete('nope', 'latest')).toBeUndefined();
    expect(await store.undelete('nope', [1])).toBeUndefined();
    expect(await store.destroy('nope', [1])).toBeUndefined();
    expect(await store.deleteAll('nope')).toBe(false);
    expect(rec.batches).toEqual([]);
  });

  it('disables and re-enables versions', async () => {
    const { store } = setup();
    await store.writeVersion('k', { a: 1 });
    await store.setDisabled('k', [1], true);
    expect(await store.readVersion('k', 1)).toMatchObject({ state: 'disabled', value: undefined });
    await store.setDisabled('k', [1], false);
    expect((await store.readVersion('k', 1))?.value).toEqual({ a: 1 });
  });

  it('schedules delete-after deletions and reads them as deleted once due', async () => {
    const { store, clock } = setup();
    await store.updateConfig({ deleteVersionAfterSeconds: 60 });
    const { version } = await store.writeVersion('k', { a: 1 });
    expect(version.deletedAt).toBe(T0 + 60_000);
    expect(versionStateAt(version, T0 + 59_999)).toBe('enabled');
    expect(versionStateAt(version, T0 + 60_000)).toBe('deleted');
    clock.now = T0 + 59_000;
    expect((await store.readVersion('k', 1))?.value).toEqual({ a: 1 });
    clock.now = T0 + 61_000;
    expect(await store.readVersion('k', 1)).toMatchObject({ state: 'deleted', value: undefined });
    // Undelete cancels the schedule.
    await store.undelete('k', [1]);
    expect((await store.readVersion('k', 1))?.value).toEqual({ a: 1 });
  });

  it('uses the shorter of the two delete-after settings, and none when the store disables it', async () => {
    const { store } = setup();
    await store.updateConfig({ deleteVersionAfterSeconds: 100 });
    await store.updateMeta('k', { deleteVersionAfterSeconds: 30 }, { createIfMissing: true });
    expect((await store.writeVersion('k', {})).version.deletedAt).toBe(T0 + 30_000);
    await store.updateMeta('k', { deleteVersionAfterSeconds: 500 }, { createIfMissing: false });
    expect((await store.writeVersion('k', {})).version.deletedAt).toBe(T0 + 100_000);
    await store.updateConfig({ deleteVersionAfterSeconds: -1 });
    expect((await store.writeVersion('k', {})).version.deletedAt).toBeUndefined();
  });
});

describe('versioned store: labels', () => {
  it('moves labels given on a write off the previous holder', async () => {
    const { store } = setup();
    await store.writeVersion('k', { v: 1 }, { labels: ['AWSCURRENT'] });
    await store.writeVersion('k', { v: 2 }, { labels: ['AWSCURRENT', 'AWSCURRENT'] });
    const meta = (await store.readMeta('k'))!;
    expect(meta.versions['1']?.labels).toEqual([]);
    expect(meta.versions['2']?.labels).toEqual(['AWSCURRENT']);
    expect(versionByLabel(meta, 'AWSCURRENT')?.number).toBe(2);
  });

  it('moves and removes a label with moveLabel', async () => {
    const { store } = setup();
    await store.writeVersion('k', {}, { labels: ['AWSCURRENT'] });
    await store.writeVersion('k', {}, { labels: ['AWSPENDING'] });
    let meta = await store.moveLabel('k', 'AWSCURRENT', 2);
    expect(meta.versions['1']?.labels).toEqual([]);
    expect(meta.versions['2']?.labels).toEqual(['AWSPENDING', 'AWSCURRENT']);
    meta = await store.moveLabel('k', 'AWSPREVIOUS', 1);
    expect(versionByLabel(meta, 'AWSPREVIOUS')?.number).toBe(1);
    meta = await store.moveLabel('k', 'AWSPENDING', undefined);
    expect(versionByLabel(meta, 'AWSPENDING')).toBeUndefined();
    expect((await store.readMeta('k'))!.versions['2']?.labels).toEqual(['AWSCURRENT']);
  });

  it('refuses a missing secret or version and an empty label', async () => {
    const { store } = setup();
    await expectCoffer(store.moveLabel('k', 'L', 1), 'not_found');
    await store.writeVersion('k', {});
    await expectCoffer(store.moveLabel('k', 'L', 7), 'not_found', 'version');
    await expectCoffer(store.moveLabel('k', '', 1), 'invalid_request', 'label');
    await expectCoffer(store.writeVersion('k', {}, { labels: [''] }), 'invalid_request', 'label');
  });
});

describe('versioned store: metadata, derived writes, listing', () => {
  it('creates metadata without versions and patches settings', async () => {
    const { store, clock } = setup();
    expect(await store.updateMeta('k', { description: 'x' }, { createIfMissing: false })).toBe(
      undefined,
    );
    const created = await store.updateMeta(
      'k',
      {
        customMetadata: { owner: 'team' },
        tags: { env: 'prod' },
        description: 'db creds',
        rotation: { every: '30d' },
        deletionScheduledAt: T0 + 1,
        expiresAt: T0 + 2,
      },
      { createIfMissing: true },
    );
    expect(created).toMatchObject({
      currentVersion: 0,
      oldestVersion: 0,
      createdAt: T0,
      updatedAt: T0,
    });
    clock.now += 10;
    const patched = await store.updateMeta(
      'k',
      (current) => ({
        customMetadata: { ...current.customMetadata, more: 'y' },
        rotation: null,
        deletionScheduledAt: null,
        expiresAt: null,
      }),
      { createIfMissing: false },
    );
    expect(patched?.customMetadata).toEqual({ owner: 'team', more: 'y' });
    expect(patched?.tags).toEqual({ env: 'prod' });
    expect(patched?.description).toBe('db creds');
    expect(patched?.rotation).toBeUndefined();
    expect(patched?.deletionScheduledAt).toBeUndefined();
    expect(patched?.expiresAt).toBeUndefined();
    expect(patched?.updatedAt).toBe(T0);
    await expectCoffer(
      store.updateMeta('k', { maxVersions: -1 }, { createIfMissing: false }),
      'invalid_request',
      'max_versions',
    );
  });

  it('derives a version from the current one, or reports why it cannot', async () => {
    const { store } = setup();
    expect(await store.writeDerivedVersion('k', (v) => v)).toEqual({ outcome: 'missing' });
    await store.updateMeta('k', { description: '' }, { createIfMissing: true });
    expect(await store.writeDerivedVersion('k', (v) => v)).toEqual({ outcome: 'missing' });
    await store.writeVersion('k', { a: 1 });
    const written = await store.writeDerivedVersion('k', (v) => ({ ...v, b: 2 }));
    expect(written).toMatchObject({ outcome: 'written', version: { number: 2 } });
    expect((await store.readVersion('k', 'latest'))?.value).toEqual({ a: 1, b: 2 });
    await expectCoffer(
      store.writeDerivedVersion('k', (v) => v, { expectedCurrentVersion: 1 }),
      'cas_mismatch',
    );
    await store.softDelete('k', 'latest');
    expect(await store.writeDerivedVersion('k', (v) => v)).toMatchObject({
      outcome: 'unreadable',
      version: { number: 2, state: 'deleted' },
    });
  });

  it('lists direct children with folders, and removes everything on deleteAll', async () => {
    const { store, storage } = setup(memoryStorage());
    await store.writeVersion('a', {});
    await store.writeVersion('dir/b', {});
    await store.writeVersion('dir/sub/c', {});
    await store.updateConfig({ casRequired: false });
    expect(await store.listChildren('')).toEqual(['a', 'dir/']);
    expect(await store.listChildren('dir/')).toEqual(['b', 'sub/']);
    expect(await store.listChildren('none/')).toEqual([]);
    expect(await store.deleteAll('dir/b')).toBe(true);
    expect(await store.listChildren('dir/')).toEqual(['sub/']);
    const keys = [...(storage as ReturnType<typeof memoryStorage>).entries.keys()];
    expect(keys.filter((k) => k.includes('dir/b'))).toEqual([]);
  });

  it('reads config defaults and keeps config patches', async () => {
    const { store } = setup();
    expect(await store.readConfig()).toEqual({
      maxVersions: 0,
      casRequired: false,
      deleteVersionAfterSeconds: 0,
    });
    await store.updateConfig({ maxVersions: 5 });
    await store.updateConfig({ casRequired: true });
    expect(await store.readConfig()).toEqual({
      maxVersions: 5,
      casRequired: true,
      deleteVersionAfterSeconds: 0,
    });
    await expectCoffer(store.updateConfig({ maxVersions: -2 }), 'invalid_request', 'max_versions');
  });
});

describe('KeyLocks', () => {
  it('runs tasks for one key in order and other keys in parallel', async () => {
    const locks = new KeyLocks();
    const log: string[] = [];
    let releaseA: () => void = () => undefined;
    const gateA = new Promise<void>((resolve) => {
      releaseA = resolve;
    });
    const a1 = locks.run('a', async () => {
      log.push('a1 start');
      await gateA;
      log.push('a1 end');
    });
    const a2 = locks.run('a', () => {
      log.push('a2');
      return Promise.resolve();
    });
    const b = locks.run('b', () => {
      log.push('b');
      return Promise.resolve();
    });
    await b;
    expect(log).toEqual(['a1 start', 'b']);
    releaseA();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
    expect(locks.activeKeys).toBe(0);
  });

  it('releases the lock when a task fails', async () => {
    const locks = new KeyLocks();
    await expect(locks.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(locks.run('k', () => Promise.resolve(7))).resolves.toBe(7);
    expect(locks.activeKeys).toBe(0);
  });
});
