import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closedLoopbackPort, kvV2Probe, routeFetch } from '../client/testing.js';
import type { CannedReply, Responder } from '../client/testing.js';
import { runCli } from './main.js';

const ADDR = 'http://127.0.0.1:8200';
const TOKEN = 'hvs.cli-test-token';

interface RunOptions {
  readonly routes?: Readonly<Record<string, CannedReply | Responder>>;
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: string;
  readonly stdoutIsTty?: boolean;
  readonly stdinIsTty?: boolean;
  readonly realFetch?: boolean;
}

async function run(argv: string[], options: RunOptions = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const rec = routeFetch(options.routes ?? {});
  const stdin = options.stdin;
  const code = await runCli(argv, {
    env: { COFFER_ADDR: ADDR, COFFER_TOKEN: TOKEN, ...options.env },
    stdout: (s) => stdout.push(s),
    stderr: (s) => stderr.push(s),
    ...(options.realFetch === true ? {} : { fetch: rec.fetch }),
    ...(stdin === undefined ? {} : { stdin: () => Promise.resolve(stdin) }),
    ...(options.stdoutIsTty === undefined ? {} : { stdoutIsTty: options.stdoutIsTty }),
    ...(options.stdinIsTty === undefined ? {} : { stdinIsTty: options.stdinIsTty }),
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), requests: rec.requests };
}

const temp = mkdtempSync(join(tmpdir(), 'coffer-cli-test-'));
afterAll(() => {
  rmSync(temp, { recursive: true, force: true });
});

const UNSEALED = {
  type: 'shamir',
  initialized: true,
  sealed: false,
  t: 1,
  n: 1,
  progress: 0,
  nonce: '',
  version: '0.1.0',
  storage_type: 'inmem',
};

const META = {
  created_time: '2024-05-01T10:00:00.000000001Z',
  custom_metadata: null,
  deletion_time: '',
  destroyed: false,
  version: 2,
};

const KV = {
  'GET sys/internal/ui/mounts/*': kvV2Probe('secret/'),
  'GET secret/data/app/db': {
    body: {
      request_id: 'r1',
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: { data: { password: 's3cret', user: 'admin' }, metadata: META },
      warnings: null,
    },
  },
} as const;

