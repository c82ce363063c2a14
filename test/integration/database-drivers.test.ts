// One conformance suite for the DatabaseDriver interface, run against every driver on a real
// server: PostgreSQL (pg), MariaDB (mysql2) and Redis ACL users (ioredis). Each reaches its
// server through a fault proxy so the suite can also take the server away. Users, tables and
// keys are prefixed "cdrv" and removed afterwards.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSettings } from '../../src/engines/database/connection-settings.js';
import type { DatabaseDriver, RoleStatements } from '../../src/shared/db/driver.js';
import { openDriver } from '../../src/shared/db/drivers.js';
import { generatePassword } from '../../src/shared/db/password.js';
import type { JsonObject } from '../../src/sdk/json.js';
import { skipNote, startFaultProxy, type FaultProxy } from '../helpers/services.js';
import { fixtureFor, type FixtureKind } from './database-fixtures.js';

const PREFIX = 'cdrv';
const KINDS: readonly FixtureKind[] = ['postgres', 'mysql', 'redis'];
const fixtures = await Promise.all(KINDS.map((kind) => fixtureFor(kind, PREFIX)));

/** Statements that fail, per driver: a second statement on a missing object, and a bad one. */
const BROKEN: Record<FixtureKind, { second: string; bad: string }> = {
  postgres: {
    second: `GRANT SELECT ON ${PREFIX}_nosuch TO "{{name}}"`,
    // Echoes the value it cannot parse: the password, which must not reach the error.
    bad: `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{password}}'`,
  },
  mysql: {
    second: `GRANT SELECT ON test.${PREFIX}_nosuch TO '{{name}}'@'%'`,
    // MySQL quotes the statement after the error point, password included.
    bad: `CREATE USERR '{{name}}' IDENTIFIED BY '{{password}}'`,
  },
  redis: { second: '', bad: JSON.stringify(['~*', '+nosuchcommand']) },
};

