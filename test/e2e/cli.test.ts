// End to end: a real dev server as a child process on a loopback port, and the built `coffer`
// CLI run as child processes against it, through the main flows and the error paths.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedLoopbackPort } from '../../src/client/testing.js';
import { runCoffer, type CliResult } from '../helpers/server-process.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'coffer.js');
const ROOT_TOKEN = `e2e-root-${randomBytes(12).toString('hex')}`;
const START_TIMEOUT_MS = 30_000;
/** Server output kept for failure messages (bounded). */
const MAX_SERVER_OUTPUT = 64 * 1024;

let server: ChildProcess | undefined;
let serverOutput = '';
let address = '';
let home = '';
/** Every stderr the CLI printed, checked at the end for the root token. */
const allStderr: string[] = [];

function keepOutput(chunk: Buffer): void {
  serverOutput = (serverOutput + chunk.toString('utf8')).slice(-MAX_SERVER_OUTPUT);
}

/** Starts the dev server and resolves with the address it prints once listening. */
function startServer(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'server',
        '--dev',
        '--dev-in-memory',
        '--dev-listen-address',
        '127.0.0.1:0',
        '--dev-root-token-id',
        ROOT_TOKEN,
      ],
      {
        cwd: REPO,
        env: { PATH: process.env['PATH'] ?? '', HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    server = child;
    let stdoutText = '';
    const timer = setTimeout(() => {
      reject(
        new Error(
          `dev server did not print "Api Address:" within ${START_TIMEOUT_MS} ms:\n${serverOutput}`,
        ),
      );
    }, START_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      keepOutput(chunk);
      if (address !== '') return;
      stdoutText = (stdoutText + chunk.toString('utf8')).slice(-MAX_SERVER_OUTPUT);
      const match = /Api Address: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdoutText);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr.on('data', keepOutput);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`dev server exited early (code ${code}, signal ${signal}):\n${serverOutput}`),
      );
    });
  });
}

async function stopServer(): Promise<void> {
  const child = server;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Runs `node bin/coffer.js ...args` against the dev server. */
function coffer(
  args: readonly string[],
  options: { readonly input?: string; readonly env?: Record<string, string> } = {},
): Promise<CliResult> {
  return runCoffer(args, {
    env: { HOME: home, COFFER_ADDR: address, COFFER_TOKEN: ROOT_TOKEN, ...options.env },
    ...(options.input === undefined ? {} : { input: options.input }),
  }).then((result) => {
    allStderr.push(result.stderr);
    return result;
  });
}

/** Runs a command that must succeed, with its output in the failure message. */
async function ok(args: readonly string[], options?: { input?: string }): Promise<string> {
  const result = await coffer(args, options);
  expect(result.code, `coffer ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

async function json(args: readonly string[]): Promise<unknown> {
  return JSON.parse(await ok([...args, '-format=json'])) as unknown;
}

/** Walks into parsed JSON: at(x, 'data', 'metadata') is x.data.metadata, or undefined. */
function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    current =
      typeof current === 'object' && current !== null
        ? (current as Record<string, unknown>)[key]
        : undefined;
  }
  return current;
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing; the e2e test runs the built CLI`);
  home = mkdtempSync(join(tmpdir(), 'coffer-e2e-home-'));
  address = await startServer();
  await ok(['secrets', 'enable', '-path=e2e-kv', 'kv-v2']);
  await ok(['secrets', 'enable', '-path=e2e-legacy', 'kv']);
}, START_TIMEOUT_MS + 30_000);

afterAll(async () => {
  await stopServer();
  if (home !== '') rmSync(home, { recursive: true, force: true });
});

