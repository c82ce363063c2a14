// The built-in rotators end to end, through the AWS SDK against a dev server and real
// databases: PostgreSQL alternating-users rotated 20 times while a reader loops on
// GetSecretValue + connect (zero failed connections, and the password in AWSCURRENT is the
// one PostgreSQL stores, checked through its SCRAM verifier since loopback is trust-auth);
// single-user on PostgreSQL, MariaDB and Redis, each rotated a few times with the old password
// refused afterwards; alternating-users on MariaDB and Redis, the clone keeping the grants.
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramMatches } from '../integration/database-fixtures.js';
import {
  requireService,
  skipNote,
  TEST_MYSQL_URL,
  TEST_PG_URL,
  TEST_REDIS_URL,
} from '../helpers/services.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const postgres = await requireService('PostgreSQL', TEST_PG_URL);
const mariadb = await requireService('MariaDB', TEST_MYSQL_URL);
const redis = await requireService('Redis', TEST_REDIS_URL);
const ROOT = 'aws-builtin-root';
const KEY = { id: 'AKIDE2EBUILTIN', secret: 'builtin-rotators-e2e-secret-key-0123' };
const PREFIX = `awsbi_${process.pid}`;
const lambda = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

interface DbSecret {
  engine: string;
  host: string;
  port: number;
  username: string;
  password: string;
  dbname?: string;
  masterarn?: string;
}

let server: ServerProcess;
let sm: SecretsManagerClient;

beforeAll(async () => {
  server = await startServer({ dev: { rootTokenId: ROOT, awsKey: KEY } });
  sm = new SecretsManagerClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: KEY.id, secretAccessKey: KEY.secret },
  });
}, 30_000);

afterAll(async () => {
  sm?.destroy();
  await server?.stop();
});

/** Every password the tests saw: none may appear in the server's log. */
const seen = new Set<string>();

async function value(id: string): Promise<DbSecret> {
  const secret = JSON.parse(
    (await sm.send(new GetSecretValueCommand({ SecretId: id }))).SecretString!,
  ) as DbSecret;
  seen.add(secret.password);
  return secret;
}

