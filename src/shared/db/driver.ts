// The one interface every database driver implements (PostgreSQL, MySQL/MariaDB, Redis),
// the plugin names Coffer accepts, and how a driver failure becomes a CofferError without
// leaking a password. Shared below the engines: the database engine and the aws-sm engine's
// built-in rotators both use it (engines never import each other).
import { CofferError } from '../../sdk/errors.js';
import { generatePassword } from './password.js';
import { formatExpiration, type StatementValues } from './statements.js';

export const PLUGIN_NAMES = [
  'postgresql-database-plugin',
  'mysql-database-plugin',
  'mysql-aurora-database-plugin',
  'mysql-rds-database-plugin',
  'mysql-legacy-database-plugin',
  'redis-database-plugin',
] as const;

/** Placeholders a connection_url may hold for the root credentials. */
export const USER_PLACEHOLDERS = ['{{username}}', '{{name}}'] as const;
export const PASSWORD_PLACEHOLDER = '{{password}}';

/** Fills the root credentials into a URL template, percent-encoded. */
export function renderUrl(template: string, root: RootCredentials): string {
  let out = template.split(PASSWORD_PLACEHOLDER).join(encodeURIComponent(root.password));
  for (const p of USER_PLACEHOLDERS) out = out.split(p).join(encodeURIComponent(root.username));
  return out;
}

export type PluginName = (typeof PLUGIN_NAMES)[number];

export type DriverKind = 'postgres' | 'mysql' | 'redis';

export function isPluginName(name: string): name is PluginName {
  return (PLUGIN_NAMES as readonly string[]).includes(name);
}

export function driverKind(plugin: PluginName): DriverKind {
  if (plugin === 'postgresql-database-plugin') return 'postgres';
  if (plugin === 'redis-database-plugin') return 'redis';
  return 'mysql';
}

/** Pool limits, as Vault's SQL plugins name them. */
export interface PoolSettings {
  /** Vault default 4. */
  readonly maxOpenConnections: number;
  /** 0 = same as maxOpenConnections; negative = keep none idle. */
  readonly maxIdleConnections: number;
  /** 0 = connections are reused forever. */
  readonly maxConnectionLifetimeSeconds: number;
}

/** The "root" credentials Coffer connects with (the connection's username/password). */
export interface RootCredentials {
  readonly username: string;
  readonly password: string;
}

export interface PostgresSettings {
  readonly kind: 'postgres';
  /** A postgresql:// URL; {{username}}/{{name}} and {{password}} are filled in. */
  readonly connectionUrl: string;
  readonly root: RootCredentials;
  readonly pool: PoolSettings;
}

export interface MysqlTls {
  /** PEM CA bundle (tls_ca). */
  readonly ca?: string;
  /** PEM client certificate and key, combined (tls_certificate_key). */
  readonly certificateKey?: string;
  readonly serverName?: string;
  readonly skipVerify: boolean;
}

export interface MysqlSettings {
  readonly kind: 'mysql';
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
  readonly database?: string;
  readonly root: RootCredentials;
  readonly pool: PoolSettings;
  /** undefined = plain TCP. */
  readonly tls?: MysqlTls;
}

export interface RedisSettings {
  readonly kind: 'redis';
  readonly host: string;
  readonly port: number;
  readonly root: RootCredentials;
  readonly tls: boolean;
  readonly insecureTls: boolean;
  /** PEM CA bundle (ca_cert); default: the system's CAs. */
  readonly caCert?: string;
}

export type DriverSettings = PostgresSettings | MysqlSettings | RedisSettings;

/** A dynamic user to create. */
export interface NewUser {
  readonly username: string;
  readonly password: string;
  /** Epoch ms: {{expiration}} and PostgreSQL's VALID UNTIL. */
  readonly expiresAt: number;
}

/** The values a user's creation statements run with. */
export function newUserValues(user: NewUser): StatementValues {
  return {
    username: user.username,
    password: user.password,
    expiration: formatExpiration(user.expiresAt),
  };
}

/**
 * Values for trying role statements on a throwaway user: `username` (one no real user has), a
 * fresh password, and an expiry an hour from now.
 */
export function checkValues(username: string): StatementValues {
  return {
    username,
    password: generatePassword(),
    expiration: formatExpiration(Date.now() + 3_600_000),
  };
}

/** A static role's user is not in the database (rotation cannot set its password). */
export function noSuchUser(): CofferError {
  return new CofferError('invalid_request', 'username: no such user in the database', {
    field: 'username',
  });
}

/** A role's statements, as stored (each entry may hold several statements). */
export interface RoleStatements {
  readonly creation: readonly string[];
  readonly revocation: readonly string[];
  readonly rollback: readonly string[];
  readonly renew: readonly string[];
}

