// `coffer agent -config FILE [-exit-after-auth]`: runs the agent (auto-auth, templates, exec)
// described in docs/agent.md until SIGINT/SIGTERM, or once in init mode.
import { readFileSync } from 'node:fs';
import { ConnectionError, resolveTlsSettings, tlsFetch } from '../client/index.js';
import { AgentConfigError, parseAgentConfig } from './agent/config.js';
import type { AgentConfig } from './agent/config.js';
import { SpawnError } from './agent/supervisor.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import type { RunContext } from './command.js';
import { resolveAddress } from './config.js';
import { connectionMessage } from './command.js';

/** -address, then $COFFER_ADDR/$VAULT_ADDR (which override the file, as in Vault), then vault.address. */
function agentAddress(
  flag: string | undefined,
  fromConfig: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const envSet = ['COFFER_ADDR', 'VAULT_ADDR'].some((n) => (env[n] ?? '').trim() !== '');
  return resolveAddress(flag ?? (envSet ? undefined : fromConfig), env);
}

export const agentCommand = defineCommand({
  summary: 'Run the agent: log in, render secrets into files, supervise a program',
  usage: '-config=FILE [options]',
  description:
    '  Logs in with the auto_auth method of FILE (token_file, approle, jwt, kubernetes), keeps\n' +
    '  the token renewed, renders each template to its destination (atomically, mode 0600\n' +
    '  unless perms says otherwise) and renders again when the secrets change. With an exec\n' +
    '  block it runs the program with env_template values and restarts it on change.\n' +
    '  SIGINT/SIGTERM stop it; SIGHUP renders again. See docs/agent.md.',
  flags: {
    config: {
      kind: 'string',
      placeholder: '<file>',
      help: 'The agent configuration (HCL or JSON).',
    },
    'exit-after-auth': {
      kind: 'boolean',
      help: 'Init mode: log in, render every template once, and exit 0.',
    },
    'pass-token': {
      kind: 'boolean',
      help: 'Also pass COFFER_TOKEN/VAULT_TOKEN (and the other Coffer credentials) to exec.',
    },
  },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const file = flags.config;
    if (file === undefined || file.trim() === '') {
      throw new UsageError('missing -config=FILE');
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new UsageError(`cannot read ${file} (${typeof code === 'string' ? code : 'error'})`);
    }
    let config;
    try {
      config = parseAgentConfig(text, file);
    } catch (error) {
      if (error instanceof AgentConfigError) throw new UsageError(error.message);
      throw error;
    }
    if (flags['exit-after-auth'] === true) config = { ...config, exitAfterAuth: true };
    return runAgent(ctx, config, flags.address, flags['pass-token'] === true);
  },
});

/**
 * Runs the agent for `config` until it stops (or once, in init mode) and returns the exit code.
 * Shared with `coffer k8s agent`, which takes the configuration from the environment.
 */
export async function runAgent(
  ctx: RunContext,
  config: AgentConfig,
  addressFlag: string | undefined,
  passToken = false,
): Promise<number> {
  // Loaded here, not at start-up: Handlebars costs every other command ~30 ms otherwise.
  const { Agent, messageOf } = await import('./agent/agent.js');
  // The vault block's TLS settings, each overridden by its variable ($VAULT_CACERT...).
  const fetchImpl =
    config.tls === undefined
      ? ctx.io.fetch
      : tlsFetch({ ...config.tls, ...resolveTlsSettings({}, ctx.io.env) }, ctx.io.fetch);
  const log = (line: string) => {
    ctx.err(`coffer agent: ${line}`);
  };
  const agent = new Agent(config, {
    address: agentAddress(addressFlag, config.address, ctx.io.env),
    env: ctx.io.env,
    passToken,
    log,
    stdout: process.stdout,
    stderr: process.stderr,
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  });
  const onStop = () => {
    agent.stop();
  };
  const onHup = () => {
    agent.rerender();
  };
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', onHup);
  try {
    return await agent.run();
  } catch (error) {
    if (error instanceof ConnectionError) {
      ctx.err(`Error: ${connectionMessage(error)}`);
      return 1;
    }
    if (error instanceof SpawnError) {
      ctx.err(`Error: ${error.message}`);
      return error.exitCode;
    }
    ctx.err(`Error: ${messageOf(error)}`);
    return 1;
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    process.off('SIGHUP', onHup);
  }
}
