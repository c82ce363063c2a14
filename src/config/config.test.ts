// Tests for the server configuration loader: a full file, the JSON form, every error path,
// environment overrides and the frozen result.
import { describe, it, expect } from 'vitest';
import { CofferError } from '../sdk/errors.js';
import {
  DEFAULT_LEASE_TTL_SECONDS,
  DEFAULT_MAX_REQUEST_SIZE_BYTES,
  devServerConfig,
  parseServerConfig,
  splitListenAddress,
} from './config.js';
import type { ServerConfig } from './config.js';

const NO_ENV: Readonly<Record<string, string | undefined>> = {};

const FULL = `storage "sqlite" {
  path = "/var/lib/coffer/coffer.db"
  synchronous = "normal"   # or "full"
  group_commit = false
}

listener "tcp" {
  address = "0.0.0.0:8200"
  tls_disable = false
  tls_cert_file = "tls/cert.pem"
  tls_key_file = "/etc/coffer/tls/key.pem"
  max_request_size = 1048576
}

seal "static" {            # optional: unattended auto-unseal
  key_env = "COFFER_UNSEAL_KEY"
}

api_addr = "https://coffer.example.com:8200"
log_level = "debug"
default_lease_ttl = "1h"
max_lease_ttl = "768h"
plaintext_cache_lifetime = "5s"
disable_mlock = true   # accepted and ignored
ui = true
`;

/** A valid minimal file, plus extra lines. */
function minimal(extra = ''): string {
  return `storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n}\n${extra}`;
}

function configError(
  text: string,
  env: Readonly<Record<string, string | undefined>> = NO_ENV,
  baseDir?: string,
): CofferError {
  try {
    parseServerConfig(text, env, { baseDir });
  } catch (err) {
    if (err instanceof CofferError) return err;
    throw err;
  }
  throw new Error('expected a configuration error');
}

