// End to end: `coffer operator snapshot save` of a live SQLite server while 16 writers run,
// then `snapshot restore` into a fresh uninitialised server, which unseals with the original
// keys and holds every write acknowledged before the snapshot started. The file is ciphertext.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireService, skipNote, TEST_PG_URL } from '../helpers/services.js';
import {
  createTempDir,
  killAllServers,
  runCoffer,
  sqliteConfig,
  startServer,
} from '../helpers/server-process.js';
import type { ServerProcess, TempDir } from '../helpers/server-process.js';
import { initialize, sealStatus, unseal, vaultOk, vaultRequest } from './vault-http.js';

const WRITERS = 16;
const postgres = await requireService('PostgreSQL', TEST_PG_URL);
const pgTables: string[] = [];
const CANARY = `snapshot-canary-${randomBytes(8).toString('hex')}`;

let tmp: TempDir;
let source: ServerProcess;
let keys: string[];
let rootToken: string;

beforeAll(async () => {
  tmp = createTempDir('coffer-snapshot-e2e-');
  source = await startServer({
    configText: sqliteConfig(tmp.file('source.db'), { logLevel: 'warn' }),
  });
  const init = await initialize(source.url, 3, 2);
  keys = init.keys;
  rootToken = init.root_token;
  await unseal(source.url, keys.slice(0, 2));
  await vaultOk(source.url, 'POST', 'sys/mounts/secret', {
    token: rootToken,
    body: { type: 'kv', options: { version: '2' } },
  });
}, 60_000);

afterAll(async () => {
  await killAllServers();
  tmp.remove();
  if (pgTables.length > 0) {
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    for (const name of pgTables) await admin.query(`DROP TABLE IF EXISTS "${name}"`);
    await admin.end();
  }
});

/** A server on a fresh PostgreSQL table (dropped after the file); the URL via the environment. */
function startPgServer(name: string): Promise<ServerProcess> {
  const table = `coffer_snap_e2e_${process.pid}_${name}`;
  pgTables.push(table, `${table}_ha`);
  return startServer({
    configText: [
      'log_level = "warn"',
      'storage "postgresql" {',
      '  connection_url_env = "SNAP_PG_URL"',
      `  table = "${table}"`,
      `  ha_table = "${table}_ha"`,
      '}',
      'listener "tcp" {',
      '  address = "127.0.0.1:0"',
      '  tls_disable = true',
      '}',
    ].join('\n'),
    env: { SNAP_PG_URL: TEST_PG_URL },
  });
}

/** The KV value at `key`, or undefined. */
async function readValue(url: string, key: string): Promise<string | undefined> {
  const read = await vaultRequest(url, 'GET', `secret/data/${key}`, { token: rootToken });
  return (read.body as { data?: { data?: { value?: string } } }).data?.data?.value;
}

