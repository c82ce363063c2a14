// The PostgreSQL driver (postgresql-database-plugin) over a `pg` pool. Creation, renewal and
// rotation run in one transaction each; role statements are validated by running them in a
// transaction that is always rolled back.
import pg from 'pg';
import { CofferError } from '../../sdk/errors.js';
import {
  checkValues,
  errorCode,
  errorMessage,
  guard,
  NETWORK_CODES,
  newUserValues,
  noSuchUser,
  type ClassifiedFailure,
  type DatabaseDriver,
  type DriverOptions,
  type NewUser,
  type PostgresSettings,
  renderUrl,
  type RoleStatements,
} from './driver.js';
import { generatePassword, randomAlphanumeric } from './password.js';
import {
  expandSql,
  formatExpiration,
  renderStatement,
  type SqlStatement,
  type StatementValues,
} from './statements.js';

const DEFAULT_RENEW = [`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}'`];
const DEFAULT_ROTATE = [`ALTER ROLE "{{name}}" WITH PASSWORD '{{password}}'`];
const DEFAULT_ROTATE_ROOT = [`ALTER ROLE CURRENT_USER WITH PASSWORD '{{password}}'`];

/** SQLSTATE classes that mean the server, not the statement, failed. */
function classifyPostgres(err: unknown): ClassifiedFailure {
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? 'XX000';
    // Transient: serialization failures, deadlocks, and "tuple concurrently updated"
    // (XX000) from concurrent role DDL on one object. Retried by the lease manager.
    const transient =
      code.startsWith('40') || (code === 'XX000' && /concurrently/.test(err.message));
    if (code.startsWith('08') || code.startsWith('57P') || code.startsWith('53') || transient) {
      return { kind: 'connection', code: `SQLSTATE ${code}`, detail: err.message };
    }
    if (code.startsWith('28'))
      return { kind: 'auth', code: `SQLSTATE ${code}`, detail: err.message };
    return { kind: 'statement', code: `SQLSTATE ${code}`, detail: err.message };
  }
  const code = errorCode(err);
  if (code !== undefined && NETWORK_CODES.has(code))
    return { kind: 'connection', code, detail: '' };
  // pg's own client-side failures (connect timeout, "Connection terminated", read timeout):
  // their messages carry no SQL.
  return { kind: 'connection', code: 'client', detail: errorMessage(err) };
}

/**
 * SECURITY: statement templates are scanned, and values escaped, for standard-conforming
 * strings, where a backslash inside '...' is an ordinary character. A server, database or
 * role configured with standard_conforming_strings = off reads `\'` there as an escaped
 * quote, so a value such as a username could end its string early and run as SQL. Every
 * connection is set back to the standard before each use, whatever its configuration or a
 * previous template set.
 */
const PIN_STANDARD_STRINGS = 'SET standard_conforming_strings = on';

