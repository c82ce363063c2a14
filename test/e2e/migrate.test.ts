// `coffer operator migrate` on the real binary: SQLite → PostgreSQL → SQLite with the servers
// stopped; each migrated store unseals with the original Shamir keys and serves what was
// written before. CI=true fails when PostgreSQL is missing.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_PG_URL, requireService, skipNote } from '../helpers/services.js';
import {
  createTempDir,
  killAllServers,
  runCoffer,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { initAndUnseal, mountKv, unseal, vaultOk, vaultRequest } from './vault-http.js';

const service = await requireService('PostgreSQL', TEST_PG_URL);
const table = `coffer_migrate_${process.pid}_${Date.now().toString(36)}`;

function pgStorage(block: string): string {
  return `${block} "postgresql" {\n  connection_url_env = "MIGRATE_PG_URL"\n  table = "${table}"\n  ha_table = "${table}_ha"\n}\n`;
}

function pgServerConfig(): string {
  return [
    'log_level = "info"',
    pgStorage('storage'),
    'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}',
  ].join('\n');
}

describe.skipIf(!service.available)(`operator migrate${skipNote(service)}`, () => {
  const dir = createTempDir('coffer-e2e-migrate-');
  const env = { MIGRATE_PG_URL: TEST_PG_URL };

  afterAll(async () => {
    await killAllServers();
    dir.remove();
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_ha"`);
    await admin.end();
  });

  async function migrate(from: string, to: string): Promise<string> {
    const file = dir.file(`migrate-${Date.now()}.hcl`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, `${from}\n${to}`);
    const result = await runCoffer(['operator', 'migrate', '-config', file], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return result.stdout;
  }

  async function readSecret(server: ServerProcess, token: string, name: string): Promise<unknown> {
    const res = await vaultOk(server.url, 'GET', `secret/data/${name}`, { token });
    return (res.body as { data: { data: unknown } }).data.data;
  }

  it('copies SQLite to PostgreSQL and back; each copy unseals with the original keys', async () => {
    const first = dir.file('first.db');
    let server = await startServer({ configText: sqliteConfig(first, { logLevel: 'info' }) });
    const init = await initAndUnseal(server.url, 3, 2);
    const token = init.root_token;
    await mountKv(server.url, token, 'secret', '2');
    await vaultOk(server.url, 'POST', 'secret/data/one', { token, body: { data: { v: '1' } } });
    await server.stop();

    const sqliteSource = `storage_source "sqlite" {\n  path = "${first}"\n}\n`;
    expect(await migrate(sqliteSource, pgStorage('storage_destination'))).toMatch(
      /Success! All of the keys have been migrated \(\d+ entries, sqlite → postgresql\)/,
    );
    server = await startServer({ configText: pgServerConfig(), env });
    expect((await vaultRequest(server.url, 'GET', 'sys/seal-status')).body).toMatchObject({
      initialized: true,
      sealed: true,
    });
    await unseal(server.url, init.keys.slice(0, 2));
    expect(await readSecret(server, token, 'one')).toEqual({ v: '1' });
    await vaultOk(server.url, 'POST', 'secret/data/two', { token, body: { data: { v: '2' } } });
    await server.stop();

    const second = dir.file('second.db');
    expect(
      await migrate(
        pgStorage('storage_source'),
        `storage_destination "sqlite" {\n  path = "${second}"\n}\n`,
      ),
    ).toContain('postgresql → sqlite');
    server = await startServer({ configText: sqliteConfig(second, { logLevel: 'info' }) });
    await unseal(server.url, init.keys.slice(1, 3));
    expect(await readSecret(server, token, 'one')).toEqual({ v: '1' });
    expect(await readSecret(server, token, 'two')).toEqual({ v: '2' });
    await server.stop();
  });

  it('refuses a non-empty destination and names it', async () => {
    const file = dir.file('refuse.hcl');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      file,
      `${pgStorage('storage_source')}storage_destination "postgresql" {\n  connection_url_env = "MIGRATE_PG_URL"\n  table = "${table}"\n}\n`,
    );
    const result = await runCoffer(['operator', 'migrate', '-config', file], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('storage_destination: is not empty');
    expect(result.stderr).not.toContain(TEST_PG_URL);
  });
});