describe('global behaviour', () => {
  it('prints top-level help and versions', async () => {
    expect((await run(['help'])).stdout).toMatch(/^Usage: coffer <command>/);
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: coffer <command>/);
    const version = await run(['version']);
    expect(version).toMatchObject({ code: 0 });
    expect(version.stdout).toMatch(/^Coffer v\d+\.\d+\.\d+\n$/);
    expect((await run(['--version'])).stdout).toBe(version.stdout);
  });

  it('prints per-command and group help', async () => {
    const get = await run(['kv', 'get', '-h']);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain('Usage: coffer kv get [options] PATH');
    expect(get.stdout).toContain('-version=<int>');
    expect(get.stdout).toContain('-field=<name>');
    expect(get.stdout).toContain('-help\n      Show this help (also -h).');
    expect(get.stdout).not.toMatch(/^ {2}-h$/m);
    expect((await run(['help', 'kv', 'metadata', 'put'])).stdout).toContain(
      '-custom-metadata=<key=value>',
    );
    const group = await run(['kv', '--help']);
    expect(group.stdout).toMatch(/Subcommands:[\s\S]*metadata[\s\S]*undelete/);
    const bare = await run(['kv']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: coffer kv <subcommand>');
  });

  it('rejects unknown commands and flags with exit code 2', async () => {
    const unknown = await run(['kv', 'fetch', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Error: unknown command "fetch" for "coffer kv"/);
    const flag = await run(['status', '-tokn=hvs.leaked']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('Error: flag provided but not defined: -tokn');
    expect(flag.stderr).not.toContain('hvs.leaked');
    expect((await run(['status', '-format=xml'])).code).toBe(2);
    expect((await run(['status', 'extra'])).stderr).toContain('too many arguments');
  });

  it('takes the address and token from flags, then COFFER_*, then VAULT_*', async () => {
    const routes = { 'GET sys/seal-status': { body: UNSEALED } };
    const byFlag = await run(['status', '-address=http://flag:1', '-token', 'tok-flag'], {
      routes,
    });
    expect(byFlag.requests[0]!.url.origin).toBe('http://flag:1');
    expect(byFlag.requests[0]!.headers['x-vault-token']).toBe('tok-flag');

    const vaultEnv = await run(['status'], {
      routes,
      env: {
        COFFER_ADDR: '',
        COFFER_TOKEN: '',
        VAULT_ADDR: 'http://vault:2',
        VAULT_TOKEN: 'tok-v',
      },
    });
    expect(vaultEnv.requests[0]!.url.origin).toBe('http://vault:2');
    expect(vaultEnv.requests[0]!.headers['x-vault-token']).toBe('tok-v');

    const both = await run(['status'], {
      routes,
      env: { COFFER_TOKEN: 'tok-c', VAULT_TOKEN: 'tok-v' },
    });
    expect(both.requests[0]!.headers['x-vault-token']).toBe('tok-c');
  });

  it('falls back to ~/.coffer-token and to the default address', async () => {
    const home = join(temp, 'home');
    rmSync(home, { recursive: true, force: true });
    const routes = { 'GET sys/seal-status': { body: UNSEALED } };
    const env = { HOME: home, COFFER_ADDR: undefined, COFFER_TOKEN: undefined };
    const noFile = await run(['status'], { routes, env });
    expect(noFile.requests[0]!.headers['x-vault-token']).toBeUndefined();
    expect(noFile.requests[0]!.url.origin).toBe('http://127.0.0.1:8200');

    const { mkdirSync } = await import('node:fs');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.coffer-token'), 'tok-file\n');
    const withFile = await run(['status'], { routes, env });
    expect(withFile.requests[0]!.headers['x-vault-token']).toBe('tok-file');
  });

  it('reports API errors in one line with the status, never the token', async () => {
    const denied = await run(['kv', 'get', 'secret/app/db'], {
      routes: {
        'GET sys/internal/ui/mounts/*': { status: 403, body: { errors: ['permission denied'] } },
      },
    });
    expect(denied).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: permission denied (403)\n',
    });
    const empty = await run(['read', 'x'], { routes: { 'GET x': { status: 500, body: {} } } });
    expect(empty.stderr).toBe('Error: request failed (500)\n');
  });

  it('reports an unreachable server with its address and errno', async () => {
    const port = await closedLoopbackPort();
    const result = await run(['status'], {
      realFetch: true,
      env: { COFFER_ADDR: `http://127.0.0.1:${port}` },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error: cannot reach Coffer at http://127.0.0.1:${port}: connection refused (ECONNREFUSED)\n`,
    );
    expect(result.stderr).not.toContain(TOKEN);
  });
});

describe('status and operator', () => {
  it('prints the seal status and exits 0 when unsealed', async () => {
    const result = await run(['status'], { routes: { 'GET sys/seal-status': { body: UNSEALED } } });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        'Key             Value',
        '---             -----',
        'Seal Type       shamir',
        'Initialized     true',
        'Sealed          false',
        'Total Shares    1',
        'Threshold       1',
        'Version         0.1.0',
        'Storage Type    inmem',
        '',
      ].join('\n'),
    );
  });

  it('exits 2 when sealed and shows unseal progress', async () => {
    const sealed = { ...UNSEALED, sealed: true, t: 3, n: 5, progress: 1 };
    const result = await run(['status'], { routes: { 'GET sys/seal-status': { body: sealed } } });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^Unseal Progress {4}1\/3$/m);
    expect(result.stdout).toMatch(/^Unseal Nonce {7}n\/a$/m);
    const json = await run(['status', '-format=json'], {
      routes: { 'GET sys/seal-status': { body: sealed } },
    });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual(sealed);
  });

  it('initializes with the requested shares and prints keys and the root token', async () => {
    const routes = {
      'PUT sys/init': {
        body: { keys: ['aa', 'bb'], keys_base64: ['qg==', 'uw=='], root_token: 'hvs.root' },
      },
    };
    const table = await run(['operator', 'init', '-key-shares=2', '-key-threshold=2'], { routes });
    expect(table.code).toBe(0);
    expect(table.requests[0]!.body).toEqual({ secret_shares: 2, secret_threshold: 2 });
    expect(table.stdout).toMatch(
      /^Unseal Key 1: qg==\nUnseal Key 2: uw==\n\nInitial Root Token: hvs\.root\n/,
    );
    expect(table.stdout).toContain('key threshold of 2');
    const json = await run(['operator', 'init', '-format=json'], { routes });
    expect(json.requests[0]!.body).toEqual({ secret_shares: 5, secret_threshold: 3 });
    expect(JSON.parse(json.stdout)).toEqual({
      unseal_keys_b64: ['qg==', 'uw=='],
      unseal_keys_hex: ['aa', 'bb'],
      unseal_shares: 5,
      unseal_threshold: 3,
      root_token: 'hvs.root',
    });
    expect((await run(['operator', 'init', '-key-shares=2', '-key-threshold=3'])).code).toBe(2);
  });

  it('reports init status with exit codes', async () => {
    const routes = { 'GET sys/seal-status': { body: { ...UNSEALED, initialized: false } } };
    const result = await run(['operator', 'init', '-status'], { routes });
    expect(result).toMatchObject({ code: 2, stdout: 'Coffer is not initialized\n' });
  });

  it('unseals with a key argument, from stdin, or resets', async () => {
    const routes = { 'PUT sys/unseal': { body: UNSEALED } };
    const arg = await run(['operator', 'unseal', 'key-one'], { routes });
    expect(arg.code).toBe(0);
    expect(arg.requests[0]!.body).toEqual({ key: 'key-one' });
    expect(arg.stdout).toMatch(/^Sealed {10}false$/m);

    const piped = await run(['operator', 'unseal'], { routes, stdin: '  key-two\n' });
    expect(piped.requests[0]!.body).toEqual({ key: 'key-two' });
    expect(piped.stderr).toBe('');

    const tty = await run(['operator', 'unseal'], { routes, stdin: 'k3', stdinIsTty: true });
    expect(tty.stderr).toBe('Unseal Key (will be hidden): ');

    const reset = await run(['operator', 'unseal', '-reset'], { routes });
    expect(reset.requests[0]!.body).toEqual({ reset: true });

    const empty = await run(['operator', 'unseal'], { routes, stdin: '\n' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('missing unseal key');
    expect((await run(['operator', 'unseal'], { routes })).code).toBe(2);
  });

  it('seals, rotates and prints the key status', async () => {
    const keyStatus = { data: { term: 2, install_time: '2024-05-01T10:00:00Z', encryptions: 7 } };
    const routes = {
      'PUT sys/seal': { status: 204 },
      'PUT sys/rotate': { status: 204 },
      'GET sys/key-status': { body: keyStatus },
    };
    expect((await run(['operator', 'seal'], { routes })).stdout).toBe(
      'Success! Coffer is sealed.\n',
    );
    const rotate = await run(['operator', 'rotate'], { routes });
    expect(rotate.stdout).toBe(
      'Success! Rotated key\n\nKey Term            2\nInstall Time        01 May 24 10:00 UTC\nEncryption Count    7\n',
    );
    const json = await run(['operator', 'key-status', '-format=json'], { routes });
    expect(JSON.parse(json.stdout)).toEqual(keyStatus.data);
  });
});

