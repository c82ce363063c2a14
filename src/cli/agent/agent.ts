// The agent's runtime: log in (auto_auth), keep the token renewed, render templates to files
// atomically, run exec as a supervised child with env_template values, and render again when
// change events or expiring leases say the secrets moved.
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import {
  ApiError,
  childEnvironment,
  CofferClient,
  ConnectionError,
  LeaseKeeper,
  readSecrets,
  subscribeChanges,
  writeFileAtomic,
} from '../../client/index.js';
import type { ChangeSubscription, ReadTarget, SecretRead } from '../../client/index.js';
import { Authenticator, TokenKeeper } from './auth.js';
import type { AgentToken } from './auth.js';
import type { AgentConfig, TemplateConfig } from './config.js';
import { exitCodeOf, Supervisor } from './supervisor.js';
import type { ExitStatus } from './supervisor.js';
import { compileGoTemplate } from './go-template.js';
import { compileTemplate, templateSyntax, TemplateError } from './template.js';
import type { CompiledTemplate } from './template.js';

export interface AgentIo {
  /** The server address (from the config or the CLI's resolution). */
  readonly address: string;
  /** The environment exec and template commands inherit. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Keep COFFER_TOKEN/VAULT_TOKEN... in exec's environment (`-pass-token`); default removed. */
  readonly passToken?: boolean;
  /** One log line to stderr (without the newline). Never given a secret value. */
  readonly log: (line: string) => void;
  /** Where exec's output goes when it is piped (it inherits the terminal otherwise). */
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly fetch?: typeof fetch;
}

interface LoadedTemplate {
  readonly config: TemplateConfig;
  readonly compiled: CompiledTemplate;
}

/** Changes arriving within this window cause one render. */
const DEBOUNCE_MS = 50;
/** Re-login retry: from 1 s doubling to 60 s. */
const RELOGIN_MIN_MS = 1_000;
const RELOGIN_MAX_MS = 60_000;

interface TemplateSource {
  readonly source?: string;
  readonly contents?: string;
  readonly where: string;
  readonly syntax?: 'go' | 'handlebars';
  readonly errorOnMissingKey?: boolean;
}

/**
 * Compiles one template in its syntax (see templateSyntax). Go-syntax errors name the template
 * file (or, for inline contents, the config block) with line and column.
 */
function compileAny(t: TemplateSource, text: string, env: AgentIo['env']): CompiledTemplate {
  if (templateSyntax(text, t.where, t.syntax) === 'handlebars')
    return compileTemplate(text, t.where);
  const name = t.source ?? `${t.where} (contents)`;
  return compileGoTemplate(text, name, {
    env,
    ...(t.errorOnMissingKey === undefined ? {} : { errorOnMissingKey: t.errorOnMissingKey }),
  });
}

/** Reads the template sources and compiles everything; errors name the block. */
export async function loadTemplates(
  config: AgentConfig,
  env: AgentIo['env'] = {},
): Promise<{
  templates: LoadedTemplate[];
  envTemplates: { name: string; compiled: CompiledTemplate }[];
}> {
  const text = async (t: { source?: string; contents?: string; where: string }) => {
    if (t.contents !== undefined) return t.contents;
    try {
      return await readFile(t.source!, 'utf8');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new TemplateError(
        `${t.where}: cannot read ${t.source!} (${typeof code === 'string' ? code : 'error'})`,
      );
    }
  };
  const templates: LoadedTemplate[] = [];
  for (const t of config.templates) {
    templates.push({ config: t, compiled: compileAny(t, await text(t), env) });
  }
  const envTemplates = [];
  for (const t of config.envTemplates) {
    envTemplates.push({ name: t.name, compiled: compileAny(t, await text(t), env) });
  }
  return { templates, envTemplates };
}

/**
 * Writes `text` unless the file already holds exactly it with mode `perms`. Returns whether it
 * wrote. The write is atomic (see writeFileAtomic).
 */
