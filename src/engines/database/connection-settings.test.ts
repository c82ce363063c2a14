// Connection details → driver settings: URL and DSN parsing, the placeholder rules, and the
// refusal of passwords written into a connection_url.
import { describe, expect, it } from 'vitest';
import { driverSettings, renderUrl, supportsRootRotation } from './connection-settings.js';

function refused(fn: () => unknown, field: string): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'invalid_request', field }));
}

describe('postgresql-database-plugin', () => {
  const plugin = 'postgresql-database-plugin';

  it('reads a templated URL and the root credentials, with Vault pool defaults', () => {
    const s = driverSettings(plugin, {
      connection_url: 'postgresql://{{username}}:{{password}}@db.local:5433/app?sslmode=disable',
      username: 'vault',
      password: 'p@ss:/w',
    });
    expect(s).toMatchObject({
      kind: 'postgres',
      root: { username: 'vault', password: 'p@ss:/w' },
      pool: { maxOpenConnections: 4, maxIdleConnections: 0, maxConnectionLifetimeSeconds: 0 },
    });
    if (s.kind !== 'postgres') throw new Error('kind');
    // Credentials are percent-encoded into the URL, whatever they contain.
    expect(renderUrl(s.connectionUrl, s.root)).toBe(
      'postgresql://vault:p%40ss%3A%2Fw@db.local:5433/app?sslmode=disable',
    );
  });

  it('takes the user from the URL when there is no username field', () => {
    const s = driverSettings(plugin, { connection_url: 'postgres://admin@127.0.0.1/test' });
    expect(s.root).toEqual({ username: 'admin', password: '' });
  });

  it('refuses a password written in the URL, a missing username, and other forms', () => {
    refused(
      () => driverSettings(plugin, { connection_url: 'postgresql://u:secret@h/db' }),
      'connection_url',
    );
    refused(
      () => driverSettings(plugin, { connection_url: 'postgresql://h/db?password=secret' }),
      'connection_url',
    );
    refused(
      () => driverSettings(plugin, { connection_url: 'postgresql://{{username}}@h/db' }),
      'username',
    );
    refused(() => driverSettings(plugin, { connection_url: 'host=h user=u' }), 'connection_url');
    refused(() => driverSettings(plugin, {}), 'connection_url');
    refused(
      () =>
        driverSettings(plugin, { connection_url: 'postgresql://h/db', max_open_connections: 0 }),
      'max_open_connections',
    );
  });

  it('rotates the root only with {{password}} in the URL', () => {
    expect(
      supportsRootRotation(plugin, {
        connection_url: 'postgresql://{{username}}:{{password}}@h/d',
      }),
    ).toBe(true);
    expect(supportsRootRotation(plugin, { connection_url: 'postgresql://u@h/d' })).toBe(false);
  });
});

describe('mysql-database-plugin', () => {
  const plugin = 'mysql-database-plugin';

  it("reads the Go driver's DSN forms and mysql:// URLs", () => {
    expect(
      driverSettings(plugin, {
        connection_url: '{{username}}:{{password}}@tcp(10.0.0.5:3307)/app?tls=skip-verify',
        username: 'vault',
        password: 'a@b/c',
      }),
    ).toMatchObject({
      host: '10.0.0.5',
      port: 3307,
      database: 'app',
      root: { username: 'vault', password: 'a@b/c' },
      tls: { skipVerify: true },
    });
    expect(driverSettings(plugin, { connection_url: 'root@tcp(127.0.0.1)/' })).toMatchObject({
      host: '127.0.0.1',
      port: 3306,
      root: { username: 'root', password: '' },
    });
    expect(driverSettings(plugin, { connection_url: 'u@unix(/run/mysqld.sock)/db' })).toMatchObject(
      {
        socketPath: '/run/mysqld.sock',
        database: 'db',
      },
    );
    expect(
      driverSettings(plugin, {
        connection_url: 'mysql://{{username}}:{{password}}@h:3310/x',
        username: 'v',
      }),
    ).toMatchObject({ host: 'h', port: 3310, database: 'x', root: { username: 'v' } });
    expect(driverSettings(plugin, { connection_url: 'u@tcp(h)/', tls_ca: 'PEM' })).toMatchObject({
      tls: { ca: 'PEM', skipVerify: false },
    });
  });

  it('refuses a literal password and malformed DSNs', () => {
    refused(
      () => driverSettings(plugin, { connection_url: 'root:secret@tcp(h:3306)/' }),
      'connection_url',
    );
    refused(
      () => driverSettings(plugin, { connection_url: 'root@tcp(h:99999)/' }),
      'connection_url',
    );
    refused(() => driverSettings(plugin, { connection_url: 'no-slash' }), 'connection_url');
    refused(() => driverSettings(plugin, { connection_url: 'u@udp(h)/' }), 'connection_url');
  });
});

describe('redis-database-plugin', () => {
  const plugin = 'redis-database-plugin';

  it('needs host, port, username and password, as Vault does', () => {
    expect(
      driverSettings(plugin, {
        host: 'r',
        port: 6380,
        username: 'u',
        password: 'p',
        tls: true,
        ca_cert: 'PEM',
      }),
    ).toEqual({
      kind: 'redis',
      host: 'r',
      port: 6380,
      root: { username: 'u', password: 'p' },
      tls: true,
      insecureTls: false,
      caCert: 'PEM',
    });
    refused(() => driverSettings(plugin, { port: 1, username: 'u', password: 'p' }), 'host');
    refused(() => driverSettings(plugin, { host: 'r', username: 'u', password: 'p' }), 'port');
    refused(() => driverSettings(plugin, { host: 'r', port: 1, password: 'p' }), 'username');
    refused(() => driverSettings(plugin, { host: 'r', port: 1, username: 'u' }), 'password');
  });
});