/** RotateSecret, then waits (bounded) for the new version to be the one AWSCURRENT; ms taken. */
async function rotate(id: string, functionName: string): Promise<number> {
  const started = Date.now();
  const { VersionId } = await sm.send(
    new RotateSecretCommand({ SecretId: id, RotationLambdaARN: lambda(functionName) }),
  );
  const deadline = started + 30_000;
  for (;;) {
    const stages = (await sm.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages;
    const all = Object.values(stages ?? {}).flat();
    if ((stages?.[VersionId!] ?? []).includes('AWSCURRENT') && !all.includes('AWSPENDING')) {
      expect(all.filter((s) => s === 'AWSCURRENT')).toHaveLength(1);
      return Date.now() - started;
    }
    if (Date.now() > deadline) {
      const log = server
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"level":5'))
        .slice(-3);
      throw new Error(`rotation of ${id} did not finish: ${log.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

function summary(label: string, times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const mean = Math.round(times.reduce((a, b) => a + b, 0) / times.length);
  return `${label}: ${times.length} rotations, mean ${mean} ms, max ${sorted.at(-1)} ms per rotation`;
}

describe.skipIf(!postgres.available)(`built-in rotators on PostgreSQL${skipNote(postgres)}`, () => {
  const url = new URL(TEST_PG_URL);
  const base = {
    engine: 'postgres',
    host: url.hostname,
    port: Number(url.port || 5432),
    dbname: url.pathname.slice(1) || 'test',
  };
  const user = `${PREFIX}_app`;
  const single = `${PREFIX}_single`;
  const lent = `${PREFIX}_lent`;
  const victim = `${PREFIX}_victim`;
  const table = `${PREFIX}_items`;
  let admin: pg.Client;

  async function verifier(role: string): Promise<string> {
    const res = await admin.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
    return String((res.rows[0] as { rolpassword: string | null } | undefined)?.rolpassword);
  }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    for (const role of [user, `${user}_clone`, single, lent, victim]) {
      await admin.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    }
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`CREATE TABLE ${table} (id int)`);
    await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD 'initial-app'`);
    await admin.query(`CREATE ROLE ${single} LOGIN PASSWORD 'initial-single'`);
    // Only the original user is granted the table: the clone reads it through membership.
    await admin.query(`GRANT SELECT ON ${table} TO ${user}`);
    const superuser = url.username === '' ? 'postgres' : decodeURIComponent(url.username);
    await sm.send(
      new CreateSecretCommand({
        Name: 'pg/master',
        SecretString: JSON.stringify({
          ...base,
          username: superuser,
          password: decodeURIComponent(url.password),
        }),
      }),
    );
  }, 30_000);

  afterAll(async () => {
    for (const role of [user, `${user}_clone`, single, lent, `${lent}_clone`, victim]) {
      await admin?.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`).catch(() => undefined);
      await admin?.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    }
    await admin?.query(`DROP TABLE IF EXISTS ${table}`);
    await admin?.end();
  });

  it('alternating-users: 20 rotations while a reader connects, no failed connection', async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: 'pg/app',
        SecretString: JSON.stringify({
          ...base,
          username: user,
          password: 'initial-app',
          masterarn: 'pg/master',
        }),
      }),
    );
    let reading = true;
    let connections = 0;
    const failures: string[] = [];
    const reader = (async () => {
      while (reading && connections < 100_000) {
        try {
          const s = await value('pg/app');
          // Trust auth would accept any password: the stored verifier proves this one.
          if (!scramMatches(await verifier(s.username), s.username, s.password)) {
            throw new Error(`AWSCURRENT's password is not ${s.username}'s`);
          }
          const c = new pg.Client({ ...s, user: s.username, database: s.dbname });
          await c.connect();
          try {
            await c.query(`SELECT count(*) FROM ${table}`);
          } finally {
            await c.end();
          }
          connections++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const times: number[] = [];
    const users = new Set<string>();
    try {
      for (let i = 0; i < 20; i++) {
        times.push(await rotate('pg/app', 'coffer-builtin-postgresql-alternating-users'));
        users.add((await value('pg/app')).username);
      }
    } finally {
      reading = false;
      await reader;
    }
    console.info(
      `[aws builtin] ${summary('postgresql alternating-users', times)}; ` +
        `${connections} reader connections, ${failures.length} failed`,
    );
    if (failures.length > 0) console.info(`[aws builtin] failures: ${failures.join(' | ')}`);
    expect(failures).toEqual([]);
    expect(connections).toBeGreaterThan(20);
    expect([...users].sort()).toEqual([user, `${user}_clone`]);
    // AWSPREVIOUS (the other user) still logs in: the point of alternating users.
    const previous = JSON.parse(
      (
        await sm.send(
          new GetSecretValueCommand({ SecretId: 'pg/app', VersionStage: 'AWSPREVIOUS' }),
        )
      ).SecretString!,
    ) as DbSecret;
    expect(
      scramMatches(await verifier(previous.username), previous.username, previous.password),
    ).toBe(true);
  }, 240_000);

  it('a step that fails leaves AWSCURRENT as it was and logs no value', async () => {
    const canary = 'canary-builtin-7Hq2-password';
    seen.add(canary);
    const original = { ...base, username: `${PREFIX}_nobody`, password: canary };
    const { VersionId: first } = await sm.send(
      new CreateSecretCommand({ Name: 'pg/broken', SecretString: JSON.stringify(original) }),
    );
    await sm.send(
      new RotateSecretCommand({
        SecretId: 'pg/broken',
        RotationLambdaARN: lambda('coffer-builtin-postgresql-single-user'),
      }),
    );
    // setSecret cannot log in as a role that does not exist: retried, never finished.
    const deadline = Date.now() + 20_000;
    while (!server.stderr().includes('scheduled job failed')) {
      if (Date.now() > deadline) throw new Error('the failing step was not reported');
      await new Promise((r) => setTimeout(r, 100));
    }
    const stages = (await sm.send(new DescribeSecretCommand({ SecretId: 'pg/broken' })))
      .VersionIdsToStages!;
    expect(stages[first!]).toContain('AWSCURRENT');
    expect(await value('pg/broken')).toEqual(original);
    const pendingId = Object.keys(stages).find((id) => stages[id]!.includes('AWSPENDING'))!;
    const pendingValue = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId: 'pg/broken', VersionId: pendingId })))
        .SecretString!,
    ) as DbSecret;
    seen.add(pendingValue.password);
    await sm.send(new CancelRotateSecretCommand({ SecretId: 'pg/broken' }));
    for (const password of seen) expect(server.stderr()).not.toContain(password);
  }, 60_000);

  it("alternating-users: a planted pending version cannot make the admin set another user's password", async () => {
    // Whoever may put values on a secret can plant the version a rotation's token names (here
    // by giving RotateSecret its token, then moving AWSPENDING onto it before the step's
    // retry). Its username must not choose whose password the admin sets.
    await admin.query(`CREATE ROLE ${lent} LOGIN PASSWORD 'lent-initial'`);
    await admin.query(`CREATE ROLE ${victim} LOGIN PASSWORD 'victim-initial'`);
    const attack = 'canary-planted-Zq81-password';
    seen.add(attack);
    await sm.send(
      new CreateSecretCommand({
        Name: 'pg/lent',
        SecretString: JSON.stringify({
          ...base,
          username: lent,
          password: 'lent-initial',
          masterarn: 'pg/master',
        }),
      }),
    );
    const token = `planted-${process.pid}-0123456789abcdef0123456789`;
    await sm.send(
      new PutSecretValueCommand({
        SecretId: 'pg/lent',
        ClientRequestToken: token,
        SecretString: JSON.stringify({
          ...base,
          username: victim,
          password: attack,
          masterarn: 'pg/master',
        }),
        VersionStages: ['planted'],
      }),
    );
    // A short step timeout: a failed step is retried once its guard (timeout + 10 s) is over.
    const registered = await fetch(`${server.url}/v1/aws/rotation-functions/planted-pg`, {
      method: 'POST',
      headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'builtin',
        rotator: 'postgresql-alternating-users',
        timeout_ms: 2_000,
      }),
    });
    expect(registered.status).toBeLessThan(300);
    const failures = () => server.stderr().split('scheduled job failed').length - 1;
    const before = failures();
    const { VersionId } = await sm.send(
      new RotateSecretCommand({
        SecretId: 'pg/lent',
        ClientRequestToken: token,
        RotationLambdaARN: lambda('planted-pg'),
      }),
    );
    expect(VersionId).toBe(token);
    const waitFor = async (what: string, done: () => Promise<boolean>) => {
      const deadline = Date.now() + 45_000;
      while (!(await done())) {
        if (Date.now() > deadline)
          throw new Error(
            `timed out waiting for ${what}: ${server
              .stderr()
              .split('\n')
              .filter((l) => /job|rotat/.test(l))
              .slice(-8)
              .join('\n')}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // setSecret refuses a token whose version is not AWSPENDING; the job retries in 5 s.
    await waitFor('the first refusal', () => Promise.resolve(failures() > before));
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: 'pg/lent',
        VersionStage: 'AWSPENDING',
        MoveToVersionId: token,
      }),
    );
    const current = async () =>
      (await sm.send(new DescribeSecretCommand({ SecretId: 'pg/lent' }))).VersionIdsToStages?.[
        token
      ]?.includes('AWSCURRENT') === true;
    // The retry either refuses again (the planted username is not the alternate) or, without
    // the check, sets the victim's password and finishes the rotation.
    await waitFor('the retry', async () => failures() > before + 1 || (await current()));
    expect(await current()).toBe(false);
    expect(scramMatches(await verifier(victim), victim, 'victim-initial')).toBe(true);
    expect(scramMatches(await verifier(victim), victim, attack)).toBe(false);
    await sm.send(new CancelRotateSecretCommand({ SecretId: 'pg/lent' }));
  }, 120_000);

  it('registering an unknown built-in rotator is refused, naming the field', async () => {
    const res = await fetch(`${server.url}/v1/aws/rotation-functions/oracle`, {
      method: 'POST',
      headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'builtin', rotator: 'oracle-single-user' }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('rotator');
  });

  it('single-user: the user gets a new password, the old one no longer matches', async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: 'pg/single',
        SecretString: JSON.stringify({ ...base, username: single, password: 'initial-single' }),
      }),
    );
    const times: number[] = [];
    let old = 'initial-single';
    for (let i = 0; i < 3; i++) {
      times.push(await rotate('pg/single', 'coffer-builtin-postgresql-single-user'));
      const now = await value('pg/single');
      expect(now.username).toBe(single);
      expect(now.password).not.toBe(old);
      const stored = await verifier(single);
      expect(scramMatches(stored, single, now.password)).toBe(true);
      expect(scramMatches(stored, single, old)).toBe(false);
      old = now.password;
    }
    console.info(`[aws builtin] ${summary('postgresql single-user', times)}`);
  }, 120_000);
});

