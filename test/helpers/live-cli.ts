// A long-running `coffer ...` child for end-to-end tests (an agent, `coffer run -watch`): its
// output captured, a bounded wait for something to show, its exit as a promise, and a set of
// live children a test file SIGKILLs in afterAll so none outlives it.
import { spawn, type ChildProcess } from 'node:child_process';
import { COFFER_BIN, REPO_ROOT } from './server-process.js';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LiveCli {
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /**
   * Resolves once `check` holds, polled every 10 ms; after `timeoutMs` (default 10 000) rejects
   * naming `what` with the output so far.
   */
  waitUntil(check: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** waitUntil `pattern` shows in stdout. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves once the process exited and its pipes closed. */
  readonly exited: Promise<ExitStatus>;
}

export interface LiveCliOptions {
  /** The child's environment, besides PATH. */
  readonly env: Readonly<Record<string, string>>;
  /** Children still running; the child is in it until it exits. */
  readonly live: Set<ChildProcess>;
  /** Called with everything the child wrote to stderr once it exited. */
  readonly onExit?: (stderr: string) => void;
}

/** Starts `coffer <args>` from the repository root. */
export function startLiveCli(args: readonly string[], options: LiveCliOptions): LiveCli {
  const proc = spawn(process.execPath, [COFFER_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.live.add(proc);
  let out = '';
  let err = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<ExitStatus>((resolve) => {
    proc.once('close', (code, signal) => {
      options.live.delete(proc);
      options.onExit?.(err);
      resolve({ code, signal });
    });
  });
  const cli: LiveCli = {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitUntil(check, what, timeoutMs = 10_000) {
      const started = Date.now();
      while (!check()) {
        if (Date.now() - started > timeoutMs) {
          throw new Error(`no ${what} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    waitForStdout(pattern, timeoutMs) {
      return cli.waitUntil(() => pattern.test(out), String(pattern), timeoutMs);
    },
  };
  return cli;
}