describe('parseServerConfig: files', () => {
  it('reads a full file, resolving relative paths against baseDir', () => {
    const config = parseServerConfig(FULL, NO_ENV, { baseDir: '/etc/coffer' });
    expect(config).toEqual({
      storage: {
        type: 'sqlite',
        path: '/var/lib/coffer/coffer.db',
        synchronous: 'normal',
        groupCommit: false,
      },
      listener: {
        address: '0.0.0.0:8200',
        tlsDisable: false,
        tlsCertFile: '/etc/coffer/tls/cert.pem',
        tlsKeyFile: '/etc/coffer/tls/key.pem',
        maxRequestSizeBytes: 1_048_576,
      },
      seal: { type: 'static', keyEnv: 'COFFER_UNSEAL_KEY' },
      apiAddr: 'https://coffer.example.com:8200',
      logLevel: 'debug',
      defaultLeaseTtlSeconds: 3600,
      maxLeaseTtlSeconds: 768 * 3600,
      plaintextCacheLifetimeSeconds: 5,
      ui: true,
      awsMount: 'aws/',
      standbyMode: 'forward',
    } satisfies ServerConfig);
  });

  it('leaves relative paths as written without a baseDir', () => {
    const config = parseServerConfig(
      'storage "sqlite" { path = "data/coffer.db" }\nlistener "tcp" { tls_disable = true }\nseal "static" { key_file = "unseal.key" }',
      NO_ENV,
    );
    expect(config.storage).toEqual({
      type: 'sqlite',
      path: 'data/coffer.db',
      synchronous: 'full',
      groupCommit: true,
    });
    expect(config.seal).toEqual({ type: 'static', keyFile: 'unseal.key' });
  });

  it('takes a plaintext cache lifetime of 0 (off) up to 1h', () => {
    expect(parseServerConfig(minimal('plaintext_cache_lifetime = 0'), NO_ENV)).toMatchObject({
      plaintextCacheLifetimeSeconds: 0,
    });
    expect(parseServerConfig(minimal('plaintext_cache_lifetime = "1h"'), NO_ENV)).toMatchObject({
      plaintextCacheLifetimeSeconds: 3600,
    });
  });

  it('fills in defaults', () => {
    const config = parseServerConfig(minimal(), NO_ENV);
    expect(config).toEqual({
      storage: { type: 'inmem' },
      listener: {
        address: '127.0.0.1:8200',
        tlsDisable: true,
        maxRequestSizeBytes: DEFAULT_MAX_REQUEST_SIZE_BYTES,
      },
      logLevel: 'info',
      defaultLeaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
      maxLeaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
      plaintextCacheLifetimeSeconds: 30,
      ui: false,
      awsMount: 'aws/',
      standbyMode: 'forward',
    });
    expect(DEFAULT_LEASE_TTL_SECONDS).toBe(2_764_800);
    expect(DEFAULT_MAX_REQUEST_SIZE_BYTES).toBe(33_554_432);
    expect('seal' in config).toBe(false);
    expect('apiAddr' in config).toBe(false);
  });

  it('reads the JSON form to the same result', () => {
    const json = JSON.stringify({
      storage: {
        sqlite: { path: '/var/lib/coffer/coffer.db', synchronous: 'normal', group_commit: false },
      },
      listener: {
        tcp: {
          address: '0.0.0.0:8200',
          tls_disable: false,
          tls_cert_file: 'tls/cert.pem',
          tls_key_file: '/etc/coffer/tls/key.pem',
          max_request_size: 1048576,
        },
      },
      seal: { static: { key_env: 'COFFER_UNSEAL_KEY' } },
      api_addr: 'https://coffer.example.com:8200',
      log_level: 'debug',
      default_lease_ttl: '1h',
      max_lease_ttl: '768h',
      plaintext_cache_lifetime: '5s',
      disable_mlock: true,
      ui: true,
    });
    const options = { baseDir: '/etc/coffer' };
    expect(parseServerConfig(json, NO_ENV, options)).toEqual(
      parseServerConfig(FULL, NO_ENV, options),
    );
    expect(
      parseServerConfig(
        '{"storage": {"inmem": {}}, "listener": {"tcp": {"tls_disable": true}}}',
        NO_ENV,
      ).storage,
    ).toEqual({ type: 'inmem' });
  });

  it("accepts Vault's spellings of booleans and numbers as strings", () => {
    for (const [value, expected] of [
      ['"true"', true],
      ['1', true],
      ['"1"', true],
      ['"False"', false],
      ['0', false],
      ['false', false],
    ] as const) {
      const text = `storage "inmem" {}\nlistener "tcp" {\n  tls_disable = ${value}\n  tls_cert_file = "c"\n  tls_key_file = "k"\n  max_request_size = "2048"\n}`;
      const config = parseServerConfig(text, NO_ENV);
      expect(config.listener.tlsDisable).toBe(expected);
      expect(config.listener.maxRequestSizeBytes).toBe(2048);
    }
  });

  it("reads Vault's listener timeouts and max_connections; unset ones stay unset", () => {
    const text = `storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n  http_read_header_timeout = "2s"\n  http_read_timeout = 45\n  http_write_timeout = "0"\n  http_idle_timeout = "1m"\n  max_connections = 100\n}`;
    expect(parseServerConfig(text, NO_ENV).listener.connectionLimits).toEqual({
      readHeaderTimeoutMs: 2000,
      readTimeoutMs: 45_000,
      writeTimeoutMs: 0,
      idleTimeoutMs: 60_000,
      maxConnections: 100,
    });
    const none = `storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n}`;
    expect(parseServerConfig(none, NO_ENV).listener.connectionLimits).toBeUndefined();
    for (const bad of ['http_idle_timeout = "soon"', 'max_connections = -1']) {
      const text2 = `storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n  ${bad}\n}`;
      expect(() => parseServerConfig(text2, NO_ENV)).toThrow(
        /listener\.(http_idle_timeout|max_connections)/,
      );
    }
  });

  it('normalises log levels and durations in seconds', () => {
    const config = parseServerConfig(
      minimal('log_level = "WARNING"\ndefault_lease_ttl = 60\nmax_lease_ttl = "1h30m"'),
      NO_ENV,
    );
    expect(config.logLevel).toBe('warn');
    expect(config.defaultLeaseTtlSeconds).toBe(60);
    expect(config.maxLeaseTtlSeconds).toBe(5400);
  });

  it('returns a deep-frozen result', () => {
    const config = parseServerConfig(FULL, NO_ENV, { baseDir: '/etc/coffer' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.storage)).toBe(true);
    expect(Object.isFrozen(config.listener)).toBe(true);
    expect(Object.isFrozen(config.seal)).toBe(true);
    expect(() => {
      (config as { logLevel: string }).logLevel = 'trace';
    }).toThrow(TypeError);
    expect(() => {
      (config.listener as { address: string }).address = '0.0.0.0:1';
    }).toThrow(TypeError);
  });
});