describe.skipIf(!mariadb.available)(`built-in rotators on MariaDB${skipNote(mariadb)}`, () => {
  const url = new URL(TEST_MYSQL_URL);
  const base = {
    engine: 'mariadb',
    host: url.hostname,
    port: Number(url.port || 3306),
    dbname: url.pathname.slice(1) || 'test',
  };
  const single = `${PREFIX}_s`;
  const app = `${PREFIX}_a`;
  const table = `${PREFIX}_items`;
  let root: mysql.Connection;

  async function logsIn(username: string, password: string): Promise<boolean> {
    try {
      const c = await mysql.createConnection({
        host: base.host,
        port: base.port,
        user: username,
        password,
        database: base.dbname,
      });
      await c.query(`SELECT count(*) FROM ${table}`);
      await c.end();
      return true;
    } catch {
      return false;
    }
  }

  beforeAll(async () => {
    root = await mysql.createConnection({ uri: TEST_MYSQL_URL });
    for (const u of [single, app, `${app}_clone`])
      await root.query('DROP USER IF EXISTS ?@?', [u, '%']);
    await root.query(`DROP TABLE IF EXISTS ${table}`);
    await root.query(`CREATE TABLE ${table} (id int)`);
    await root.query(`CREATE USER ?@'%' IDENTIFIED BY 'initial-single'`, [single]);
    await root.query(`CREATE USER ?@'%' IDENTIFIED BY 'initial-app'`, [app]);
    await root.query(`GRANT SELECT ON ${base.dbname}.${table} TO ?@'%'`, [single]);
    await root.query(`GRANT SELECT ON ${base.dbname}.${table} TO ?@'%'`, [app]);
    await sm.send(
      new CreateSecretCommand({
        Name: 'mysql/master',
        SecretString: JSON.stringify({
          ...base,
          username: decodeURIComponent(url.username) || 'root',
          password: decodeURIComponent(url.password),
        }),
      }),
    );
  }, 30_000);

  afterAll(async () => {
    for (const u of [single, app, `${app}_clone`])
      await root?.query('DROP USER IF EXISTS ?@?', [u, '%']);
    await root?.query(`DROP TABLE IF EXISTS ${table}`);
    await root?.end();
  });

  it('single-user: new password works, the old one is refused', async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: 'mysql/single',
        SecretString: JSON.stringify({ ...base, username: single, password: 'initial-single' }),
      }),
    );
    const times: number[] = [];
    let old = 'initial-single';
    for (let i = 0; i < 3; i++) {
      times.push(await rotate('mysql/single', 'coffer-builtin-mysql-single-user'));
      const now = await value('mysql/single');
      expect(now.password).not.toBe(old);
      expect(await logsIn(single, now.password)).toBe(true);
      expect(await logsIn(single, old)).toBe(false);
      old = now.password;
    }
    console.info(`[aws builtin] ${summary('mysql single-user', times)}`);
  }, 120_000);

  it('alternating-users: the clone gets the grants, both users keep working', async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: 'mysql/app',
        SecretString: JSON.stringify({
          ...base,
          username: app,
          password: 'initial-app',
          masterarn: 'mysql/master',
        }),
      }),
    );
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      times.push(await rotate('mysql/app', 'coffer-builtin-mysql-alternating-users'));
      const now = await value('mysql/app');
      expect(now.username).toBe(i % 2 === 0 ? `${app}_clone` : app);
      expect(await logsIn(now.username, now.password)).toBe(true);
    }
    console.info(`[aws builtin] ${summary('mysql alternating-users', times)}`);
  }, 120_000);
});

