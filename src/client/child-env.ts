// The environment a program started with secrets gets (`coffer run`, the agent's exec, loadEnv):
// Coffer's own credentials removed, and no secret key silently replacing what the program
// inherited or steering how it starts (PATH, LD_PRELOAD, NODE_OPTIONS...).
import { ClientError } from './errors.js';

/**
 * Variables that carry Coffer's (or Vault's) own credentials. SECURITY: a child never sees them
 * unless the caller asks (`-pass-token`): the program needs its secrets, not the token that can
 * read every other secret the token reaches (in the tour, the root token).
 */
export const CREDENTIAL_VARIABLES: readonly string[] = [
  'COFFER_TOKEN',
  'VAULT_TOKEN',
  'COFFER_FALLBACK_KEY',
  'COFFER_ROLE_ID',
  'COFFER_SECRET_ID',
  'VAULT_ROLE_ID',
  'VAULT_SECRET_ID',
];

/** Names that change how a program (or its interpreter or dynamic loader) starts. */
const PROTECTED_NAMES = new Set([
  'PATH',
  'HOME',
  'SHELL',
  'USER',
  'LOGNAME',
  'PWD',
  'TMPDIR',
  'IFS',
  'ENV',
  'BASH_ENV',
  'CDPATH',
  'NODE_OPTIONS',
  'NODE_PATH',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'PERL5LIB',
  'PERL5OPT',
  'RUBYLIB',
  'RUBYOPT',
  'CLASSPATH',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'GIT_SSH_COMMAND',
]);
/** Prefixes of protected names: the dynamic loaders' and Coffer's/Vault's own settings. */
const PROTECTED_PREFIXES: readonly string[] = ['LD_', 'DYLD_', 'COFFER_', 'VAULT_'];

/** Whether a variable may be set from a secret only by naming it explicitly (`-map`). */
export function isProtectedVariable(name: string): boolean {
  return PROTECTED_NAMES.has(name) || PROTECTED_PREFIXES.some((p) => name.startsWith(p));
}

/** Refused: a secret key would set a protected or an inherited variable. Names no value. */
export class EnvClashError extends ClientError {
  constructor(message: string) {
    super(message);
    this.name = 'EnvClashError';
  }
}

export interface ChildEnvOptions {
  /** The environment the caller has (the CLI's own). */
  readonly inherited: Readonly<Record<string, string | undefined>>;
  /** The resolved variables. */
  readonly vars: Readonly<Record<string, string>>;
  /**
   * Variables that came from a key of a whole path: name → the key ("secret/app#path"). Names
   * not listed here were named explicitly (`-map`, an env file line, an env_template block) and
   * may set any variable, protected or inherited.
   */
  readonly pathKeys: Readonly<Record<string, string>>;
  /** Keep COFFER_TOKEN, VAULT_TOKEN... in the child's environment (`-pass-token`). */
  readonly passToken?: boolean;
  /** Let keys of whole paths replace inherited (not protected) variables (`-override-env`). */
  readonly overrideEnv?: boolean;
  /** The flag names to suggest in messages; default `-map` and `-override-env`. */
  readonly mapHint?: string;
  readonly overrideHint?: string;
}

/**
 * Checks that no key of a whole path sets a protected variable, or replaces an inherited one
 * (unless overrideEnv), and returns inherited minus credentials plus vars. Throws EnvClashError
 * naming the variable and the secret key, never a value.
 */
export function checkSecretVariables(options: ChildEnvOptions): void {
  const mapHint = options.mapHint ?? '-map';
  const overrideHint = options.overrideHint ?? '-override-env';
  for (const [name, key] of Object.entries(options.pathKeys)) {
    if (isProtectedVariable(name)) {
      throw new EnvClashError(
        `the secret key ${key} would set ${name}, a protected variable; ` +
          `name it explicitly (${mapHint} ${name}=coffer://${key}) if that is meant`,
      );
    }
    if (options.overrideEnv !== true && options.inherited[name] !== undefined) {
      throw new EnvClashError(
        `the secret key ${key} would replace the inherited variable ${name}; ` +
          `use ${overrideHint} to allow it, or ${mapHint} to name it explicitly`,
      );
    }
  }
}

/** The child's environment: see checkSecretVariables, which this runs first. */
export function childEnvironment(options: ChildEnvOptions): NodeJS.ProcessEnv {
  checkSecretVariables(options);
  const dropped = new Set(options.passToken === true ? [] : CREDENTIAL_VARIABLES);
  const env = Object.fromEntries(
    Object.entries(options.inherited).filter(([name]) => !dropped.has(name)),
  );
  return { ...env, ...options.vars };
}