describe('kv get', () => {
  it('prints path, metadata and data tables for KV v2', async () => {
    const result = await run(['kv', 'get', 'secret/app/db'], { routes: KV });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        '=== Secret Path ===',
        'secret/data/app/db',
        '',
        '======= Metadata =======',
        'Key                Value',
        '---                -----',
        'created_time       2024-05-01T10:00:00.000000001Z',
        'custom_metadata    <nil>',
        'deletion_time      n/a',
        'destroyed          false',
        'version            2',
        '',
        '====== Data ======',
        'Key         Value',
        '---         -----',
        'password    s3cret',
        'user        admin',
        '',
      ].join('\n'),
    );
  });

  it('accepts -mount, -version after the path, and prints one field raw', async () => {
    const result = await run(
      ['kv', 'get', '-mount=secret', 'app/db', '-version', '2', '-field=password'],
      {
        routes: KV,
      },
    );
    expect(result).toMatchObject({ code: 0, stdout: 's3cret' });
    expect(result.requests[0]!.path).toBe('sys/internal/ui/mounts/secret');
    expect(result.requests[1]!.query).toEqual({ version: '2' });
    const tty = await run(['kv', 'get', '-field=user', 'secret/app/db'], {
      routes: KV,
      stdoutIsTty: true,
    });
    expect(tty.stdout).toBe('admin\n');
    const missing = await run(['kv', 'get', '-field=nope', 'secret/app/db'], { routes: KV });
    expect(missing).toMatchObject({
      code: 1,
      stderr: 'Error: field "nope" not present in secret\n',
    });
  });

  it('prints the raw response with -format=json', async () => {
    const result = await run(['kv', 'get', '-format=json', 'secret/app/db'], { routes: KV });
    expect(result.stdout).toBe(`${JSON.stringify(KV['GET secret/data/app/db'].body, null, 2)}\n`);
  });

  it('says no value found (exit 2) for a missing key', async () => {
    const result = await run(['kv', 'get', 'secret/nope'], { routes: KV });
    expect(result).toMatchObject({
      code: 2,
      stderr: 'Error: no value found at secret/data/nope\n',
    });
  });

  it('shows only metadata for a deleted version', async () => {
    const deleted = { ...META, deletion_time: '2024-05-02T00:00:00Z' };
    const routes = {
      ...KV,
      'GET secret/data/gone': { status: 404, body: { data: { data: null, metadata: deleted } } },
    };
    const result = await run(['kv', 'get', 'secret/gone'], { routes });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('deletion_time      2024-05-02T00:00:00Z');
    expect(result.stdout).not.toContain('Data ==');
  });

  it('prints a plain data table for KV v1', async () => {
    const routes = { 'GET kv/cfg': { body: { lease_duration: 2764800, data: { mode: 'fast' } } } };
    const result = await run(['kv', 'get', 'kv/cfg'], { routes });
    expect(result.stdout).toBe('==== Data ====\nKey     Value\n---     -----\nmode    fast\n');
  });

  it('needs a path', async () => {
    const result = await run(['kv', 'get']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing PATH');
    expect((await run(['kv', 'get', '-version=x', 'secret/a'])).code).toBe(2);
  });
});