/**
 * One database behind one connection config. Every method connects on demand (pools are
 * lazy) and throws CofferError: `upstream_failure` when the database cannot be reached,
 * `invalid_request` when it refused a statement or the credentials. Messages name the
 * statement (e.g. "creation_statements[1]") and never contain a password.
 */
export interface DatabaseDriver {
  readonly kind: DriverKind;
  /** Connects and runs a trivial command. */
  verifyConnection(): Promise<void>;
  /**
   * Checks a role's statements without a lasting effect (see each driver for how), so a
   * broken role is refused when it is written rather than when credentials are asked for.
   */
  validateRoleStatements(statements: RoleStatements): Promise<void>;
  /** Checks root rotation statements without changing the root password. */
  validateRootRotationStatements(statements: readonly string[]): Promise<void>;
  /**
   * Creates the user with the creation statements (or the driver's default). On failure it
   * undoes what it can (rollback statements, else its default drop) before throwing.
   */
  createUser(user: NewUser, statements: RoleStatements): Promise<void>;
  /** Extends the user's life to `expiresAt` (renew statements or the driver's default). */
  renewUser(username: string, expiresAt: number, statements: readonly string[]): Promise<void>;
  /**
   * Removes the user (revocation statements or the driver's default drop) and ends its
   * sessions. Idempotent: a user that does not exist is success.
   */
  revokeUser(username: string, statements: readonly string[], field?: string): Promise<void>;
  userExists(username: string): Promise<boolean>;
  /** Sets an existing user's password (static roles); rotation statements or the default. */
  setPassword(username: string, password: string, statements: readonly string[]): Promise<void>;
  /**
   * Creates `user` with the privileges of the existing user `source` (AWS's alternating-users
   * rotation: `<name>_clone`). PostgreSQL: a login role granted membership in `source`;
   * MySQL: the same hosts and grants; Redis: the same ACL rules.
   */
  cloneUser(
    source: string,
    user: { readonly username: string; readonly password: string },
  ): Promise<void>;
  /** Sets the connection user's own password (rotate-root). */
  rotateRootPassword(password: string, statements: readonly string[]): Promise<void>;
  /** Ends the pool; the driver is unusable afterwards. */
  close(): Promise<void>;
}

/** Time limits for every driver, in milliseconds. */
export interface DriverOptions {
  /** How long to wait for a new connection (refused connections fail at once). */
  readonly connectTimeoutMs: number;
  /** How long one statement may run. */
  readonly queryTimeoutMs: number;
}

export const DEFAULT_DRIVER_OPTIONS: DriverOptions = {
  connectTimeoutMs: 10_000,
  queryTimeoutMs: 30_000,
};

// ---- errors --------------------------------------------------------------------------

/** How a driver classified a failure, before it becomes a CofferError. */
export type FailureKind = 'connection' | 'auth' | 'statement';

export interface ClassifiedFailure {
  readonly kind: FailureKind;
  /** A stable code from the database (SQLSTATE, MySQL error name, Redis error prefix). */
  readonly code: string;
  /**
   * The database's own words, already stripped of any echo of the statement; redacted
   * again before use.
   */
  readonly detail: string;
}

/**
 * Removes every secret (and its common escaped forms) from a text.
 * SECURITY: called on every database message before it reaches an error.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 3) continue;
    const forms = new Set([
      secret,
      secret.replace(/'/g, "''"),
      secret.replace(/"/g, '""'),
      encodeURIComponent(secret),
      JSON.stringify(secret).slice(1, -1),
    ]);
    for (const form of forms) out = out.split(form).join('[redacted]');
  }
  return out;
}

/**
 * The CofferError for a failure. `what` names the statement or action ("creation_statements[1]",
 * "connection"). SECURITY: the raw driver error is never attached as `cause`: mysql2 keeps
 * the full SQL (with the password) on its errors and ioredis keeps the command's arguments.
 */
export function failureError(
  what: string,
  failure: ClassifiedFailure,
  secrets: readonly (string | undefined)[],
): CofferError {
  const detail = redact(failure.detail, secrets).slice(0, 300);
  const tail = detail === '' ? ` (${failure.code})` : ` (${failure.code}: ${detail})`;
  switch (failure.kind) {
    case 'connection':
      return new CofferError(
        'upstream_failure',
        `${what}: the database could not be reached${tail}`,
      );
    case 'auth':
      return new CofferError(
        'invalid_request',
        `${what}: the database refused the credentials${tail}`,
      );
    case 'statement':
      return new CofferError(
        'invalid_request',
        `${what}: the database rejected the statement${tail}`,
      );
  }
}

/** Node socket-level error codes that mean "could not reach the server". */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

/** The `code` property of an unknown thrown value, if it has a string one. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs `fn`, passing a CofferError through and turning anything else into one. */
export async function guard<T>(
  what: string,
  secrets: readonly (string | undefined)[],
  classify: (err: unknown) => ClassifiedFailure,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CofferError) throw err;
    throw failureError(what, classify(err), secrets);
  }
}
