// End to end: `coffer run`, `coffer env` and the loadEnv SDK against a real dev server, each as
// a real child process: variables from paths, references and env templates, exit codes and
// signals passed through, masking, the server-down message, the encrypted fallback snapshot,
// and -watch restarting (or signalling) the program when a secret changes.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedLoopbackPort } from '../../src/client/testing.js';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  REPO_ROOT,
  runCoffer,
  startServer,
} from '../helpers/server-process.js';
import type { CliResult, ServerProcess, TempDir } from '../helpers/server-process.js';
import { startLiveCli, type LiveCli } from '../helpers/live-cli.js';
import { vaultOk } from './vault-http.js';

const ROOT_TOKEN = `run-e2e-root-${randomBytes(8).toString('hex')}`;
const DB_PASSWORD = `db-pw-${randomBytes(8).toString('hex')}`;
const API_KEY = `api-key-${randomBytes(8).toString('hex')}`;
/** A node program printing the named variables as one JSON line. */
const PRINT_ENV = (names: string[]) =>
  `console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`;

let server: ServerProcess;
let tmp: TempDir;
/** Every stderr coffer itself printed, checked at the end for secret values. */
const cofferStderr: string[] = [];

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { HOME: tmp.path, COFFER_ADDR: server.url, COFFER_TOKEN: ROOT_TOKEN, ...extra };
}

async function coffer(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  const result = await runCoffer(args, { env: env(extra) });
  cofferStderr.push(result.stderr);
  return result;
}

async function kvPut(path: string, data: Record<string, string>): Promise<void> {
  await vaultOk(server.url, 'POST', path, { token: ROOT_TOKEN, body: { data } });
}

const live = new Set<ChildProcess>();

/** A long-running `coffer ...` child whose output can be awaited. */
function startCoffer(args: string[], extra: Record<string, string> = {}): LiveCli {
  return startLiveCli(args, {
    env: env(extra),
    live,
    onExit: (stderr) => cofferStderr.push(stderr),
  });
}

/** `coffer run -path=secret/app -- node -e <script>`, once the script printed "ready". */
async function runUntilReady(script: string): Promise<LiveCli> {
  const cli = startCoffer(['run', '-path=secret/app', '--', 'node', '-e', script]);
  await cli.waitForStdout(/ready/);
  return cli;
}

beforeAll(async () => {
  tmp = createTempDir('coffer-run-e2e-');
  server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
  await vaultOk(server.url, 'POST', 'sys/mounts/legacy', {
    token: ROOT_TOKEN,
    body: { type: 'kv', options: { version: '1' } },
  });
  await kvPut('secret/data/app', { 'db-password': DB_PASSWORD, 'db-user': 'admin' });
  await vaultOk(server.url, 'PUT', 'legacy/cfg', { token: ROOT_TOKEN, body: { api_key: API_KEY } });
}, 60_000);

afterAll(async () => {
  for (const proc of live) proc.kill('SIGKILL');
  await killAllServers();
  tmp.remove();
});

