import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInmemBackend } from './inmem.js';
import type { SnapshotBackend } from './physical.js';
import { openSqliteBackend } from './sqlite.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-snapshot-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const backends: Record<string, (name: string) => SnapshotBackend> = {
  sqlite: (name) => openSqliteBackend({ path: join(dir, `${name}.db`) }),
  inmem: () => createInmemBackend(),
};

describe.each(Object.keys(backends))('%s snapshots', (kind) => {
  const open = backends[kind]!;

  it('restores exactly the entries saved, replacing what was there (any backend to any)', async () => {
    const source = open('source');
    await source.put('a/1', Uint8Array.of(1, 2, 3));
    await source.put('b', Uint8Array.of(0));
    const file = join(dir, 'snap');
    await source.saveSnapshot(file);
    await source.put('after', Uint8Array.of(9));
    for (const make of Object.values(backends)) {
      const target = make('target');
      await target.put('old', Uint8Array.of(7));
      await target.restoreSnapshot(file);
      expect(await target.list('')).toEqual(['a/', 'b']);
      expect(await target.get('a/1')).toEqual(Uint8Array.of(1, 2, 3));
      expect(await target.get('old')).toBeUndefined();
      await target.close();
      rmSync(join(dir, 'target.db'), { force: true });
    }
    await source.close();
  });

  it('refuses a file that is not a snapshot and changes nothing', async () => {
    const backend = open('junk');
    await backend.put('keep', Uint8Array.of(1));
    const file = join(dir, 'junk');
    writeFileSync(file, 'not a snapshot');
    await expect(backend.restoreSnapshot(file)).rejects.toThrow(
      'the snapshot is not a Coffer storage snapshot',
    );
    expect(await backend.get('keep')).toEqual(Uint8Array.of(1));
    await backend.close();
  });
});
