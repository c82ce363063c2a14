// Built-in rotation functions for database passwords: AWS's rotation templates
// (SecretsManagerRDSPostgreSQLRotationSingleUser / MultiUser, the MySQL ones, and a Redis
// analogue) as code that runs inside the engine on the shared database drivers
// (src/shared/db/). RotationLambdaARN names them as
// `arn:aws:lambda:<region>:<account>:function:coffer-builtin-<engine>-<strategy>`.
// Every step is idempotent, so a step resumed after a crash converges.
import { CofferError } from '../../sdk/errors.js';
import type { JsonObject } from '../../sdk/json.js';
import { versionById, versionByLabel, type SecretMeta } from '../../sdk/versioned-store.js';
import type { DriverOptions, DriverSettings, RootCredentials } from '../../shared/db/driver.js';
import { openDriver } from '../../shared/db/drivers.js';
import { getRandomPassword, updateSecretVersionStage } from './action-metadata.js';
import { putSecretValue } from './action-values.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  parseSecretId,
  type ActionEnv,
  type SecretRef,
} from './common.js';

/** Function names with this prefix need no registration: `coffer-builtin-<rotator>`. */
export const BUILTIN_PREFIX = 'coffer-builtin-';

export type DbEngine = 'postgresql' | 'mysql' | 'redis';
export type Strategy = 'single-user' | 'alternating-users';

/** What a built-in rotator runs one step with. */
export interface BuiltinStepOptions {
  readonly driver: DriverOptions;
}

export type BuiltinRotator = (
  env: ActionEnv,
  event: { readonly SecretId: string; readonly ClientRequestToken: string; readonly Step: string },
  options: BuiltinStepOptions,
) => Promise<void>;

/** The `engine` values each rotator accepts in a secret (absent is accepted too, as in AWS). */
const ENGINE_NAMES: Record<DbEngine, readonly string[]> = {
  postgresql: ['postgres', 'postgresql', 'aurora-postgresql'],
  mysql: ['mysql', 'mariadb', 'aurora', 'aurora-mysql'],
  redis: ['redis', 'valkey'],
};

const DEFAULT_PORTS: Record<DbEngine, number> = { postgresql: 5432, mysql: 3306, redis: 6379 };

/** AWS's templates exclude these from generated passwords (URL and shell trouble). */
const EXCLUDE_CHARACTERS = '/@"\'\\';
const PASSWORD_LENGTH = 32;
const CLONE_SUFFIX = '_clone';

/** Letters, digits and `_ . $ -` only: the same name is safe in every dialect and in logs. */
const USERNAME = /^[A-Za-z0-9_.$-]{1,57}$/;

/** A database secret's JSON (AWS's shape) with the members the rotators read, checked. */
export interface DbSecret {
  /** The whole object: members the rotators do not know are carried into the new version. */
  readonly json: JsonObject;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly dbname?: string;
  readonly masterarn?: string;
  readonly ssl: boolean;
}

function badSecret(which: string, member: string, why: string): CofferError {
  // SECURITY: names the version and member, never a value.
  return new CofferError(
    'invalid_request',
    `${which} secret value: "${member}" ${why} (the built-in rotator needs the JSON of AWS's database secrets)`,
    { field: 'SecretString' },
  );
}

