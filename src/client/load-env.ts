// The SDK entry for programs that fetch their own secrets at start-up: `await loadEnv({...})`
// reads whole paths and references like `coffer run` does and fills process.env with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSecretVariables } from './child-env.js';
import { CofferClient, DEFAULT_ADDRESS } from './client.js';
import { parseEnvFile } from './env-file.js';
import { hasTlsSettings, resolveTlsSettings, tlsFetch } from './tls.js';
import type { TlsSettings } from './tls.js';
import { explicitFromEnvFile, explicitFromPairs, resolveVariables } from './variables.js';
import type { ExplicitVariable } from './variables.js';

export interface LoadEnvOptions {
  /** Whole secrets ("secret/app"): each key becomes an UPPER_SNAKE variable. */
  readonly paths?: readonly string[];
  /** NAME → `coffer://mount/path#key` (or a literal value); these win over keys of `paths`. */
  readonly refs?: Readonly<Record<string, string>>;
  /** An env template file (`NAME=coffer://...` lines). */
  readonly envFile?: string;
  /** Server address; default $COFFER_ADDR, then $VAULT_ADDR, then http://127.0.0.1:8200. */
  readonly address?: string;
  /** Token; default $COFFER_TOKEN, then $VAULT_TOKEN, then the file ~/.coffer-token. */
  readonly token?: string;
  /**
   * TLS settings (CA file or folder, client certificate, server name, skip-verify); each
   * defaults to its variable: $COFFER_CACERT/$VAULT_CACERT, ..._CAPATH, ..._CLIENT_CERT,
   * ..._CLIENT_KEY, ..._TLS_SERVER_NAME, ..._SKIP_VERIFY.
   */
  readonly tls?: TlsSettings;
  /** Replace variables that are already set (default false: existing values are kept). */
  readonly override?: boolean;
  /** The environment to read settings from and to fill; default process.env. */
  readonly env?: Record<string, string | undefined>;
  readonly fetch?: typeof fetch;
  /** Per-request deadline in milliseconds; default 60 000. */
  readonly timeoutMs?: number;
}

/**
 * Resolves the variables, sets each one in `env` (unless it is already set and `override` is
 * not true) and returns all of them. A key of a whole path that would set a protected variable
 * (PATH, HOME, LD_*, NODE_OPTIONS, COFFER_*...) is refused with EnvClashError. Rejects with ApiError, ConnectionError or ClientError
 * (ResolveError for a missing secret or key) before changing anything.
 * SECURITY: values go only into `env` and the result; nothing is written to disk or logged.
 */
export async function loadEnv(options: LoadEnvOptions = {}): Promise<Record<string, string>> {
  // eslint-disable-next-line no-restricted-properties -- the SDK's purpose is to fill the calling program's environment
  const env = options.env ?? process.env;
  const token = options.token ?? firstSet(env, ['COFFER_TOKEN', 'VAULT_TOKEN']) ?? tokenFile(env);
  const tls = resolveTlsSettings(options.tls ?? {}, env);
  const fetchImpl = hasTlsSettings(tls) ? tlsFetch(tls, options.fetch) : options.fetch;
  const client = new CofferClient({
    address: options.address ?? firstSet(env, ['COFFER_ADDR', 'VAULT_ADDR']) ?? DEFAULT_ADDRESS,
    ...(token === undefined ? {} : { token }),
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const explicit: ExplicitVariable[] = [];
  if (options.envFile !== undefined) {
    const text = readFileSync(options.envFile, 'utf8');
    explicit.push(...explicitFromEnvFile(parseEnvFile(text, options.envFile), options.envFile));
  }
  explicit.push(...explicitFromPairs(Object.entries(options.refs ?? {}), 'refs'));
  const resolved = await resolveVariables(client, { paths: options.paths ?? [], explicit });
  // SECURITY: a key of a whole path never sets PATH, LD_PRELOAD, NODE_OPTIONS...; name it in
  // `refs` if that is meant. Inherited variables are governed by `override`.
  checkSecretVariables({
    inherited: env,
    vars: resolved.vars,
    pathKeys: resolved.pathKeys,
    overrideEnv: true,
    mapHint: 'refs',
  });
  for (const [name, value] of Object.entries(resolved.vars)) {
    if (options.override === true || env[name] === undefined) env[name] = value;
  }
  return { ...resolved.vars };
}

function firstSet(
  env: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** The token the CLI's `coffer login` stored, if any. */
function tokenFile(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const home = env['HOME'];
  if (home === undefined || home === '') return undefined;
  try {
    const token = readFileSync(join(home, '.coffer-token'), 'utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}
