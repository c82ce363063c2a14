// config/:name, LIST config/, reset and rotate-root without a database: validation, the
// stored shape, what a read returns (never a password), and update merging.
import { describe, expect, it } from 'vitest';
import type { ConnectionRecord } from './records.js';
import { databaseHarness, expectCoffer } from './testing.js';

const PG = {
  plugin_name: 'postgresql-database-plugin',
  connection_url: 'postgresql://{{username}}:{{password}}@127.0.0.1:1/db',
  username: 'vault',
  password: 'Root-Secret-1',
  verify_connection: false,
};

describe('config/:name', () => {
  it("stores a connection and reads it back in Vault's shape, without the password", async () => {
    const h = databaseHarness();
    expect(await h.exists('config/pg')).toBe(false);
    await h.call('create', 'config/pg', {
      ...PG,
      allowed_roles: 'app-*,ops',
      max_open_connections: '5',
      max_connection_lifetime: '5s',
      root_rotation_statements: `ALTER USER "{{username}}" WITH PASSWORD '{{password}}'`,
    });
    expect(await h.exists('config/pg')).toBe(true);
    const read = await h.data('read', 'config/pg');
    expect(read).toEqual({
      allowed_roles: ['app-*', 'ops'],
      connection_details: {
        connection_url: PG.connection_url,
        username: 'vault',
        max_open_connections: 5,
        max_connection_lifetime: '5s',
      },
      password_policy: '',
      plugin_name: 'postgresql-database-plugin',
      plugin_version: '',
      root_credentials_rotate_statements: [
        `ALTER USER "{{username}}" WITH PASSWORD '{{password}}'`,
      ],
      verify_connection: false,
    });
    expect(JSON.stringify(read)).not.toContain(PG.password);
    expect(await h.data('list', 'config/')).toEqual({ keys: ['pg'] });
  });

  it('merges an update into the stored fields and keeps the password', async () => {
    const h = databaseHarness();
    await h.call('create', 'config/pg', { ...PG, allowed_roles: ['a'] });
    const before = h.stored('config/pg') as ConnectionRecord;
    await h.call('update', 'config/pg', { max_open_connections: 2, verify_connection: false });
    const after = h.stored('config/pg') as ConnectionRecord;
    expect(after.id).toBe(before.id);
    expect(after.version).not.toBe(before.version);
    expect(after.allowedRoles).toEqual(['a']);
    expect(after.details).toMatchObject({ password: PG.password, max_open_connections: 2 });
  });

  it('never returns MySQL client keys, and keeps Redis fields apart', async () => {
    const h = databaseHarness();
    await h.call('update', 'config/my', {
      plugin_name: 'mysql-database-plugin',
      connection_url: '{{username}}:{{password}}@tcp(127.0.0.1:1)/',
      username: 'root',
      password: 'x-secret',
      tls_certificate_key: 'PRIVATE KEY PEM',
      verify_connection: false,
    });
    const read = JSON.stringify(await h.data('read', 'config/my'));
    expect(read).not.toContain('PRIVATE KEY');
    expect(read).not.toContain('x-secret');
    await h.call('update', 'config/r', {
      plugin_name: 'redis-database-plugin',
      host: '127.0.0.1',
      port: 1,
      username: 'u',
      password: 'p-secret',
      verify_connection: false,
    });
    expect((await h.data('read', 'config/r')).connection_details).toEqual({
      host: '127.0.0.1',
      port: 1,
      username: 'u',
    });
  });

  it('refuses bad connections, naming the field', async () => {
    const h = databaseHarness();
    const bad = (data: Record<string, unknown>, field: string) =>
      expectCoffer(h.call('update', 'config/x', data), 'invalid_request', {
        field,
        secrets: ['Root-Secret-1'],
      });
    await bad({ ...PG, plugin_name: undefined }, 'plugin_name');
    await bad({ ...PG, plugin_name: 'oracle-database-plugin' }, 'plugin_name');
    await bad({ ...PG, host: 'h' }, 'host');
    await bad({ ...PG, password_policy: 'strong' }, 'password_policy');
    await bad({ ...PG, plugin_version: 'v1.0.0' }, 'plugin_version');
    await bad(
      { ...PG, connection_url: 'postgresql://u:Root-Secret-1@h/db', password: '' },
      'connection_url',
    );
    await bad({ ...PG, username_template: '{{ .Nope }}' }, 'username_template');
    await bad({ ...PG, max_open_connections: 0 }, 'max_open_connections');
    await bad({ ...PG, bogus: 1 }, 'bogus');
    await bad(
      {
        plugin_name: 'redis-database-plugin',
        host: 'h',
        port: 1,
        username: 'u',
        password: 'p',
        root_rotation_statements: 'x',
        verify_connection: false,
      },
      'root_rotation_statements',
    );
    await h.call('update', 'config/x', PG);
    await bad({ plugin_name: 'mysql-database-plugin' }, 'plugin_name');
  });

  it('deletes (idempotently), and answers 404 for what is missing', async () => {
    const h = databaseHarness();
    await expectCoffer(h.call('read', 'config/none'), 'not_found');
    await expectCoffer(h.call('list', 'config/'), 'not_found');
    await h.call('update', 'config/pg', PG);
    await h.call('delete', 'config/pg');
    await h.call('delete', 'config/pg');
    expect(h.stored('config/pg')).toBeUndefined();
    await expectCoffer(h.call('update', 'reset/none'), 'not_found');
    await expectCoffer(h.call('update', 'rotate-root/none'), 'not_found');
    await expectCoffer(h.call('read', 'config/bad name'), 'unsupported_path');
  });

  it('rotate-root needs {{password}} in the URL and a username', async () => {
    const h = databaseHarness();
    await h.call('update', 'config/plain', {
      plugin_name: 'postgresql-database-plugin',
      connection_url: 'postgresql://127.0.0.1:1/db',
      verify_connection: false,
    });
    await expectCoffer(h.call('update', 'rotate-root/plain'), 'invalid_request', {
      field: 'connection_url',
    });
    await h.call('update', 'config/nouser', {
      plugin_name: 'postgresql-database-plugin',
      connection_url: 'postgresql://:{{password}}@127.0.0.1:1/db',
      verify_connection: false,
    });
    await expectCoffer(h.call('update', 'rotate-root/nouser'), 'invalid_request', {
      field: 'username',
    });
  });
});