describe.skipIf(!redis.available)(`built-in rotators on Redis${skipNote(redis)}`, () => {
  const url = new URL(TEST_REDIS_URL);
  const base = { engine: 'redis', host: url.hostname, port: Number(url.port || 6379) };
  const single = `${PREFIX}-s`;
  const app = `${PREFIX}-a`;
  let root: Redis;

  async function logsIn(username: string, password: string): Promise<boolean> {
    const c = new Redis({
      ...base,
      username,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.get(`${PREFIX}:k`);
      return true;
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }

  beforeAll(async () => {
    root = new Redis(TEST_REDIS_URL);
    await root.call('ACL', 'DELUSER', single, app, `${app}_clone`);
    // Single-user: the user sets its own password, so it needs ACL SETUSER (in practice the
    // default user behind requirepass); without it, use alternating-users.
    await root.call(
      'ACL',
      'SETUSER',
      single,
      'on',
      '>initial-single',
      `~${PREFIX}:*`,
      '+@read',
      '+ping',
      '+acl|setuser',
    );
    // testSecret runs PING with the new password.
    await root.call('ACL', 'SETUSER', app, 'on', '>initial-app', `~${PREFIX}:*`, '+@read', '+ping');
    await sm.send(
      new CreateSecretCommand({
        Name: 'redis/master',
        SecretString: JSON.stringify({
          ...base,
          username: decodeURIComponent(url.username) || 'default',
          password: decodeURIComponent(url.password),
        }),
      }),
    );
  }, 30_000);

  afterAll(async () => {
    await root?.call('ACL', 'DELUSER', single, app, `${app}_clone`);
    root?.disconnect();
  });

  it('single-user: new password works, the old one is refused', async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: 'redis/single',
        SecretString: JSON.stringify({ ...base, username: single, password: 'initial-single' }),
      }),
    );
    const times: number[] = [];
    let old = 'initial-single';
    for (let i = 0; i < 3; i++) {
      times.push(await rotate('redis/single', 'coffer-builtin-redis-single-user'));
      const now = await value('redis/single');
      expect(now.password).not.toBe(old);
      expect(await logsIn(single, now.password)).toBe(true);
      expect(await logsIn(single, old)).toBe(false);
      old = now.password;
    }
    console.info(`[aws builtin] ${summary('redis single-user', times)}`);
  }, 120_000);

  it('alternating-users: the clone gets the ACL rules, both users keep working', async () => {
    await sm.send(
      new CreateSecretCommand({
        Name: 'redis/app',
        SecretString: JSON.stringify({
          ...base,
          username: app,
          password: 'initial-app',
          masterarn: 'redis/master',
        }),
      }),
    );
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      times.push(await rotate('redis/app', 'coffer-builtin-redis-alternating-users'));
      const now = await value('redis/app');
      expect(now.username).toBe(i % 2 === 0 ? `${app}_clone` : app);
      expect(await logsIn(now.username, now.password)).toBe(true);
    }
    const clone = (await root.call('ACL', 'GETUSER', `${app}_clone`)) as unknown[];
    expect(String(clone[clone.indexOf('keys') + 1])).toBe(`~${PREFIX}:*`);
    console.info(`[aws builtin] ${summary('redis alternating-users', times)}`);
  }, 120_000);
});

