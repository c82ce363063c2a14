// SECURITY: statement templates are scanned and values escaped for each server's standard
// string syntax. A server, database or account configured otherwise (PostgreSQL's
// standard_conforming_strings = off, MySQL's NO_BACKSLASH_ESCAPES) reads the escaped values
// differently: a username holding a quote then leaves its string and runs as SQL. The
// drivers set every session back to the standard syntax before using it; here an admin whose
// sessions start in the other syntax creates a user whose name is an injection attempt, and
// the name must arrive whole, with nothing else run.
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSettings } from '../../src/engines/database/connection-settings.js';
import { openDriver } from '../../src/shared/db/drivers.js';
import { requireService, skipNote, TEST_MYSQL_URL, TEST_PG_URL } from '../helpers/services.js';
import { prefixedRoles } from './database-fixtures.js';

const PREFIX = 'cssx';
const ADMIN = `${PREFIX}_admin`;
const PWNED = `${PREFIX}_pwned`;
const adminPassword = `A1a-${randomBytes(12).toString('hex')}`;
const noStatements = { revocation: [], rollback: [], renew: [] };

const postgres = await requireService('PostgreSQL', TEST_PG_URL);
const mariadb = await requireService('MySQL', TEST_MYSQL_URL);

describe.skipIf(!postgres.available)(
  `PostgreSQL with standard_conforming_strings = off${skipNote(postgres)}`,
  () => {
    let root: pg.Client;
    const roles = (): Promise<string[]> => prefixedRoles(root, PREFIX, ADMIN);
    const dropAll = async (): Promise<void> => {
      for (const name of await roles()) await root.query(`DROP ROLE ${pg.escapeIdentifier(name)}`);
      await root.query(`DROP ROLE IF EXISTS ${ADMIN}`);
    };

    beforeAll(async () => {
      root = new pg.Client({ connectionString: TEST_PG_URL });
      await root.connect();
      await dropAll();
      await root.query(`CREATE ROLE ${ADMIN} WITH LOGIN CREATEROLE PASSWORD '${adminPassword}'`);
      await root.query(`ALTER ROLE ${ADMIN} SET standard_conforming_strings = off`);
    });

    afterAll(async () => {
      await dropAll();
      await root.end();
    });

    it('sets the session back to standard strings, so a quote in a name stays in it', async () => {
      const { host, port, pathname } = new URL(TEST_PG_URL);
      const url = `postgresql://{{username}}:{{password}}@${host}${port === '' ? ':5432' : ''}${pathname}`;
      // The precondition: the admin's own sessions start with backslash escapes on.
      const admin = new pg.Client({
        connectionString: url.replace('{{username}}', ADMIN).replace('{{password}}', adminPassword),
      });
      await admin.connect();
      const setting = await admin.query<{ standard_conforming_strings: string }>(
        'SHOW standard_conforming_strings',
      );
      await admin.end();
      expect(setting.rows[0]?.standard_conforming_strings).toBe('off');

      const driver = openDriver(
        driverSettings('postgresql-database-plugin', {
          connection_url: url,
          username: ADMIN,
          password: adminPassword,
        }),
      );
      try {
        // In '...' the escaper doubles the quote and keeps the backslash: `\''`. Read with
        // backslash escapes, that is an escaped quote and the end of the string.
        const username = `${PREFIX}_u\\'; CREATE ROLE ${PWNED}; --`;
        await driver.createUser(
          { username, password: 'unused', expiresAt: Date.now() + 3_600_000 },
          {
            creation: [`CREATE ROLE "{{name}}"`, `COMMENT ON ROLE "{{name}}" IS '{{name}}'`],
            ...noStatements,
          },
        );
        expect(await roles()).toEqual([username]);
        const comment = await root.query<{ comment: string }>(
          "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
          [username],
        );
        expect(comment.rows[0]?.comment).toBe(username);
      } finally {
        await driver.close();
      }
    });
  },
);

