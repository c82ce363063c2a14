// The SQLite backend: the conformance suite plus group commit, failure isolation and pragmas.
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CofferError } from '../sdk/errors.js';
import { describePhysicalBackend } from './physical.contract.js';
import { openSqliteBackend, prefixUpperBound, type SqliteBackend } from './sqlite.js';

function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-sqlite-'));
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describePhysicalBackend(
  'sqlite',
  () => {
    const { dir, remove } = tempDir();
    const path = join(dir, 'coffer.db');
    return Promise.resolve({
      backend: openSqliteBackend({ path }),
      reopen: () => Promise.resolve(openSqliteBackend({ path })),
      cleanup: () => {
        remove();
        return Promise.resolve();
      },
    });
  },
  { durable: true },
);

const value = (n: number): Uint8Array => Uint8Array.of(n);

describe('sqlite backend', () => {
  let dir: string;
  let remove: () => void;
  let backend: SqliteBackend;
  const others: Database.Database[] = [];

  /** A second, independent connection to the same file (as another process would have). */
  function sideConnection(): Database.Database {
    const db = new Database(backend.filePath);
    others.push(db);
    return db;
  }

  beforeEach(() => {
    ({ dir, remove } = tempDir());
    backend = openSqliteBackend({ path: join(dir, 'coffer.db') });
  });

  afterEach(async () => {
    for (const db of others.splice(0)) db.close();
    await backend.close();
    remove();
  });

  it('reports its type and file path', () => {
    expect(backend.type).toBe('sqlite');
    expect(backend.filePath).toBe(join(dir, 'coffer.db'));
  });

  it('sets WAL, synchronous=FULL and a busy timeout by default', () => {
    expect(backend.pragmas()).toEqual({ journalMode: 'wal', synchronous: 2, busyTimeoutMs: 5000 });
    expect(sideConnection().pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('uses synchronous=NORMAL and a custom busy timeout when asked', async () => {
    const other = openSqliteBackend({
      path: join(dir, 'normal.db'),
      synchronous: 'normal',
      busyTimeoutMs: 250,
    });
    try {
      expect(other.pragmas()).toEqual({ journalMode: 'wal', synchronous: 1, busyTimeoutMs: 250 });
    } finally {
      await other.close();
    }
  });

  it('creates the entries table as WITHOUT ROWID with a TEXT key', () => {
    const sql = sideConnection()
      .prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'entries'")
      .get()?.sql;
    expect(sql).toContain('WITHOUT ROWID');
    expect(sql).toContain('key TEXT PRIMARY KEY');
  });

  it('fails to open in a missing directory with a CofferError', () => {
    expect(() => openSqliteBackend({ path: join(dir, 'no', 'such', 'x.db') })).toThrow(CofferError);
  });

  it('group commit: 200 concurrent puts share one transaction', async () => {
    const before = backend.stats();
    await Promise.all(Array.from({ length: 200 }, (_, i) => backend.put(`g/${i}`, value(i))));
    const after = backend.stats();
    expect(after.commits - before.commits).toBe(1);
    expect(after.writes - before.writes).toBe(200);
    expect(await backend.list('g/')).toHaveLength(200);
  });

  it('group commit: a write issued while the flush is pending joins it', async () => {
    const first = backend.put('a', value(1));
    await Promise.resolve(); // a later microtask, same turn: the flush has not run yet
    const second = backend.batch([{ op: 'put', key: 'b', value: value(2) }]);
    await Promise.all([first, second]);
    expect(backend.stats()).toEqual({ commits: 1, writes: 2 });
  });

  it('group commit: writes in separate turns commit separately', async () => {
    await backend.put('a', value(1));
    await backend.put('b', value(2));
    await backend.delete('a');
    expect(backend.stats()).toEqual({ commits: 3, writes: 3 });
  });

  it('groupCommit:false commits every write on its own', async () => {
    const single = openSqliteBackend({ path: join(dir, 'single.db'), groupCommit: false });
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => single.put(`s/${i}`, value(i))));
      await single.batch([
        { op: 'put', key: 'x', value: value(1) },
        { op: 'delete', key: 's/0' },
      ]);
      expect(single.stats()).toEqual({ commits: 51, writes: 52 });
      expect(await single.list('s/')).toHaveLength(49);
    } finally {
      await single.close();
    }
  });

  it('a resolved write is already committed (visible to another connection)', async () => {
    const side = sideConnection();
    const read = side.prepare<[string], { value: Buffer }>(
      'SELECT value FROM entries WHERE key = ?',
    );
    const pending = backend.put('seen', value(7));
    expect(read.get('seen')).toBeUndefined(); // queued, not yet committed
    await pending;
    expect([...read.get('seen')!.value]).toEqual([7]);
  });

  describe('a failing write in a group', () => {
    /** Makes any insert of key 'poison' fail inside the transaction, via a real trigger. */
    function poison(): void {
      sideConnection().exec(
        "CREATE TRIGGER poison BEFORE INSERT ON entries WHEN NEW.key = 'poison' " +
          "BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
      );
    }

    it('fails only its own caller; the others commit', async () => {
      poison();
      const results = await Promise.allSettled([
        backend.put('ok/1', value(1)),
        backend.batch([
          { op: 'put', key: 'bad/partner', value: value(2) },
          { op: 'put', key: 'poison', value: value(3) },
        ]),
        backend.batch([
          { op: 'put', key: 'ok/2', value: value(4) },
          { op: 'delete', key: 'ok/1' },
        ]),
        backend.put('ok/3', value(5)),
      ]);
      expect(results.map((r) => r.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
      ]);
      const reason = (results[1] as PromiseRejectedResult).reason as CofferError;
      expect(reason).toBeInstanceOf(CofferError);
      expect(reason.code).toBe('internal');
      // The failed batch applied nothing; the others applied in order.
      expect(await backend.get('bad/partner')).toBeUndefined();
      expect(await backend.get('poison')).toBeUndefined();
      expect(await backend.list('ok/')).toEqual(['2', '3']);
      // One failed combined attempt (not counted), then one commit per good caller.
      expect(backend.stats()).toEqual({ commits: 3, writes: 4 });
    });

    it('rejects a lone failing batch without applying any of it', async () => {
      poison();
      await expect(
        backend.batch([
          { op: 'put', key: 'partner', value: value(1) },
          { op: 'put', key: 'poison', value: value(2) },
        ]),
      ).rejects.toMatchObject({ code: 'internal' });
      expect(await backend.get('partner')).toBeUndefined();
      expect(backend.stats().commits).toBe(0);
      await backend.put('after', value(3));
      expect(await backend.get('after')).toEqual(value(3));
    });
  });

  it('refuses keys with a lone surrogate (they would collide in UTF-8)', async () => {
    await expect(backend.put('a\ud800', value(1))).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(backend.get('a\udc00')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(backend.list('\ud800/')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('persists values written by the group commit across reopen', async () => {
    await Promise.all(Array.from({ length: 30 }, (_, i) => backend.put(`p/${i}`, value(i))));
    await backend.close();
    backend = openSqliteBackend({ path: join(dir, 'coffer.db') });
    expect(await backend.list('p/')).toHaveLength(30);
    expect(await backend.get('p/29')).toEqual(value(29));
  });
});

describe('prefixUpperBound', () => {
  it('is undefined for the empty prefix and for only U+10FFFF', () => {
    expect(prefixUpperBound('')).toBeUndefined();
    expect(prefixUpperBound('\u{10ffff}\u{10ffff}')).toBeUndefined();
  });

  it('increments the last code point', () => {
    expect(prefixUpperBound('a/')).toBe('a0');
    expect(prefixUpperBound('ab')).toBe('ac');
    expect(prefixUpperBound('a\u{1f600}')).toBe('a\u{1f601}');
    expect(prefixUpperBound('a\uffff')).toBe('a\u{10000}');
  });

  it('skips the surrogate range and drops a trailing U+10FFFF', () => {
    expect(prefixUpperBound('a\ud7ff')).toBe('a\ue000');
    expect(prefixUpperBound('ab\u{10ffff}')).toBe('ac');
  });
});

describe('SQLite files are private', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    tmp.remove();
  });
  const modeOf = (file: string) => statSync(file).mode & 0o777;

  it('creates the database, -wal and -shm with mode 0600 whatever the umask', async () => {
    const old = process.umask(0o022);
    try {
      const path = join(tmp.dir, 'coffer.db');
      const backend = openSqliteBackend({ path });
      await backend.put('a', Buffer.from('x'));
      for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(modeOf(file)).toBe(0o600);
      await backend.close();
    } finally {
      process.umask(old);
    }
  });

  it('narrows an existing world-readable database to 0600', async () => {
    const path = join(tmp.dir, 'old.db');
    writeFileSync(path, '');
    chmodSync(path, 0o644);
    const backend = openSqliteBackend({ path });
    expect(modeOf(path)).toBe(0o600);
    await backend.close();
  });

  it('says which folder is missing', () => {
    const path = join(tmp.dir, 'nope', 'coffer.db');
    expect(() => openSqliteBackend({ path })).toThrow(
      new CofferError(
        'internal',
        `cannot open the SQLite database at ${path}: the folder ${join(tmp.dir, 'nope')} does not exist`,
      ),
    );
  });
});