describe('coffer CLI against a dev server', () => {
  it('prints status as a table and as JSON', async () => {
    const table = await coffer(['status']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^Initialized\s+true$/m);
    expect(table.stdout).toMatch(/^Sealed\s+false$/m);
    expect(at(await json(['status']), 'sealed')).toBe(false);
    expect(await ok(['version'])).toMatch(/^Coffer v/);
  });

  it('enables, lists, tunes and disables a secrets engine', async () => {
    expect(await ok(['secrets', 'enable', '-path=e2e-tmp', '-description=temp mount', 'kv'])).toBe(
      'Success! Enabled the kv secrets engine at: e2e-tmp/\n',
    );
    const table = await ok(['secrets', 'list']);
    expect(table).toMatch(/^Path\s+Type\s+Accessor\s+Description$/m);
    expect(table).toMatch(/^e2e-tmp\/\s+kv\s+\S+\s+temp mount$/m);
    const mounts = await json(['secrets', 'list']);
    expect(at(mounts, 'e2e-tmp/', 'type')).toBe('kv');
    expect(at(mounts, 'e2e-kv/', 'type')).toBe('kv');
    expect(['2', 2]).toContain(at(mounts, 'e2e-kv/', 'options', 'version'));
    expect(await ok(['secrets', 'list', '-detailed'])).toMatch(/^e2e-kv\/.*map\[version:2\]/m);

    expect(await ok(['secrets', 'tune', '-default-lease-ttl=1h', 'e2e-tmp'])).toBe(
      'Success! Tuned the secrets engine at: e2e-tmp/\n',
    );
    const tune = await json(['read', 'sys/mounts/e2e-tmp/tune']);
    // sys/mounts/* answers carry data both in `data` and at the top level.
    expect(at(tune, 'data', 'default_lease_ttl') ?? at(tune, 'default_lease_ttl')).toBe(3600);

    expect(await ok(['secrets', 'disable', 'e2e-tmp'])).toBe(
      'Success! Disabled the secrets engine (if it existed) at: e2e-tmp/\n',
    );
    expect(Object.keys(at(await json(['secrets', 'list'])) as object)).not.toContain('e2e-tmp/');
  }, 60_000);

  it('runs the KV v2 lifecycle: put, get, versions, patch, list, delete, undelete, destroy, metadata', async () => {
    const put = await ok(['kv', 'put', 'e2e-kv/app/db', 'user=admin', 'password=s3cret']);
    expect(put).toMatch(/Secret Path =+\ne2e-kv\/data\/app\/db\n/);
    expect(put).toMatch(/^version\s+1$/m);

    const get = await ok(['kv', 'get', 'e2e-kv/app/db']);
    expect(get).toMatch(/== Metadata ==/);
    expect(get).toMatch(/== Data ==/);
    expect(get).toMatch(/^password\s+s3cret$/m);
    expect(get).toMatch(/^user\s+admin$/m);
    expect(await ok(['kv', 'get', '-field=password', 'e2e-kv/app/db'])).toBe('s3cret');
    const raw = await json(['kv', 'get', 'e2e-kv/app/db']);
    expect(at(raw, 'data', 'data')).toEqual({ user: 'admin', password: 's3cret' });
    expect(at(raw, 'data', 'metadata', 'version')).toBe(1);

    // -mount style, a second version, then a stale check-and-set.
    expect(
      await ok([
        'kv',
        'put',
        '-mount=e2e-kv',
        '-field=version',
        'app/db',
        'user=admin',
        'password=n3w',
      ]),
    ).toBe('2');
    const stale = await coffer(['kv', 'put', '-cas=1', 'e2e-kv/app/db', 'password=x']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^Error: .*check-and-set.* \(400\)\n$/);
    // Flags after the positional argument.
    expect(await ok(['kv', 'get', 'e2e-kv/app/db', '-version=1', '-field=password'])).toBe(
      's3cret',
    );

    await ok(['kv', 'patch', 'e2e-kv/app/db', 'password=p4tched']);
    expect(await ok(['kv', 'get', '-field=password', 'e2e-kv/app/db'])).toBe('p4tched');
    expect(await ok(['kv', 'get', '-field=user', 'e2e-kv/app/db'])).toBe('admin');

    await ok(['kv', 'put', 'e2e-kv/app/team/svc', 'token=abc']);
    expect(await ok(['kv', 'list', 'e2e-kv/app'])).toBe('Keys\n----\ndb\nteam/\n');
    expect(await json(['kv', 'list', 'e2e-kv/app/'])).toEqual(['db', 'team/']);

    expect(await ok(['kv', 'delete', 'e2e-kv/app/db'])).toBe(
      'Success! Data deleted (if it existed) at: e2e-kv/data/app/db\n',
    );
    const deleted = await json(['kv', 'get', 'e2e-kv/app/db']);
    expect(at(deleted, 'data', 'data')).toBeNull();
    expect(at(deleted, 'data', 'metadata', 'deletion_time')).toMatch(/^\d{4}-/);
    expect((await coffer(['kv', 'get', '-field=password', 'e2e-kv/app/db'])).code).toBe(1);

    expect(await ok(['kv', 'undelete', '-versions=3', 'e2e-kv/app/db'])).toBe(
      'Success! Data written to: e2e-kv/undelete/app/db\n',
    );
    expect(await ok(['kv', 'get', '-field=password', 'e2e-kv/app/db'])).toBe('p4tched');

    expect(await ok(['kv', 'destroy', '-versions=1', 'e2e-kv/app/db'])).toBe(
      'Success! Data written to: e2e-kv/destroy/app/db\n',
    );
    await ok([
      'kv',
      'metadata',
      'put',
      '-max-versions=5',
      '-custom-metadata=owner=ops',
      '-custom-metadata=tier=gold',
      'e2e-kv/app/db',
    ]);
    const metadata = await json(['kv', 'metadata', 'get', 'e2e-kv/app/db']);
    expect(at(metadata, 'data', 'current_version')).toBe(3);
    expect(at(metadata, 'data', 'max_versions')).toBe(5);
    expect(at(metadata, 'data', 'custom_metadata')).toEqual({ owner: 'ops', tier: 'gold' });
    expect(at(metadata, 'data', 'versions', '1', 'destroyed')).toBe(true);
    const metadataTable = await ok(['kv', 'metadata', 'get', 'e2e-kv/app/db']);
    expect(metadataTable).toMatch(/Metadata Path =+\ne2e-kv\/metadata\/app\/db\n/);
    expect(metadataTable).toMatch(/== Version 3 ==/);

    expect(await ok(['kv', 'metadata', 'delete', 'e2e-kv/app/db'])).toBe(
      'Success! Data deleted (if it existed) at: e2e-kv/metadata/app/db\n',
    );
    const gone = await coffer(['kv', 'get', 'e2e-kv/app/db']);
    expect(gone).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'Error: no value found at e2e-kv/data/app/db\n',
    });
  }, 120_000);

  it('reads values from files and stdin', async () => {
    const file = join(home, 'cert.pem');
    writeFileSync(file, '-----BEGIN CERT-----\nabc\n-----END CERT-----\n');
    await ok(['kv', 'put', 'e2e-kv/files', `cert=@${file}`, 'pin=-'], { input: '1234' });
    expect(await ok(['kv', 'get', '-field=cert', 'e2e-kv/files'])).toBe(
      '-----BEGIN CERT-----\nabc\n-----END CERT-----\n',
    );
    expect(await ok(['kv', 'get', '-field=pin', 'e2e-kv/files'])).toBe('1234');
  }, 60_000);

  it('works on a KV v1 mount', async () => {
    expect(await ok(['kv', 'put', 'e2e-legacy/cfg', 'mode=fast'])).toBe(
      'Success! Data written to: e2e-legacy/cfg\n',
    );
    expect(await ok(['kv', 'get', '-field=mode', 'e2e-legacy/cfg'])).toBe('fast');
    expect(await ok(['kv', 'get', 'e2e-legacy/cfg'])).toMatch(/^mode\s+fast$/m);
    expect(await json(['kv', 'list', 'e2e-legacy'])).toContain('cfg');
  }, 60_000);

  it('reads, writes, lists and deletes generic paths', async () => {
    expect(await ok(['write', 'e2e-legacy/raw', 'a=1', 'b=2'])).toBe(
      'Success! Data written to: e2e-legacy/raw\n',
    );
    expect(await ok(['read', 'e2e-legacy/raw'])).toMatch(/^a\s+1$/m);
    expect(at(await json(['read', 'e2e-legacy/raw']), 'data')).toEqual({ a: '1', b: '2' });
    expect(await ok(['read', '-field=b', 'e2e-legacy/raw'])).toBe('2');

    await ok(['write', 'e2e-legacy/json', '-'], { input: '{"n": 3, "tags": ["x"]}' });
    expect(await ok(['read', '-field=n', 'e2e-legacy/json'])).toBe('3');

    const keys = (await ok(['list', 'e2e-legacy'])).split('\n');
    expect(keys.slice(0, 2)).toEqual(['Keys', '----']);
    expect(keys).toEqual(expect.arrayContaining(['cfg', 'json', 'raw']));

    expect(await ok(['delete', 'e2e-legacy/raw'])).toBe(
      'Success! Data deleted (if it existed) at: e2e-legacy/raw\n',
    );
    const gone = await coffer(['read', 'e2e-legacy/raw']);
    expect(gone).toMatchObject({ code: 2, stderr: 'Error: no value found at e2e-legacy/raw\n' });
  }, 60_000);

  it('reports errors in one line with the right exit code', async () => {
    const denied = await coffer(['kv', 'get', 'e2e-kv/files'], {
      env: { COFFER_TOKEN: 'bogus-token-value' },
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^Error: .*permission denied.* \(403\)\n$/);
    expect(denied.stderr).not.toContain('bogus-token-value');

    const again = await coffer(['operator', 'init', '-key-shares=1', '-key-threshold=1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: .*already initialized.*\n$/i);

    const usage = await coffer(['kv', 'get', '-version=abc', 'e2e-kv/files']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('Usage: coffer kv get');

    const port = await closedLoopbackPort();
    const unreachable = await coffer(['status'], {
      env: { COFFER_ADDR: `http://127.0.0.1:${port}` },
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe(
      `Error: cannot reach Coffer at http://127.0.0.1:${port}: connection refused (ECONNREFUSED)\n`,
    );
  }, 60_000);

  it('rotates the barrier key', async () => {
    const before = Number(at(await json(['operator', 'key-status']), 'term'));
    expect(await ok(['operator', 'rotate'])).toMatch(/^Success! Rotated key\n\nKey Term\s+\d+\n/);
    expect(at(await json(['operator', 'key-status']), 'term')).toBe(before + 1);
  }, 60_000);

  // Last: sealing ends what the server can do in this file.
  it('seals the server; status then exits 2 and secrets are unavailable', async () => {
    expect(await ok(['operator', 'seal'])).toBe('Success! Coffer is sealed.\n');
    const status = await coffer(['status']);
    expect(status.code).toBe(2);
    expect(status.stdout).toMatch(/^Sealed\s+true$/m);
    const read = await coffer(['kv', 'get', 'e2e-kv/files']);
    expect(read.code).toBe(1);
    expect(read.stderr).toMatch(/sealed.*\(503\)/i);
    expect(allStderr.join('\n')).not.toContain(ROOT_TOKEN);
  }, 60_000);
});