describe('who may lend an admin secret (masterarn)', () => {
  it('a value naming an admin secret needs read on it, by Coffer policy and resource policy', async () => {
    const vault = async (path: string, body: object) => {
      const res = await fetch(`${server.url}/v1/${path}`, {
        method: 'POST',
        headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBeLessThan(300);
      return res.status === 204 ? {} : ((await res.json()) as { data: Record<string, string> });
    };
    await vault('sys/policy/lender', {
      policy:
        'path "aws/us-east-1/secrets/lend/app*" { capabilities = ["create", "read", "update"] }',
    });
    const issued = (await vault('sys/door-credentials/aws', {
      policies: ['lender'],
      display_name: 'lender',
    })) as { data: Record<string, string> };
    const writer = new SecretsManagerClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: {
        accessKeyId: issued.data['access_key_id']!,
        secretAccessKey: issued.data['secret_access_key']!,
      },
    });
    try {
      const db = { engine: 'postgres', host: 'db.internal', password: 'canary-lend-Qm2-pw' };
      seen.add(db.password);
      const { ARN: adminArn } = await sm.send(
        new CreateSecretCommand({
          Name: 'lend/admin',
          SecretString: JSON.stringify({ ...db, username: 'admin' }),
        }),
      );
      await sm.send(
        new CreateSecretCommand({
          Name: 'lend/app-admin',
          SecretString: JSON.stringify({ ...db, username: 'app_admin' }),
        }),
      );
      const lending = (masterarn: string) => JSON.stringify({ ...db, username: 'app', masterarn });
      const denied = {
        name: 'AccessDeniedException',
        message: expect.stringContaining('masterarn'),
      };
      // Not readable by the writer: refused on every write that stores a value.
      await expect(
        writer.send(
          new CreateSecretCommand({ Name: 'lend/app', SecretString: lending('lend/admin') }),
        ),
      ).rejects.toMatchObject(denied);
      await writer.send(
        new CreateSecretCommand({
          Name: 'lend/app',
          SecretString: JSON.stringify({ ...db, username: 'app' }),
        }),
      );
      for (const masterarn of ['lend/admin', adminArn!]) {
        await expect(
          writer.send(
            new PutSecretValueCommand({ SecretId: 'lend/app', SecretString: lending(masterarn) }),
          ),
        ).rejects.toMatchObject(denied);
        await expect(
          writer.send(
            new UpdateSecretCommand({ SecretId: 'lend/app', SecretString: lending(masterarn) }),
          ),
        ).rejects.toMatchObject(denied);
      }
      // A secret the writer may read can be lent; the root token may lend any.
      await writer.send(
        new PutSecretValueCommand({
          SecretId: 'lend/app',
          SecretString: lending('lend/app-admin'),
        }),
      );
      await sm.send(
        new PutSecretValueCommand({ SecretId: 'lend/app', SecretString: lending('lend/admin') }),
      );
      // A resource policy's explicit Deny of GetSecretValue on the admin secret refuses too.
      await sm.send(
        new PutResourcePolicyCommand({
          SecretId: 'lend/app-admin',
          ResourcePolicy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Deny',
                Principal: { AWS: 'arn:aws:iam::000000000000:user/lender' },
                Action: 'secretsmanager:GetSecretValue',
                Resource: '*',
              },
            ],
          }),
        }),
      );
      await expect(
        writer.send(
          new PutSecretValueCommand({
            SecretId: 'lend/app',
            SecretString: lending('lend/app-admin'),
          }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' });
      // Values without masterarn, or not JSON, are written as before.
      await writer.send(new PutSecretValueCommand({ SecretId: 'lend/app', SecretString: 'plain' }));
    } finally {
      writer.destroy();
    }
  });
});

describe('the server log', () => {
  it('holds none of the passwords the rotations made or read', () => {
    expect(seen.size).toBeGreaterThan(0);
    const log = `${server.stdout()}\n${server.stderr()}`;
    for (const password of seen) expect(log).not.toContain(password);
  });
});