describe('operator snapshot', () => {
  it('restores, from a snapshot taken under 16 writers, every write acknowledged before it', async () => {
    const acked: string[][] = Array.from({ length: WRITERS }, () => []);
    let stop = false;
    const writer = async (w: number) => {
      for (let n = 0; !stop && n < 10_000; n++) {
        const key = `w${w}-${n}`;
        await vaultOk(source.url, 'POST', `secret/data/${key}`, {
          token: rootToken,
          body: { data: { value: `${CANARY}-${key}` } },
        });
        acked[w]!.push(key);
      }
    };
    const running = Array.from({ length: WRITERS }, (_, w) => writer(w));
    // Let every writer get going, then take the snapshot while they keep writing.
    while (acked.some((list) => list.length < 3)) await new Promise((r) => setTimeout(r, 20));
    const before = acked.flat();
    const file = tmp.file('coffer.snap');
    const saved = await runCoffer(['operator', 'snapshot', 'save', file], {
      env: { COFFER_ADDR: source.url, COFFER_TOKEN: rootToken, HOME: tmp.path },
    });
    const writtenDuring = acked.flat().length - before.length;
    stop = true;
    await Promise.all(running);
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    expect(writtenDuring).toBeGreaterThan(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // SECURITY: entries stay ciphertext; no value (nor the root token) is in the file.
    const bytes = readFileSync(file);
    expect(bytes.includes(CANARY)).toBe(false);
    expect(bytes.includes(rootToken)).toBe(false);

    const target = await startServer({
      configText: sqliteConfig(tmp.file('target.db'), { logLevel: 'warn' }),
    });
    const restored = await runCoffer(['operator', 'snapshot', 'restore', file], {
      env: { COFFER_ADDR: target.url, HOME: tmp.path },
    });
    expect(restored.stderr).toBe('');
    expect(await sealStatus(target.url)).toMatchObject({ initialized: true, sealed: true, t: 2 });
    await unseal(target.url, [keys[2]!, keys[0]!]);
    const missing: string[] = [];
    for (const key of before) {
      const read = await vaultRequest(target.url, 'GET', `secret/data/${key}`, {
        token: rootToken,
      });
      const value = (read.body as { data?: { data?: { value?: string } } }).data?.data?.value;
      if (value !== `${CANARY}-${key}`) missing.push(key);
    }
    expect(missing).toEqual([]);

    // Once initialised, a server refuses a restore (it would replace its data).
    const again = await runCoffer(['operator', 'snapshot', 'restore', file], {
      env: { COFFER_ADDR: target.url, HOME: tmp.path },
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      'Error: a snapshot can be restored only into an uninitialised server (400)\n',
    );
  }, 120_000);

  it('needs sudo to save, and refuses a file that is not a snapshot', async () => {
    const denied = await runCoffer(['operator', 'snapshot', 'save', tmp.file('x.snap')], {
      env: { COFFER_ADDR: source.url, COFFER_TOKEN: 'not-a-token', HOME: tmp.path },
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/permission denied \(403\)/);
    const fresh = await startServer({
      configText: sqliteConfig(tmp.file('fresh.db'), { logLevel: 'warn' }),
    });
    const junk = tmp.file('junk.snap');
    writeFileSync(junk, 'not sqlite at all');
    const refused = await runCoffer(['operator', 'snapshot', 'restore', junk], {
      env: { COFFER_ADDR: fresh.url, HOME: tmp.path },
    });
    expect(refused.stderr).toBe('Error: the snapshot is not a Coffer storage snapshot (400)\n');
    expect(await sealStatus(fresh.url)).toMatchObject({ initialized: false });
  }, 60_000);

  describe.skipIf(!postgres.available)(`on PostgreSQL${skipNote(postgres)}`, () => {
    it('moves a live server from SQLite to PostgreSQL and back, under writers', async () => {
      const env = { COFFER_TOKEN: rootToken, HOME: tmp.path };
      // SQLite → PostgreSQL: the source's snapshot into an uninitialised PostgreSQL server.
      const fromSqlite = tmp.file('from-sqlite.snap');
      await vaultOk(source.url, 'POST', 'secret/data/moved', {
        token: rootToken,
        body: { data: { value: `${CANARY}-moved` } },
      });
      const saved = await runCoffer(['operator', 'snapshot', 'save', fromSqlite], {
        env: { ...env, COFFER_ADDR: source.url },
      });
      expect(saved.stderr).toBe('');
      const onPg = await startPgServer('target');
      const restored = await runCoffer(['operator', 'snapshot', 'restore', fromSqlite], {
        env: { COFFER_ADDR: onPg.url, HOME: tmp.path },
      });
      expect(restored.stderr).toBe('');
      await unseal(onPg.url, keys.slice(1, 3));
      expect(await readValue(onPg.url, 'moved')).toBe(`${CANARY}-moved`);

      // PostgreSQL → SQLite, the snapshot taken while 4 writers write to the PostgreSQL server.
      const acked: string[] = [];
      let stop = false;
      const writer = async (w: number) => {
        for (let n = 0; !stop && n < 10_000; n++) {
          const key = `pg${w}-${n}`;
          await vaultOk(onPg.url, 'POST', `secret/data/${key}`, {
            token: rootToken,
            body: { data: { value: `${CANARY}-${key}` } },
          });
          acked.push(key);
        }
      };
      const running = [0, 1, 2, 3].map(writer);
      while (acked.length < 8) await new Promise((r) => setTimeout(r, 20));
      const before = [...acked];
      const fromPg = tmp.file('from-pg.snap');
      const pgSaved = await runCoffer(['operator', 'snapshot', 'save', fromPg], {
        env: { ...env, COFFER_ADDR: onPg.url },
      });
      stop = true;
      await Promise.all(running);
      expect(pgSaved.stderr).toBe('');
      expect(statSync(fromPg).mode & 0o777).toBe(0o600);
      const bytes = readFileSync(fromPg);
      expect(bytes.includes(CANARY)).toBe(false);
      expect(bytes.includes(rootToken)).toBe(false);

      const back = await startServer({
        configText: sqliteConfig(tmp.file('back.db'), { logLevel: 'warn' }),
      });
      const backRestored = await runCoffer(['operator', 'snapshot', 'restore', fromPg], {
        env: { COFFER_ADDR: back.url, HOME: tmp.path },
      });
      expect(backRestored.stderr).toBe('');
      await unseal(back.url, keys.slice(0, 2));
      const missing: string[] = [];
      for (const key of ['moved', ...before]) {
        const expected = key === 'moved' ? `${CANARY}-moved` : `${CANARY}-${key}`;
        if ((await readValue(back.url, key)) !== expected) missing.push(key);
      }
      expect(missing).toEqual([]);
    }, 120_000);
  });
});
