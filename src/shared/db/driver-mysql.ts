// The MySQL/MariaDB driver (mysql-database-plugin and its aurora/rds/legacy names) over a
// mysql2 pool. MySQL commits DDL implicitly, so statements cannot be tried in a rolled-back
// transaction: role statements are validated with PREPARE (a full parse, no execution), and
// a failed creation is undone with the rollback statements or the default drop.
import mysql from 'mysql2/promise';
import { CofferError } from '../../sdk/errors.js';
import {
  checkValues,
  errorCode,
  errorMessage,
  failureError,
  guard,
  NETWORK_CODES,
  newUserValues,
  noSuchUser,
  type ClassifiedFailure,
  type DatabaseDriver,
  type DriverOptions,
  type MysqlSettings,
  type NewUser,
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

/** Client-side failures of mysql2 that mean the server was not reached or went away. */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'POOL_CLOSED',
]);

/** MariaDB/MySQL "statement not supported by the prepared-statement protocol". */
const ER_UNSUPPORTED_PS = 1295;

function classifyMysql(err: unknown): ClassifiedFailure {
  const code = errorCode(err);
  const errno =
    typeof err === 'object' && err !== null && 'errno' in err && typeof err.errno === 'number'
      ? err.errno
      : undefined;
  if (code !== undefined && (NETWORK_CODES.has(code) || CONNECTION_CODES.has(code))) {
    return { kind: 'connection', code, detail: '' };
  }
  if (errno === undefined) {
    return { kind: 'connection', code: code ?? 'client', detail: errorMessage(err) };
  }
  const name = `${code ?? 'ER'} ${errno}`;
  if (errno === 1045) return { kind: 'auth', code: name, detail: '' };
  if (code === 'ER_PARSE_ERROR') return { kind: 'statement', code: name, detail: 'syntax error' };
  // SECURITY: MySQL quotes the statement from the error on ("near '...'"), which may hold
  // the password and may be cut mid-password, so that part is dropped, not redacted.
  const message =
    typeof err === 'object' &&
    err !== null &&
    'sqlMessage' in err &&
    typeof err.sqlMessage === 'string'
      ? err.sqlMessage
      : '';
  return { kind: 'statement', code: name, detail: message.replace(/ near '[\s\S]*$/, '') };
}

type Conn = mysql.PoolConnection;

/**
 * SECURITY: statement templates are scanned, and values escaped, for MySQL's default string
 * syntax: backslashes escape inside '...' and "...", and "..." is a string. A server (or
 * account) whose sql_mode has NO_BACKSLASH_ESCAPES would end a string at a quote the escaper
 * meant as escaped, and ANSI_QUOTES (also set by ANSI) would read "..." as an identifier:
 * either lets a value such as a username leave its quotes and run as SQL. Every connection
 * is set back to the default syntax before each use, whatever its server's or a previous
 * template's sql_mode, keeping the session's other modes.
 */
const PIN_SQL_MODE =
  "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(REPLACE(REPLACE(CONCAT(',', " +
  "@@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','), ',ANSI_QUOTES,', ','), ',ANSI,', ','))";

export function createMysqlDriver(settings: MysqlSettings, options: DriverOptions): DatabaseDriver {
  const { pool: limits, root } = settings;
  const tls = settings.tls;
  const pool = mysql.createPool({
    ...(settings.host === undefined ? {} : { host: settings.host }),
    ...(settings.port === undefined ? {} : { port: settings.port }),
    ...(settings.socketPath === undefined ? {} : { socketPath: settings.socketPath }),
    ...(settings.database === undefined ? {} : { database: settings.database }),
    user: root.username,
    password: root.password,
    connectionLimit: limits.maxOpenConnections,
    maxIdle:
      limits.maxIdleConnections < 0
        ? 0
        : limits.maxIdleConnections === 0
          ? limits.maxOpenConnections
          : Math.min(limits.maxIdleConnections, limits.maxOpenConnections),
    idleTimeout: 60_000,
    connectTimeout: options.connectTimeoutMs,
    multipleStatements: false,
    ...(tls === undefined
      ? {}
      : {
          ssl: {
            rejectUnauthorized: !tls.skipVerify,
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            ...(tls.certificateKey === undefined
              ? {}
              : { cert: tls.certificateKey, key: tls.certificateKey }),
            ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
          },
        }),
  });

  async function withConn<T>(
    what: string,
    secrets: readonly (string | undefined)[],
    fn: (conn: Conn) => Promise<T>,
  ): Promise<T> {
    const conn = await guard(what, [...secrets, root.password], classifyMysql, () =>
      pool.getConnection(),
    );
    let broken = false;
    try {
      await query(conn, what, PIN_SQL_MODE);
      return await fn(conn);
    } catch (err) {
      broken = !(err instanceof CofferError) || err.code === 'upstream_failure';
      throw err;
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  async function query(
    conn: Conn,
    what: string,
    sql: string,
    values: unknown[] = [],
    secrets: readonly (string | undefined)[] = [],
  ): Promise<unknown[]> {
    const [rows] = await guard(what, [...secrets, root.password], classifyMysql, () =>
      conn.query({ sql, values, timeout: options.queryTimeoutMs }),
    );
    return Array.isArray(rows) ? rows : [];
  }

  async function run(conn: Conn, statements: readonly SqlStatement[], values: StatementValues) {
    for (const statement of statements) {
      const sql = renderStatement(statement.sql, 'mysql', values);
      await query(conn, statement.label, sql, [], [values.password]);
    }
  }

  async function hosts(conn: Conn, username: string): Promise<string[]> {
    const rows = await query(conn, 'lookup', 'SELECT Host FROM mysql.user WHERE User = ?', [
      username,
    ]);
    return rows.map((row) => String((row as { Host: unknown }).Host));
  }

  /** Ends the user's sessions (needs CONNECTION ADMIN or SUPER; a refusal is not an error). */
  async function endSessions(conn: Conn, username: string): Promise<void> {
    const rows = await query(
      conn,
      'revocation',
      'SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()',
      [username],
    ).catch(() => []);
    for (const row of rows) {
      const id = Number((row as { ID: unknown }).ID);
      if (Number.isSafeInteger(id)) await conn.query('KILL ?', [id]).catch(() => undefined);
    }
  }

  async function dropUser(
    conn: Conn,
    username: string,
    statements: readonly string[],
    field: string,
  ) {
    if ((await hosts(conn, username)).length === 0) return;
    if (statements.length > 0) {
      await run(conn, expandSql(statements, 'mysql', field), { username });
    } else {
      for (const host of await hosts(conn, username)) {
        await query(conn, 'revocation', 'DROP USER IF EXISTS ?@?', [username, host]);
      }
    }
    await endSessions(conn, username);
  }

  /** PREPAREs each statement: the server parses it fully but runs nothing. */
  async function prepareAll(
    conn: Conn,
    statements: readonly SqlStatement[],
    values: StatementValues,
  ) {
    for (const statement of statements) {
      const sql = renderStatement(statement.sql, 'mysql', values);
      try {
        const prepared = await conn.prepare(sql);
        await prepared.close();
        conn.unprepare(sql);
      } catch (err) {
        const errno = (err as { errno?: unknown }).errno;
        if (errno === ER_UNSUPPORTED_PS) continue;
        throw err instanceof CofferError
          ? err
          : failureError(statement.label, classifyMysql(err), [values.password, root.password]);
      }
    }
  }

  return {
    kind: 'mysql',

    async verifyConnection() {
      await withConn('connection', [], (conn) => query(conn, 'connection', 'SELECT 1'));
    },

    async validateRoleStatements(statements: RoleStatements) {
      const values = checkValues(`coffer-check-${randomAlphanumeric(10)}`);
      await withConn('validation', [values.password], async (conn) => {
        const fields: [readonly string[], string][] = [
          [statements.creation, 'creation_statements'],
          [statements.renew, 'renew_statements'],
          [statements.revocation, 'revocation_statements'],
          [statements.rollback, 'rollback_statements'],
        ];
        for (const [entries, field] of fields) {
          await prepareAll(conn, expandSql(entries, 'mysql', field), values);
        }
      });
    },

    async validateRootRotationStatements(statements) {
      const values = { username: root.username, password: generatePassword() };
      await withConn('validation', [values.password], (conn) =>
        prepareAll(conn, expandSql(statements, 'mysql', 'root_rotation_statements'), values),
      );
    },

    async createUser(user: NewUser, statements: RoleStatements) {
      const values = newUserValues(user);
      await withConn('creation', [user.password], async (conn) => {
        try {
          await run(conn, expandSql(statements.creation, 'mysql', 'creation_statements'), values);
        } catch (err) {
          // Undo a half-made user; if that fails too, the write-ahead entry stays and the
          // core's rollback tries again.
          await dropUser(conn, user.username, statements.rollback, 'rollback_statements').catch(
            () => undefined,
          );
          throw err;
        }
      });
    },

    async renewUser(username, expiresAt, statements) {
      // MySQL has no account expiry Coffer could move: without renew statements, renewal
      // changes nothing in the database (as in Vault).
      if (statements.length === 0) return;
      await withConn('renewal', [], (conn) =>
        run(conn, expandSql(statements, 'mysql', 'renew_statements'), {
          username,
          expiration: formatExpiration(expiresAt),
        }),
      );
    },

    async revokeUser(username, statements, field = 'revocation_statements') {
      await withConn('revocation', [], (conn) => dropUser(conn, username, statements, field));
    },

    async userExists(username) {
      return withConn('lookup', [], async (conn) => (await hosts(conn, username)).length > 0);
    },

    async setPassword(username, password, statements) {
      await withConn('rotation', [password], async (conn) => {
        const found = await hosts(conn, username);
        if (found.length === 0) {
          throw noSuchUser();
        }
        if (statements.length > 0) {
          await run(conn, expandSql(statements, 'mysql', 'rotation_statements'), {
            username,
            password,
          });
          return;
        }
        for (const host of found) {
          await query(
            conn,
            'rotation',
            'ALTER USER ?@? IDENTIFIED BY ?',
            [username, host, password],
            [password],
          );
        }
      });
    },

    async cloneUser(source, user) {
      await withConn('clone', [user.password], async (conn) => {
        const found = await hosts(conn, source);
        if (found.length === 0) throw noSuchUser();
        for (const host of found) {
          await query(
            conn,
            'clone',
            'CREATE USER ?@? IDENTIFIED BY ?',
            [user.username, host, user.password],
            [user.password],
          );
          const rows = await query(conn, 'clone', 'SHOW GRANTS FOR ?@?', [source, host]);
          const target = `${conn.escape(user.username)}@${conn.escape(host)}`;
          for (const row of rows) {
            const grant = String(Object.values(row as Record<string, unknown>)[0]);
            // The grantee is rewritten; a stored password hash or auth plugin is dropped, so the
            // clone keeps the password it was just given.
            const rewritten = grant
              .replace(
                / TO (`(?:[^`]|``)*`|'(?:[^']|'')*')@(`(?:[^`]|``)*`|'(?:[^']|'')*')/,
                ` TO ${target}`,
              )
              .replace(/ IDENTIFIED (BY PASSWORD|VIA|WITH) .*?(?= WITH |$)/, '');
            if (/^GRANT PROXY /.test(rewritten) || !rewritten.includes(` TO ${target}`)) continue;
            await query(conn, 'clone', rewritten);
          }
        }
      });
    },

    async rotateRootPassword(password, statements) {
      await withConn('root rotation', [password], async (conn) => {
        if (statements.length > 0) {
          await run(conn, expandSql(statements, 'mysql', 'root_rotation_statements'), {
            username: root.username,
            password,
          });
          return;
        }
        // The account as the server matched it ("user@host"). MariaDB accepts
        // ALTER USER CURRENT_USER() but silently changes nothing, so it is named explicitly.
        const rows = await query(conn, 'root rotation', 'SELECT CURRENT_USER() AS account');
        const found = (rows[0] as { account?: unknown } | undefined)?.account;
        const account = typeof found === 'string' ? found : '';
        const at = account.lastIndexOf('@');
        if (at <= 0) {
          throw new CofferError(
            'upstream_failure',
            'root rotation: the server did not name the account',
          );
        }
        try {
          await query(
            conn,
            'root rotation',
            'ALTER USER ?@? IDENTIFIED BY ?',
            [account.slice(0, at), account.slice(at + 1), password],
            [password],
          );
        } catch (err) {
          // ALTER USER needs CREATE USER on MariaDB; any account may SET its own password
          // (MariaDB and MySQL 5.7 through PASSWORD(), MySQL 8 with the plain text).
          if (!(err instanceof CofferError) || err.code !== 'invalid_request') throw err;
          try {
            await query(
              conn,
              'root rotation',
              'SET PASSWORD = PASSWORD(?)',
              [password],
              [password],
            );
          } catch {
            await query(conn, 'root rotation', 'SET PASSWORD = ?', [password], [password]).catch(
              () => {
                throw err;
              },
            );
          }
        }
      });
    },

    async close() {
      await pool.end().catch(() => undefined);
    },
  };
}