export function createPostgresDriver(
  settings: PostgresSettings,
  options: DriverOptions,
): DatabaseDriver {
  const { pool: limits, root } = settings;
  const pool = new pg.Pool({
    connectionString: renderUrl(settings.connectionUrl, root),
    max: limits.maxOpenConnections,
    idleTimeoutMillis: limits.maxIdleConnections < 0 ? 1 : 10_000,
    maxLifetimeSeconds: Math.max(0, limits.maxConnectionLifetimeSeconds),
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs,
    allowExitOnIdle: true,
  });
  // A client whose server went away: the pool discards it and the next query reconnects;
  // a query in flight on it rejects. Without these listeners pg would throw the 'error'
  // event of a client that is between pool hand-offs as an uncaught exception.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });

  /**
   * Role DDL runs one statement group at a time per connection: PostgreSQL fails concurrent
   * GRANTs on one object, and concurrent role drops, with "tuple concurrently updated".
   */
  let ddlQueue: Promise<unknown> = Promise.resolve();
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = ddlQueue.then(fn, fn);
    ddlQueue = next.catch(() => undefined);
    return next;
  }

  /** Runs `fn` on one pooled client; a client that failed is destroyed, not reused. */
  async function withClient<T>(
    what: string,
    secrets: readonly (string | undefined)[],
    fn: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    const all = [...secrets, root.password];
    const client = await guard(what, all, classifyPostgres, () => pool.connect());
    let broken: Error | undefined;
    try {
      // SECURITY: see PIN_STANDARD_STRINGS.
      await plain(client, what, PIN_STANDARD_STRINGS);
      return await fn(client);
    } catch (err) {
      if (!(err instanceof CofferError) || err.code === 'upstream_failure') {
        broken = new Error('discarded');
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async function run(
    client: pg.PoolClient,
    statements: readonly SqlStatement[],
    values: StatementValues,
  ): Promise<void> {
    const secrets = [values.password, root.password];
    for (const statement of statements) {
      const sql = renderStatement(statement.sql, 'postgres', values);
      await guard(statement.label, secrets, classifyPostgres, () => client.query(sql));
    }
  }

  async function plain(client: pg.PoolClient, what: string, sql: string, params: unknown[] = []) {
    return guard(what, [root.password], classifyPostgres, () => client.query(sql, params));
  }

  /** BEGIN … COMMIT, rolled back if `fn` throws. */
  async function transaction(client: pg.PoolClient, fn: () => Promise<void>): Promise<void> {
    await plain(client, 'transaction', 'BEGIN');
    try {
      await fn();
      await plain(client, 'transaction', 'COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  async function exists(client: pg.PoolClient, username: string): Promise<boolean> {
    const res = await plain(client, 'lookup', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [
      username,
    ]);
    return res.rowCount !== null && res.rowCount > 0;
  }

  /** Ends the user's sessions; needs pg_signal_backend, so a refusal is not an error. */
  async function endSessions(client: pg.PoolClient, username: string): Promise<void> {
    await client
      .query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
        [username],
      )
      .catch(() => undefined);
  }

  /**
   * The default revocation. A superuser (or a member of the role) keeps anything the user
   * created (reassigned to us), drops its grants, then the role, in one transaction. An admin
   * with only CREATEROLE may not reassign; then, as Vault does, every privilege the role holds
   * in this database is revoked statement by statement (a failure there does not stop the
   * others) before the role is dropped.
   */
  async function dropRole(client: pg.PoolClient, username: string): Promise<void> {
    const role = pg.escapeIdentifier(username);
    try {
      await transaction(client, async () => {
        await plain(client, 'revocation', `REASSIGN OWNED BY ${role} TO CURRENT_USER`);
        await plain(client, 'revocation', `DROP OWNED BY ${role}`);
        await plain(client, 'revocation', `DROP ROLE IF EXISTS ${role}`);
      });
      return;
    } catch (err) {
      if (!(err instanceof CofferError) || err.code !== 'invalid_request') throw err;
    }
    // Exactly the grants the role holds here, read from the catalogs' ACLs (a blanket
    // "ON ALL TABLES IN SCHEMA" fails on the first table this admin has no rights on).
    const grants = await plain(
      client,
      'revocation',
      `WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
       SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
              quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS object
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, r
        WHERE EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = r.oid)
       UNION
       SELECT 'SCHEMA', quote_ident(n.nspname) FROM pg_namespace n, r
        WHERE EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a WHERE a.grantee = r.oid)
       UNION
       SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p, r
        WHERE EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = r.oid)
       UNION
       SELECT 'DATABASE', quote_ident(d.datname) FROM pg_database d, r
        WHERE d.datname = current_database()
          AND EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = r.oid)`,
      [username],
    );
    const statements = (grants.rows as { kind: string; object: string }[]).map(
      (row) => `REVOKE ALL PRIVILEGES ON ${row.kind} ${row.object} FROM ${role}`,
    );
    for (const statement of statements) await client.query(statement).catch(() => undefined);
    await plain(client, 'revocation', `DROP ROLE IF EXISTS ${role}`);
  }

  function sql(entries: readonly string[], field: string): SqlStatement[] {
    return expandSql(entries, 'postgres', field);
  }

  return {
    kind: 'postgres',

    async verifyConnection() {
      await withClient('connection', [], (client) => plain(client, 'connection', 'SELECT 1'));
    },

    /**
     * Runs creation, then (each from a savepoint) renew, revocation and rollback statements
     * for a throwaway user inside one transaction, then rolls it all back: every statement
     * meets the real catalog, and nothing remains.
     */
    async validateRoleStatements(statements: RoleStatements) {
      const values = checkValues(`coffer_check_${randomAlphanumeric(12).toLowerCase()}`);
      await withClient('validation', [values.password], async (client) => {
        await plain(client, 'validation', 'BEGIN');
        try {
          await run(client, sql(statements.creation, 'creation_statements'), values);
          await plain(client, 'validation', 'SAVEPOINT coffer_check');
          const rest: [readonly string[], string][] = [
            [statements.renew, 'renew_statements'],
            [statements.revocation, 'revocation_statements'],
            [statements.rollback, 'rollback_statements'],
          ];
          for (const [entries, field] of rest) {
            if (entries.length === 0) continue;
            await run(client, sql(entries, field), values);
            await plain(client, 'validation', 'ROLLBACK TO SAVEPOINT coffer_check');
          }
        } finally {
          await client.query('ROLLBACK').catch(() => undefined);
        }
      });
    },

    async validateRootRotationStatements(statements) {
      if (statements.length === 0) return;
      const values = { username: root.username, password: generatePassword() };
      await withClient('validation', [values.password], async (client) => {
        await plain(client, 'validation', 'BEGIN');
        try {
          await run(client, sql(statements, 'root_rotation_statements'), values);
        } finally {
          await client.query('ROLLBACK').catch(() => undefined);
        }
      });
    },

    async createUser(user: NewUser, statements: RoleStatements) {
      const values = newUserValues(user);
      await serial(() =>
        withClient('creation', [user.password], (client) =>
          transaction(client, () =>
            run(client, sql(statements.creation, 'creation_statements'), values),
          ),
        ),
      );
    },

    async renewUser(username, expiresAt, statements) {
      const entries = statements.length === 0 ? DEFAULT_RENEW : statements;
      const values = { username, expiration: formatExpiration(expiresAt) };
      await serial(() =>
        withClient('renewal', [], (client) =>
          transaction(client, () => run(client, sql(entries, 'renew_statements'), values)),
        ),
      );
    },

    async revokeUser(username, statements, field = 'revocation_statements') {
      await serial(() =>
        withClient('revocation', [], async (client) => {
          if (!(await exists(client, username))) return;
          await endSessions(client, username);
          if (statements.length > 0) {
            await transaction(client, () => run(client, sql(statements, field), { username }));
          } else {
            await dropRole(client, username);
          }
          await endSessions(client, username);
        }),
      );
    },

    async userExists(username) {
      return withClient('lookup', [], (client) => exists(client, username));
    },

    async setPassword(username, password, statements) {
      const entries = statements.length === 0 ? DEFAULT_ROTATE : statements;
      await serial(() =>
        withClient('rotation', [password], async (client) => {
          if (!(await exists(client, username))) {
            throw noSuchUser();
          }
          await transaction(client, () =>
            run(client, sql(entries, 'rotation_statements'), { username, password }),
          );
        }),
      );
    },

    async cloneUser(source, user) {
      // SECURITY: both names are bound as values and quoted by the server (format %I), never
      // spliced into SQL here.
      await serial(() =>
        withClient('clone', [user.password], async (client) => {
          if (!(await exists(client, source))) throw noSuchUser();
          await transaction(client, async () => {
            const created = await plain(
              client,
              'clone',
              "SELECT format('CREATE ROLE %I WITH LOGIN', $1::text) AS create_sql, format('GRANT %I TO %I', $2::text, $1::text) AS grant_sql",
              [user.username, source],
            );
            const row = created.rows[0] as { create_sql: string; grant_sql: string };
            await plain(client, 'clone', row.create_sql);
            await plain(client, 'clone', row.grant_sql);
            await run(client, sql(DEFAULT_ROTATE, 'clone'), user);
          });
        }),
      );
    },

    async rotateRootPassword(password, statements) {
      const entries = statements.length === 0 ? DEFAULT_ROTATE_ROOT : statements;
      await serial(() =>
        withClient('root rotation', [password], (client) =>
          transaction(client, () =>
            run(client, sql(entries, 'root_rotation_statements'), {
              username: root.username,
              password,
            }),
          ),
        ),
      );
    },

    async close() {
      await pool.end().catch(() => undefined);
    },
  };
}
