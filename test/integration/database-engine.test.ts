// The database engine end to end at the engine level, against real PostgreSQL, MariaDB and
// Redis: connections, roles, leased credentials (renew, revoke, rollback), static roles and
// their scheduled rotation, rotate-root, and revocation while the database is down. The
// test plays the core's part (it calls revokeLease/renewLease/rollback/runScheduled). Users,
// tables and keys are prefixed "ceng" and removed afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePassword } from '../../src/shared/db/password.js';
import type { ConnectionRecord, StaticRoleRecord } from '../../src/engines/database/records.js';
import {
  databaseHarness,
  expectCoffer,
  type DatabaseHarness,
} from '../../src/engines/database/testing.js';
import { driverSettings } from '../../src/engines/database/connection-settings.js';
import { openDriver } from '../../src/shared/db/drivers.js';
import type { JsonObject } from '../../src/sdk/json.js';
import { putJson } from '../../src/sdk/storage.js';
import { skipNote, startFaultProxy, type FaultProxy } from '../helpers/services.js';
import { fixtureFor, type FixtureKind } from './database-fixtures.js';

const PREFIX = 'ceng';
const KINDS: readonly FixtureKind[] = ['postgres', 'mysql', 'redis'];
const fixtures = await Promise.all(KINDS.map((kind) => fixtureFor(kind, PREFIX)));

/** A creation statement the database refuses (the password sits in it). */
const BAD_CREATION: Record<FixtureKind, string> = {
  postgres: `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{password}}'`,
  mysql: `CREATE USERR '{{name}}' IDENTIFIED BY '{{password}}'`,
  redis: JSON.stringify(['~*', '+nosuchcommand']),
};

