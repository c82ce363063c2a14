// The PostgreSQL backend on the machine's real server: the conformance suite (each test in its
// own table), group commit, large values, byte ordering, fencing, and connection loss through
// a fault proxy. CI=true fails when PostgreSQL is missing; elsewhere the file skips.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_PG_URL,
  requireService,
  skipNote,
  startFaultProxy,
} from '../../test/helpers/services.js';
import { CofferError } from '../sdk/errors.js';
import { describePhysicalBackend } from './physical.contract.js';
import { openPostgresBackend, tableNameProblem, type PostgresBackend } from './postgresql.js';

const service = await requireService('PostgreSQL', TEST_PG_URL);
const admin = service.available
  ? new pg.Pool({ connectionString: TEST_PG_URL, max: 2 })
  : undefined;
let tableCount = 0;

/** A fresh table name per test; dropped by the cleanup. */
function freshTable(): string {
  tableCount += 1;
  return `coffer_test_${process.pid}_${Date.now().toString(36)}_${tableCount}`;
}

async function dropTables(...names: string[]): Promise<void> {
  for (const name of names) await admin!.query(`DROP TABLE IF EXISTS "${name}"`);
}

afterAll(async () => {
  await admin?.end();
});

describe.skipIf(!service.available)(`postgresql backend${skipNote(service)}`, () => {
  describePhysicalBackend('postgresql', () => {
    const table = freshTable();
    const haTable = `${table}_ha`;
    const open = (): PostgresBackend =>
      openPostgresBackend({ connectionUrl: TEST_PG_URL, table, haTable });
    return Promise.resolve({
      backend: open(),
      reopen: () => Promise.resolve(open()),
      cleanup: () => dropTables(table, haTable),
    });
  });

  describe('specifics', () => {
    const table = freshTable();
    const haTable = `${table}_ha`;
    let backend: PostgresBackend;

    beforeAll(() => {
      backend = openPostgresBackend({ connectionUrl: TEST_PG_URL, table, haTable });
    });

    afterAll(async () => {
      await backend.close();
      await dropTables(table, haTable);
    });

    it('reports its type and keeps keys in a COLLATE "C" text column', async () => {
      expect(backend.type).toBe('postgresql');
      await backend.put('probe', Uint8Array.of(1));
      const { rows } = await admin!.query<{ collation: string }>(
        `SELECT collation_name AS collation FROM information_schema.columns
         WHERE table_name = $1 AND column_name = 'key'`,
        [table],
      );
      expect(rows[0]?.collation).toBe('C');
    });

    it('commits concurrent writes in shared transactions (group commit)', async () => {
      const before = backend.stats().commits;
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => backend.put(`gc/${i}`, Uint8Array.of(i % 256))),
      );
      const commits = backend.stats().commits - before;
      expect(commits).toBeGreaterThanOrEqual(1);
      expect(commits).toBeLessThan(20);
      expect(await backend.list('gc/')).toHaveLength(200);
    });

    it('stores a 4 MiB value unchanged', async () => {
      const big = randomBytes(4 * 1024 * 1024);
      await backend.put('large', big);
      const read = await backend.get('large');
      expect(read?.length).toBe(big.length);
      expect(Buffer.from(read!).equals(big)).toBe(true);
    });

    it('lists more children than one page, in JS order', async () => {
      const keys = Array.from({ length: 1203 }, (_, i) => `page/${String(i).padStart(5, '0')}`);
      await backend.batch(keys.map((key) => ({ op: 'put', key, value: Uint8Array.of(1) })));
      const listed = await backend.list('page/');
      expect(listed).toEqual(keys.map((key) => key.slice(5)));
    });

    it('refuses keys PostgreSQL text cannot hold (NUL, lone surrogates)', async () => {
      await expect(backend.put('a\0b', Uint8Array.of(1))).rejects.toMatchObject({
        code: 'invalid_request',
      });
      await expect(backend.get('a\ud800')).rejects.toMatchObject({ code: 'invalid_request' });
    });

    it('refuses table names that are not plain identifiers', () => {
      expect(tableNameProblem('coffer_kv')).toBeUndefined();
      expect(tableNameProblem('public.coffer_kv')).toBeUndefined();
      expect(tableNameProblem('x"; DROP TABLE y; --')).toBeDefined();
      expect(() => openPostgresBackend({ connectionUrl: TEST_PG_URL, table: 'bad name' })).toThrow(
        CofferError,
      );
    });
  });

  describe('fencing', () => {
    const table = freshTable();
    const haTable = `${table}_ha`;
    const nodes: PostgresBackend[] = [];

    beforeAll(() => {
      for (let i = 0; i < 2; i += 1) {
        nodes.push(openPostgresBackend({ connectionUrl: TEST_PG_URL, table, haTable }));
      }
    });

    afterAll(async () => {
      for (const node of nodes) await node.close();
      await dropTables(table, haTable);
    });

    it('a deposed leader can never commit a write', async () => {
      const [a, b] = nodes as [PostgresBackend, PostgresBackend];
      const epochA = await a.tryAcquireLeadership('a', 'http://a', 200);
      expect(epochA).toBeDefined();
      expect(await b.tryAcquireLeadership('b', 'http://b', 200)).toBeUndefined();
      a.setFence({ epoch: epochA! });
      await a.put('fenced/1', Uint8Array.of(1));
      // a's lease runs out; b takes over with a higher epoch.
      let epochB: string | undefined;
      for (let i = 0; i < 50 && epochB === undefined; i += 1) {
        epochB = await b.tryAcquireLeadership('b', 'http://b', 5000);
        if (epochB === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(BigInt(epochB!)).toBeGreaterThan(BigInt(epochA!));
      expect((await b.readLeader())?.holder).toBe('b');
      // a has not noticed and still believes in its epoch: every write is refused.
      await expect(a.put('fenced/2', Uint8Array.of(2))).rejects.toMatchObject({
        code: 'not_active',
      });
      expect(await a.renewLeadership('a', epochA!, 5000)).toBe(false);
      expect(await b.get('fenced/2')).toBeUndefined();
      b.setFence({ epoch: epochB! });
      await b.put('fenced/3', Uint8Array.of(3));
      b.setFence('standby');
      await expect(b.put('fenced/4', Uint8Array.of(4))).rejects.toMatchObject({
        code: 'not_active',
      });
      await b.releaseLeadership('b', epochB!);
      expect(await b.readLeader()).toBeUndefined();
    });

    it('delivers NOTIFY payloads to every listening node', async () => {
      const [a, b] = nodes as [PostgresBackend, PostgresBackend];
      const got = new Promise<string>((resolve) => {
        const stop = b.onNotify((payload) => {
          stop();
          resolve(payload);
        });
      });
      // The listener connects asynchronously; send until it hears one (bounded).
      let payload: string | undefined;
      void got.then((p) => (payload = p));
      for (let i = 0; i < 40 && payload === undefined; i += 1) {
        await a.notify('hello');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await got).toBe('hello');
    });
  });

  describe('connection loss', () => {
    it('retries across a dropped connection, and fails clearly once retries run out', async () => {
      const proxy = await startFaultProxy(service.endpoint.host, service.endpoint.port);
      const url = new URL(TEST_PG_URL);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      const table = freshTable();
      const backend = openPostgresBackend({
        connectionUrl: url.toString(),
        table,
        haTable: `${table}_ha`,
        maxAttempts: 3,
        connectTimeoutMs: 500,
      });
      try {
        await backend.put('k', Uint8Array.of(1));
        // Cut every open connection: the next calls reconnect and succeed.
        proxy.setMode('refuse');
        proxy.setMode('pass');
        await backend.put('k', Uint8Array.of(2));
        expect(await backend.get('k')).toEqual(Uint8Array.of(2));
        // Down for good: a bounded number of attempts, then a clear error without the URL.
        proxy.setMode('refuse');
        const err = await backend.put('k', Uint8Array.of(3)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CofferError);
        expect((err as CofferError).message).not.toContain('postgres@');
        expect(backend.stats().retries).toBeGreaterThan(0);
        proxy.setMode('pass');
        expect(await backend.get('k')).toEqual(Uint8Array.of(2));
      } finally {
        await backend.close();
        await proxy.close();
        await dropTables(table, `${table}_ha`);
      }
    });
  });
});