describe('parseServerConfig: errors', () => {
  it.each([
    // unknown keys, with line:col
    [minimal('cluster_addr = "x:8201"'), '5:1: cluster_addr: must be a URL'],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n  tls_min_version = "tls12"\n}',
      '4:3: listener.tls_min_version: unknown key',
    ],
    [
      'storage "inmem" {\n  path = "x"\n}',
      '2:3: storage.path: unknown key (this block takes no settings)',
    ],
    [minimal('telemetry { statsd_address = "x" }'), '5:13: telemetry.statsd_address: unknown key'],
    // missing and repeated blocks
    ['listener "tcp" { tls_disable = true }', 'storage: a storage block is required'],
    ['storage "inmem" {}', 'listener: a listener block is required'],
    ['', 'storage: a storage block is required'],
    [
      minimal('listener "tcp" {\n  tls_disable = true\n}'),
      '5:1: listener: only one listener block is supported for now',
    ],
    [minimal('storage "inmem" {}'), '5:1: storage: only one storage block is allowed'],
    [
      minimal('seal "static" { key_file = "a" }\nseal "static" { key_file = "b" }'),
      '6:1: seal: only one seal block is allowed',
    ],
    // block shapes and types
    [
      'storage "raft" {}\nlistener "tcp" { tls_disable = true }',
      '1:1: storage: unsupported type (supported: sqlite, postgresql, inmem)',
    ],
    [
      'storage = "sqlite"',
      '1:1: storage: must be a block with one type label, e.g. storage "sqlite" { ... }',
    ],
    ['storage { path = "x" }', '1:1: storage: must be a block with one type label'],
    ['storage "sqlite" "x" {}', '1:1: storage: must be a block with one type label'],
    ['storage "inmem" {}\nlistener "unix" {}', '2:1: listener: unsupported type (supported: tcp)'],
    [minimal('seal "awskms" {}'), '5:1: seal: unsupported type (supported: static)'],
    // sqlite settings
    [
      'storage "sqlite" {}\nlistener "tcp" { tls_disable = true }',
      '1:1: storage.path: is required for storage "sqlite"',
    ],
    ['storage "sqlite" {\n  path = ""\n}', '2:3: storage.path: must not be empty'],
    ['storage "sqlite" {\n  path = 1\n}', '2:3: storage.path: must be a string, got a number'],
    [
      'storage "sqlite" {\n  path = "x"\n  synchronous = "off"\n}',
      '3:3: storage.synchronous: must be "full" or "normal"',
    ],
    [
      'storage "sqlite" {\n  path = "x"\n  group_commit = "maybe"\n}',
      '3:3: storage.group_commit: must be a boolean',
    ],
    // TLS
    [
      'storage "inmem" {}\nlistener "tcp" {\n  address = "127.0.0.1:8200"\n}',
      '2:1: listener: TLS is enabled (tls_disable defaults to false',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  tls_cert_file = "c.pem"\n}',
      '2:1: listener: TLS is enabled',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  tls_disable = false\n  tls_key_file = "k.pem"\n}',
      '2:1: listener: TLS is enabled',
    ],
    // listener values
    [
      'storage "inmem" {}\nlistener "tcp" {\n  address = "localhost"\n}',
      '3:3: listener.address: must be host:port',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  address = "127.0.0.1:70000"\n}',
      '3:3: listener.address: port must be between 0 and 65535',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  address = ":8200"\n}',
      '3:3: listener.address: must be host:port',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  max_request_size = -1\n}',
      '3:3: listener.max_request_size: must be between 1 and',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  max_request_size = 0\n}',
      '3:3: listener.max_request_size: must be between 1 and',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  max_request_size = "32MB"\n}',
      '3:3: listener.max_request_size: must be a whole number of bytes',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  max_request_size = 1.5\n}',
      '3:3: listener.max_request_size: must be a whole number of bytes',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n  tls_disable = true\n}',
      '4:3: listener.tls_disable: is set more than once',
    ],
    [
      'storage "inmem" {}\nlistener "tcp" {\n  tls_disable "x" {}\n}',
      '3:3: listener.tls_disable: must be written as tls_disable = <value>',
    ],
    // seal
    [minimal('seal "static" {}'), '5:1: seal: set exactly one of key_file or key_env'],
    [
      minimal('seal "static" {\n  key_file = "a"\n  key_env = "B"\n}'),
      '5:1: seal: set exactly one of key_file or key_env',
    ],
    [
      minimal('seal "static" {\n  key_env = "not a name"\n}'),
      '6:3: seal.key_env: must be the name of an environment variable',
    ],
    // durations
    [
      minimal('default_lease_ttl = "forever"'),
      '5:1: default_lease_ttl: must be a duration such as',
    ],
    [minimal('max_lease_ttl = "0s"'), '5:1: max_lease_ttl: must be a positive duration'],
    [
      minimal('plaintext_cache_lifetime = "61m"'),
      '5:1: plaintext_cache_lifetime: must be at most 1h (0 turns the cache off)',
    ],
    [
      minimal('plaintext_cache_lifetime = "-1s"'),
      '5:1: plaintext_cache_lifetime: must be a duration such as "30s" or "1h"',
    ],
    [
      minimal('default_lease_ttl = ["1h"]'),
      '5:1: default_lease_ttl: must be a duration such as "768h", got a list',
    ],
    [
      minimal('default_lease_ttl = "2h"\nmax_lease_ttl = "1h"'),
      '6:1: max_lease_ttl: must be greater than or equal to default_lease_ttl',
    ],
    // the default max is 32 days, so a longer default alone is an error (at the default's line)
    [
      minimal('default_lease_ttl = "800h"'),
      '5:1: max_lease_ttl: must be greater than or equal to default_lease_ttl',
    ],
    // top-level values
    [
      minimal('log_level = "verbose"'),
      '5:1: log_level: must be one of trace, debug, info, warn, error, fatal',
    ],
    [minimal('ui = "yes"'), '5:1: ui: must be a boolean (true or false), got a string'],
    [minimal('disable_mlock = 2'), '5:1: disable_mlock: must be a boolean'],
    [minimal('api_addr = 8200'), '5:1: api_addr: must be a string, got a number'],
    [minimal('api_addr = "coffer:8200"'), '5:1: api_addr: must be an http:// or https:// URL'],
    [minimal('api_addr = "not a url"'), '5:1: api_addr: must be an http:// or https:// URL'],
    [
      minimal('api_addr = "https://a"\napi_addr = "https://b"'),
      '6:1: api_addr: is set more than once',
    ],
    [minimal('ui "x" {}'), '5:1: ui: must be written as ui = <value>'],
    // syntax errors come through with their positions
    [minimal('ui = '), '5:6: expected a value'],
  ])('%j', (text, message) => {
    const err = configError(text);
    expect(err.code).toBe('invalid_request');
    expect(err.message.startsWith(message), err.message).toBe(true);
  });

  it('names the field in the error', () => {
    expect(configError(minimal('log_level = "verbose"')).field).toBe('log_level');
    expect(configError('storage "sqlite" {\n  path = 1\n}').field).toBe('storage.path');
  });

  it('never echoes a configured value in an error', () => {
    const secretish = 'Sup3rS3cretValue';
    for (const text of [
      minimal(`log_level = "${secretish}"`),
      minimal(`api_addr = "${secretish}"`),
      minimal(`default_lease_ttl = "${secretish}"`),
      minimal(`seal "static" {\n  key_env = "${secretish}!"\n}`),
      `storage "inmem" {}\nlistener "tcp" {\n  address = "${secretish}"\n}`,
      `storage "sqlite" {\n  path = "x"\n  synchronous = "${secretish}"\n}`,
      minimal(`ui = "${secretish}"`),
    ]) {
      expect(configError(text).message).not.toContain(secretish);
    }
  });
});

