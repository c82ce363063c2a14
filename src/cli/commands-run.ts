// `coffer run [-path P] [-env-file F] [-map NAME=ref] [-watch] [-mask] [-fallback FILE] -- CMD`:
// resolves secrets into environment variables and runs a program with them, forwarding signals
// and passing its exit status through; with -watch it follows change events and leases.
import {
  childEnvironment,
  ConnectionError,
  FALLBACK_KEY_ENV,
  formatAge,
  LeaseKeeper,
  literalVariables,
  parseFallbackKey,
  readSnapshot,
  resolveVariables,
  sourcesFingerprint,
  subscribeChanges,
  targetId,
  writeSnapshot,
} from '../client/index.js';
import type {
  ChangeSubscription,
  CofferClient,
  ResolvedVariables,
  SecretLease,
  SecretRead,
  VariableSources,
} from '../client/index.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import type { RunContext } from './command.js';
import { resolveToken } from './config.js';
import { connectionMessage } from './command.js';
import { isUnavailable, SOURCE_FLAGS, sourcesFromFlags } from './delivery.js';
import { exitCodeOf, parseSignal, SpawnError, Supervisor } from './agent/supervisor.js';

/** Signals `coffer run` passes on to the program. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
];
/** Changes arriving within this window are handled by one re-read. */
const DEBOUNCE_MS = 50;
/** Retry of the first resolve after running from a snapshot: from 1 s doubling to 30 s. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** What the values are and where they came from. */
interface Current {
  resolved: ResolvedVariables | undefined;
  vars: Readonly<Record<string, string>>;
  secretNames: readonly string[];
  /** Variables from keys of -path: name → key (see childEnvironment). */
  pathKeys: Readonly<Record<string, string>>;
}

function leasesOf(resolved: ResolvedVariables | undefined): SecretLease[] {
  return (resolved?.reads ?? []).flatMap((read) => (read.lease === undefined ? [] : [read.lease]));
}

