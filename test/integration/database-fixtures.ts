// Per-database fixtures for the database engine's integration tests: an admin user and a
// table (or keys) under the test file's own prefix, statements that grant read access to
// them, and independent checks made over the service's own root connection (does a user
// exist, does a password work, can a user read but not write). Not a test file itself.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { PluginName } from '../../src/shared/db/driver.js';
import type { JsonObject } from '../../src/sdk/json.js';
import {
  requireService,
  TEST_MYSQL_URL,
  TEST_PG_URL,
  TEST_REDIS_URL,
  type ServiceStatus,
} from '../helpers/services.js';

export type FixtureKind = 'postgres' | 'mysql' | 'redis';

/** A session opened as a generated user, to prove revocation ends it. */
export interface UserSession {
  /** Runs the allowed read; rejects once the session was ended. */
  read(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseFixture {
  readonly kind: FixtureKind;
  readonly plugin: PluginName;
  readonly service: ServiceStatus;
  /** The admin user Coffer connects as (never the service's real root). */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** Creates the admin user and the readable object; removes leftovers first. */
  setup(): Promise<void>;
  /** Drops every user and object under the prefix and closes the root connection. */
  teardown(): Promise<void>;
  /** config/:name fields (without plugin_name) that reach the service through host:port. */
  connectionFields(host: string, port: number, password?: string): JsonObject;
  /** Creation statements granting read access to the fixture object only. */
  readonly creationStatements: readonly string[];
  /** As the user: the read that is granted succeeds (else rejects). */
  allowedRead(username: string, password: string): Promise<void>;
  /** As the user: a write that is not granted; resolves with true if it was refused. */
  writeRefused(username: string, password: string): Promise<boolean>;
  openSession(username: string, password: string): Promise<UserSession>;
  userExists(username: string): Promise<boolean>;
  /** Whether `password` is the user's password now (see each fixture for how). */
  passwordWorks(username: string, password: string): Promise<boolean>;
  /** Creates a plain user (for static roles) with a known password. */
  createPlainUser(username: string, password: string): Promise<void>;
  /** Whether the server refuses a wrong password (the PostgreSQL test server trusts loopback). */
  passwordsChecked(): Promise<boolean>;
  /** PostgreSQL only: the user's VALID UNTIL (epoch ms), or undefined. */
  validUntil?(username: string): Promise<number | undefined>;
}

/** The PostgreSQL roles named `<prefix>_…` (LIKE's `_` escaped), but for `except`. */
export async function prefixedRoles(
  root: pg.Client,
  prefix: string,
  except: string,
): Promise<string[]> {
  const result = await root.query<{ rolname: string }>(
    'SELECT rolname FROM pg_roles WHERE rolname LIKE $1 AND rolname <> $2',
    [`${prefix}\\_%`, except],
  );
  return result.rows.map((row) => row.rolname);
}

function secret(): string {
  return `A1a-${randomBytes(12).toString('hex')}`;
}

async function attempt(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch {
    return false;
  }
}

/**
 * The service's own root connection a fixture works through: opened by setup, ended by
 * teardown; `cleanup` (dropping everything under the prefix) runs after opening and before
 * ending.
 */
class RootConnection<C> {
  #conn: C | undefined;
  readonly #open: () => Promise<C>;
  readonly #end: (conn: C) => Promise<unknown>;

  constructor(open: () => Promise<C>, end: (conn: C) => Promise<unknown>) {
    this.#open = open;
    this.#end = end;
  }

  get(): C {
    if (this.#conn === undefined) throw new Error('setup() not run');
    return this.#conn;
  }

  async start(cleanup: () => Promise<void>): Promise<void> {
    this.#conn = await this.#open();
    await cleanup();
  }

  async stop(cleanup: () => Promise<void>): Promise<void> {
    if (this.#conn === undefined) return;
    await cleanup();
    await this.#end(this.#conn);
    this.#conn = undefined;
  }
}

/** A connection opened as a generated user, for the checks every fixture makes. */
interface UserConnection {
  /** The read the creation statements grant. */
  read(): Promise<unknown>;
  /** A write they do not grant. */
  write(): Promise<unknown>;
  close(): Promise<void>;
}

type UserChecks = Pick<DatabaseFixture, 'allowedRead' | 'writeRefused' | 'openSession'>;

/** The checks made as a user, over the fixture's own way of connecting as one. */
function userChecks(
  connect: (user: string, password: string) => Promise<UserConnection>,
): UserChecks {
  return {
    async allowedRead(user, password) {
      const conn = await connect(user, password);
      try {
        await conn.read();
      } finally {
        await conn.close();
      }
    },
    async writeRefused(user, password) {
      const conn = await connect(user, password);
      try {
        return !(await attempt(() => conn.write()));
      } finally {
        await conn.close();
      }
    },
    async openSession(user, password) {
      const conn = await connect(user, password);
      return {
        read: async () => {
          await conn.read();
        },
        close: () => conn.close().catch(() => undefined),
      };
    },
  };
}

// ---- PostgreSQL ----------------------------------------------------------------------

/**
 * Whether `password` matches a stored SCRAM-SHA-256 (or md5) verifier from pg_authid. The
 * test server uses trust authentication, so a login would not prove a password: the
 * verifier does (RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key"))).
 */
export function scramMatches(verifier: string, username: string, password: string): boolean {
  const scram = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (scram !== null) {
    const salted = pbkdf2Sync(
      password,
      Buffer.from(scram[2]!, 'base64'),
      Number(scram[1]),
      32,
      'sha256',
    );
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const expected = Buffer.from(scram[3]!, 'base64');
    return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
  }
  if (verifier.startsWith('md5')) {
    const md5 = createHash('md5')
      .update(password + username)
      .digest('hex');
    return verifier === `md5${md5}`;
  }
  return false;
}

export async function postgresFixture(prefix: string): Promise<DatabaseFixture> {
  const service = await requireService('PostgreSQL', TEST_PG_URL);
  const { host, port, database } = service.endpoint;
  const adminUser = `${prefix}_admin`;
  const adminPassword = secret();
  const table = `${prefix}_items`;
  const root = new RootConnection(
    async () => {
      const client = new pg.Client({ connectionString: TEST_PG_URL });
      await client.connect();
      return client;
    },
    (client) => client.end(),
  );
  const q = (sql: string, params: unknown[] = []) => root.get().query(sql, params);
  const userClient = async (user: string, password: string): Promise<pg.Client> => {
    const client = new pg.Client({
      host,
      port,
      database,
      user,
      password,
      connectionTimeoutMillis: 5000,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const dropAll = async () => {
    const roles = await q(
      `SELECT rolname FROM pg_roles WHERE rolname LIKE $1 OR lower(rolname) LIKE $2`,
      [`${prefix}%`, `v-%-${prefix}%`],
    );
    for (const row of roles.rows as { rolname: string }[]) {
      const role = pg.escapeIdentifier(row.rolname);
      await q('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [
        row.rolname,
      ]);
      await q(`REASSIGN OWNED BY ${role} TO CURRENT_USER`);
      await q(`DROP OWNED BY ${role}`);
      await q(`DROP ROLE IF EXISTS ${role}`);
    }
    await q(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(table)}`);
  };
  return {
    kind: 'postgres',
    plugin: 'postgresql-database-plugin',
    service,
    adminUser,
    adminPassword,
    async setup() {
      await root.start(dropAll);
      await q(
        `CREATE ROLE ${pg.escapeIdentifier(adminUser)} WITH LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(adminPassword)}`,
      );
      await q(`CREATE TABLE ${pg.escapeIdentifier(table)} (id int)`);
      await q(`INSERT INTO ${pg.escapeIdentifier(table)} VALUES (1)`);
    },
    teardown: () => root.stop(dropAll),
    connectionFields(h, p, password = adminPassword) {
      return {
        connection_url: `postgresql://{{username}}:{{password}}@${h}:${p}/${database}`,
        username: adminUser,
        password,
      };
    },
    creationStatements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
      `GRANT SELECT ON ${table} TO "{{name}}";`,
    ],
    ...userChecks(async (user, password) => {
      const client = await userClient(user, password);
      return {
        read: () => client.query(`SELECT count(*) FROM ${table}`),
        write: () => client.query(`INSERT INTO ${table} VALUES (2)`),
        close: () => client.end(),
      };
    }),
    async userExists(user) {
      const res = await q('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
      return res.rowCount === 1;
    },
    async passwordWorks(user, password) {
      const res = await q('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [user]);
      const verifier = (res.rows[0] as { rolpassword: string | null } | undefined)?.rolpassword;
      return typeof verifier === 'string' && scramMatches(verifier, user, password);
    },
    async passwordsChecked() {
      return !(await attempt(async () => {
        const client = await userClient(adminUser, `wrong-${secret()}`);
        await client.end();
      }));
    },
    async createPlainUser(user, password) {
      await q(
        `CREATE ROLE ${pg.escapeIdentifier(user)} WITH LOGIN PASSWORD ${pg.escapeLiteral(password)}`,
      );
    },
    async validUntil(user) {
      const res = await q('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [user]);
      const value = (res.rows[0] as { rolvaliduntil: Date | null } | undefined)?.rolvaliduntil;
      return value === null || value === undefined ? undefined : value.getTime();
    },
  };
}

// ---- MySQL / MariaDB -----------------------------------------------------------------

export async function mysqlFixture(prefix: string): Promise<DatabaseFixture> {
  const service = await requireService('MariaDB', TEST_MYSQL_URL);
  const { host, port } = service.endpoint;
  const database = service.endpoint.database || 'test';
  const adminUser = `${prefix}_admin`;
  const adminPassword = secret();
  const table = `${prefix}_items`;
  const root = new RootConnection(
    () => mysql.createConnection({ uri: TEST_MYSQL_URL }),
    (conn) => conn.end(),
  );
  const q = async (sql: string, values: unknown[] = []) => {
    const [rows] = await root.get().query(sql, values);
    return rows as Record<string, unknown>[];
  };
  const userConn = (user: string, password: string, db: string | null = database) =>
    mysql.createConnection({
      host,
      port,
      user,
      password,
      ...(db === null ? {} : { database: db }),
      connectTimeout: 5000,
    });
  const dropAll = async () => {
    const users = await q('SELECT User, Host FROM mysql.user WHERE User LIKE ? OR User LIKE ?', [
      `${prefix}%`,
      `v-%-${prefix}%`,
    ]);
    for (const row of users) await q('DROP USER IF EXISTS ?@?', [row.User, row.Host]);
    await q(`DROP TABLE IF EXISTS ${mysql.escapeId(database)}.${mysql.escapeId(table)}`);
  };
  return {
    kind: 'mysql',
    plugin: 'mysql-database-plugin',
    service,
    adminUser,
    adminPassword,
    async setup() {
      await root.start(dropAll);
      await q('CREATE USER ?@? IDENTIFIED BY ?', [adminUser, '%', adminPassword]);
      await q('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [adminUser, '%']);
      await q(`CREATE TABLE ${mysql.escapeId(database)}.${mysql.escapeId(table)} (id int)`);
      await q(`INSERT INTO ${mysql.escapeId(database)}.${mysql.escapeId(table)} VALUES (1)`);
    },
    teardown: () => root.stop(dropAll),
    connectionFields(h, p, password = adminPassword) {
      return {
        connection_url: `{{username}}:{{password}}@tcp(${h}:${p})/${database}`,
        username: adminUser,
        password,
      };
    },
    creationStatements: [
      `CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';`,
      `GRANT SELECT ON ${database}.${table} TO '{{name}}'@'%';`,
    ],
    ...userChecks(async (user, password) => {
      const conn = await userConn(user, password);
      conn.on('error', () => undefined);
      return {
        read: () => conn.query(`SELECT count(*) FROM ${table}`),
        write: () => conn.query(`INSERT INTO ${table} VALUES (2)`),
        close: () => conn.end(),
      };
    }),
    async userExists(user) {
      return (await q('SELECT 1 FROM mysql.user WHERE User = ?', [user])).length > 0;
    },
    passwordWorks(user, password) {
      return attempt(async () => {
        const conn = await userConn(user, password, null);
        await conn.end();
      });
    },
    passwordsChecked: () => Promise.resolve(true),
    async createPlainUser(user, password) {
      await q('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
    },
  };
}

// ---- Redis ---------------------------------------------------------------------------

export async function redisFixture(prefix: string): Promise<DatabaseFixture> {
  const service = await requireService('Redis', TEST_REDIS_URL);
  const { host, port } = service.endpoint;
  const adminUser = `${prefix}-admin`;
  const adminPassword = secret();
  const key = `${prefix}:item`;
  const root = new RootConnection(
    async () => {
      const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
    (client) => client.quit(),
  );
  const r = (): Redis => root.get();
  const userClient = async (username: string, password: string): Promise<Redis> => {
    const client = new Redis({
      host,
      port,
      username,
      password,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // INFO may be outside the user's ACL; ioredis would warn on the console about it.
      enableReadyCheck: false,
      connectTimeout: 5000,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const dropAll = async () => {
    const users = (await r().call('ACL', 'USERS')) as string[];
    for (const user of users) {
      const lower = user.toLowerCase();
      if (lower.startsWith(prefix) || new RegExp(`^v-[^-]*-${prefix}`).test(lower)) {
        await r().call('ACL', 'DELUSER', user);
      }
    }
    await r().del(key);
  };
  return {
    kind: 'redis',
    plugin: 'redis-database-plugin',
    service,
    adminUser,
    adminPassword,
    async setup() {
      await root.start(dropAll);
      await r().call('ACL', 'SETUSER', adminUser, 'on', `>${adminPassword}`, '~*', '&*', '+@all');
      await r().set(key, 'x');
    },
    teardown: () => root.stop(dropAll),
    connectionFields(h, p, password = adminPassword) {
      return { host: h, port: p, username: adminUser, password };
    },
    creationStatements: [JSON.stringify([`~${prefix}:*`, '+get', '+ping'])],
    ...userChecks(async (user, password) => {
      const client = await userClient(user, password);
      return {
        read: () => client.get(key),
        write: () => client.set(key, 'y'),
        close: () => {
          client.disconnect();
          return Promise.resolve();
        },
      };
    }),
    async userExists(user) {
      return (await r().call('ACL', 'GETUSER', user)) !== null;
    },
    passwordWorks(user, password) {
      return attempt(async () => {
        const client = await userClient(user, password);
        client.disconnect();
      });
    },
    passwordsChecked: () => Promise.resolve(true),
    async createPlainUser(user, password) {
      await r().call('ACL', 'SETUSER', user, 'on', `>${password}`, `~${prefix}:*`, '+get');
    },
  };
}

export function fixtureFor(kind: FixtureKind, prefix: string): Promise<DatabaseFixture> {
  switch (kind) {
    case 'postgres':
      return postgresFixture(prefix);
    case 'mysql':
      return mysqlFixture(prefix);
    case 'redis':
      return redisFixture(prefix);
  }
}
