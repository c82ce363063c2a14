// `coffer k8s ...`: the Kubernetes integration's programs. `operator` syncs CofferSecrets into
// Secrets, `injector` is the mutating admission webhook, and the rest run inside pods the
// injector changed: `agent` (the init container and sidecar: `coffer agent` with its
// configuration from the environment), `run` (log in with the pod's token, then `coffer run`)
// and `copy-runtime`. Heavy modules (the Kubernetes client, Handlebars) load only when used.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CofferClient, ConnectionError, login } from '../client/index.js';
import { AgentConfigError, parseAgentConfig } from '../cli/agent/config.js';
import { parseIntFlag, UsageError } from '../cli/args.js';
import { connectionMessage, defineCommand, defineGroup } from '../cli/command.js';
import { runAgent } from '../cli/commands-agent.js';
import { runCommand } from '../cli/commands-run.js';
import { resolveAddress } from '../cli/config.js';
import { SOURCE_FLAGS } from '../cli/delivery.js';
import { AGENT_CONFIG_ENV } from './injector.js';
import { parseDurationMs } from './duration.js';

/** The package root: dist/k8s/commands.js → ../.. */
const APP_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const agentK8sCommand = defineCommand({
  summary: 'Run the agent with its configuration from $COFFER_AGENT_CONFIG (injected pods)',
  usage: '[-exit-after-auth]',
  description:
    `  The injector's init container and sidecar run this: the agent configuration (JSON form of\n` +
    `  agent.hcl) comes from the environment variable ${AGENT_CONFIG_ENV}, so no file and no\n` +
    '  shell is needed. See docs/kubernetes.md.',
  flags: {
    'exit-after-auth': {
      kind: 'boolean',
      help: 'Init mode: log in, render every template once, and exit 0.',
    },
    'config-env': {
      kind: 'string',
      placeholder: '<name>',
      help: `The environment variable holding the configuration (default ${AGENT_CONFIG_ENV}).`,
    },
  },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const name = flags['config-env'] ?? AGENT_CONFIG_ENV;
    const text = ctx.io.env[name];
    if (text === undefined || text.trim() === '') {
      throw new UsageError(`the environment variable ${name} holds no agent configuration`);
    }
    let config;
    try {
      config = parseAgentConfig(text, `$${name}`);
    } catch (error) {
      if (error instanceof AgentConfigError) throw new UsageError(error.message);
      throw error;
    }
    if (flags['exit-after-auth'] === true) config = { ...config, exitAfterAuth: true };
    // The configuration must not reach programs the agent starts.
    const env = Object.fromEntries(Object.entries(ctx.io.env).filter(([k]) => k !== name));
    return runAgent({ ...ctx, io: { ...ctx.io, env } }, config, flags.address);
  },
});

