// The real `coffer server` binary as a child process for end-to-end tests: start on port 0,
// wait (bounded) for its address line, capture its output, stop it by signal, and make sure
// no spawned server outlives the test file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/helpers/server-process.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built entry point; `npm run build` must have run. */
export const COFFER_BIN = join(REPO_ROOT, 'bin', 'coffer.js');

const ADDRESS_LINE = /Api Address: (\S+)/;
const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_STOP_TIMEOUT_MS = 15_000;
/** Environment variables passed through to the child; everything else is dropped. */
const PASSED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'SYSTEMROOT'] as const;

export interface DevOptions {
  /** Root token id (`--dev-root-token-id`); random when absent. */
  readonly rootTokenId?: string;
  /** Keep data in memory (`--dev-in-memory`). Default true. */
  readonly inMemory?: boolean;
  /** `--dev-aws-access-key-id` / `--dev-aws-secret-access-key`: a root AWS key pair. */
  readonly awsKey?: { readonly id: string; readonly secret: string };
  /** `--dev-storage-path`: keep dev data in this SQLite file (restart tests). */
  readonly storagePath?: string;
}

export interface StartServerOptions {
  /** HCL server configuration; written to a temporary file and passed as `--config`. */
  readonly configText?: string;
  /** Dev mode instead of a config file (listens on 127.0.0.1:0). */
  readonly dev?: boolean | DevOptions;
  /** Extra environment for the child, on top of a minimal PATH/HOME/TMPDIR environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Bound on the wait for the "Api Address:" line. Default 20 000. */
  readonly startTimeoutMs?: number;
  /**
   * The script that takes `server ...` arguments instead of bin/coffer.js: a fixture under
   * test/fixtures that runs the same server with something replaced (fault injection).
   */
  readonly entry?: string;
}

export interface ServerProcess {
  /** e.g. "http://127.0.0.1:41234", parsed from the address line. */
  readonly url: string;
  readonly proc: ChildProcess;
  /** Everything the server wrote to stdout so far. */
  stdout(): string;
  /** Everything the server wrote to stderr so far (its JSON log lines). */
  stderr(): string;
  /**
   * Sends `signal` (default SIGTERM) and resolves with the exit code (null when the process
   * died of a signal). Rejects if it has not exited within 15 s (the process is then
   * SIGKILLed, so nothing leaks).
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, then wait for the process and its pipes to close. */
  kill9(): Promise<void>;
  /** Resolves once the process exited and its output pipes closed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once `exited` has resolved. */
  hasExited(): boolean;
}

/** Every child spawned by this module that has not exited yet. */
const live = new Set<ChildProcess>();

// Last resort if a test file dies without running its afterAll: never leave a server behind.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function childEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASSED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

function serverArgs(options: StartServerOptions, configFile: string | undefined): string[] {
  if (configFile !== undefined) return ['server', '--config', configFile];
  const dev: DevOptions = typeof options.dev === 'object' ? options.dev : {};
  const args = ['server', '--dev', '--dev-listen-address', '127.0.0.1:0'];
  if (dev.storagePath !== undefined) args.push('--dev-storage-path', dev.storagePath);
  else if (dev.inMemory ?? true) args.push('--dev-in-memory');
  if (dev.rootTokenId !== undefined) args.push('--dev-root-token-id', dev.rootTokenId);
  if (dev.awsKey !== undefined) {
    args.push('--dev-aws-access-key-id', dev.awsKey.id);
    args.push('--dev-aws-secret-access-key', dev.awsKey.secret);
  }
  return args;
}

function tail(text: string, chars = 2000): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}

/**
 * Starts `node bin/coffer.js server ...` and resolves once it printed its address. Rejects
 * (after killing the child) if it exits first or prints nothing within the start timeout; the
 * error carries the tail of its stderr.
 */
