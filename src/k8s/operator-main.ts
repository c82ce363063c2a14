// `coffer k8s operator`: wiring. Logs in with the Kubernetes auth method (the agent's
// Authenticator, reading the projected token file on each login), keeps the token renewed (the
// agent's TokenKeeper), runs the Operator until SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { Authenticator, TokenKeeper } from '../cli/agent/auth.js';
import type { RunContext } from '../cli/command.js';
import { UsageError } from '../cli/args.js';
import { kubeApis, loadKubeConfig } from './kube.js';
import { messageOf, Operator } from './operator.js';

export interface OperatorSettings {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly address: string;
  readonly role: string;
  readonly authPath: string;
  readonly jwtFile: string;
  readonly resyncMs: number;
  readonly restartIntervalMs: number;
  readonly revokeGraceMs: number;
  readonly scopes: readonly string[];
  /** Resolves when the operator should stop. */
  readonly stopped: Promise<void>;
}

const POD_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function ownNamespace(flag: string | undefined): string {
  if (flag !== undefined && flag.trim() !== '') return flag.trim();
  try {
    return readFileSync(POD_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    throw new UsageError(`missing -namespace (and ${POD_NAMESPACE_FILE} cannot be read)`);
  }
}

export async function runOperator(ctx: RunContext, settings: OperatorSettings): Promise<number> {
  const log = (line: string) => {
    ctx.err(`coffer k8s operator: ${line}`);
  };
  const namespace = ownNamespace(settings.namespace);
  let config;
  try {
    config = loadKubeConfig(settings.kubeconfig, ctx.io.env);
  } catch (error) {
    throw new UsageError(`cannot load the Kubernetes configuration: ${(error as Error).message}`);
  }
  const fetchOption = ctx.io.fetch === undefined ? {} : { fetch: ctx.io.fetch };
  const authenticator = new Authenticator(
    {
      type: 'kubernetes',
      mountPath: settings.authPath.replace(/^\/+|\/+$/g, ''),
      config: { role: settings.role, token_path: settings.jwtFile },
    },
    { address: settings.address, ...fetchOption },
  );
  let keeper: TokenKeeper | undefined;
  const operator = new Operator({
    apis: kubeApis(config),
    namespace,
    address: settings.address,
    login: () => authenticator.login(),
    keepToken: (token, onExpiring) => {
      keeper?.close();
      keeper = new TokenKeeper({ address: settings.address, ...fetchOption, onExpiring, log });
      keeper.track(token);
    },
    resyncMs: settings.resyncMs,
    restartIntervalMs: settings.restartIntervalMs,
    revokeGraceMs: settings.revokeGraceMs,
    scopes: settings.scopes,
    log,
    ...fetchOption,
  });
  try {
    await operator.start();
  } catch (error) {
    await operator.stop();
    keeper?.close();
    ctx.err(`Error: the operator cannot start: ${messageOf(error)}`);
    return 1;
  }
  log(`started (namespace ${namespace}); watching CofferSecret resources`);
  await settings.stopped;
  log('stopping');
  await operator.stop();
  keeper?.close();
  return 0;
}