const runK8sCommand = defineCommand({
  summary: "Log in with the pod's service account token, then run a program like `coffer run`",
  usage: '-role=ROLE [options] -- COMMAND [ARGS...]',
  description:
    '  What the injector wraps container commands in: logs in with the Kubernetes auth method\n' +
    '  (the projected token file), then does exactly what `coffer run` does with -path, -map and\n' +
    '  -env-file. The token is never put in the environment of COMMAND.',
  flags: {
    ...SOURCE_FLAGS,
    role: { kind: 'string', placeholder: '<role>', help: 'The Kubernetes auth role.' },
    'auth-path': {
      kind: 'string',
      placeholder: '<path>',
      help: 'Where the auth method is mounted (default auth/kubernetes).',
    },
    'jwt-file': {
      kind: 'string',
      placeholder: '<file>',
      help: 'The service account token (default the projected coffer.dev token).',
    },
  },
  args: { min: 1, max: Infinity },
  async run(ctx, flags, args) {
    const role = (flags.role ?? '').trim();
    if (role === '') throw new UsageError('missing -role=ROLE');
    const jwtFile = flags['jwt-file'] ?? '/var/run/secrets/coffer.dev/serviceaccount/token';
    let jwt: string;
    try {
      jwt = readFileSync(jwtFile, 'utf8').trim();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new UsageError(
        `cannot read the token file ${jwtFile} (${typeof code === 'string' ? code : 'error'})`,
      );
    }
    const address = resolveAddress(flags.address, ctx.io.env);
    const mount = (flags['auth-path'] ?? 'auth/kubernetes').replace(/^\/*(auth\/)?/, '');
    let token: string;
    try {
      const client = new CofferClient({
        address,
        ...(ctx.io.fetch === undefined ? {} : { fetch: ctx.io.fetch }),
      });
      token = (await login(client, { method: 'kubernetes', mount, role, jwt })).auth.client_token;
    } catch (error) {
      if (error instanceof ConnectionError) {
        ctx.err(`Error: ${connectionMessage(error)}`);
        return 1;
      }
      throw error;
    }
    const forwarded = [
      ...(flags.path ?? []).map((p) => `-path=${p}`),
      ...(flags['env-file'] ?? []).map((f) => `-env-file=${f}`),
      ...(flags.map ?? []).map((m) => `-map=${m}`),
    ];
    // SECURITY: the token goes to `coffer run` as a flag inside this process, never into the
    // environment the program inherits.
    return runCommand.execute(ctx.io, 'run', [
      `-address=${address}`,
      `-token=${token}`,
      ...forwarded,
      '--',
      ...args,
    ]);
  },
});

const copyRuntimeCommand = defineCommand({
  summary: 'Copy Node, its libraries and coffer into DIR (the env-injection init container)',
  usage: 'DIR',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const { copyRuntime } = await import('./runtime.js');
    const result = await copyRuntime(args[0]!, APP_ROOT);
    ctx.err(
      `coffer k8s copy-runtime: copied node, ${result.libraries.length} libraries and coffer into ${args[0]!}`,
    );
    return 0;
  },
});

const injectorCommand = defineCommand({
  summary: 'Serve the mutating admission webhook (POST /mutate) over HTTPS',
  usage: '-listen=ADDR -tls-cert=FILE -tls-key=FILE -coffer-addr=URL -image=IMAGE [options]',
  description:
    '  Answers AdmissionReview v1 requests for pods annotated coffer.dev/agent-inject: "true"\n' +
    '  with a JSONPatch adding an init container (files into an in-memory volume), a sidecar\n' +
    '  keeping them fresh, and `coffer k8s run` around container commands for environment\n' +
    '  variables. See docs/kubernetes.md for the annotations.',
  flags: {
    listen: { kind: 'string', placeholder: '<host:port>', help: 'Address to listen on.' },
    'tls-cert': {
      kind: 'string',
      placeholder: '<file>',
      help: 'PEM certificate (re-read on change).',
    },
    'tls-key': { kind: 'string', placeholder: '<file>', help: 'PEM private key.' },
    'coffer-addr': {
      kind: 'string',
      placeholder: '<url>',
      help: 'The Coffer address injected pods use (annotation coffer.dev/service overrides).',
    },
    image: {
      kind: 'string',
      placeholder: '<image>',
      help: 'The Coffer image for the containers the injector adds.',
    },
    'auth-path': {
      kind: 'string',
      placeholder: '<path>',
      help: 'Default auth mount (default auth/kubernetes).',
    },
    'token-audience': {
      kind: 'string',
      placeholder: '<aud>',
      help: 'Audience of the projected token pods log in with (default coffer).',
    },
    'token-expiration': {
      kind: 'string',
      placeholder: '<seconds>',
      help: 'Lifetime of that token (default 3600, at least 600).',
    },
  },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const need = (value: string | undefined, flag: string): string => {
      if (value === undefined || value.trim() === '') throw new UsageError(`missing -${flag}`);
      return value.trim();
    };
    const listen = need(flags.listen, 'listen');
    const colon = listen.lastIndexOf(':');
    const port = Number(listen.slice(colon + 1));
    if (colon === -1 || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageError('-listen must be host:port');
    }
    const expiration =
      flags['token-expiration'] === undefined
        ? 3600
        : parseIntFlag(flags['token-expiration'], 'token-expiration');
    if (expiration < 600) throw new UsageError('-token-expiration must be at least 600');
    const { startInjectorServer } = await import('./injector-server.js');
    const log = (line: string) => {
      ctx.err(`coffer k8s injector: ${line}`);
    };
    const server = await startInjectorServer({
      host: listen.slice(0, colon).replace(/^\[|\]$/g, '') || '0.0.0.0',
      port,
      certFile: need(flags['tls-cert'], 'tls-cert'),
      keyFile: need(flags['tls-key'], 'tls-key'),
      settings: {
        address: need(flags['coffer-addr'], 'coffer-addr'),
        image: need(flags.image, 'image'),
        authPath: flags['auth-path'] ?? 'auth/kubernetes',
        tokenAudience: flags['token-audience'] ?? 'coffer',
        tokenExpirationSeconds: expiration,
      },
      log,
    });
    log(`listening on ${server.url}`);
    await waitForStopSignal();
    await server.close();
    return 0;
  },
});

const operatorCommand = defineCommand({
  summary: 'Run the operator: sync CofferSecret resources into Kubernetes Secrets',
  usage: '-role=ROLE [options]',
  description:
    '  Watches CofferSecret resources (coffer.dev/v1alpha1) and keeps one Secret per resource in\n' +
    "  step with Coffer: pushed by Coffer's change events, resynced periodically, dynamic\n" +
    '  credentials renewed and replaced before they expire, workloads restarted on change\n' +
    '  (rate-limited). Logs in with the Kubernetes auth method. See docs/kubernetes.md.',
  flags: {
    kubeconfig: {
      kind: 'string',
      placeholder: '<file>',
      help: 'Kubeconfig to use (default: in-cluster, then $KUBECONFIG, then ~/.kube/config).',
    },
    namespace: {
      kind: 'string',
      placeholder: '<ns>',
      help: "The operator's own namespace, for its state Secret (default: the pod's namespace).",
    },
    role: { kind: 'string', placeholder: '<role>', help: 'The Kubernetes auth role.' },
    'auth-path': {
      kind: 'string',
      placeholder: '<path>',
      help: 'Where the auth method is mounted (default auth/kubernetes).',
    },
    'jwt-file': {
      kind: 'string',
      placeholder: '<file>',
      help: 'Service account token (default /var/run/secrets/kubernetes.io/serviceaccount/token).',
    },
    resync: {
      kind: 'string',
      placeholder: '<duration>',
      help: 'Re-read every resource this often, events or not (default 5m).',
    },
    'restart-interval': {
      kind: 'string',
      placeholder: '<duration>',
      help: 'At most one rollout restart per workload in this window (default 30s).',
    },
    'revoke-grace': {
      kind: 'string',
      placeholder: '<duration>',
      help: 'Keep a replaced credential this long before revoking it (default 60s).',
    },
    scope: {
      kind: 'list',
      placeholder: '<prefix>',
      help: "Allowed source path prefix; {namespace} is the resource's namespace. Repeatable.",
    },
  },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const role = (flags.role ?? '').trim();
    if (role === '') throw new UsageError('missing -role=ROLE');
    const duration = (value: string | undefined, flag: string, fallbackMs: number) => {
      if (value === undefined) return fallbackMs;
      const ms = parseDurationMs(value);
      if (ms === undefined) throw new UsageError(`-${flag} must be a duration such as 30s`);
      return ms;
    };
    const { runOperator } = await import('./operator-main.js');
    return runOperator(ctx, {
      ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }),
      ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
      address: resolveAddress(flags.address, ctx.io.env),
      role,
      authPath: flags['auth-path'] ?? 'auth/kubernetes',
      jwtFile: flags['jwt-file'] ?? '/var/run/secrets/kubernetes.io/serviceaccount/token',
      resyncMs: duration(flags.resync, 'resync', 5 * 60_000),
      restartIntervalMs: duration(flags['restart-interval'], 'restart-interval', 30_000),
      revokeGraceMs: duration(flags['revoke-grace'], 'revoke-grace', 60_000),
      scopes: flags.scope ?? [],
      stopped: waitForStopSignal(),
    });
  },
});

/** Resolves on SIGINT or SIGTERM. */
function waitForStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export const k8sGroup = defineGroup('Kubernetes: the operator, the injector and their helpers', {
  operator: operatorCommand,
  injector: injectorCommand,
  agent: agentK8sCommand,
  run: runK8sCommand,
  'copy-runtime': copyRuntimeCommand,
});