describe.skipIf(!mariadb.available)(
  `MySQL with NO_BACKSLASH_ESCAPES and ANSI_QUOTES${skipNote(mariadb)}`,
  () => {
    let root: mysql.Connection;
    let initConnect = '';
    const users = async (): Promise<string[]> => {
      const [rows] = await root.query(
        'SELECT User FROM mysql.user WHERE User LIKE ? AND User <> ?',
        [`${PREFIX}\\_%`, ADMIN],
      );
      return (rows as { User: string }[]).map((row) => row.User).sort();
    };
    const dropAll = async (): Promise<void> => {
      const [rows] = await root.query('SELECT User, Host FROM mysql.user WHERE User LIKE ?', [
        `${PREFIX}\\_%`,
      ]);
      for (const row of rows as { User: string; Host: string }[]) {
        await root.query('DROP USER ?@?', [row.User, row.Host]);
      }
    };

    beforeAll(async () => {
      root = await mysql.createConnection(TEST_MYSQL_URL);
      await dropAll();
      await root.query('CREATE USER ?@? IDENTIFIED BY ?', [ADMIN, '%', adminPassword]);
      // CREATE USER only: with SUPER or CONNECTION ADMIN the server would skip init_connect.
      await root.query('GRANT CREATE USER ON *.* TO ?@?', [ADMIN, '%']);
      // MySQL has no per-account sql_mode: init_connect gives this admin's sessions (and only
      // its) the other syntax, the way a server-wide setting would.
      const [rows] = await root.query('SELECT @@GLOBAL.init_connect AS value');
      initConnect = (rows as { value: string }[])[0]?.value ?? '';
      await root.query('SET GLOBAL init_connect = ?', [
        `SET SESSION sql_mode = IF(SUBSTRING_INDEX(USER(), '@', 1) = '${ADMIN}', ` +
          `CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES,ANSI_QUOTES'), @@SESSION.sql_mode)`,
      ]);
    });

    afterAll(async () => {
      await root.query('SET GLOBAL init_connect = ?', [initConnect]);
      await dropAll();
      await root.end();
    });

    it('sets the session back to the default syntax, so a quote in a name stays in it', async () => {
      const { hostname, port } = new URL(TEST_MYSQL_URL);
      // The precondition: the admin's own sessions start in the other syntax.
      const admin = await mysql.createConnection({
        host: hostname,
        port: Number(port || 3306),
        user: ADMIN,
        password: adminPassword,
      });
      const [rows] = await admin.query('SELECT @@SESSION.sql_mode AS mode');
      await admin.end();
      const modes = String((rows as { mode: string }[])[0]?.mode).split(',');
      expect(modes).toEqual(expect.arrayContaining(['NO_BACKSLASH_ESCAPES', 'ANSI_QUOTES']));

      const driver = openDriver(
        driverSettings('mysql-database-plugin', {
          connection_url: `{{username}}:{{password}}@tcp(${hostname}:${port || 3306})/`,
          username: ADMIN,
          password: adminPassword,
        }),
      );
      try {
        // The escaper writes `\'` for a quote. Without backslash escapes that is a backslash
        // and the end of the string: the rest would add a second user, with no password.
        const single = `${PREFIX}_a', \`${PWNED}\`@\`%\` #`;
        // With ANSI_QUOTES, "..." is an identifier, in which `\"` ends it the same way.
        const double = `${PREFIX}_b", \`${PWNED}\`@\`%\` #`;
        for (const [username, creation] of [
          [single, `CREATE USER '{{name}}'@'%' IDENTIFIED BY 'A1a-unused-password'`],
          [double, `CREATE USER "{{name}}"@'%' IDENTIFIED BY 'A1a-unused-password'`],
        ] as const) {
          await driver.createUser(
            { username, password: 'unused', expiresAt: Date.now() + 3_600_000 },
            { creation: [creation], ...noStatements },
          );
        }
        expect(await users()).toEqual([single, double].sort());
      } finally {
        await driver.close();
      }
    });
  },
);