export async function startServer(options: StartServerOptions): Promise<ServerProcess> {
  if ((options.configText === undefined) === !options.dev) {
    throw new Error('startServer: pass exactly one of configText or dev');
  }
  let configDir: string | undefined;
  let configFile: string | undefined;
  if (options.configText !== undefined) {
    configDir = mkdtempSync(join(tmpdir(), 'coffer-e2e-config-'));
    configFile = join(configDir, 'coffer.hcl');
    writeFileSync(configFile, options.configText);
  }

  const proc = spawn(
    process.execPath,
    [options.entry ?? COFFER_BIN, ...serverArgs(options, configFile)],
    {
      cwd: REPO_ROOT,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  live.add(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => (out += chunk));
  proc.stderr.on('data', (chunk: string) => (err += chunk));

  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' (not 'exit'): the pipes are drained too, so stderr() is complete afterwards.
    proc.once('close', (code, signal) => {
      done = true;
      live.delete(proc);
      if (configDir !== undefined) rmSync(configDir, { recursive: true, force: true });
      resolve({ code, signal });
    });
  });
  proc.once('error', () => {
    // Spawn failures also emit 'close'; the start wait below reports them.
  });

  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      proc.kill('SIGKILL');
      reject(new Error(`coffer server printed no address within ${timeoutMs} ms\n${tail(err)}`));
    }, timeoutMs);
    const onData = (): void => {
      const m = ADDRESS_LINE.exec(out);
      if (m !== null) {
        cleanup();
        resolve(m[1]!);
      }
    };
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(
        new Error(
          `coffer server exited before listening (code ${String(code)}, signal ${String(signal)})\n${tail(err)}`,
        ),
      );
    };
    function cleanup(): void {
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      proc.off('close', onClose);
    }
    proc.stdout.on('data', onData);
    proc.once('close', onClose);
    onData();
  });

  async function waitExit(timeoutMs2: number): Promise<boolean> {
    if (done) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, timeoutMs2);
    });
    const ok = await Promise.race([exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return ok;
  }

  return {
    url,
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    hasExited: () => done,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done) proc.kill(signal);
      if (!(await waitExit(DEFAULT_STOP_TIMEOUT_MS))) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(
          `coffer server did not exit within ${DEFAULT_STOP_TIMEOUT_MS} ms after ${signal}\n${tail(err)}`,
        );
      }
      return (await exited).code;
    },
    async kill9() {
      if (!done) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** SIGKILLs every server this module started that is still running; for afterAll. */
export async function killAllServers(): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const child of live) {
    waits.push(
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        child.once('close', () => {
          resolve();
        });
        child.kill('SIGKILL');
      }),
    );
  }
  await Promise.all(waits);
}

export interface TempDir {
  readonly path: string;
  /** `path/name`. */
  file(name: string): string;
  /** Removes the directory and everything in it (idempotent). */
  remove(): void;
}

/** A fresh directory under os.tmpdir(); call remove() in afterAll. */
export function createTempDir(prefix = 'coffer-e2e-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/**
 * A minimal server configuration: SQLite at `dbPath`, plain HTTP on 127.0.0.1 with an OS-chosen
 * port. `logLevel` defaults to "trace" so that log-leak checks see as much as possible.
 */
export function sqliteConfig(dbPath: string, options: { logLevel?: string } = {}): string {
  return [
    `log_level = ${JSON.stringify(options.logLevel ?? 'trace')}`,
    '',
    'storage "sqlite" {',
    `  path = ${JSON.stringify(dbPath)}`,
    '}',
    '',
    'listener "tcp" {',
    '  address = "127.0.0.1:0"',
    '  tls_disable = true',
    '}',
    '',
  ].join('\n');
}

/**
 * Which of the named canaries occur in `text` (names only, so a failing assertion never prints
 * the secret itself). Empty canary strings are ignored.
 */
export function findCanaries(text: string, canaries: Readonly<Record<string, string>>): string[] {
  return Object.entries(canaries)
    .filter(([, value]) => value !== '' && text.includes(value))
    .map(([name]) => name);
}

/**
 * The forms a leaked secret could take in a log or an audit file: raw, JSON-escaped, base64
 * (standard and URL-safe), hex (both cases), URL-encoded and form-encoded. Keyed by
 * `name:form` so that, with findCanaries, a failing assertion names the form, never the value.
 */
export function encodedForms(secrets: Readonly<Record<string, string>>): Record<string, string> {
  const forms: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets)) {
    const bytes = Buffer.from(value, 'utf8');
    forms[`${name}:raw`] = value;
    forms[`${name}:json`] = JSON.stringify(value).slice(1, -1);
    forms[`${name}:base64`] = bytes.toString('base64');
    forms[`${name}:base64url`] = bytes.toString('base64url');
    forms[`${name}:hex`] = bytes.toString('hex');
    forms[`${name}:HEX`] = bytes.toString('hex').toUpperCase();
    forms[`${name}:url`] = encodeURIComponent(value);
    forms[`${name}:url-form`] = new URLSearchParams({ v: value }).toString().slice(2);
  }
  return forms;
}

/** What one run of the `coffer` CLI printed. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node bin/coffer.js ...args` with exactly `env` (plus PATH) and `input` on stdin;
 * SIGKILLed and rejected after `timeoutMs` (default 20 s).
 */
export function runCoffer(
  args: readonly string[],
  options: {
    readonly env: Readonly<Record<string, string>>;
    readonly input?: string;
    readonly timeoutMs?: number;
  },
): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COFFER_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`coffer ${args.slice(0, 2).join(' ')} took over ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
