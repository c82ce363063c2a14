// creds/:name and the lease hooks, for everything decided before a database is reached:
// unknown roles, allowed_roles, missing connections, and malformed or orphaned leases.
import { describe, expect, it } from 'vitest';
import type { LeaseInfo } from '../../sdk/engine.js';
import { databaseHarness, expectCoffer, unreachablePostgres } from './testing.js';

async function setup() {
  const h = databaseHarness();
  await h.call('update', 'config/pg', unreachablePostgres({ allowed_roles: ['app-*'] }));
  await h.call('update', 'roles/other', {
    db_name: 'pg',
    creation_statements: ['CREATE ROLE "{{name}}"'],
  });
  await h.call('update', 'roles/app-gone', { db_name: 'gone', creation_statements: ['x'] });
  return h;
}

function lease(internal: LeaseInfo['internal'], secretType = 'creds'): LeaseInfo {
  return {
    id: 'database/creds/app/x',
    path: 'database/creds/app',
    secretType,
    internal,
    issuedAt: Date.UTC(2026, 0, 1),
    expiresAt: Date.UTC(2026, 0, 1, 1),
    ttlSeconds: 3600,
  };
}

describe('creds/:name', () => {
  it('refuses unknown roles, roles the connection does not allow, and missing connections', async () => {
    const h = await setup();
    await expectCoffer(h.call('read', 'creds/nope'), 'invalid_request', {
      contains: 'unknown role',
    });
    await expectCoffer(h.call('read', 'creds/other'), 'invalid_request', {
      field: 'allowed_roles',
    });
    await expectCoffer(h.call('read', 'creds/app-gone'), 'invalid_request', { field: 'db_name' });
    // Nothing reached the database, so nothing was written ahead.
    expect(h.wal.entries.size).toBe(0);
  });
});

describe('lease hooks', () => {
  const internal = {
    username: 'v-token-app-x',
    db_name: 'pg',
    connection_id: 'not-this-connection',
    role: 'app',
    revocation_statements: [],
    renew_statements: [],
    default_ttl: 0,
    max_ttl: 0,
  };

  it('refuses a lease of another secret type or with malformed data', async () => {
    const h = await setup();
    await expectCoffer(h.engine.revokeLease!(h.ctx(), lease(internal, 'other')), 'internal');
    await expectCoffer(h.engine.revokeLease!(h.ctx(), lease({ username: 1 })), 'internal');
    await expectCoffer(h.engine.renewLease!(h.ctx(), lease(null), 0), 'internal');
  });

  it('cannot revoke through a connection that is gone with no retired copy', async () => {
    const h = await setup();
    // The stored "pg" has another id: the lease's connection was deleted with no users left.
    await expectCoffer(h.engine.revokeLease!(h.ctx(), lease(internal)), 'not_found');
  });

  it('rollback ignores entries of other kinds and entries whose connection is gone', async () => {
    const h = await setup();
    const entry = { id: 'w1', kind: 'user', data: internal, createdAt: 0 };
    // The connection is unreachable: resolving proves neither call tried to reach it.
    await expect(h.engine.rollback!(h.ctx(), entry)).resolves.toBeUndefined();
    await expect(
      h.engine.rollback!(h.ctx(), { ...entry, kind: 'other', data: {} }),
    ).resolves.toBeUndefined();
  });
});