export async function writeIfChanged(path: string, text: string, perms: number): Promise<boolean> {
  try {
    const [existing, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    if (existing === text && (info.mode & 0o7777) === perms) return false;
  } catch {
    // Missing or unreadable: write it.
  }
  await writeFileAtomic(path, text, perms);
  return true;
}

export class Agent {
  readonly #config: AgentConfig;
  readonly #io: AgentIo;
  readonly #auth: Authenticator;
  readonly #tokenKeeper: TokenKeeper;
  readonly #leaseKeeper: LeaseKeeper;
  #templates: LoadedTemplate[] = [];
  #envTemplates: { name: string; compiled: CompiledTemplate }[] = [];
  #token: AgentToken | undefined;
  #client: CofferClient | undefined;
  #envVars: Record<string, string> = {};
  #supervisor: Supervisor | undefined;
  #subscription: ChangeSubscription | undefined;
  #subscribedTo = '';
  #watched = new Set<string>();
  /** The reads of the last render, keyed by targetId; leased ones are kept while renewed. */
  #reads = new Map<string, SecretRead>();
  /** Targets a change event named since the last render: read again even if leased. */
  #stale = new Set<string>();
  #debounce: NodeJS.Timeout | undefined;
  #relogin: NodeJS.Timeout | undefined;
  #reloginMs = RELOGIN_MIN_MS;
  #rendering = false;
  #renderAgain = false;
  #stopped = false;
  #stop!: () => void;
  readonly #stopRequested: Promise<void>;
  /** How many renders finished (for tests and status). */
  renders = 0;

  constructor(config: AgentConfig, io: AgentIo) {
    this.#config = config;
    this.#io = io;
    this.#auth = new Authenticator(config.method, {
      address: io.address,
      ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
    });
    this.#tokenKeeper = new TokenKeeper({
      address: io.address,
      ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
      onExpiring: () => {
        this.#scheduleRelogin(0);
      },
      log: (line) => {
        io.log(line);
      },
    });
    this.#leaseKeeper = new LeaseKeeper({
      client: () => this.#client!,
      onExhausted: (lease) => {
        io.log(`lease ${lease.leaseId} cannot be renewed further; reading fresh values`);
        this.#scheduleRender();
      },
    });
    this.#stopRequested = new Promise((resolve) => {
      this.#stop = resolve;
    });
  }

  /**
   * Runs until stopped (or, with exec, until the program exits; or, with exit_after_auth, after
   * the first render) and returns the exit code. Start-up failures (login, first render) throw.
   */
  async run(): Promise<number> {
    try {
      ({ templates: this.#templates, envTemplates: this.#envTemplates } = await loadTemplates(
        this.#config,
        this.#io.env,
      ));
      await this.#login();
      await this.#render(true);
      if (this.#config.exitAfterAuth) {
        this.#io.log('authenticated and rendered; exiting (exit_after_auth)');
        return 0;
      }
      const exec = this.#config.exec;
      if (exec !== undefined) {
        this.#supervisor = new Supervisor({
          command: exec.command[0]!,
          args: exec.command.slice(1),
          stdout: this.#io.stdout,
          stderr: this.#io.stderr,
          stopSignal: exec.restartStopSignal,
        });
        await this.#supervisor.start(this.#childEnv());
      }
      this.#subscribe(true);
      const finished: Promise<ExitStatus | undefined> =
        this.#supervisor?.finished ?? new Promise<never>(() => undefined);
      const outcome = await Promise.race([this.#stopRequested.then(() => undefined), finished]);
      if (outcome !== undefined) {
        this.#io.log(`the program exited with code ${exitCodeOf(outcome)}`);
        return exitCodeOf(outcome);
      }
      if (this.#supervisor !== undefined) await this.#supervisor.stop();
      return 0;
    } finally {
      this.#shutdown();
    }
  }

  /** Asks the agent to stop (SIGINT/SIGTERM); run() then resolves. */
  stop(): void {
    this.#stopped = true;
    this.#stop();
  }

  /** Renders again now (SIGHUP). */
  rerender(): void {
    this.#scheduleRender();
  }

  #shutdown(): void {
    this.#stopped = true;
    clearTimeout(this.#debounce);
    clearTimeout(this.#relogin);
    this.#tokenKeeper.close();
    this.#leaseKeeper.close();
    this.#subscription?.close();
  }

  /**
   * SECURITY: exec and template commands never see the agent's own credentials unless asked;
   * env_template names are explicit, so they may set any variable.
   */
  #childEnv(): NodeJS.ProcessEnv {
    return childEnvironment({
      inherited: this.#io.env,
      vars: this.#envVars,
      pathKeys: {},
      passToken: this.#io.passToken === true,
    });
  }

  async #login(): Promise<void> {
    const token = await this.#auth.login();
    this.#token = token;
    this.#client = new CofferClient({
      address: this.#io.address,
      token: token.token,
      ...(this.#io.fetch === undefined ? {} : { fetch: this.#io.fetch }),
    });
    for (const sink of this.#config.sinks) {
      await writeFileAtomic(sink.path, token.token, sink.mode);
    }
    this.#tokenKeeper.track(token);
    this.#io.log(
      `authenticated with ${this.#config.method.type}` +
        (token.ttlSeconds > 0 ? ` (token TTL ${token.ttlSeconds}s)` : ''),
    );
  }

  #scheduleRelogin(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#relogin);
    this.#relogin = setTimeout(() => {
      void this.#doRelogin();
    }, delayMs);
  }

  async #doRelogin(): Promise<void> {
    try {
      await this.#login();
      this.#reloginMs = RELOGIN_MIN_MS;
      if (this.#stopped) return;
      // Leases belong to the token that read them: a new token reads everything again.
      this.#reads = new Map();
      this.#subscribe(true);
      this.#scheduleRender();
    } catch (error) {
      if (this.#stopped) return;
      this.#io.log(`login failed, will retry in ${this.#reloginMs / 1000}s: ${messageOf(error)}`);
      this.#scheduleRelogin(this.#reloginMs);
      this.#reloginMs = Math.min(RELOGIN_MAX_MS, this.#reloginMs * 2);
    }
  }

  #scheduleRender(): void {
    if (this.#stopped) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      void this.#render(false).catch((error: unknown) => {
        this.#io.log(`render failed, keeping the current files: ${messageOf(error)}`);
      });
    }, DEBOUNCE_MS);
  }

  /** Reads every secret once, renders every template, runs commands, restarts exec if needed. */
  async #render(initial: boolean): Promise<void> {
    if (this.#rendering) {
      this.#renderAgain = true;
      return;
    }
    this.#rendering = true;
    try {
      const client = this.#client!;
      const targets: ReadTarget[] = [
        ...this.#templates.flatMap((t) => t.compiled.targets),
        ...this.#envTemplates.flatMap((t) => t.compiled.targets),
      ];
      const stale = new Set(this.#stale);
      const reads = await readSecrets(client, targets, this.#reusable());
      for (const id of stale) this.#stale.delete(id);
      this.#reads = reads;
      // Render everything before writing anything: a failing template leaves all files as they were.
      const outputs = this.#templates.map((t) => ({ t, text: t.compiled.render(reads) }));
      const vars: Record<string, string> = {};
      for (const t of this.#envTemplates) vars[t.name] = t.compiled.render(reads);
      if (this.#stopped && !initial) return;
      for (const { t, text } of outputs) {
        if (await writeIfChanged(t.config.destination, text, t.config.perms)) {
          this.#io.log(`rendered ${t.config.destination}`);
          if (t.config.command !== undefined) await this.#runCommand(t.config);
        }
      }
      const envChanged = !sameRecord(vars, this.#envVars);
      this.#envVars = vars;
      this.renders += 1;
      this.#follow([...reads.values()]);
      const exec = this.#config.exec;
      if (
        !initial &&
        envChanged &&
        this.#supervisor !== undefined &&
        exec?.restartOnSecretChanges === 'always'
      ) {
        this.#io.log('env_template values changed; restarting the program');
        await this.#supervisor.restart(this.#childEnv());
      }
    } finally {
      this.#rendering = false;
      if (this.#renderAgain) {
        this.#renderAgain = false;
        this.#scheduleRender();
      }
    }
  }

  /**
   * Reads of dynamic secrets to keep: each read of one issues a new credential, so while its
   * lease is being renewed (and no change event named it) the value stays. An exhausted lease is
   * no longer kept, which is what makes the render it triggers read that secret again.
   */
  #reusable(): Map<string, SecretRead> {
    const reuse = new Map<string, SecretRead>();
    for (const [id, read] of this.#reads) {
      if (read.lease === undefined || this.#stale.has(id)) continue;
      if (this.#leaseKeeper.isKept(read.lease.leaseId)) reuse.set(id, read);
    }
    return reuse;
  }

  /** Tracks leases of the reads and the paths to watch. */
  #follow(reads: readonly SecretRead[]): void {
    this.#leaseKeeper.track(reads.flatMap((r) => (r.lease === undefined ? [] : [r.lease])));
    this.#watched = new Set(reads.flatMap((r) => r.watchPaths));
    if (this.#subscription !== undefined) this.#subscribe(false);
  }

  /** (Re)subscribes to change events on the watched paths; `force` after a new login. */
  #subscribe(force: boolean): void {
    if (this.#stopped) return;
    const paths = [...this.#watched].sort();
    const key = paths.join('\n');
    if (!force && key === this.#subscribedTo) return;
    this.#subscription?.close();
    this.#subscription = undefined;
    this.#subscribedTo = key;
    if (paths.length === 0) return;
    this.#subscription = subscribeChanges({
      address: this.#io.address,
      token: this.#token!.token,
      prefixes: paths,
      ...(this.#io.fetch === undefined ? {} : { fetch: this.#io.fetch }),
      onChange: (event) => {
        if (!this.#watched.has(event.path)) return;
        for (const [id, read] of this.#reads) {
          if (read.watchPaths.includes(event.path)) this.#stale.add(id);
        }
        this.#scheduleRender();
      },
      onReady: () => {
        // Changes made before the stream was ready (or while it was down) were missed: render
        // again; files are rewritten only if their content differs.
        this.#scheduleRender();
      },
      onError: (error, { fatal }) => {
        if (!fatal) return;
        if (error instanceof Error && /HTTP 40[13]/.test(error.message)) {
          this.#io.log('the event stream refused the token; logging in again');
          this.#scheduleRelogin(0);
        } else {
          this.#io.log(`not watching for changes: ${error.message}`);
        }
      },
    });
  }

  /** Runs a template's command: a string through /bin/sh -c, a list directly; bounded by its timeout. */
  #runCommand(t: TemplateConfig): Promise<void> {
    const command = t.command!;
    const [file, args] =
      typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0]!, command.slice(1)];
    return new Promise((resolve) => {
      const child = spawn(file, args, {
        env: this.#childEnv(),
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const timer = setTimeout(() => {
        this.#io.log(`the command of ${t.where} ran over ${t.commandTimeoutMs} ms; killing it`);
        child.kill('SIGKILL');
      }, t.commandTimeoutMs);
      child.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.#io.log(`cannot run the command of ${t.where}: ${error.code ?? 'error'}`);
        resolve();
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code !== 0) {
          this.#io.log(`the command of ${t.where} failed (exit ${exitCodeOf({ code, signal })})`);
        }
        resolve();
      });
    });
  }
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    return `${error.errors.length > 0 ? error.errors.join('; ') : 'request failed'} (${error.status})`;
  }
  if (error instanceof ConnectionError) return error.message;
  return error instanceof Error ? error.message : 'unexpected failure';
}
