// Supervising the program that receives secrets (`coffer run`, the agent's exec mode): spawn it
// without a shell, optionally mask its output, restart it with a new environment, forward
// signals, and report how it ended (exit code, or 128+n for death by signal n).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { StreamMasker } from '../../client/index.js';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The exit code a shell would report: the code, or 128 + the signal's number. */
export function exitCodeOf(status: ExitStatus): number {
  if (status.code !== null) return status.code;
  const number = status.signal === null ? undefined : constants.signals[status.signal];
  return number === undefined ? 1 : 128 + number;
}

/** Accepts "SIGHUP", "HUP" or "hup"; undefined when it is no signal this platform knows. */
export function parseSignal(name: string): NodeJS.Signals | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return Object.hasOwn(constants.signals, full) ? (full as NodeJS.Signals) : undefined;
}

export interface SupervisorOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Where the child's output goes when it is masked (otherwise it inherits the terminal). */
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Values to mask in the child's stdout and stderr; undefined means no masking (inherit). */
  readonly maskValues?: () => Iterable<string>;
  /** Signal that stops the child for a restart. Default SIGTERM. */
  readonly stopSignal?: NodeJS.Signals;
  /** After this long the stopped child is killed with SIGKILL. Default 10 000. */
  readonly stopTimeoutMs?: number;
  readonly cwd?: string;
}

/** Spawning failed (no such program, not executable); exit code 127 or 126 as in a shell. */
export class SpawnError extends Error {
  readonly exitCode: number;
  constructor(command: string, code: string) {
    super(`cannot start ${command}: ${code}`);
    this.name = 'SpawnError';
    this.exitCode = code === 'ENOENT' ? 127 : 126;
  }
}

/**
 * One supervised program. `finished` resolves when it exits on its own or after `stop()`, never
 * because of a restart. Restarts are serialised.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  #child: ChildProcess | undefined;
  /** The close of the current child, with its status. */
  #childClosed: Promise<ExitStatus> | undefined;
  #restarting = false;
  #stopping = false;
  #chain: Promise<void> = Promise.resolve();
  #finish!: (status: ExitStatus) => void;
  readonly finished: Promise<ExitStatus>;
  /** How many times the program has been started (1 after start()). */
  starts = 0;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    if (options.maskValues !== undefined) {
      // A reader that went away (`coffer run -mask -- cmd | head -1`) must not crash the
      // supervisor with EPIPE; the program's further output is simply dropped.
      for (const stream of [options.stdout, options.stderr]) stream.on('error', () => undefined);
    }
    this.finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  /** Starts the program; rejects with SpawnError if it cannot be started. */
  async start(env: NodeJS.ProcessEnv): Promise<void> {
    await this.#spawn(env);
  }

  /** Stops the running program (stop signal, then SIGKILL) and starts it again with `env`. */
  restart(env: NodeJS.ProcessEnv): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (this.#stopping || this.#child === undefined) return;
      this.#restarting = true;
      const status = await this.#stopChild(this.#options.stopSignal ?? 'SIGTERM');
      this.#restarting = false;
      if (this.#stopping) {
        this.#finish(status);
        return;
      }
      try {
        await this.#spawn(env);
      } catch (error) {
        this.#stopping = true;
        this.#options.stderr.write(`coffer: ${(error as Error).message}\n`);
        this.#finish({ code: error instanceof SpawnError ? error.exitCode : 1, signal: null });
      }
    });
    return this.#chain;
  }

  /** Sends `signal` to the program (ignored when none is running). */
  signal(signal: NodeJS.Signals): void {
    const child = this.#child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
    }
  }

  /**
   * A terminating signal for the whole supervisor: forwarded, and no restart will follow, so
   * `finished` reports how the program ended.
   */
  terminate(signal: NodeJS.Signals): void {
    this.#stopping = true;
    this.signal(signal);
  }

  /** Stops the program for good (stop signal, then SIGKILL) and resolves with its status. */
  async stop(): Promise<ExitStatus> {
    this.#stopping = true;
    await this.#chain;
    if (this.#child !== undefined) await this.#stopChild(this.#options.stopSignal ?? 'SIGTERM');
    return this.finished;
  }

  async #stopChild(signal: NodeJS.Signals): Promise<ExitStatus> {
    const child = this.#child;
    const closed = this.#childClosed;
    if (child === undefined || closed === undefined) return { code: null, signal: null };
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, this.#options.stopTimeoutMs ?? 10_000, undefined);
    });
    const status = await Promise.race([closed, timeout]);
    clearTimeout(timer);
    if (status !== undefined) return status;
    child.kill('SIGKILL');
    return closed;
  }

  #spawn(env: NodeJS.ProcessEnv): Promise<void> {
    const masked = this.#options.maskValues !== undefined;
    const child = spawn(this.#options.command, [...this.#options.args], {
      env,
      stdio: masked ? ['inherit', 'pipe', 'pipe'] : 'inherit',
      ...(this.#options.cwd === undefined ? {} : { cwd: this.#options.cwd }),
    });
    this.#child = child;
    this.starts += 1;
    const values = this.#options.maskValues?.() ?? [];
    const piped: Promise<void>[] = [];
    if (masked && child.stdout !== null && child.stderr !== null) {
      piped.push(pipeMasked(child.stdout, this.#options.stdout, new StreamMasker(values)));
      piped.push(pipeMasked(child.stderr, this.#options.stderr, new StreamMasker(values)));
    }
    return new Promise<void>((resolveStart, rejectStart) => {
      let started = false;
      child.once('spawn', () => {
        started = true;
        resolveStart();
      });
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (!started) rejectStart(new SpawnError(this.#options.command, error.code ?? 'error'));
      });
      this.#childClosed = new Promise<ExitStatus>((resolveClosed) => {
        child.once('close', (code, signal) => {
          void Promise.all(piped).then(() => {
            const status: ExitStatus = { code, signal };
            resolveClosed(status);
            if (this.#child === child && !this.#restarting && started) {
              this.#child = undefined;
              this.#finish(status);
            }
          });
        });
      });
    });
  }
}

/**
 * Copies `from` to `to` through `masker`, honouring back-pressure; resolves at the end. When
 * `to` breaks (its reader went away) the rest is read and dropped, so the program never blocks.
 */
function pipeMasked(from: Readable, to: Writable, masker: StreamMasker): Promise<void> {
  return new Promise((resolve) => {
    let broken = to.destroyed;
    const onBroken = () => {
      broken = true;
      from.resume();
    };
    to.on('error', onBroken);
    to.on('close', onBroken);
    from.on('data', (chunk: Buffer) => {
      const out = masker.push(chunk);
      if (broken || out.length === 0) return;
      if (!to.write(out)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      to.off('error', onBroken);
      to.off('close', onBroken);
      const rest = masker.end();
      if (rest.length > 0 && !broken) to.write(rest);
      resolve();
    };
    from.once('end', done);
    from.once('error', done);
  });
}