describe('coffer run', () => {
  it('gives the program the secrets of -path, -map and -env-file (KV v2 and v1)', async () => {
    const template = tmp.file('app.env.tpl');
    writeFileSync(
      template,
      '# from the template\nLEGACY_KEY=coffer://legacy/cfg#api_key\nMODE="literal value"\n',
    );
    const result = await coffer([
      'run',
      '-path=secret/app',
      `-env-file=${template}`,
      '-map=PW_AGAIN=coffer://secret/app#db-password',
      '--',
      'node',
      '-e',
      PRINT_ENV(['DB_PASSWORD', 'DB_USER', 'LEGACY_KEY', 'MODE', 'PW_AGAIN', 'HOME']),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      DB_PASSWORD,
      DB_USER: 'admin',
      LEGACY_KEY: API_KEY,
      MODE: 'literal value',
      PW_AGAIN: DB_PASSWORD,
      HOME: tmp.path,
    });
  });

  it('gives the program its secrets but not COFFER_TOKEN or VAULT_TOKEN (unless -pass-token)', async () => {
    const names = ['DB_PASSWORD', 'COFFER_TOKEN', 'VAULT_TOKEN', 'COFFER_ADDR'];
    const extra = { VAULT_TOKEN: ROOT_TOKEN };
    const result = await coffer(
      ['run', '-path=secret/app', '--', 'node', '-e', PRINT_ENV(names)],
      extra,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      DB_PASSWORD,
      COFFER_TOKEN: null,
      VAULT_TOKEN: null,
      COFFER_ADDR: server.url,
    });
    const passed = await coffer(
      ['run', '-pass-token', '-path=secret/app', '--', 'node', '-e', PRINT_ENV(names)],
      extra,
    );
    expect(JSON.parse(passed.stdout)).toMatchObject({
      COFFER_TOKEN: ROOT_TOKEN,
      VAULT_TOKEN: ROOT_TOKEN,
    });
  });

  it('refuses a secret key "path" (it would replace PATH), naming the key, and starts nothing', async () => {
    await kvPut('secret/data/clash', { path: '/nonexistent', home: '/tmp/elsewhere', ok: 'x' });
    const marker = tmp.file('clash-started');
    const script = `require("fs").writeFileSync(${JSON.stringify(marker)}, "x")`;
    const result = await coffer(['run', '-path=secret/clash', '--', 'node', '-e', script]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /the secret key secret\/clash#(path|home) would set (PATH|HOME), a protected variable/,
    );
    expect(result.stderr).not.toContain('/nonexistent');
    expect(() => statSync(marker)).toThrow();
    // Named explicitly, a protected variable may be set.
    const mapped = await coffer([
      'run',
      '-map=HOME=coffer://secret/clash#home',
      '--',
      'node',
      '-e',
      PRINT_ENV(['HOME']),
    ]);
    expect(JSON.parse(mapped.stdout)).toEqual({ HOME: '/tmp/elsewhere' });
  });

  it('refuses a secret key replacing an inherited variable unless -override-env', async () => {
    const args = ['run', '-path=secret/app', '--', 'node', '-e', PRINT_ENV(['DB_USER'])];
    const refused = await coffer(args, { DB_USER: 'inherited' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'Error: the secret key secret/app#db-user would replace the inherited variable DB_USER; use -override-env to allow it, or -map to name it explicitly\n',
    );
    const allowed = await coffer([...args.slice(0, 1), '-override-env', ...args.slice(1)], {
      DB_USER: 'inherited',
    });
    expect(JSON.parse(allowed.stdout)).toEqual({ DB_USER: 'admin' });
  });

  it("passes the program's exit code through", async () => {
    const result = await coffer(['run', '-path=secret/app', '--', 'node', '-e', 'process.exit(7)']);
    expect(result.code).toBe(7);
    expect(result.stderr).toBe('');
  });

  it('passes SIGTERM to the program; death by the signal becomes 128+15', async () => {
    const killed = await runUntilReady('console.log("ready"); setInterval(() => {}, 1000)');
    killed.proc.kill('SIGTERM');
    expect(await killed.exited).toEqual({ code: 143, signal: null });

    const handled = await runUntilReady(
      'process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(0) }); console.log("ready"); setInterval(() => {}, 1000)',
    );
    handled.proc.kill('SIGTERM');
    expect(await handled.exited).toEqual({ code: 0, signal: null });
    expect(handled.stdout()).toContain('got SIGTERM');
  });

  it('-mask hides secret values in stdout and stderr, even when written in pieces', async () => {
    const script = [
      'const v = process.env.DB_PASSWORD;',
      'process.stdout.write("out=" + v.slice(0, 5));',
      'setTimeout(() => { process.stdout.write(v.slice(5) + " done\\n");',
      '  process.stderr.write("err=" + v + " user=" + process.env.DB_USER + "\\n"); }, 100);',
    ].join('\n');
    const result = await coffer(['run', '-mask', '-path=secret/app', '--', 'node', '-e', script]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('out=***** done\n');
    expect(result.stderr).toBe('err=***** user=*****\n');
    expect(findCanaries(result.stdout + result.stderr, { DB_PASSWORD })).toEqual([]);
  });

  it('says in one line that the server cannot be reached, without a stack trace', async () => {
    const port = await closedLoopbackPort();
    const result = await coffer(['run', '-path=secret/app', '--', 'true'], {
      COFFER_ADDR: `http://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error: cannot reach Coffer at http://127.0.0.1:${port}: connection refused (ECONNREFUSED)\n`,
    );
  });

  it('-fallback keeps an encrypted 0600 snapshot and runs from it when the server is down', async () => {
    const key = randomBytes(32).toString('base64');
    const snapshot = tmp.file('snapshot.bin');
    const args = ['run', `-fallback=${snapshot}`, '-path=secret/app', '--', 'node', '-e'];
    const online = await coffer([...args, PRINT_ENV(['DB_PASSWORD'])], {
      COFFER_FALLBACK_KEY: key,
    });
    expect(online.code, online.stderr).toBe(0);
    expect(online.stderr).toBe('');
    expect(statSync(snapshot).mode & 0o777).toBe(0o600);
    expect(readFileSync(snapshot).includes(Buffer.from(DB_PASSWORD))).toBe(false);

    const port = await closedLoopbackPort();
    const offline = await coffer([...args, PRINT_ENV(['DB_PASSWORD', 'DB_USER'])], {
      COFFER_FALLBACK_KEY: key,
      COFFER_ADDR: `http://127.0.0.1:${port}`,
    });
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout)).toEqual({ DB_PASSWORD, DB_USER: 'admin' });
    expect(offline.stderr).toMatch(
      new RegExp(
        `^coffer run: cannot reach Coffer at http://127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\); ` +
          `running from the snapshot .*snapshot\\.bin \\(\\d+s old\\)\\n$`,
      ),
    );

    const wrongKey = await coffer([...args, 'true'], {
      COFFER_FALLBACK_KEY: randomBytes(32).toString('base64'),
      COFFER_ADDR: `http://127.0.0.1:${port}`,
    });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/cannot be decrypted/);

    const noKey = await coffer([...args, 'true']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/COFFER_FALLBACK_KEY is not set/);
  });
});