for (const f of fixtures) {
  describe.skipIf(!f.service.available)(`database engine: ${f.kind}${skipNote(f.service)}`, () => {
    let proxy: FaultProxy;
    let h: DatabaseHarness;
    const role = `${PREFIX}-ro`;

    function fields(extra: JsonObject = {}): JsonObject {
      return {
        plugin_name: f.plugin,
        allowed_roles: `${PREFIX}-*`,
        ...f.connectionFields('127.0.0.1', proxy.port),
        ...extra,
      };
    }

    function storedConnection(name: string): ConnectionRecord {
      return h.stored(`config/${name}`) as ConnectionRecord;
    }

    beforeAll(async () => {
      await f.setup();
      proxy = await startFaultProxy(f.service.endpoint.host, f.service.endpoint.port);
      h = databaseHarness({
        driver: { connectTimeoutMs: 3000, queryTimeoutMs: 10_000 },
        nowMs: Date.now(),
      });
      await h.call('update', 'config/db', fields());
      await h.call('update', `roles/${role}`, {
        db_name: 'db',
        creation_statements: f.creationStatements,
        default_ttl: '10m',
        max_ttl: '1h',
      });
    });

    afterAll(async () => {
      await h.engine.close?.();
      await proxy.close();
      await f.teardown();
    });

    it('stores a verified connection and never returns its password', async () => {
      const read = await h.data('read', 'config/db');
      expect(read).toMatchObject({
        plugin_name: f.plugin,
        allowed_roles: [`${PREFIX}-*`],
        verify_connection: true,
        password_policy: '',
      });
      expect(read.connection_details).not.toHaveProperty('password');
      expect(JSON.stringify(read)).not.toContain(f.adminPassword);
      expect(await h.data('list', 'config/')).toEqual({ keys: ['db'] });

      const wrong = `Wrong-${generatePassword()}`;
      await expectCoffer(
        h.call('update', 'config/bad', fields({ username: `${PREFIX}_nobody`, password: wrong })),
        'invalid_request',
        { contains: 'refused the credentials', secrets: [wrong] },
      );
      proxy.setMode('refuse');
      try {
        await expectCoffer(h.call('update', 'config/down', fields()), 'upstream_failure', {
          secrets: [f.adminPassword],
        });
        // Without verification the connection is stored as given.
        await h.call('update', 'config/down', fields({ verify_connection: false }));
      } finally {
        proxy.setMode('pass');
      }
      expect(await h.data('list', 'config/')).toEqual({ keys: ['db', 'down'] });
      await h.call('delete', 'config/down');
    });

    it('refuses a role whose statements the database rejects, naming the statement', async () => {
      const message = await expectCoffer(
        h.call('update', `roles/${PREFIX}-bad`, {
          db_name: 'db',
          creation_statements: [BAD_CREATION[f.kind]],
        }),
        'invalid_request',
        { contains: 'creation_statements[0]' },
      );
      expect(message).toContain('rejected');
      await expectCoffer(h.call('read', `roles/${PREFIX}-bad`), 'not_found');
    });

    it('checks statements at creds time when the connection is not verified', async () => {
      await h.call('update', 'config/lazy', fields({ verify_connection: false }));
      await h.call('update', `roles/${PREFIX}-lazy`, {
        db_name: 'lazy',
        creation_statements: [BAD_CREATION[f.kind]],
      });
      const before = h.wal.entries.size;
      await expectCoffer(h.call('read', `creds/${PREFIX}-lazy`), 'invalid_request', {
        contains: 'creation_statements[0]',
      });
      // The failed user was undone, so its write-ahead entry and index entry are gone too.
      expect(h.wal.entries.size).toBe(before);
      expect([...h.storage.entries.keys()].filter((k) => k.startsWith('user/'))).toEqual([]);
      await h.call('delete', `roles/${PREFIX}-lazy`);
      await h.call('delete', 'config/lazy');
    });

    it('issues creds as a lease whose user can read but not write', async () => {
      const { data, grant, lease } = await h.creds(role);
      const username = data.username as string;
      const password = data.password as string;
      expect(grant).toMatchObject({
        ttlSeconds: 600,
        maxTtlSeconds: 3600,
        renewable: true,
        secretType: 'creds',
      });
      expect(grant.walIds).toHaveLength(1);
      expect(h.wal.entries.get(grant.walIds![0]!)?.data).toMatchObject({ username, db_name: 'db' });
      expect(JSON.stringify(grant.internal)).not.toContain(password);
      if (f.kind !== 'redis') expect(username).toMatch(/^v-token-ceng-ro-/);
      else expect(username).toMatch(/^V-TOKEN-CENG-RO-/);
      await f.allowedRead(username, password);
      expect(await f.writeRefused(username, password)).toBe(true);
      await h.wal.delete(grant.walIds![0]!);

      const renewed = await h.engine.renewLease!(h.ctx(), lease, 1200);
      expect(renewed).toEqual({ ttlSeconds: 600, maxTtlSeconds: 3600 });
      if (f.validUntil !== undefined) {
        const until = await f.validUntil(username);
        expect(Math.abs((until ?? 0) - (h.nowMs + 1_200_000))).toBeLessThan(1500);
      }

      await h.engine.revokeLease!(h.ctx(), lease);
      expect(await f.userExists(username)).toBe(false);
      await h.engine.revokeLease!(h.ctx(), lease);
      expect([...h.storage.entries.keys()].filter((k) => k.startsWith('user/'))).toEqual([]);
    });

    it('rolls back a user whose lease was never registered', async () => {
      const { data, grant } = await h.creds(role);
      const entry = h.wal.entries.get(grant.walIds![0]!)!;
      expect(await f.userExists(data.username as string)).toBe(true);
      await h.engine.rollback!(h.ctx(), entry);
      expect(await f.userExists(data.username as string)).toBe(false);
      await h.engine.rollback!(h.ctx(), entry);
      await h.wal.delete(entry.id);
    });

    it('revokes after its role and its connection were deleted', async () => {
      await h.call('update', `roles/${PREFIX}-gone`, {
        db_name: 'db',
        creation_statements: f.creationStatements,
      });
      const { data, lease } = await h.creds(`${PREFIX}-gone`);
      const id = storedConnection('db').id;
      await h.call('delete', `roles/${PREFIX}-gone`);
      await h.call('delete', 'config/db');
      expect(h.stored(`retired-config/${id}`)).toBeDefined();
      await h.engine.revokeLease!(h.ctx(), lease);
      expect(await f.userExists(data.username as string)).toBe(false);
      // The last user of the deleted connection is gone, and so are its credentials.
      expect(h.stored(`retired-config/${id}`)).toBeUndefined();
      await h.call('update', 'config/db', fields());
    });

    it('rotates a static role whose user name holds quotes and a backslash', async () => {
      // Each quoting the statements use ('…', "…", and MySQL's backslash escapes) is met.
      const username = `${PREFIX}_q'u"o\\te`;
      const initial = generatePassword();
      await f.createPlainUser(username, initial);
      const name = `${PREFIX}-quoted`;
      await h.call('update', `static-roles/${name}`, {
        db_name: 'db',
        username,
        rotation_period: '1h',
      });
      const first = await h.data('read', `static-creds/${name}`);
      expect(first.username).toBe(username);
      expect(await f.passwordWorks(username, first.password as string)).toBe(true);
      expect(await f.passwordWorks(username, initial)).toBe(false);
      await h.call('update', `rotate-role/${name}`);
      const second = await h.data('read', `static-creds/${name}`);
      expect(second.password).not.toBe(first.password);
      expect(await f.passwordWorks(username, second.password as string)).toBe(true);
      await h.call('delete', `static-roles/${name}`);
    });

    it('rotates a static role on creation, on rotate-role and on schedule', async () => {
      const username = f.kind === 'postgres' ? `${PREFIX}_static` : `${PREFIX}-static`;
      const initial = generatePassword();
      await f.createPlainUser(username, initial);
      const name = `${PREFIX}-st`;
      await h.call('update', `static-roles/${name}`, {
        db_name: 'db',
        username,
        rotation_period: '1h',
      });
      const first = await h.data('read', `static-creds/${name}`);
      expect(first).toMatchObject({ username, rotation_period: 3600, ttl: 3600 });
      expect(await f.passwordWorks(username, first.password as string)).toBe(true);
      expect(await f.passwordWorks(username, initial)).toBe(false);
      expect(h.schedule.jobs.get(`static-role/${name}`)).toBe(h.nowMs + 3_600_000);
      const role = await h.data('read', `static-roles/${name}`);
      expect(role).toMatchObject({ db_name: 'db', username, rotation_period: 3600 });
      expect(JSON.stringify(role)).not.toContain(first.password as string);

      await h.call('update', `rotate-role/${name}`);
      const second = await h.data('read', `static-creds/${name}`);
      expect(second.password).not.toBe(first.password);
      expect(await f.passwordWorks(username, second.password as string)).toBe(true);
      expect(await f.passwordWorks(username, first.password as string)).toBe(false);

      // Not yet due: re-armed, nothing rotated.
      await h.engine.runScheduled!(h.ctx(), `static-role/${name}`);
      expect((await h.data('read', `static-creds/${name}`)).password).toBe(second.password);
      h.nowMs += 3_600_000;
      await h.engine.runScheduled!(h.ctx(), `static-role/${name}`);
      const third = await h.data('read', `static-creds/${name}`);
      expect(third.password).not.toBe(second.password);
      expect(await f.passwordWorks(username, third.password as string)).toBe(true);
      expect(h.schedule.jobs.get(`static-role/${name}`)).toBe(h.nowMs + 3_600_000);
      const stored = h.stored(`static-role/${name}`) as StaticRoleRecord;
      expect(stored.pendingPassword).toBeUndefined();

      await h.call('delete', `static-roles/${name}`);
      expect(h.schedule.jobs.has(`static-role/${name}`)).toBe(false);
    });

    it('reports upstream_failure on revocation while the database is down, then revokes', async () => {
      const { data, lease, grant } = await h.creds(role);
      await h.wal.delete(grant.walIds![0]!);
      proxy.setMode('refuse');
      try {
        await expectCoffer(h.engine.revokeLease!(h.ctx(), lease), 'upstream_failure', {
          secrets: [data.password as string, f.adminPassword],
        });
      } finally {
        proxy.setMode('pass');
      }
      expect(await f.userExists(data.username as string)).toBe(true);
      await h.engine.revokeLease!(h.ctx(), lease);
      expect(await f.userExists(data.username as string)).toBe(false);
    });

    it('rotates the root password: stored, never returned, and users still managed', async () => {
      await h.call('update', 'rotate-root/db');
      const rotated = storedConnection('db').details.password as string;
      expect(rotated).not.toBe(f.adminPassword);
      expect(await f.passwordWorks(f.adminUser, rotated)).toBe(true);
      expect(await f.passwordWorks(f.adminUser, f.adminPassword)).toBe(false);
      expect(JSON.stringify(await h.data('read', 'config/db'))).not.toContain(rotated);

      const { data, lease, grant } = await h.creds(role);
      await h.wal.delete(grant.walIds![0]!);
      await f.allowedRead(data.username as string, data.password as string);
      await h.engine.revokeLease!(h.ctx(), lease);
      expect(await f.userExists(data.username as string)).toBe(false);
    });

    it('drops a pending root password the database never got', async () => {
      const record = storedConnection('db');
      await putJson(h.storage, 'config/db', { ...record, pendingRootPassword: generatePassword() });
      await h.call('update', 'reset/db');
      const settled = storedConnection('db');
      expect(settled.details.password).toBe(record.details.password);
      expect(settled.pendingRootPassword).toBeUndefined();
    });

    it('finishes a rotate-root that a crash interrupted', async () => {
      // Which password survives depends on whether the server checks them: the PostgreSQL
      // test server trusts loopback, so the stored one still "works" and is kept (either is
      // right there); a server that checks them must end up with the pending one.
      const checked = await f.passwordsChecked();
      const record = storedConnection('db');
      const pending = generatePassword();
      // The crash: the database got the new password, storage still holds it as pending.
      const direct = openDriver(driverSettings(f.plugin, record.details));
      await direct.rotateRootPassword(pending, []);
      await direct.close();
      await putJson(h.storage, 'config/db', { ...record, pendingRootPassword: pending });
      const { data, lease, grant } = await h.creds(role);
      await h.wal.delete(grant.walIds![0]!);
      const settled = storedConnection('db');
      expect(settled.details.password).toBe(checked ? pending : record.details.password);
      expect(settled.pendingRootPassword).toBeUndefined();
      await h.engine.revokeLease!(h.ctx(), lease);
      expect(await f.userExists(data.username as string)).toBe(false);
      if (!checked) {
        // Leave the server as the other tests expect it: the admin's password is the stored one.
        const restore = openDriver(driverSettings(f.plugin, settled.details));
        await restore.rotateRootPassword(settled.details.password as string, []);
        await restore.close();
      }
    });

    it('a static rotation retried after a crash sets the password it had stored', async () => {
      const username = f.kind === 'postgres' ? `${PREFIX}_static2` : `${PREFIX}-static2`;
      await f.createPlainUser(username, generatePassword());
      const name = `${PREFIX}-st2`;
      await h.call('update', `static-roles/${name}`, {
        db_name: 'db',
        username,
        rotation_period: 60,
      });
      const stored = h.stored(`static-role/${name}`) as StaticRoleRecord;
      const pending = generatePassword();
      await putJson(h.storage, `static-role/${name}`, { ...stored, pendingPassword: pending });
      // Not due yet, but a pending rotation is finished at once.
      await h.engine.runScheduled!(h.ctx(), `static-role/${name}`);
      const creds = await h.data('read', `static-creds/${name}`);
      expect(creds.password).toBe(pending);
      expect(await f.passwordWorks(username, pending)).toBe(true);
      await h.call('delete', `static-roles/${name}`);
    });

    it('checks root_rotation_statements when the connection is written, changing nothing', async () => {
      const current = storedConnection('db').details.password as string;
      const statements: Record<FixtureKind, string> = {
        postgres: `ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}'`,
        mysql: `ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}'`,
        redis: `unused`,
      };
      const rr = fields({ password: current, root_rotation_statements: [statements[f.kind]] });
      if (f.kind === 'redis') {
        await expectCoffer(h.call('update', 'config/rr', rr), 'invalid_request', {
          field: 'root_rotation_statements',
        });
        return;
      }
      await h.call('update', 'config/rr', rr);
      expect(await f.passwordWorks(f.adminUser, current)).toBe(true);
      await expectCoffer(
        h.call('update', 'config/rr2', {
          ...rr,
          root_rotation_statements: ['ALTER NOTHING {{password}}'],
        }),
        'invalid_request',
        { contains: 'root_rotation_statements[0]', secrets: [current] },
      );
      await h.call('delete', 'config/rr');
    });
  });
}
