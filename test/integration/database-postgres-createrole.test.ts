// The PostgreSQL driver with an admin that has CREATEROLE but is no superuser (a common,
// least-privilege setup): REASSIGN OWNED is refused to it, so revocation must fall back to
// revoking the user's privileges one by one, as Vault does, and still drop the role.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSettings } from '../../src/engines/database/connection-settings.js';
import { openDriver } from '../../src/shared/db/drivers.js';
import { generatePassword } from '../../src/shared/db/password.js';
import { requireService, skipNote, TEST_PG_URL } from '../helpers/services.js';
import { prefixedRoles } from './database-fixtures.js';

const PREFIX = 'ccrr';
const ADMIN = `${PREFIX}_admin`;
const TABLE = `${PREFIX}_orders`;
const service = await requireService('PostgreSQL', TEST_PG_URL);

describe.skipIf(!service.available)(
  `PostgreSQL admin with CREATEROLE only${skipNote(service)}`,
  () => {
    let root: pg.Client;
    const adminPassword = `A1a-${randomBytes(12).toString('hex')}`;

    const roles = (): Promise<string[]> => prefixedRoles(root, PREFIX, ADMIN);

    /**
     * The table first: privileges the admin granted on it go with it (DROP OWNED run by a
     * superuser leaves grants made by another grantor in place).
     */
    const dropAll = async (): Promise<void> => {
      await root.query(`DROP TABLE IF EXISTS ${TABLE}`);
      for (const name of await roles()) await root.query(`DROP ROLE "${name}"`);
    };

    beforeAll(async () => {
      root = new pg.Client({ connectionString: TEST_PG_URL });
      await root.connect();
      await dropAll();
      await root.query(`DROP OWNED BY ${ADMIN}`).catch(() => undefined);
      await root.query(`DROP ROLE IF EXISTS ${ADMIN}`);
      await root.query(`CREATE ROLE ${ADMIN} WITH LOGIN CREATEROLE PASSWORD '${adminPassword}'`);
      await root.query(`CREATE TABLE ${TABLE} (id int)`);
      await root.query(`GRANT SELECT ON ${TABLE} TO ${ADMIN} WITH GRANT OPTION`);
    });

    afterAll(async () => {
      await dropAll();
      await root.query(`DROP OWNED BY ${ADMIN}`).catch(() => undefined);
      await root.query(`DROP ROLE IF EXISTS ${ADMIN}`);
      await root.end();
    });

    it('creates a user with a grant and revokes it with the default statements', async () => {
      const { host, port, pathname } = new URL(TEST_PG_URL);
      const driver = openDriver(
        driverSettings('postgresql-database-plugin', {
          connection_url: `postgresql://{{username}}:{{password}}@${host}${port === '' ? ':5432' : ''}${pathname}`,
          username: ADMIN,
          password: adminPassword,
        }),
      );
      try {
        const username = `${PREFIX}_u_${randomBytes(4).toString('hex')}`;
        await driver.createUser(
          { username, password: generatePassword(), expiresAt: Date.now() + 3_600_000 },
          {
            creation: [
              `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
              `GRANT SELECT ON ${TABLE} TO "{{name}}"`,
            ],
            revocation: [],
            rollback: [],
            renew: [],
          },
        );
        expect(await roles()).toContain(username);
        await driver.revokeUser(username, []);
        expect(await roles()).not.toContain(username);
        // Idempotent: a second revocation of a user already gone succeeds.
        await driver.revokeUser(username, []);
      } finally {
        await driver.close();
      }
    });
  },
);