function statements(
  creation: readonly string[],
  more: Partial<RoleStatements> = {},
): RoleStatements {
  return { creation, revocation: [], rollback: [], renew: [], ...more };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

for (const f of fixtures) {
  describe.skipIf(!f.service.available)(`database driver: ${f.kind}${skipNote(f.service)}`, () => {
    let proxy: FaultProxy;
    let driver: DatabaseDriver;
    const opened: DatabaseDriver[] = [];

    function open(fields: JsonObject): DatabaseDriver {
      const d = openDriver(driverSettings(f.plugin, fields), {
        connectTimeoutMs: 3000,
        queryTimeoutMs: 10_000,
      });
      opened.push(d);
      return d;
    }

    function userName(tag: string): string {
      const suffix = randomBytes(4).toString('hex');
      return f.kind === 'postgres' ? `${PREFIX}_${tag}_${suffix}` : `${PREFIX}-${tag}-${suffix}`;
    }

    async function newUser(
      d: DatabaseDriver = driver,
    ): Promise<{ username: string; password: string }> {
      const user = { username: userName('u'), password: generatePassword() };
      await d.createUser(
        { ...user, expiresAt: Date.now() + 3_600_000 },
        statements(f.creationStatements),
      );
      return user;
    }

    beforeAll(async () => {
      await f.setup();
      proxy = await startFaultProxy(f.service.endpoint.host, f.service.endpoint.port);
      driver = open(f.connectionFields('127.0.0.1', proxy.port));
    });

    afterAll(async () => {
      await Promise.all(opened.map((d) => d.close()));
      await proxy.close();
      await f.teardown();
    });

    it('connects as the admin, and refuses unknown credentials without echoing them', async () => {
      await driver.verifyConnection();
      // An unknown user too: the PostgreSQL test server trusts loopback, so only the user
      // name can be refused there.
      const wrong = `Wrong-${generatePassword()}`;
      const fields = {
        ...f.connectionFields('127.0.0.1', proxy.port, wrong),
        username: `${PREFIX}_nobody`,
      };
      const err = await rejection(open(fields).verifyConnection());
      expect(err.code).toBe('invalid_request');
      expect(err.message).toContain('refused the credentials');
      expect(err.message).not.toContain(wrong);
    });

    it('creates a user that can run the granted read but not a write', async () => {
      const user = await newUser();
      expect(await f.userExists(user.username)).toBe(true);
      await f.allowedRead(user.username, user.password);
      expect(await f.writeRefused(user.username, user.password)).toBe(true);
      expect(await driver.userExists(user.username)).toBe(true);
      await driver.revokeUser(user.username, []);
    });

    it('validates role statements without leaving a user behind, and names a broken one', async () => {
      await driver.validateRoleStatements(statements(f.creationStatements));
      const err = await rejection(driver.validateRoleStatements(statements([BROKEN[f.kind].bad])));
      expect(err.code).toBe('invalid_request');
      expect(err.message).toContain('creation_statements[0]');
      expect(err.message).toContain('rejected');
      if (f.kind === 'postgres') {
        const second = statements([...f.creationStatements, BROKEN.postgres.second]);
        const err2 = await rejection(driver.validateRoleStatements(second));
        expect(err2.message).toContain('creation_statements[2]');
      }
    });

    it('undoes a creation that fails, naming the statement and never the password', async () => {
      const creation =
        f.kind === 'redis' ? [BROKEN.redis.bad] : [...f.creationStatements, BROKEN[f.kind].second];
      const user = { username: userName('bad'), password: generatePassword() };
      const err = await rejection(
        driver.createUser({ ...user, expiresAt: Date.now() + 60_000 }, statements(creation)),
      );
      expect(err.code).toBe('invalid_request');
      expect(err.message).toMatch(/creation_statements\[\d\]/);
      expect(await f.userExists(user.username)).toBe(false);

      if (f.kind !== 'redis') {
        const echoed = { username: userName('echo'), password: generatePassword() };
        const err2 = await rejection(
          driver.createUser(
            { ...echoed, expiresAt: Date.now() + 60_000 },
            statements([BROKEN[f.kind].bad]),
          ),
        );
        expect(err2.code).toBe('invalid_request');
        expect(err2.message).toContain('creation_statements[0]');
        expect(err2.message).not.toContain(echoed.password);
        expect(await f.userExists(echoed.username)).toBe(false);
      }
    });

    it('renews a user', async () => {
      const user = await newUser();
      const later = Date.now() + 7_200_000;
      await expect(driver.renewUser(user.username, later, [])).resolves.toBeUndefined();
      // Drivers without an expiry (MySQL, Redis) must leave the user in place and working.
      expect(await f.userExists(user.username)).toBe(true);
      if (f.validUntil !== undefined) {
        const until = await f.validUntil(user.username);
        expect(Math.abs((until ?? 0) - later)).toBeLessThan(1500);
      }
      await f.allowedRead(user.username, user.password);
      await driver.revokeUser(user.username, []);
    });

    it('revokes a user: gone, its open session ended, new logins refused; again is a no-op', async () => {
      const user = await newUser();
      const session = await f.openSession(user.username, user.password);
      await session.read();
      await driver.revokeUser(user.username, []);
      expect(await f.userExists(user.username)).toBe(false);
      expect(await driver.userExists(user.username)).toBe(false);
      await expect(session.read()).rejects.toBeDefined();
      await session.close();
      await expect(f.allowedRead(user.username, user.password)).rejects.toBeDefined();
      await driver.revokeUser(user.username, []);
    });

    it("sets a static user's password: the new one works, the old one no longer", async () => {
      const username = userName('static');
      const old = generatePassword();
      await f.createPlainUser(username, old);
      expect(await f.passwordWorks(username, old)).toBe(true);
      const fresh = generatePassword();
      await driver.setPassword(username, fresh, []);
      expect(await f.passwordWorks(username, fresh)).toBe(true);
      expect(await f.passwordWorks(username, old)).toBe(false);
      const missing = await rejection(driver.setPassword(userName('none'), fresh, []));
      expect(missing.code).toBe('invalid_request');
      expect(missing.message).not.toContain(fresh);
    });

    it('reports upstream_failure while the server is unreachable, and recovers after', async () => {
      const user = await newUser();
      proxy.setMode('refuse');
      try {
        const err = await rejection(driver.revokeUser(user.username, []));
        expect(err.code).toBe('upstream_failure');
        expect(await f.userExists(user.username)).toBe(true);
      } finally {
        proxy.setMode('pass');
      }
      await driver.revokeUser(user.username, []);
      expect(await f.userExists(user.username)).toBe(false);
    });

    it('rotates the root password and keeps managing users with the new one', async () => {
      const fresh = generatePassword();
      await driver.rotateRootPassword(fresh, []);
      expect(await f.passwordWorks(f.adminUser, fresh)).toBe(true);
      expect(await f.passwordWorks(f.adminUser, f.adminPassword)).toBe(false);
      const rotated = open(f.connectionFields('127.0.0.1', proxy.port, fresh));
      await rotated.verifyConnection();
      const user = await newUser(rotated);
      await f.allowedRead(user.username, user.password);
      await rotated.revokeUser(user.username, []);
      expect(await f.userExists(user.username)).toBe(false);
    });
  });
}
