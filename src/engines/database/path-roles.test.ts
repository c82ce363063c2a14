// roles/:name and LIST roles/ without a database (connections with verify_connection off):
// the stored shape, Vault's field decoding, and what is refused when written.
import { describe, expect, it } from 'vitest';
import { databaseHarness, expectCoffer, unreachablePostgres } from './testing.js';

async function withConnections() {
  const h = databaseHarness();
  await h.call('update', 'config/pg', unreachablePostgres());
  await h.call('update', 'config/redis', {
    plugin_name: 'redis-database-plugin',
    host: '127.0.0.1',
    port: 1,
    username: 'u',
    password: 'p',
    verify_connection: false,
  });
  return h;
}

describe('roles/:name', () => {
  it("stores a role and reads it back in Vault's shape", async () => {
    const h = await withConnections();
    expect(await h.exists('roles/app')).toBe(false);
    const result = await h.call('create', 'roles/app', {
      db_name: 'pg',
      // One string is one entry: commas inside SQL are not separators.
      creation_statements: `CREATE ROLE "{{name}}"; GRANT SELECT, INSERT ON t TO "{{name}}"`,
      default_ttl: '1h',
      max_ttl: 86400,
    });
    expect(result).toEqual({ kind: 'empty' });
    expect(await h.data('read', 'roles/app')).toEqual({
      db_name: 'pg',
      default_ttl: 3600,
      max_ttl: 86400,
      creation_statements: [`CREATE ROLE "{{name}}"; GRANT SELECT, INSERT ON t TO "{{name}}"`],
      revocation_statements: [],
      rollback_statements: [],
      renew_statements: [],
      credential_type: 'password',
    });
    expect(await h.exists('roles/app')).toBe(true);
  });

  it('keeps fields an update does not name', async () => {
    const h = await withConnections();
    await h.call('update', 'roles/app', {
      db_name: 'pg',
      creation_statements: ['CREATE ROLE "{{name}}"'],
      default_ttl: 60,
    });
    await h.call('update', 'roles/app', { revocation_statements: ['DROP ROLE "{{name}}"'] });
    expect(await h.data('read', 'roles/app')).toMatchObject({
      default_ttl: 60,
      creation_statements: ['CREATE ROLE "{{name}}"'],
      revocation_statements: ['DROP ROLE "{{name}}"'],
    });
  });

  it('refuses what cannot work, naming the field', async () => {
    const h = await withConnections();
    const bad = (data: Record<string, unknown>, field: string) =>
      expectCoffer(h.call('update', 'roles/x', data), 'invalid_request', { field });
    await bad({ creation_statements: ['x'] }, 'db_name');
    await bad({ db_name: 'pg' }, 'creation_statements');
    await bad(
      { db_name: 'pg', creation_statements: ['x'], default_ttl: '2h', max_ttl: '1h' },
      'default_ttl',
    );
    await bad(
      { db_name: 'pg', creation_statements: ['x'], credential_type: 'rsa_private_key' },
      'credential_type',
    );
    await bad({ db_name: 'redis', creation_statements: ['+@read'] }, 'creation_statements[0]');
    await bad({ db_name: 'redis', revocation_statements: ['x'] }, 'revocation_statements');
    await bad(
      { db_name: 'redis', creation_statements: ['["~*", "nopass"]'] },
      'creation_statements[0]',
    );
    await bad({ db_name: 'pg', creation_statements: ['x'], defualt_ttl: 5 }, 'defualt_ttl');
    await bad({ db_name: 'no/such', creation_statements: ['x'] }, 'db_name');
    await expectCoffer(h.call('read', 'roles/x'), 'not_found');
  });

  it('warns when the connection does not exist yet', async () => {
    const h = await withConnections();
    const result = await h.call('update', 'roles/later', {
      db_name: 'nope',
      creation_statements: ['x'],
    });
    expect(result.kind).toBe('empty');
    expect(result.warnings?.[0]).toContain('does not exist yet');
  });

  it('lists and deletes', async () => {
    const h = await withConnections();
    await expectCoffer(h.call('list', 'roles/'), 'not_found');
    await h.call('update', 'roles/b', { db_name: 'redis' });
    await h.call('update', 'roles/a', { db_name: 'redis', creation_statements: '["~*", "+get"]' });
    expect(await h.data('list', 'roles/')).toEqual({ keys: ['a', 'b'] });
    await h.call('delete', 'roles/a');
    expect(await h.data('list', 'roles/')).toEqual({ keys: ['b'] });
  });
});