export function parseDbSecret(
  engine: DbEngine,
  text: string | undefined,
  which: string,
  needHost = true,
): DbSecret {
  let json: unknown;
  try {
    json = text === undefined ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw badSecret(which, 'SecretString', 'must be a JSON object');
  }
  const obj = json as JsonObject;
  const kind = obj['engine'];
  if (kind !== undefined && (typeof kind !== 'string' || !ENGINE_NAMES[engine].includes(kind))) {
    throw badSecret(which, 'engine', `must be one of ${ENGINE_NAMES[engine].join(', ')}`);
  }
  const host = obj['host'];
  if (needHost && (typeof host !== 'string' || host === '' || host.length > 253)) {
    throw badSecret(which, 'host', 'must be a host name or address');
  }
  const rawPort = obj['port'] ?? DEFAULT_PORTS[engine];
  const port = typeof rawPort === 'string' && /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : rawPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw badSecret(which, 'port', 'must be 1 to 65535');
  }
  const username = obj['username'];
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    throw badSecret(which, 'username', 'must be 1 to 57 letters, digits, _ . $ or -');
  }
  const password = obj['password'];
  if (typeof password !== 'string') throw badSecret(which, 'password', 'must be a string');
  const dbname = obj['dbname'];
  if (dbname !== undefined && (typeof dbname !== 'string' || dbname === '')) {
    throw badSecret(which, 'dbname', 'must be a non-empty string');
  }
  const masterarn = obj['masterarn'];
  if (masterarn !== undefined && typeof masterarn !== 'string') {
    throw badSecret(which, 'masterarn', 'must be a secret ARN or name');
  }
  return {
    json: obj,
    host: typeof host === 'string' ? host : '',
    port,
    username,
    password,
    ...(dbname === undefined ? {} : { dbname }),
    ...(masterarn === undefined ? {} : { masterarn }),
    ssl: obj['ssl'] === true || obj['ssl'] === 'true',
  };
}

/** Driver settings for the database a secret names, logging in as `login`. */
export function settingsFor(
  engine: DbEngine,
  target: DbSecret,
  login: RootCredentials,
): DriverSettings {
  const pool = { maxOpenConnections: 1, maxIdleConnections: 0, maxConnectionLifetimeSeconds: 0 };
  switch (engine) {
    case 'postgresql': {
      const host = target.host.includes(':') ? `[${target.host}]` : target.host;
      const db = encodeURIComponent(target.dbname ?? 'postgres');
      const ssl = target.ssl ? '?sslmode=require' : '';
      return {
        kind: 'postgres',
        connectionUrl: `postgresql://{{username}}:{{password}}@${host}:${target.port}/${db}${ssl}`,
        root: login,
        pool,
      };
    }
    case 'mysql':
      return {
        kind: 'mysql',
        host: target.host,
        port: target.port,
        ...(target.dbname === undefined ? {} : { database: target.dbname }),
        root: login,
        pool,
        ...(target.ssl ? { tls: { skipVerify: false } } : {}),
      };
    case 'redis':
      return {
        kind: 'redis',
        host: target.host,
        port: target.port,
        root: login,
        tls: target.ssl,
        insecureTls: false,
      };
  }
}

