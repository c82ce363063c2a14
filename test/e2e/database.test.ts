// Dynamic database credentials through the real server and CLI, against the real PostgreSQL,
// MariaDB and Redis on this machine: the CLI shows the lease, the user can do what its
// statements grant and nothing else, revocation (by prefix, by expiry, after a restart, after
// the database was down) removes it, static roles rotate, rotate-root keeps Coffer in charge,
// bad statements get a clear error, and no password reaches a log or the audit file.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  encodedForms,
  findCanaries,
  killAllServers,
  runCoffer,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { startFaultProxy, TEST_PG_URL, type FaultProxy } from '../helpers/services.js';
import {
  fixtureFor,
  type DatabaseFixture,
  type FixtureKind,
} from '../integration/database-fixtures.js';
import { initAndUnseal, unseal, vaultOk, vaultRequest } from './vault-http.js';

const PREFIX = 'cde2e';
const KINDS: readonly FixtureKind[] = ['postgres', 'mysql', 'redis'];
/** Generated usernames start with the prefix, so the fixtures' teardown finds leftovers. */
const USERNAME_TEMPLATE: Record<FixtureKind, string> = {
  postgres: `{{ printf "${PREFIX}_%s_%s" (.RoleName | truncate 12) (random 16) | lowercase }}`,
  mysql: `{{ printf "${PREFIX}-%s" (random 20) }}`,
  redis: `{{ printf "${PREFIX}-%s-%s" (.RoleName | truncate 12) (random 16) }}`,
};

const dir = createTempDir('coffer-db-e2e-');
const configText = sqliteConfig(dir.file('coffer.db'), { logLevel: 'info' });
const fixtures = await Promise.all(KINDS.map((kind) => fixtureFor(kind, PREFIX)));
/** Every password Coffer handed out or was given, searched for in logs and audit lines. */
const secrets: Record<string, string> = {};
let server: ServerProcess;
let root = '';
let unsealKeys: string[] = [];
/** Earlier server processes (before a restart), kept for the log search. */
const earlierLogs: string[] = [];

function cliEnv(): Record<string, string> {
  return { HOME: dir.path, COFFER_ADDR: server.url, COFFER_TOKEN: root };
}

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await vaultOk(server.url, method, path, {
    token: root,
    ...(body === undefined ? {} : { body }),
  });
  return (res.body ?? {}) as Record<string, unknown>;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}

interface Creds {
  readonly leaseId: string;
  readonly leaseSeconds: number;
  readonly username: string;
  readonly password: string;
}

async function creds(role: string): Promise<Creds> {
  const body = await api('GET', `database/creds/${role}`);
  const data = body['data'] as { username: string; password: string };
  secrets[`password-${Object.keys(secrets).length}`] = data.password;
  return {
    leaseId: body['lease_id'] as string,
    leaseSeconds: body['lease_duration'] as number,
    username: data.username,
    password: data.password,
  };
}

beforeAll(async () => {
  for (const f of fixtures) await f.setup();
  server = await startServer({ configText });
  const init = await initAndUnseal(server.url, 1, 1);
  root = init.root_token;
  unsealKeys = init.keys;
  await api('PUT', 'sys/audit/file', {
    type: 'file',
    options: { file_path: dir.file('audit.log') },
  });
  await api('POST', 'sys/mounts/database', { type: 'database' });
}, 60_000);

afterAll(async () => {
  await killAllServers();
  for (const f of fixtures) await f.teardown();
  dir.remove();
});

/** Connection and roles for one database, reached through a fault proxy the test can cut. */
async function configure(f: DatabaseFixture): Promise<FaultProxy> {
  const proxy = await startFaultProxy(f.service.endpoint.host, f.service.endpoint.port);
  secrets[`admin-${f.kind}`] = f.adminPassword;
  await api('POST', `database/config/${f.kind}`, {
    plugin_name: f.plugin,
    allowed_roles: `${f.kind}-*`,
    username_template: USERNAME_TEMPLATE[f.kind],
    ...f.connectionFields('127.0.0.1', proxy.port),
  });
  for (const [name, ttl] of [
    ['app', '1h'],
    ['short', '2s'],
  ] as const) {
    await api('POST', `database/roles/${f.kind}-${name}`, {
      db_name: f.kind,
      creation_statements: f.creationStatements,
      default_ttl: ttl,
      max_ttl: '24h',
    });
  }
  return proxy;
}