describe('parseServerConfig: environment overrides', () => {
  const FILE = `storage "sqlite" {
  path = "/file/coffer.db"
}
listener "tcp" {
  address = "127.0.0.1:8200"
  tls_cert_file = "/file/cert.pem"
  tls_key_file = "/file/key.pem"
}
seal "static" {
  key_env = "COFFER_UNSEAL_KEY"
}
api_addr = "https://file.example:8200"
log_level = "info"
`;

  it('apply after the file and win', () => {
    const config = parseServerConfig(
      FILE,
      {
        COFFER_STORAGE_PATH: '/env/coffer.db',
        COFFER_LISTEN_ADDRESS: '[::1]:9200',
        COFFER_LOG_LEVEL: 'error',
        COFFER_API_ADDR: 'http://env.example:9200',
        COFFER_TLS_DISABLE: 'true',
        COFFER_SEAL_KEY_FILE: '/env/unseal.key',
        UNRELATED: 'ignored',
      },
      { baseDir: '/etc/coffer' },
    );
    expect(config.storage).toEqual({
      type: 'sqlite',
      path: '/env/coffer.db',
      synchronous: 'full',
      groupCommit: true,
    });
    expect(config.listener.address).toBe('[::1]:9200');
    expect(config.listener.tlsDisable).toBe(true);
    expect(config.logLevel).toBe('error');
    expect(config.apiAddr).toBe('http://env.example:9200');
    // COFFER_SEAL_KEY_FILE replaces the file's key_env.
    expect(config.seal).toEqual({ type: 'static', keyFile: '/env/unseal.key' });
    expect(Object.isFrozen(config.seal)).toBe(true);
  });

  it('leave the file alone when unset or empty', () => {
    const fromFile = parseServerConfig(FILE, NO_ENV);
    expect(
      parseServerConfig(FILE, { COFFER_LOG_LEVEL: '', COFFER_STORAGE_PATH: undefined }),
    ).toEqual(fromFile);
    expect(fromFile.listener.tlsDisable).toBe(false);
    expect(fromFile.seal).toEqual({ type: 'static', keyEnv: 'COFFER_UNSEAL_KEY' });
  });

  it('can supply what the file lacks', () => {
    const config = parseServerConfig(
      'storage "sqlite" {}\nlistener "tcp" {}',
      { COFFER_STORAGE_PATH: 'rel/coffer.db', COFFER_TLS_DISABLE: '1', COFFER_SEAL_KEY_FILE: 'k' },
      { baseDir: '/etc/coffer' },
    );
    // Paths from the environment are used as given, not resolved against baseDir.
    expect(config.storage).toMatchObject({ type: 'sqlite', path: 'rel/coffer.db' });
    expect(config.listener.tlsDisable).toBe(true);
    expect(config.seal).toEqual({ type: 'static', keyFile: 'k' });
  });

  it('can turn TLS back on, which then needs the files', () => {
    const err = configError(minimal(), { COFFER_TLS_DISABLE: 'false' });
    expect(err.message).toMatch(/^2:1: listener: TLS is enabled/);
  });

  it.each([
    ['COFFER_LOG_LEVEL', 'loud-x1'],
    ['COFFER_LISTEN_ADDRESS', 'nowhere-x1'],
    ['COFFER_LISTEN_ADDRESS', '127.0.0.1:99999'],
    ['COFFER_API_ADDR', 'ftp://x1.example'],
    ['COFFER_TLS_DISABLE', 'perhaps-x1'],
    ['COFFER_SEAL_KEY_FILE', '   '],
  ])('reject a bad %s naming the variable, never the value', (variable, value) => {
    const err = configError(FILE, { [variable]: value });
    expect(err.code).toBe('invalid_request');
    expect(err.field).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    if (value.trim() !== '') expect(err.message).not.toContain(value);
  });

  it('reject COFFER_STORAGE_PATH when the storage is not sqlite', () => {
    const err = configError(minimal(), { COFFER_STORAGE_PATH: '/x.db' });
    expect(err.message).toBe('COFFER_STORAGE_PATH: only applies to storage "sqlite"');
  });
});