function sameVars(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

interface FallbackSettings {
  readonly file: string;
  readonly key: Buffer;
  readonly fingerprint: string;
}

/**
 * Resolves the variables; when the server is unavailable and a snapshot is configured, reads it
 * (and says so on stderr with its age). Writes the snapshot after a successful resolve.
 */
async function firstResolve(
  ctx: RunContext,
  client: CofferClient,
  sources: VariableSources,
  fallback: FallbackSettings | undefined,
): Promise<Current & { fromSnapshot: boolean }> {
  try {
    const resolved = await resolveVariables(client, sources);
    if (fallback !== undefined) await saveSnapshot(fallback, resolved);
    return {
      resolved,
      vars: resolved.vars,
      secretNames: resolved.secretNames,
      pathKeys: resolved.pathKeys,
      fromSnapshot: false,
    };
  } catch (error) {
    if (fallback === undefined || !isUnavailable(error)) throw error;
    const snapshot = await readSnapshot(fallback.file, fallback.key);
    if (snapshot.fingerprint !== fallback.fingerprint) {
      throw new UsageError(
        `the snapshot ${fallback.file} was written for other -path/-env-file/-map settings`,
      );
    }
    const why =
      error instanceof ConnectionError
        ? connectionMessage(error)
        : `Coffer at ${client.address} is unavailable`;
    ctx.err(
      `coffer run: ${why}; running from the snapshot ${fallback.file} ` +
        `(${formatAge(Date.now() - snapshot.createdAt)} old)`,
    );
    return {
      resolved: undefined,
      vars: { ...snapshot.vars, ...literalVariables(sources) },
      secretNames: snapshot.secretNames,
      pathKeys: snapshotPathKeys(snapshot.secretNames, sources),
      fromSnapshot: true,
    };
  }
}

/** In a snapshot, the secret variables not named by -map/-env-file came from a -path key. */
function snapshotPathKeys(
  secretNames: readonly string[],
  sources: VariableSources,
): Record<string, string> {
  const explicit = new Set((sources.explicit ?? []).map((v) => v.name));
  const out: Record<string, string> = {};
  for (const name of secretNames)
    if (!explicit.has(name)) out[name] = `(a key of -path for ${name})`;
  return out;
}

/** Settings of the child's environment (see childEnvironment). */
interface EnvSettings {
  readonly inherited: Readonly<Record<string, string | undefined>>;
  readonly passToken: boolean;
  readonly overrideEnv: boolean;
}

function envFor(settings: EnvSettings, current: Current): NodeJS.ProcessEnv {
  return childEnvironment({ ...settings, vars: current.vars, pathKeys: current.pathKeys });
}

async function saveSnapshot(fallback: FallbackSettings, resolved: ResolvedVariables) {
  await writeSnapshot(fallback.file, fallback.key, {
    createdAt: Date.now(),
    fingerprint: fallback.fingerprint,
    vars: resolved.vars,
    secretNames: resolved.secretNames,
  });
}

export const runCommand = defineCommand({
  summary: 'Run a program with secrets as environment variables',
  usage: '[options] -- COMMAND [ARGS...]',
  description:
    '  Reads the secrets named by -path, -env-file and -map, adds them to the environment and\n' +
    '  runs COMMAND (no shell). Signals INT, TERM, HUP and QUIT are passed on; the exit code is\n' +
    "  the program's (128+n when it dies of signal n). Nothing is written to disk, except the\n" +
    '  encrypted -fallback snapshot. Put "--" before COMMAND so its flags are not read as ours.\n' +
    '  See docs/delivery.md.',
  flags: {
    ...SOURCE_FLAGS,
    watch: {
      kind: 'boolean',
      help: 'Follow changes to the secrets (and leases) and restart COMMAND with new values.',
    },
    'on-change': {
      kind: 'string',
      placeholder: '<restart|SIGHUP|...>',
      help: 'With -watch: restart the program (default) or send it this signal.',
    },
    mask: {
      kind: 'boolean',
      help: 'Replace secret values (4 bytes or longer) in the output of COMMAND with *****.',
    },
    fallback: {
      kind: 'string',
      placeholder: '<file>',
      help: `Keep an encrypted snapshot (key: $${FALLBACK_KEY_ENV}) and run from it when the server is down.`,
    },
    'pass-token': {
      kind: 'boolean',
      help: 'Also pass COFFER_TOKEN/VAULT_TOKEN (and the other Coffer credentials) to COMMAND.',
    },
    'override-env': {
      kind: 'boolean',
      help: 'Let keys of -path replace variables COMMAND would inherit (protected names still need -map).',
    },
  },
  args: { min: 1, max: Infinity },
  async run(ctx, flags, args) {
    const [command, ...commandArgs] = args as [string, ...string[]];
    const onChange = flags['on-change'] ?? 'restart';
    const changeSignal = onChange === 'restart' ? undefined : parseSignal(onChange);
    if (onChange !== 'restart' && changeSignal === undefined) {
      throw new UsageError('invalid value for flag -on-change: "restart" or a signal name');
    }
    if (flags['on-change'] !== undefined && flags.watch !== true) {
      throw new UsageError('-on-change needs -watch');
    }
    const sources = sourcesFromFlags(flags);
    let fallback: FallbackSettings | undefined;
    if (flags.fallback !== undefined) {
      if (flags.fallback.trim() === '') throw new UsageError('-fallback needs a file name');
      let key: Buffer;
      try {
        key = parseFallbackKey(ctx.io.env[FALLBACK_KEY_ENV]);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      fallback = { file: flags.fallback, key, fingerprint: sourcesFingerprint(sources) };
    }
    const client = ctx.client();
    let first: Current & { fromSnapshot: boolean };
    try {
      first = await firstResolve(ctx, client, sources, fallback);
    } catch (error) {
      if (error instanceof ConnectionError) {
        ctx.err(`Error: ${connectionMessage(error)}`);
        return 1;
      }
      throw error;
    }

    const envSettings: EnvSettings = {
      inherited: { ...ctx.io.env },
      passToken: flags['pass-token'] === true,
      overrideEnv: flags['override-env'] === true,
    };
    const current: Current = first;
    // Checked before anything starts: a clash is an error, not a surprise in the program.
    const firstEnv = envFor(envSettings, current);
    const supervisor = new Supervisor({
      command,
      args: commandArgs,
      stdout: process.stdout,
      stderr: process.stderr,
      ...(flags.mask === true
        ? {
            maskValues: () => current.secretNames.map((name) => current.vars[name] ?? ''),
          }
        : {}),
    });

    const forward = (signal: NodeJS.Signals) => {
      supervisor.terminate(signal);
    };
    const handlers = FORWARDED_SIGNALS.map((signal) => {
      const handler = () => {
        forward(signal);
      };
      process.on(signal, handler);
      return [signal, handler] as const;
    });

    const watcher =
      flags.watch === true
        ? new RunWatcher({
            ctx,
            client,
            sources,
            fallback,
            supervisor,
            envSettings,
            current,
            changeSignal,
            token: resolveToken(flags.token, ctx.io.env),
            fromSnapshot: first.fromSnapshot,
          })
        : undefined;
    // Without -watch leases are still renewed while the program runs; they are not replaced.
    const keeper =
      watcher === undefined && leasesOf(first.resolved).length > 0
        ? new LeaseKeeper({
            client,
            onExhausted: (lease) => {
              ctx.err(
                `coffer run: lease ${lease.leaseId} cannot be renewed further; run with -watch to replace expiring credentials`,
              );
            },
          })
        : undefined;
    keeper?.track(leasesOf(first.resolved));

    try {
      await supervisor.start(firstEnv);
      watcher?.start();
      return exitCodeOf(await supervisor.finished);
    } catch (error) {
      if (error instanceof SpawnError) {
        ctx.err(`Error: ${error.message}`);
        return error.exitCode;
      }
      throw error;
    } finally {
      watcher?.close();
      keeper?.close();
      for (const [signal, handler] of handlers) process.off(signal, handler);
    }
  },
});

interface WatcherOptions {
  readonly ctx: RunContext;
  readonly client: CofferClient;
  readonly sources: VariableSources;
  readonly fallback: FallbackSettings | undefined;
  readonly supervisor: Supervisor;
  readonly envSettings: EnvSettings;
  /** Shared with the command: the mask reads the values from here. */
  readonly current: Current;
  readonly changeSignal: NodeJS.Signals | undefined;
  readonly token: string | undefined;
  readonly fromSnapshot: boolean;
}

/**
 * The -watch machinery: a change-event subscription on the paths read, lease renewal, and
 * re-resolving (debounced) followed by a restart or a signal when the values changed.
 */
class RunWatcher {
  readonly #keeper: LeaseKeeper;
  #subscription: ChangeSubscription | undefined;
  #subscribedTo = '';
  #watched = new Set<string>();
  /** Targets a change event named since the last read: read again even if leased. */
  #stale = new Set<string>();
  #debounce: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #busy = false;
  #again = false;
  #closed = false;
  #fatalReported = false;

  readonly #o: WatcherOptions;

  constructor(options: WatcherOptions) {
    this.#o = options;
    this.#keeper = new LeaseKeeper({
      client: options.client,
      onExhausted: () => {
        this.#schedule();
      },
      onError: (error) => {
        options.ctx.err(`coffer run: lease renewal failed, will retry: ${error.message}`);
      },
    });
  }

  start(): void {
    if (this.#o.fromSnapshot) this.#retryLater();
    else this.#follow(this.#o.current.resolved);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearTimeout(this.#retry);
    this.#keeper.close();
    this.#subscription?.close();
  }

  /** Tracks the leases of `resolved` and (re)subscribes to its paths when they changed. */
  #follow(resolved: ResolvedVariables | undefined): void {
    if (resolved === undefined || this.#closed) return;
    this.#keeper.track(leasesOf(resolved));
    const paths = [...new Set(resolved.reads.flatMap((r) => r.watchPaths))].sort();
    this.#watched = new Set(paths);
    const key = paths.join('\n');
    if (key === this.#subscribedTo && this.#subscription !== undefined) return;
    this.#subscription?.close();
    this.#subscribedTo = key;
    if (paths.length === 0) return;
    this.#subscription = subscribeChanges({
      address: this.#o.client.address,
      ...(this.#o.token === undefined ? {} : { token: this.#o.token }),
      ...(this.#o.ctx.io.fetch === undefined ? {} : { fetch: this.#o.ctx.io.fetch }),
      prefixes: paths,
      onChange: (event) => {
        if (!this.#watched.has(event.path)) return;
        for (const read of this.#o.current.resolved?.reads ?? []) {
          if (read.watchPaths.includes(event.path)) this.#stale.add(targetId(read.target));
        }
        this.#schedule();
      },
      onReady: () => {
        this.#fatalReported = false;
        // Changes made before the stream was ready (or while it was down) were missed: read
        // everything again; the program is restarted only if a value differs.
        this.#schedule();
      },
      onError: (error, { fatal }) => {
        if (fatal && !this.#fatalReported) {
          this.#fatalReported = true;
          this.#o.ctx.err(`coffer run: stopped watching for changes: ${error.message}`);
        }
      },
    });
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      void this.#refresh();
    }, DEBOUNCE_MS);
  }

  #retryLater(): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      void this.#refresh();
    }, this.#retryMs);
    this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
  }

  /**
   * Reads of dynamic secrets to keep: each read of one issues a new credential, so while its
   * lease is being renewed (and no change event named it) the value stays. An exhausted lease is
   * no longer kept, which is what makes the refresh it triggers read that secret again.
   */
  #reusable(): Map<string, SecretRead> {
    const reuse = new Map<string, SecretRead>();
    for (const read of this.#o.current.resolved?.reads ?? []) {
      const id = targetId(read.target);
      if (read.lease === undefined || this.#stale.has(id)) continue;
      if (this.#keeper.isKept(read.lease.leaseId)) reuse.set(id, read);
    }
    return reuse;
  }

  async #refresh(): Promise<void> {
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    try {
      const stale = new Set(this.#stale);
      const resolved = await resolveVariables(this.#o.client, this.#o.sources, {
        reuse: this.#reusable(),
      });
      for (const id of stale) this.#stale.delete(id);
      if (this.#closed) return;
      this.#retryMs = RETRY_MIN_MS;
      if (this.#o.fallback !== undefined) await saveSnapshot(this.#o.fallback, resolved);
      const changed = !sameVars(this.#o.current.vars, resolved.vars);
      // A new key that would set a protected or inherited variable keeps the current values.
      envFor(this.#o.envSettings, { ...this.#o.current, ...resolved });
      this.#o.current.resolved = resolved;
      this.#o.current.vars = resolved.vars;
      this.#o.current.secretNames = resolved.secretNames;
      this.#o.current.pathKeys = resolved.pathKeys;
      this.#follow(resolved);
      if (changed) await this.#apply();
    } catch (error) {
      if (this.#closed) return;
      const message =
        error instanceof ConnectionError ? connectionMessage(error) : (error as Error).message;
      this.#o.ctx.err(`coffer run: cannot refresh secrets, keeping the current values: ${message}`);
      if (this.#o.current.resolved === undefined || isUnavailable(error)) this.#retryLater();
    } finally {
      this.#busy = false;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#schedule();
      }
    }
  }

  async #apply(): Promise<void> {
    const signal = this.#o.changeSignal;
    if (signal !== undefined) {
      this.#o.supervisor.signal(signal);
      return;
    }
    this.#o.ctx.err('coffer run: secrets changed; restarting the program');
    await this.#o.supervisor.restart(envFor(this.#o.envSettings, this.#o.current));
  }
}
