// The database secret engine (type "database"), Vault's database secrets engine API over
// three drivers (PostgreSQL, MySQL/MariaDB, Redis): connections, dynamic roles with leased
// credentials, static roles with scheduled rotation, and root rotation.
import { CofferError } from '../../sdk/errors.js';
import type { EngineFactory, SecretEngine } from '../../sdk/engine.js';
import { createPathEngine } from '../../sdk/path.js';
import { Connections } from './connections.js';
import { DEFAULT_DRIVER_OPTIONS, type DriverOptions } from '../../shared/db/driver.js';
import { configPaths } from './path-config.js';
import { rolePaths } from './path-roles.js';
import { runStaticRotation, staticRolePaths } from './path-static-roles.js';
import { credsPath, renewCreds, revokeCreds, rollbackUser } from './secret-creds.js';
import { newEngineState } from './state.js';

export interface DatabaseEngineOptions {
  /** Connect and statement time limits for every driver. */
  readonly driver?: DriverOptions;
}

/** One engine per mount; it owns the mount's connection pools until `close`. */
export function createDatabaseEngine(options: DatabaseEngineOptions = {}): SecretEngine {
  const state = newEngineState(new Connections(options.driver ?? DEFAULT_DRIVER_OPTIONS));
  const paths = createPathEngine([
    ...configPaths(state),
    ...rolePaths(state),
    credsPath(state),
    ...staticRolePaths(state),
  ]);
  return {
    handle: (req) => paths.handle(req),
    exists: (req) => paths.exists(req),
    revokeLease: (ctx, lease) => revokeCreds(state, ctx, lease),
    renewLease: (ctx, lease, incrementSeconds) => renewCreds(state, ctx, lease, incrementSeconds),
    rollback: (ctx, entry) => rollbackUser(state, ctx, entry),
    runScheduled: (ctx, name) => runStaticRotation(state, ctx, name),
    close: () => state.connections.closeAll(),
  };
}

/** A database mount takes no options. */
function normaliseDatabaseOptions(
  options: Readonly<Record<string, string>>,
): Record<string, string> {
  for (const key of Object.keys(options)) {
    throw new CofferError('invalid_request', `options.${key}: unknown option for database`, {
      field: `options.${key}`,
    });
  }
  return {};
}

export const databaseEngineFactory: EngineFactory = {
  type: 'database',
  description:
    'Dynamic and static database credentials for PostgreSQL, MySQL/MariaDB and Redis ' +
    "(Vault's database secrets engine API).",
  normaliseOptions: normaliseDatabaseOptions,
  create(): SecretEngine {
    return createDatabaseEngine();
  },
};