describe('devServerConfig', () => {
  it('aws_mount: defaults to aws/, "" turns the door off, nonsense is refused', () => {
    const base = 'storage "inmem" {}\nlistener "tcp" { tls_disable = true }\n';
    expect(parseServerConfig(base, {}).awsMount).toBe('aws/');
    expect(parseServerConfig(`${base}aws_mount = "cloud/aws/"`, {}).awsMount).toBe('cloud/aws/');
    expect(parseServerConfig(`${base}aws_mount = ""`, {}).awsMount).toBeUndefined();
    for (const bad of ['aws', 'sys/', 'auth/aws/', '/aws/', 'a//b/']) {
      expect(() => parseServerConfig(`${base}aws_mount = ${JSON.stringify(bad)}`, {})).toThrow(
        /aws_mount/,
      );
    }
  });

  it('telemetry: unauthenticated_metrics_access opens sys/metrics; wrong types are refused', () => {
    const base = 'storage "inmem" {}\nlistener "tcp" { tls_disable = true }\n';
    expect(parseServerConfig(base, {}).unauthenticatedMetricsAccess).toBeUndefined();
    const open = `${base}telemetry {\n  unauthenticated_metrics_access = true\n  prometheus_retention_time = "30s"\n  disable_hostname = true\n}\n`;
    expect(parseServerConfig(open, {}).unauthenticatedMetricsAccess).toBe(true);
    expect(() =>
      parseServerConfig(`${base}telemetry {\n  unauthenticated_metrics_access = "yes"\n}\n`, {}),
    ).toThrow(/4:3: telemetry.unauthenticated_metrics_access/);
    expect(() =>
      parseServerConfig(`${base}telemetry {\n  statsd_address = "x:1"\n}\n`, {}),
    ).toThrow(/telemetry.statsd_address: unknown key/);
  });

  it('gcp_door: its own listeners; refused where it would shadow the Vault API or a mount', () => {
    const base = 'storage "inmem" {}\nlistener "tcp" { tls_disable = true }\n';
    expect(parseServerConfig(base, {}).gcpDoor).toBeUndefined();
    expect(
      parseServerConfig(
        `${base}gcp_door {\n rest_address = "127.0.0.1:8300"\n grpc_address = "127.0.0.1:8301"\n}`,
        {},
      ).gcpDoor,
    ).toEqual({ mount: 'gcp/', restAddress: '127.0.0.1:8300', grpcAddress: '127.0.0.1:8301' });
    const refused: [string, RegExp][] = [
      [
        'gcp_door { rest_address = "127.0.0.1:8200" }',
        /gcp_door.rest_address: must differ from listener.address/,
      ],
      [
        'gcp_door {\n rest_address = "127.0.0.1:8300"\n grpc_address = "127.0.0.1:8300"\n}',
        /gcp_door.grpc_address/,
      ],
      [
        'gcp_door {\n mount = "aws/"\n rest_address = "127.0.0.1:8300"\n}',
        /gcp_door.mount: must differ from aws_mount/,
      ],
      [
        'gcp_door {\n mount = "sys/"\n rest_address = "127.0.0.1:8300"\n}',
        /gcp_door.mount: must not be a reserved path/,
      ],
      ['gcp_door { mount = "gcp/" }', /gcp_door.rest_address: is required/],
      ['gcp_door { rest_addres = "127.0.0.1:8300" }', /gcp_door.rest_addres: unknown key/],
    ];
    for (const [text, why] of refused) {
      expect(() => parseServerConfig(`${base}${text}`, {})).toThrow(why);
    }
  });

  it('keeps data in memory unless a storage path is given', () => {
    const config = devServerConfig({ address: '127.0.0.1:0' });
    expect(config).toEqual({
      storage: { type: 'inmem' },
      listener: { address: '127.0.0.1:0', tlsDisable: true, maxRequestSizeBytes: 33_554_432 },
      logLevel: 'info',
      defaultLeaseTtlSeconds: 2_764_800,
      maxLeaseTtlSeconds: 2_764_800,
      plaintextCacheLifetimeSeconds: 30,
      ui: false,
      awsMount: 'aws/',
      standbyMode: 'forward',
      gcpDoor: { mount: 'gcp/', restAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0' },
    });
    expect(Object.isFrozen(config.listener)).toBe(true);
    expect(
      devServerConfig({ address: '127.0.0.1:8200', storagePath: '/tmp/x.db' }).storage,
    ).toEqual({
      type: 'sqlite',
      path: '/tmp/x.db',
      synchronous: 'full',
      groupCommit: true,
    });
    expect(
      devServerConfig({ address: '127.0.0.1:8200', storagePath: undefined }).storage.type,
    ).toBe('inmem');
  });

  it('rejects a bad address', () => {
    expect(() => devServerConfig({ address: 'localhost' })).toThrow(/^address: must be host:port/);
  });
});

describe('splitListenAddress', () => {
  it('splits host and port, unbracketing IPv6', () => {
    expect(splitListenAddress('127.0.0.1:8200')).toEqual({ host: '127.0.0.1', port: 8200 });
    expect(splitListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(splitListenAddress('coffer.internal:443')).toEqual({
      host: 'coffer.internal',
      port: 443,
    });
  });

  it('rejects what the loader rejects', () => {
    expect(() => splitListenAddress('::1:8200')).toThrow(CofferError);
    expect(() => splitListenAddress('a:65536')).toThrow(CofferError);
  });
});

describe('parseServerConfig: storage "postgresql"', () => {
  const listener = 'listener "tcp" { tls_disable = true }\n';
  const URL_WITH_PASSWORD = 'postgres://coffer:CANARY-pg-password@db.internal:5432/coffer';

  it("reads Vault's stanza with HA, api_addr and cluster_addr", () => {
    const config = parseServerConfig(
      `storage "postgresql" {
        connection_url = "${URL_WITH_PASSWORD}"
        table = "kv"
        ha_enabled = "true"
        ha_table = "locks"
      }
      ${listener}
      api_addr = "http://10.0.0.5:8200"
      cluster_addr = "https://10.0.0.5:8201"
      ha_standby_mode = "redirect"`,
      {},
    );
    expect(config.storage).toEqual({
      type: 'postgresql',
      connectionUrl: URL_WITH_PASSWORD,
      table: 'kv',
      haTable: 'locks',
      haEnabled: true,
      groupCommit: true,
    });
    expect(config.clusterAddr).toBe('https://10.0.0.5:8201');
    expect(config.standbyMode).toBe('redirect');
  });

  it('reads the URL from connection_url_env, or from COFFER_PG_CONNECTION_URL by default', () => {
    const named = parseServerConfig(
      `storage "postgresql" { connection_url_env = "MY_PG" }\n${listener}`,
      { MY_PG: URL_WITH_PASSWORD },
    );
    expect(named.storage).toMatchObject({
      connectionUrl: URL_WITH_PASSWORD,
      table: 'coffer_kv_store',
    });
    const byDefault = parseServerConfig(`storage "postgresql" {}\n${listener}`, {
      COFFER_PG_CONNECTION_URL: URL_WITH_PASSWORD,
    });
    expect(byDefault.storage).toMatchObject({ connectionUrl: URL_WITH_PASSWORD, haEnabled: false });
    expect(byDefault.standbyMode).toBe('forward');
  });

  it('names the field and never echoes the URL in its errors', () => {
    const cases: [string, Record<string, string>, string][] = [
      [`storage "postgresql" {}\n${listener}`, {}, 'COFFER_PG_CONNECTION_URL'],
      [
        `storage "postgresql" { connection_url = "mysql://CANARY-pg-password@x/y" }\n${listener}`,
        {},
        'storage.connection_url',
      ],
      [
        `storage "postgresql" { connection_url_env = "X" }\n${listener}`,
        { X: 'http://CANARY-pg-password@x' },
        'X',
      ],
      [
        `storage "postgresql" { connection_url = "${URL_WITH_PASSWORD}" \n table = "a b" }\n${listener}`,
        {},
        'storage.table',
      ],
      [
        `storage "postgresql" { connection_url = "${URL_WITH_PASSWORD}" \n ha_enabled = true }\n${listener}`,
        {},
        'api_addr',
      ],
      [
        `storage "postgresql" { connection_url = "${URL_WITH_PASSWORD}" }\n${listener}ha_standby_mode = "proxy"`,
        {},
        'ha_standby_mode',
      ],
    ];
    for (const [text, env, field] of cases) {
      let caught: unknown;
      try {
        parseServerConfig(text, env);
      } catch (err) {
        caught = err;
      }
      expect(caught, field).toBeInstanceOf(CofferError);
      expect((caught as CofferError).message).toContain(field);
      expect((caught as CofferError).message).not.toContain('CANARY');
    }
  });
});
