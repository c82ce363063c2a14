import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  requireService,
  skipNote,
  startFaultProxy,
  TEST_PG_URL,
} from '../../test/helpers/services.js';
import { createInmemBackend } from './inmem.js';
import type { SnapshotBackend } from './physical.js';
import { openPostgresBackend } from './postgresql.js';
import { readSnapshotFile } from './snapshot-file.js';
import { openSqliteBackend } from './sqlite.js';

// PostgreSQL joins the backends when it runs here (CI=true fails the file when it does not).
const postgres = await requireService('PostgreSQL', TEST_PG_URL);
const pgTables: string[] = [];
afterAll(async () => {
  if (pgTables.length === 0) return;
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  for (const name of pgTables) await admin.query(`DROP TABLE IF EXISTS "${name}"`);
  await admin.end();
});

/** A PostgreSQL backend on a fresh table (and lease table), dropped after the file. */
function openPg(name: string): ReturnType<typeof openPostgresBackend> {
  const table = `coffer_snap_${process.pid}_${pgTables.length}_${name}`;
  pgTables.push(table, `${table}_ha`);
  return openPostgresBackend({ connectionUrl: TEST_PG_URL, table, haTable: `${table}_ha` });
}

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
  ...(postgres.available ? { postgresql: openPg } : {}),
};
if (!postgres.available) console.warn(`snapshot tests without postgresql${skipNote(postgres)}`);

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

describe.skipIf(!postgres.available)(`postgresql snapshots${skipNote(postgres)}`, () => {
  const PAIRS = 1000;
  const WRITERS = 8;
  const value = (n: number): Uint8Array => new TextEncoder().encode(String(n));
  const number = (bytes: Uint8Array | undefined): number =>
    bytes === undefined ? -1 : Number(new TextDecoder().decode(bytes));

  it('is one consistent read under writers, holding every write acknowledged before it', async () => {
    const backend = openPg('live');
    // Pair i is written as a/i and b/i in one batch, always with the same number: any
    // snapshot of one moment has a/i == b/i. The 2000 keys span 8 pages, a/ before b/.
    await backend.batch(
      Array.from({ length: PAIRS }, (_, i) => [
        { op: 'put' as const, key: `a/${i}`, value: value(0) },
        { op: 'put' as const, key: `b/${i}`, value: value(0) },
      ]).flat(),
    );
    const acked = new Array<number>(PAIRS).fill(0);
    let stop = false;
    let written = 0;
    const writer = async (w: number): Promise<void> => {
      for (let n = 1; !stop && n < 100_000; n++) {
        const ops = [];
        for (let i = w; i < PAIRS; i += WRITERS) {
          ops.push({ op: 'put' as const, key: `a/${i}`, value: value(n) });
          ops.push({ op: 'put' as const, key: `b/${i}`, value: value(n) });
        }
        await backend.batch(ops);
        for (let i = w; i < PAIRS; i += WRITERS) acked[i] = n;
        written += 1;
      }
    };
    const running = Array.from({ length: WRITERS }, (_, w) => writer(w));
    while (written < WRITERS * 3) await new Promise((r) => setTimeout(r, 5));
    // A snapshot proves something only when writes commit during it: take snapshots until
    // five did (a torn read shows only if a commit lands between two of its pages).
    const snapshots: { entries: Map<string, Uint8Array>; before: number[] }[] = [];
    let overlapped = 0;
    for (let attempt = 0; attempt < 40 && overlapped < 5; attempt++) {
      const before = [...acked];
      const writtenBefore = written;
      const file = join(dir, `live-${attempt}.snap`);
      await backend.saveSnapshot(file);
      if (written > writtenBefore) overlapped += 1;
      snapshots.push({ entries: new Map(readSnapshotFile(file)), before });
    }
    stop = true;
    await Promise.all(running);
    expect(overlapped).toBe(5);

    for (const { entries, before } of snapshots) {
      expect(entries.size).toBe(2 * PAIRS);
      const torn: string[] = [];
      const lost: string[] = [];
      for (let i = 0; i < PAIRS; i++) {
        const a = number(entries.get(`a/${i}`));
        const b = number(entries.get(`b/${i}`));
        if (a !== b) torn.push(`${i}: a=${a} b=${b}`);
        if (a < before[i]!) lost.push(`${i}: ${a} < ${before[i]}`);
      }
      expect(torn).toEqual([]);
      expect(lost).toEqual([]);
    }
    await backend.close();
  }, 60_000);

  it('restores only on the active node, with its fencing epoch checked', async () => {
    const source = createInmemBackend();
    await source.put('from-snapshot', Uint8Array.of(1));
    const file = join(dir, 'fenced.snap');
    await source.saveSnapshot(file);
    const node = openPg('fenced');
    await node.put('kept', Uint8Array.of(2));
    node.setFence('standby');
    await expect(node.restoreSnapshot(file)).rejects.toMatchObject({ code: 'not_active' });
    // Leader with epoch e, then deposed (another node's lease after expiry bumps the epoch).
    node.setFence('open');
    const epoch = await node.tryAcquireLeadership('node-1', 'http://127.0.0.1:1', 1);
    expect(epoch).toBeDefined();
    node.setFence({ epoch: epoch! });
    await new Promise((r) => setTimeout(r, 20));
    expect(await node.tryAcquireLeadership('node-2', 'http://127.0.0.1:2', 60_000)).toBeDefined();
    await expect(node.restoreSnapshot(file)).rejects.toMatchObject({ code: 'not_active' });
    node.setFence('open');
    expect(await node.list('')).toEqual(['kept']);
    // The current leader restores.
    const leader = await node.readLeader();
    node.setFence({ epoch: leader!.epoch });
    await node.restoreSnapshot(file);
    expect(await node.list('')).toEqual(['from-snapshot']);
    await node.close();
  });

  it('refuses, changing nothing, a snapshot with a key PostgreSQL cannot hold', async () => {
    const file = join(dir, 'nul.snap');
    const source = createInmemBackend();
    await source.put('good', Uint8Array.of(1));
    await source.saveSnapshot(file);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(file);
    db.prepare('INSERT INTO entries (key, value) VALUES (?, ?)').run('zz\0bad', Buffer.of(2));
    db.close();
    const node = openPg('nul');
    await node.put('kept', Uint8Array.of(3));
    await expect(node.restoreSnapshot(file)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await node.list('')).toEqual(['kept']);
    await node.close();
  });

  it('fails cleanly, leaving no file, when PostgreSQL is unreachable, and works once it is back', async () => {
    const proxy = await startFaultProxy(postgres.endpoint.host, postgres.endpoint.port);
    const url = new URL(TEST_PG_URL);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const table = `coffer_snap_${process.pid}_${pgTables.length}_cut`;
    pgTables.push(table, `${table}_ha`);
    const backend = openPostgresBackend({
      connectionUrl: url.toString(),
      table,
      haTable: `${table}_ha`,
      maxAttempts: 1,
    });
    try {
      await backend.put('k', Uint8Array.of(1));
      proxy.setMode('refuse');
      const file = join(dir, 'cut.snap');
      await expect(backend.saveSnapshot(file)).rejects.toThrow(
        'postgresql storage: the snapshot read failed',
      );
      expect(existsSync(file)).toBe(false);
      proxy.setMode('pass');
      await backend.saveSnapshot(file);
      expect(readSnapshotFile(file)).toEqual([['k', Uint8Array.of(1)]]);
    } finally {
      await backend.close();
      await proxy.close();
    }
  });
});
