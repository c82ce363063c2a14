// `npm pack` + `npm install -g --prefix <tmp>` gives a `coffer` that works outside the
// repository: the tarball ships bin/, dist/ and dist/ui/ (and no sources or tests), the
// installed `coffer version` runs from another folder, and the installed server and CLI store
// and read a secret. Dependencies come from npm's cache (or the registry). Install scripts are
// skipped and better-sqlite3's native addon is taken from this checkout's build (the same
// version): compiling it again takes minutes here, and what this test guards is the packaging.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, createTempDir } from '../helpers/server-process.js';

const dir = createTempDir('coffer-npm-install-');
const prefix = join(dir.path, 'prefix');
const work = join(dir.path, 'elsewhere');
const coffer = join(prefix, 'bin', 'coffer');
const installed = join(prefix, 'lib', 'node_modules', 'coffer');
let tarball = '';
let server: ChildProcess | undefined;

/** Only PATH and HOME: nothing from the repository's environment. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, ...extra };
}

function run(
  args: string[],
  extra: Record<string, string> = {},
): { code: number | null; out: string } {
  const result = spawnSync(coffer, args, {
    cwd: work,
    env: env(extra),
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

beforeAll(() => {
  mkdirSync(work, { recursive: true });
  const packed = execFileSync(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir.path],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
  );
  const info = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
  tarball = join(dir.path, info[0]!.filename);
  files = info[0]!.files.map((f) => f.path);
  execFileSync(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--ignore-scripts',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      tarball,
    ],
    {
      cwd: work,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, npm_config_loglevel: 'error' },
    },
  );
  const addon = join('build', 'Release', 'better_sqlite3.node');
  const target = join(installed, 'node_modules', 'better-sqlite3');
  mkdirSync(join(target, 'build', 'Release'), { recursive: true });
  copyFileSync(join(REPO_ROOT, 'node_modules', 'better-sqlite3', addon), join(target, addon));
}, 300_000);

let files: string[] = [];

afterAll(() => {
  server?.kill('SIGKILL');
  dir.remove();
});

describe('the npm package', () => {
  it('ships bin, dist and the built web UI, and no sources or tests', () => {
    expect(files).toContain('bin/coffer.js');
    expect(files).toContain('dist/main.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('dist/ui/index.html');
    expect(files.filter((f) => /^(src|test|ui\/src)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.test.js'))).toEqual([]);
  });

  it('installs a coffer command that runs outside the repository', () => {
    expect(existsSync(coffer)).toBe(true);
    const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = run(['version']);
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain(version.version);
    expect(readdirSync(installed)).toEqual(expect.arrayContaining(['bin', 'dist', 'package.json']));
  });

  it('runs a dev server and stores and reads a secret with the installed CLI', async () => {
    const token = 'install-test-root';
    server = spawn(
      coffer,
      [
        'server',
        '--dev',
        '--dev-in-memory',
        '--dev-listen-address',
        '127.0.0.1:0',
        `--dev-root-token-id=${token}`,
      ],
      { cwd: work, env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        reject(new Error(`no address line:\n${out}`));
      }, 20_000);
      server!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /Api Address: (\S+)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      server!.once('exit', () => {
        reject(new Error(`the server exited:\n${out}`));
      });
    });
    const cli = { COFFER_ADDR: address, COFFER_TOKEN: token };
    expect(run(['kv', 'put', 'secret/app', 'password=from-the-package'], cli).code).toBe(0);
    const got = run(['kv', 'get', '-field=password', 'secret/app'], cli);
    expect(got.code, got.out).toBe(0);
    expect(got.out.trim()).toBe('from-the-package');
  });
});