describe('coffer run -watch', () => {
  it('restarts the program with the new value within one second of a write', async () => {
    await kvPut('secret/data/watched', { token: 'v1' });
    const run = startCoffer([
      'run',
      '-watch',
      '-path=secret/watched',
      '--',
      'node',
      '-e',
      'console.log("value=" + process.env.TOKEN); setInterval(() => {}, 1000)',
    ]);
    await run.waitForStdout(/value=v1\n/);
    for (const next of ['v2', 'v3']) {
      const written = Date.now();
      await kvPut('secret/data/watched', { token: next });
      await run.waitForStdout(new RegExp(`value=${next}\\n`), 5_000);
      expect(Date.now() - written).toBeLessThan(1_000);
    }
    // A write elsewhere does not restart it.
    await kvPut('secret/data/unrelated', { x: 'y' });
    await new Promise((r) => setTimeout(r, 500));
    expect(run.stdout()).toBe('value=v1\nvalue=v2\nvalue=v3\n');
    run.proc.kill('SIGTERM');
    expect((await run.exited).code).toBe(143);
  });

  it('-on-change=SIGHUP signals the program instead of restarting it', async () => {
    await kvPut('secret/data/hup', { token: 'h1' });
    const run = startCoffer([
      'run',
      '-watch',
      '-on-change=SIGHUP',
      '-path=secret/hup',
      '--',
      'node',
      '-e',
      'process.on("SIGHUP", () => console.log("HUP")); console.log("start " + process.pid); setInterval(() => {}, 1000)',
    ]);
    await run.waitForStdout(/start \d+\n/);
    await kvPut('secret/data/hup', { token: 'h2' });
    await run.waitForStdout(/HUP\n/, 5_000);
    expect(run.stdout().match(/start/g)).toHaveLength(1);
    run.proc.kill('SIGINT');
    await run.exited;
  });
});

describe('coffer env', () => {
  it('prints the same variables as dotenv, shell, JSON and YAML', async () => {
    const args = ['env', '-path=secret/app', '-map=K=coffer://legacy/cfg#api_key'];
    const dotenv = await coffer([...args]);
    expect(dotenv.code, dotenv.stderr).toBe(0);
    expect(dotenv.stdout).toBe(`DB_PASSWORD=${DB_PASSWORD}\nDB_USER=admin\nK=${API_KEY}\n`);
    const json = await coffer([...args, '-format=json']);
    expect(JSON.parse(json.stdout)).toEqual({ DB_PASSWORD, K: API_KEY, DB_USER: 'admin' });
    const shell = await coffer([...args, '-format=shell']);
    expect(shell.stdout).toBe(
      `export DB_PASSWORD='${DB_PASSWORD}'\nexport DB_USER='admin'\nexport K='${API_KEY}'\n`,
    );
    const yaml = await coffer([...args, '-format=yaml']);
    expect(yaml.stdout).toBe(
      `"DB_PASSWORD": "${DB_PASSWORD}"\n"DB_USER": "admin"\n"K": "${API_KEY}"\n`,
    );
  });
});

describe('the loadEnv SDK', () => {
  it('fills process.env of a real program that imports the @coffer/client package', async () => {
    // Resolved by name from the repository's node_modules (the npm workspace link), as an
    // application that installed the package would.
    const script = [
      `import { loadEnv } from '@coffer/client';`,
      `const vars = await loadEnv({ paths: ['secret/app'], refs: { LEGACY: 'coffer://legacy/cfg#api_key' } });`,
      'console.log(JSON.stringify({ names: Object.keys(vars).sort(), pw: process.env.DB_PASSWORD,',
      '  legacy: process.env.LEGACY, user: process.env.DB_USER }));',
    ].join('\n');
    const output = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          cwd: REPO_ROOT,
          env: {
            PATH: process.env['PATH'] ?? '',
            COFFER_ADDR: server.url,
            COFFER_TOKEN: ROOT_TOKEN,
            DB_USER: 'kept-by-default',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('loadEnv child took over 20 s'));
        }, 20_000);
        child.once('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      },
    );
    expect(output.code, output.stderr).toBe(0);
    expect(JSON.parse(output.stdout)).toEqual({
      names: ['DB_PASSWORD', 'DB_USER', 'LEGACY'],
      pw: DB_PASSWORD,
      legacy: API_KEY,
      user: 'kept-by-default',
    });
  });

  it('packs @coffer/client with its built code and types only', () => {
    const packed = spawnSync(
      'npm',
      ['pack', '--dry-run', '--json', '--workspace', '@coffer/client'],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(packed.status, packed.stderr).toBe(0);
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map(
      (f) => f.path,
    );
    for (const name of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']) {
      expect(files).toContain(name);
    }
    expect(files).toContain('dist/load-env.js');
    expect(files.filter((f) => /\.test\.|testing\./.test(f))).toEqual([]);
  });
});

describe('secrets stay out of coffer output', () => {
  it('printed no secret value on its own stderr', () => {
    expect(findCanaries(cofferStderr.join('\n'), { DB_PASSWORD, API_KEY, ROOT_TOKEN })).toEqual([]);
  });
});