for (const f of fixtures) {
  describe.skipIf(!f.service.available)(`dynamic credentials on ${f.kind}`, () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      proxy = await configure(f);
    }, 30_000);
    afterAll(async () => {
      await proxy.close();
    });

    it('coffer read shows the lease; the user reads but cannot write; lease revoke -prefix drops it', async () => {
      const table = await runCoffer(['read', `database/creds/${f.kind}-app`], { env: cliEnv() });
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^lease_id\s+database\/creds\/\S+-app\/\S+$/m);
      expect(table.stdout).toMatch(/^lease_duration\s+1h$/m);
      expect(table.stdout).toMatch(/^lease_renewable\s+true$/m);
      const json = await runCoffer(['read', '-format=json', `database/creds/${f.kind}-app`], {
        env: cliEnv(),
      });
      const issued = JSON.parse(json.stdout) as {
        lease_id: string;
        lease_duration: number;
        data: { username: string; password: string };
      };
      secrets[`cli-password-${f.kind}`] = issued.data.password;
      const { username, password } = issued.data;
      expect(issued.lease_duration).toBe(3600);
      expect(await f.userExists(username)).toBe(true);
      await f.allowedRead(username, password);
      expect(await f.writeRefused(username, password)).toBe(true);
      const session = await f.openSession(username, password);

      const revoked = await runCoffer(
        ['lease', 'revoke', '-prefix', `database/creds/${f.kind}-app`],
        {
          env: cliEnv(),
        },
      );
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(await f.userExists(username)).toBe(false);
      await expect(session.read()).rejects.toThrow();
      await session.close();
      await expect(f.allowedRead(username, password)).rejects.toThrow();
      const lookup = await vaultRequest(server.url, 'PUT', 'sys/leases/lookup', {
        token: root,
        body: { lease_id: issued.lease_id },
      });
      expect(lookup.status).toBe(400);
    });

    it('a 2-second credential stops working by itself within TTL + 2 s', async () => {
      const c = await creds(`${f.kind}-short`);
      expect(c.leaseSeconds).toBe(2);
      const started = Date.now();
      await f.allowedRead(c.username, c.password);
      const goneAfterMs = await until(async () => !(await f.userExists(c.username)), 8_000);
      const elapsed = Date.now() - started;
      console.log(
        `${f.kind}: 2 s credential gone ${elapsed} ms after issue (${goneAfterMs} ms of polling)`,
      );
      expect(elapsed).toBeLessThanOrEqual(4_000);
      await expect(f.allowedRead(c.username, c.password)).rejects.toThrow();
    });

    it('renews a lease through sys/leases/renew', async () => {
      const c = await creds(`${f.kind}-app`);
      const renewed = await api('PUT', 'sys/leases/renew', {
        lease_id: c.leaseId,
        increment: 7200,
      });
      expect(renewed).toMatchObject({ lease_id: c.leaseId, lease_duration: 7200, renewable: true });
      await api('PUT', 'sys/leases/revoke', { lease_id: c.leaseId });
      expect(await f.userExists(c.username)).toBe(false);
    });

    it('rotates a static role on its period: the old password stops working', async () => {
      const username = f.kind === 'postgres' ? `${PREFIX}_static` : `${PREFIX}-static`;
      const initial = `Init-${Date.now()}-aA1`;
      await f.createPlainUser(username, initial);
      await api('POST', `database/static-roles/${f.kind}-static`, {
        db_name: f.kind,
        username,
        rotation_period: 5,
      });
      const first = (await api('GET', `database/static-creds/${f.kind}-static`))['data'] as {
        password: string;
        ttl: number;
      };
      secrets[`static-1-${f.kind}`] = first.password;
      expect(first.password).not.toBe(initial);
      expect(await f.passwordWorks(username, first.password)).toBe(true);
      expect(await f.passwordWorks(username, initial)).toBe(false);
      let second = first;
      const waited = await until(async () => {
        second = (await api('GET', `database/static-creds/${f.kind}-static`))[
          'data'
        ] as typeof first;
        return second.password !== first.password;
      }, 12_000);
      secrets[`static-2-${f.kind}`] = second.password;
      console.log(`${f.kind}: static password rotated ${waited} ms after the first read`);
      expect(await f.passwordWorks(username, second.password)).toBe(true);
      expect(await f.passwordWorks(username, first.password)).toBe(false);
      // rotate-role rotates now.
      await api('POST', `database/rotate-role/${f.kind}-static`);
      const third = (await api('GET', `database/static-creds/${f.kind}-static`))[
        'data'
      ] as typeof first;
      secrets[`static-3-${f.kind}`] = third.password;
      expect(third.password).not.toBe(second.password);
      expect(await f.passwordWorks(username, third.password)).toBe(true);
      await api('DELETE', `database/static-roles/${f.kind}-static`);
    });

    it('rotate-root makes the root password Coffer’s alone, and Coffer still manages users', async () => {
      await api('POST', `database/rotate-root/${f.kind}`);
      const config = await api('GET', `database/config/${f.kind}`);
      expect(JSON.stringify(config)).not.toContain(f.adminPassword);
      expect(config['data']).not.toHaveProperty('password');
      expect(await f.passwordWorks(f.adminUser, f.adminPassword)).toBe(false);
      const c = await creds(`${f.kind}-app`);
      await f.allowedRead(c.username, c.password);
      await api('PUT', 'sys/leases/revoke', { lease_id: c.leaseId });
      expect(await f.userExists(c.username)).toBe(false);
    });

    it('refuses a role whose statements do not parse, with a clear 400 and no password', async () => {
      const res = await vaultRequest(server.url, 'POST', `database/roles/${f.kind}-broken`, {
        token: root,
        body: {
          db_name: f.kind,
          creation_statements:
            f.kind === 'redis'
              ? ['["+@read", "~k*", "+nonsense-command"]']
              : ['CREATE ROLLE "{{name}}" WITH PASSWORD \'{{password}}\';'],
          default_ttl: '1h',
        },
      });
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/creation_statements/);
      expect(findCanaries(res.text, encodedForms(secrets))).toEqual([]);
    });
  });
}