describe('kv writes', () => {
  const writeRoutes = {
    ...KV,
    'PUT secret/data/app/db': { body: { data: META } },
    'PATCH secret/data/app/db': { body: { data: META } },
  };

  it('puts key=value, key=@file and key=- and prints the new version', async () => {
    const file = join(temp, 'cert.pem');
    writeFileSync(file, 'CERT\nDATA\n');
    const result = await run(
      ['kv', 'put', '-cas=0', 'secret/app/db', 'user=admin', `cert=@${file}`, 'pin=-'],
      {
        routes: writeRoutes,
        stdin: '1234',
      },
    );
    expect(result.code).toBe(0);
    expect(result.requests[1]!.method).toBe('PUT');
    expect(result.requests[1]!.body).toEqual({
      data: { user: 'admin', cert: 'CERT\nDATA\n', pin: '1234' },
      options: { cas: 0 },
    });
    expect(result.stdout).toMatch(
      /^=== Secret Path ===\nsecret\/data\/app\/db\n\n======= Metadata =======\n/,
    );
    expect(result.stdout).toMatch(/^version {12}2$/m);
  });

  it('puts a JSON object from stdin with "-"', async () => {
    const result = await run(['kv', 'put', 'secret/app/db', '-'], {
      routes: writeRoutes,
      stdin: '{"n": 3, "nested": {"a": true}}',
    });
    expect(result.requests[1]!.body).toEqual({ data: { n: 3, nested: { a: true } } });
  });

  it('prints a field or JSON of the write answer', async () => {
    const field = await run(['kv', 'put', '-field=version', 'secret/app/db', 'a=b'], {
      routes: writeRoutes,
    });
    expect(field.stdout).toBe('2');
    const json = await run(['kv', 'put', '-format=json', 'secret/app/db', 'a=b'], {
      routes: writeRoutes,
    });
    expect(JSON.parse(json.stdout)).toEqual({ data: META });
  });

  it('refuses bad data arguments without echoing them', async () => {
    const noData = await run(['kv', 'put', 'secret/app/db'], { routes: writeRoutes });
    expect(noData.code).toBe(2);
    const bad = await run(['kv', 'put', 'secret/app/db', 'a=b', 'hunter2'], {
      routes: writeRoutes,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('argument 2 is not a key=value pair');
    expect(bad.stderr).not.toContain('hunter2');
    const badJson = await run(['kv', 'put', 'secret/app/db', '-'], {
      routes: writeRoutes,
      stdin: 'hunter2',
    });
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('standard input is not valid JSON');
    expect(badJson.stderr).not.toContain('hunter2');
    const twice = await run(['kv', 'put', 'secret/app/db', 'a=-', 'b=-'], {
      routes: writeRoutes,
      stdin: 'x',
    });
    expect(twice.stderr).toContain('standard input can be read only once');
    const noFile = await run(['kv', 'put', 'secret/app/db', `a=@${join(temp, 'absent')}`], {
      routes: writeRoutes,
    });
    expect(noFile.stderr).toContain('ENOENT');
  });

  it('patches with a merge patch and -cas', async () => {
    const result = await run(['kv', 'patch', '-cas=2', 'secret/app/db', 'user=root'], {
      routes: writeRoutes,
    });
    expect(result.code).toBe(0);
    expect(result.requests[1]!.method).toBe('PATCH');
    expect(result.requests[1]!.headers['content-type']).toBe('application/merge-patch+json');
    expect(result.requests[1]!.body).toEqual({ data: { user: 'root' }, options: { cas: 2 } });
  });

  it('puts on KV v1 with a success line, and refuses patch there', async () => {
    const routes = { 'PUT kv/cfg': { status: 204 } };
    const put = await run(['kv', 'put', 'kv/cfg', 'mode=fast'], { routes });
    expect(put.stdout).toBe('Success! Data written to: kv/cfg\n');
    expect(put.requests[1]!.body).toEqual({ mode: 'fast' });
    const patch = await run(['kv', 'patch', 'kv/cfg', 'mode=slow'], { routes });
    expect(patch.code).toBe(1);
    expect(patch.stderr).toBe(
      'Error: patch needs a KV version 2 mount; this path is on KV version 1\n',
    );
  });
});

describe('kv list, delete, undelete, destroy', () => {
  const routes = {
    ...KV,
    'LIST secret/metadata/app/': { body: { data: { keys: ['db', 'team/'] } } },
    'DELETE secret/data/app/db': { status: 204 },
    'POST secret/delete/app/db': { status: 204 },
    'POST secret/undelete/app/db': { status: 204 },
    'PUT secret/destroy/app/db': { status: 204 },
  };

  it('lists keys as a table or JSON, and says when there are none', async () => {
    expect((await run(['kv', 'list', 'secret/app'], { routes })).stdout).toBe(
      'Keys\n----\ndb\nteam/\n',
    );
    const json = await run(['kv', 'list', '-format=json', 'secret/app/'], { routes });
    expect(JSON.parse(json.stdout)).toEqual(['db', 'team/']);
    const none = await run(['kv', 'list', 'secret/empty'], { routes });
    expect(none).toMatchObject({
      code: 2,
      stderr: 'Error: no value found at secret/metadata/empty/\n',
    });
  });

  it('deletes the latest version or the given versions', async () => {
    const latest = await run(['kv', 'delete', 'secret/app/db'], { routes });
    expect(latest.stdout).toBe('Success! Data deleted (if it existed) at: secret/data/app/db\n');
    const some = await run(['kv', 'delete', '-versions=1,2', 'secret/app/db'], { routes });
    expect(some.requests[1]!.body).toEqual({ versions: [1, 2] });
    expect(some.stdout).toBe('Success! Data deleted (if it existed) at: secret/delete/app/db\n');
  });

  it('undeletes and destroys named versions, and needs -versions', async () => {
    const undelete = await run(['kv', 'undelete', '-versions=2', 'secret/app/db'], { routes });
    expect(undelete.stdout).toBe('Success! Data written to: secret/undelete/app/db\n');
    const destroy = await run(['kv', 'destroy', 'secret/app/db', '-versions', '1'], { routes });
    expect(destroy.requests[1]).toMatchObject({ method: 'PUT', body: { versions: [1] } });
    const missing = await run(['kv', 'destroy', 'secret/app/db'], { routes });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no versions given');
  });
});

describe('kv metadata', () => {
  const full = {
    cas_required: false,
    created_time: '2024-05-01T10:00:00Z',
    current_version: 2,
    custom_metadata: { owner: 'ops' },
    delete_version_after: '0s',
    max_versions: 0,
    oldest_version: 1,
    updated_time: '2024-05-01T11:00:00Z',
    versions: {
      '10': { created_time: 't10', deletion_time: '', destroyed: false },
      '2': { created_time: 't2', deletion_time: '', destroyed: true },
    },
  };
  const routes = {
    ...KV,
    'GET secret/metadata/app/db': { body: { data: full } },
    'POST secret/metadata/app/db': { status: 204 },
    'DELETE secret/metadata/app/db': { status: 204 },
  };

  it('prints metadata then one table per version in numeric order', async () => {
    const result = await run(['kv', 'metadata', 'get', 'secret/app/db'], { routes });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^==== Metadata Path ====\nsecret\/metadata\/app\/db\n\n/);
    expect(result.stdout).toMatch(/^custom_metadata {9}map\[owner:ops\]$/m);
    expect(result.stdout.indexOf('Version 2')).toBeLessThan(result.stdout.indexOf('Version 10'));
    expect(result.stdout).not.toMatch(/^versions/m);
    const field = await run(['kv', 'metadata', 'get', '-field=current_version', 'secret/app/db'], {
      routes,
    });
    expect(field.stdout).toBe('2');
  });

  it('puts only the flags given', async () => {
    const result = await run(
      [
        'kv',
        'metadata',
        'put',
        '-max-versions=5',
        '-cas-required',
        '-delete-version-after=3h',
        '-custom-metadata=owner=ops',
        '-custom-metadata',
        'tier=gold',
        'secret/app/db',
      ],
      { routes },
    );
    expect(result.stdout).toBe('Success! Data written to: secret/metadata/app/db\n');
    expect(result.requests[1]!.body).toEqual({
      max_versions: 5,
      cas_required: true,
      delete_version_after: '3h',
      custom_metadata: { owner: 'ops', tier: 'gold' },
    });
    const one = await run(['kv', 'metadata', 'put', '-cas-required=false', 'secret/app/db'], {
      routes,
    });
    expect(one.requests[1]!.body).toEqual({ cas_required: false });
  });

  it('deletes all versions', async () => {
    const result = await run(['kv', 'metadata', 'delete', 'secret/app/db'], { routes });
    expect(result.stdout).toBe(
      'Success! Data deleted (if it existed) at: secret/metadata/app/db\n',
    );
    expect(result.requests[1]!.method).toBe('DELETE');
  });
});

describe('secrets', () => {
  const mounts = {
    'sys/': {
      type: 'system',
      description: 'system endpoints',
      accessor: 'system_1',
      config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
      options: null,
      local: false,
      seal_wrap: true,
      uuid: 'u-sys',
    },
    'secret/': {
      type: 'kv',
      description: '',
      accessor: 'kv_2',
      config: { default_lease_ttl: 3600, max_lease_ttl: 0, force_no_cache: false },
      options: { version: '2' },
      local: false,
      seal_wrap: false,
      uuid: 'u-kv',
    },
  };
  const routes = {
    'GET sys/mounts': { body: { data: mounts } },
    'POST sys/mounts/*': { status: 204 },
    'DELETE sys/mounts/*': { status: 204 },
  };

  it('enables kv-v2 as kv version 2 at the type name', async () => {
    const result = await run(['secrets', 'enable', 'kv-v2'], { routes });
    expect(result.stdout).toBe('Success! Enabled the kv secrets engine at: kv-v2/\n');
    expect(result.requests[0]).toMatchObject({
      method: 'POST',
      path: 'sys/mounts/kv-v2',
      body: { type: 'kv', options: { version: '2' } },
    });
  });

  it('enables with path, description, version, TTLs and options', async () => {
    const result = await run(
      [
        'secrets',
        'enable',
        '-path=team/kv/',
        '-description=Team secrets',
        '-version=1',
        '-default-lease-ttl=1h',
        '-max-lease-ttl=2h',
        '-options=a=b',
        'kv',
      ],
      { routes },
    );
    expect(result.stdout).toBe('Success! Enabled the kv secrets engine at: team/kv/\n');
    expect(result.requests[0]).toMatchObject({
      path: 'sys/mounts/team/kv',
      body: {
        type: 'kv',
        description: 'Team secrets',
        options: { a: 'b', version: '1' },
        config: { default_lease_ttl: '1h', max_lease_ttl: '2h' },
      },
    });
  });

  it('lists mounts sorted, detailed, or as JSON', async () => {
    const table = await run(['secrets', 'list'], { routes });
    expect(table.stdout).toBe(
      [
        'Path       Type      Accessor    Description',
        '----       ----      --------    -----------',
        'secret/    kv        kv_2        n/a',
        'sys/       system    system_1    system endpoints',
        '',
      ].join('\n'),
    );
    const detailed = await run(['secrets', 'list', '-detailed'], { routes });
    expect(detailed.stdout).toMatch(
      /^secret\/\s+kv\s+kv_2\s+1h\s+system\s+false\s+replicated\s+false\s+false\s+map\[version:2\]\s+n\/a\s+u-kv$/m,
    );
    const json = await run(['secrets', 'list', '-format=json'], { routes });
    expect(JSON.parse(json.stdout)).toEqual(mounts);
  });

  it('tunes and disables', async () => {
    const tune = await run(
      ['secrets', 'tune', '-default-lease-ttl=30m', '-description=d', 'secret/'],
      { routes },
    );
    expect(tune.stdout).toBe('Success! Tuned the secrets engine at: secret/\n');
    expect(tune.requests[0]).toMatchObject({
      path: 'sys/mounts/secret/tune',
      body: { default_lease_ttl: '30m', description: 'd' },
    });
    const disable = await run(['secrets', 'disable', 'secret'], { routes });
    expect(disable.stdout).toBe(
      'Success! Disabled the secrets engine (if it existed) at: secret/\n',
    );
    expect(disable.requests[0]).toMatchObject({ method: 'DELETE', path: 'sys/mounts/secret' });
    expect((await run(['secrets', 'enable'], { routes })).code).toBe(2);
  });
});

describe('generic read, write, list, delete', () => {
  const routes = {
    'GET kv/cfg': { body: { lease_id: '', lease_duration: 2764800, data: { b: '2', a: '1' } } },
    'PUT kv/cfg': { status: 204 },
    'PUT auth/token/create': {
      body: {
        auth: {
          client_token: 'hvs.child',
          accessor: 'acc',
          policies: ['default'],
          token_policies: ['default'],
          metadata: null,
          lease_duration: 3600,
          renewable: true,
        },
      },
    },
    'LIST kv/': { body: { data: { keys: ['cfg'] } } },
    'DELETE kv/cfg': { status: 204 },
  };

  it('reads as a table, JSON or one field', async () => {
    const table = await run(['read', 'kv/cfg'], { routes });
    expect(table.stdout).toBe(
      'Key                 Value\n---                 -----\nrefresh_interval    768h\na                   1\nb                   2\n',
    );
    const json = await run(['read', '-format=json', 'kv/cfg'], { routes });
    expect(JSON.parse(json.stdout).data).toEqual({ b: '2', a: '1' });
    expect((await run(['read', '-field=b', 'kv/cfg'], { routes })).stdout).toBe('2');
    const query = await run(['read', 'kv/cfg', 'version=3'], { routes });
    expect(query.requests[0]!.query).toEqual({ version: '3' });
    const missing = await run(['read', 'kv/none'], { routes });
    expect(missing).toMatchObject({ code: 2, stderr: 'Error: no value found at kv/none\n' });
  });

  it('writes pairs or a JSON body and prints any answer', async () => {
    const plain = await run(['write', 'kv/cfg', 'a=1'], { routes });
    expect(plain.stdout).toBe('Success! Data written to: kv/cfg\n');
    expect(plain.requests[0]).toMatchObject({ method: 'PUT', body: { a: '1' } });
    const json = await run(['write', 'kv/cfg', '-'], { routes, stdin: '{"ttl": 60}' });
    expect(json.requests[0]!.body).toEqual({ ttl: 60 });
    const token = await run(['write', 'auth/token/create', 'policies=default'], { routes });
    expect(token.stdout).toMatch(/^token_duration {7}1h$/m);
    expect(token.stdout).toMatch(/^token_policies {7}\["default"\]$/m);
    expect((await run(['write', 'kv/cfg'], { routes })).code).toBe(2);
    const forced = await run(['write', '-force', 'auth/token/create'], { routes });
    expect(forced.requests[0]!.body).toEqual({});
  });

  it('lists and deletes', async () => {
    expect((await run(['list', 'kv'], { routes })).stdout).toBe('Keys\n----\ncfg\n');
    const none = await run(['list', 'nothing'], { routes });
    expect(none).toMatchObject({ code: 2, stderr: 'Error: no value found at nothing/\n' });
    const del = await run(['delete', 'kv/cfg'], { routes });
    expect(del.stdout).toBe('Success! Data deleted (if it existed) at: kv/cfg\n');
  });
});