async function withDriver<T>(
  settings: DriverSettings,
  options: BuiltinStepOptions,
  fn: (driver: ReturnType<typeof openDriver>) => Promise<T>,
): Promise<T> {
  const driver = openDriver(settings, options.driver);
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

/** `<name>` ↔ `<name>_clone`. */
export function alternateUsername(username: string): string {
  return username.endsWith(CLONE_SUFFIX)
    ? username.slice(0, -CLONE_SUFFIX.length)
    : `${username}${CLONE_SUFFIX}`;
}

async function valueOf(
  env: ActionEnv,
  key: string,
  meta: SecretMeta,
  pick: { label: string } | { id: string },
): Promise<string | undefined> {
  const version = 'id' in pick ? versionById(meta, pick.id) : versionByLabel(meta, pick.label);
  if (version === undefined) return undefined;
  const read = await env.store.readVersion(key, version.number);
  const text = read?.value?.['SecretString'];
  return typeof text === 'string' ? text : undefined;
}

interface Loaded {
  readonly ref: SecretRef;
  readonly key: string;
  readonly meta: SecretMeta;
}

async function load(env: ActionEnv, secretId: string): Promise<Loaded> {
  const ref = parseSecretId(secretId, '');
  const found = await env.findOrUndefined(ref);
  if (found === undefined) throw new CofferError('not_found', 'the rotated secret is gone');
  return { ref, key: found.key, meta: found.meta };
}

async function current(env: ActionEnv, engine: DbEngine, s: Loaded): Promise<DbSecret> {
  return parseDbSecret(
    engine,
    await valueOf(env, s.key, s.meta, { label: AWSCURRENT }),
    'AWSCURRENT',
  );
}

async function pending(
  env: ActionEnv,
  engine: DbEngine,
  s: Loaded,
  token: string,
): Promise<DbSecret> {
  const version = versionById(s.meta, token);
  if (version === undefined || !version.labels.includes(AWSPENDING)) {
    // AWS's templates refuse a token that is not the pending version.
    throw new CofferError('invalid_request', 'the rotation token is not the AWSPENDING version');
  }
  return parseDbSecret(engine, await valueOf(env, s.key, s.meta, { id: token }), 'AWSPENDING');
}

/** The admin secret `masterarn` names (another secret of this mount), as admin credentials. */
async function master(
  env: ActionEnv,
  engine: DbEngine,
  masterarn: string | undefined,
  region: string,
): Promise<DbSecret> {
  if (masterarn === undefined) {
    throw badSecret('AWSCURRENT', 'masterarn', 'is required by the alternating-users rotator');
  }
  const ref = parseSecretId(masterarn, region);
  const found = await env.findOrUndefined(ref);
  if (found === undefined || found.meta.deletionScheduledAt !== undefined) {
    throw new CofferError('invalid_request', 'the secret masterarn names does not exist', {
      field: 'masterarn',
    });
  }
  return parseDbSecret(
    engine,
    await valueOf(env, found.key, found.meta, { label: AWSCURRENT }),
    'masterarn AWSCURRENT',
    false,
  );
}

/**
 * SECURITY: where the admin credentials may log in: the admin secret's own database, and only
 * for a secret of that database (AWS's templates check the same). Never a host the rotated
 * secret names: whoever may write that secret could otherwise send the admin's password to a
 * server of their own.
 */
export function adminTarget(admin: DbSecret, next: DbSecret): DbSecret {
  if (admin.host === '') {
    throw badSecret('masterarn AWSCURRENT', 'host', 'must name the database the admin logs in to');
  }
  if (admin.host.toLowerCase() !== next.host.toLowerCase()) {
    throw new CofferError(
      'invalid_request',
      "the secret's host is not the host of the admin secret masterarn names",
      { field: 'host' },
    );
  }
  return admin;
}

/**
 * SECURITY (AWS's multi-user templates check the same): with the admin's credentials the
 * pending version may change only the current user's alternate, on the current host. A
 * pending version can be written by whoever may put values on the secret, before the rotation
 * fills it; it must not pick which user's password the admin sets.
 */
export function requireAlternate(now: DbSecret, next: DbSecret): void {
  if (next.username !== alternateUsername(now.username)) {
    throw new CofferError(
      'invalid_request',
      "setSecret: the AWSPENDING username is not the alternate of AWSCURRENT's user",
      { field: 'username' },
    );
  }
  if (next.host.toLowerCase() !== now.host.toLowerCase()) {
    throw new CofferError(
      'invalid_request',
      "setSecret: the AWSPENDING host is not AWSCURRENT's host",
      { field: 'host' },
    );
  }
}

function creds(secret: DbSecret): RootCredentials {
  return { username: secret.username, password: secret.password };
}

async function createStep(
  env: ActionEnv,
  engine: DbEngine,
  strategy: Strategy,
  s: Loaded,
  token: string,
): Promise<void> {
  const now = await current(env, engine, s);
  // Idempotent: a resumed createSecret finds its version and stops.
  if (versionById(s.meta, token) !== undefined) return;
  const generated = await getRandomPassword({
    ...env,
    input: { PasswordLength: PASSWORD_LENGTH, ExcludeCharacters: EXCLUDE_CHARACTERS },
  });
  const next: JsonObject = {
    ...now.json,
    username: strategy === 'alternating-users' ? alternateUsername(now.username) : now.username,
    password: generated['RandomPassword']!,
  };
  await putSecretValue(
    {
      ...env,
      input: {
        ClientRequestToken: token,
        SecretString: JSON.stringify(next),
        VersionStages: [AWSPENDING],
      },
    },
    s.ref,
  );
}

async function setStep(
  env: ActionEnv,
  engine: DbEngine,
  strategy: Strategy,
  s: Loaded,
  token: string,
  options: BuiltinStepOptions,
): Promise<void> {
  const now = await current(env, engine, s);
  const next = await pending(env, engine, s, token);
  if (strategy === 'alternating-users') {
    requireAlternate(now, next);
    const admin = await master(env, engine, now.masterarn, s.ref.region);
    const target = adminTarget(admin, next);
    await withDriver(
      settingsFor(
        engine,
        { ...target, ...(next.dbname === undefined ? {} : { dbname: next.dbname }) },
        creds(admin),
      ),
      options,
      async (driver) => {
        if (await driver.userExists(next.username)) {
          await driver.setPassword(next.username, next.password, []);
        } else {
          await driver.cloneUser(now.username, creds(next));
        }
      },
    );
    return;
  }
  // Single user: the user changes its own password, logged in with the current password,
  // else the pending one (a resumed step whose change already happened), else the previous.
  const previousText = await valueOf(env, s.key, s.meta, { label: AWSPREVIOUS });
  const logins: DbSecret[] = [now, next];
  if (previousText !== undefined) {
    try {
      logins.push(parseDbSecret(engine, previousText, 'AWSPREVIOUS'));
    } catch {
      // A previous version in another shape cannot log in; the others are tried.
    }
  }
  let last: unknown;
  for (const login of logins) {
    if (login.username !== next.username) continue;
    try {
      await withDriver(settingsFor(engine, next, creds(login)), options, (driver) =>
        driver.rotateRootPassword(next.password, []),
      );
      return;
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof CofferError
    ? last
    : new CofferError('upstream_failure', 'setSecret: no password logged in');
}

async function testStep(
  env: ActionEnv,
  engine: DbEngine,
  s: Loaded,
  token: string,
  options: BuiltinStepOptions,
): Promise<void> {
  const next = await pending(env, engine, s, token);
  await withDriver(settingsFor(engine, next, creds(next)), options, (driver) =>
    driver.verifyConnection(),
  );
}

async function finishStep(env: ActionEnv, s: Loaded, token: string): Promise<void> {
  const now = versionByLabel(s.meta, AWSCURRENT);
  if (now?.id === token) return;
  await updateSecretVersionStage(
    {
      ...env,
      input: {
        VersionStage: AWSCURRENT,
        MoveToVersionId: token,
        ...(now === undefined ? {} : { RemoveFromVersionId: now.id }),
      },
    },
    s.ref,
  );
}

function rotator(engine: DbEngine, strategy: Strategy): BuiltinRotator {
  return async (env, event, options) => {
    const s = await load(env, event.SecretId);
    const token = event.ClientRequestToken;
    switch (event.Step) {
      case 'createSecret':
        return createStep(env, engine, strategy, s, token);
      case 'setSecret':
        return setStep(env, engine, strategy, s, token, options);
      case 'testSecret':
        return testStep(env, engine, s, token, options);
      case 'finishSecret':
        return finishStep(env, s, token);
      default:
        throw new CofferError('invalid_request', 'unknown rotation step');
    }
  };
}

/** The six built-in rotators by name (`<engine>-<strategy>`). */
export const BUILTIN_ROTATORS: Readonly<Record<string, BuiltinRotator>> = Object.fromEntries(
  (['postgresql', 'mysql', 'redis'] as const).flatMap((engine) =>
    (['single-user', 'alternating-users'] as const).map((strategy) => [
      `${engine}-${strategy}`,
      rotator(engine, strategy),
    ]),
  ),
);