const postgres = fixtures.find((f) => f.kind === 'postgres')!;

describe.skipIf(!postgres.service.available)('revocation on PostgreSQL across failures', () => {
  let proxy: FaultProxy;
  let rootPg: pg.Client;

  beforeAll(async () => {
    proxy = await startFaultProxy(postgres.service.endpoint.host, postgres.service.endpoint.port);
    await api('POST', 'database/config/pgfail', {
      plugin_name: postgres.plugin,
      allowed_roles: '*',
      username_template: `{{ printf "${PREFIX}_f_%s" (random 20) | lowercase }}`,
      ...postgres.connectionFields('127.0.0.1', proxy.port),
    });
    await api('POST', 'database/roles/pgfail-short', {
      db_name: 'pgfail',
      creation_statements: postgres.creationStatements,
      default_ttl: '2s',
    });
    await api('POST', 'database/roles/pgfail-ten', {
      db_name: 'pgfail',
      creation_statements: postgres.creationStatements,
      default_ttl: '10s',
    });
    rootPg = new pg.Client({ connectionString: TEST_PG_URL });
    await rootPg.connect();
  }, 30_000);

  afterAll(async () => {
    await rootPg.end();
    await proxy.close();
  });

  async function liveUsers(): Promise<Set<string>> {
    const res = await rootPg.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolname LIKE $1',
      [`${PREFIX}\\_f\\_%`],
    );
    return new Set(res.rows.map((row) => row.rolname));
  }

  it('retries a revocation while the database is down and revokes once it is back', async () => {
    const c = await creds('pgfail-short');
    proxy.setMode('refuse');
    // The lease expires at 2 s; its first revocation attempt fails.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(await postgres.userExists(c.username)).toBe(true);
    proxy.setMode('pass');
    const afterMs = await until(async () => !(await postgres.userExists(c.username)), 30_000);
    console.log(`postgres: revoked ${afterMs} ms after the database came back`);
  }, 45_000);

  it('revokes 100 credentials on time after a SIGKILL and restart', async () => {
    const issued: { username: string; expiresAt: number }[] = [];
    for (let i = 0; i < 100; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const c = await creds('pgfail-ten');
          return { username: c.username, expiresAt: Date.now() + c.leaseSeconds * 1000 };
        }),
      );
      issued.push(...batch);
    }
    expect(new Set(issued.map((c) => c.username)).size).toBe(100);
    expect((await liveUsers()).size).toBeGreaterThanOrEqual(100);
    const issuedIn = Date.now() - (issued[0]!.expiresAt - 10_000);
    earlierLogs.push(server.stdout() + server.stderr());
    await server.kill9();
    server = await startServer({ configText });
    await unseal(server.url, unsealKeys);
    const lastExpiry = Math.max(...issued.map((c) => c.expiresAt));
    const goneAt = new Map<string, number>();
    await until(async () => {
      const live = await liveUsers();
      for (const c of issued)
        if (!live.has(c.username) && !goneAt.has(c.username)) goneAt.set(c.username, Date.now());
      return goneAt.size === issued.length;
    }, 30_000);
    const late = issued.map((c) => goneAt.get(c.username)! - c.expiresAt);
    console.log(
      `postgres: 100 credentials issued in ${issuedIn} ms, server killed and restarted; all gone ` +
        `${Date.now() - lastExpiry} ms after the last expiry; worst lateness ${Math.max(...late)} ms`,
    );
    // "On time": none survives its expiry by more than 2 s (poll granularity included).
    expect(Math.max(...late)).toBeLessThanOrEqual(2_000);
  }, 90_000);
});

describe('no password in any log or audit line', () => {
  it('finds none of the issued or configured passwords, in any encoding', () => {
    const logs = [...earlierLogs, server.stdout(), server.stderr()].join('\n');
    const audit = readFileSync(dir.file('audit.log'), 'utf8');
    expect(audit.length).toBeGreaterThan(0);
    expect(Object.keys(secrets).length).toBeGreaterThan(5);
    expect(findCanaries(logs, encodedForms(secrets))).toEqual([]);
    expect(findCanaries(audit, encodedForms(secrets))).toEqual([]);
  });
});
