// Dynamic credentials: `creds/:name` creates a database user and returns it as a lease
// (secret type "creds"); the lease hooks renew it, revoke it, and roll back a user whose
// lease was never registered. Model: Vault's builtin/logical/database/secret_creds.go.
import { CofferError } from '../../sdk/errors.js';
import type {
  EngineContext,
  EngineRequest,
  LeaseInfo,
  LeaseRenewalGrant,
  WalEntry,
} from '../../sdk/engine.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { checkName } from './common.js';
import { forgetUser, recordUser } from './connections.js';
import { generatePassword } from '../../shared/db/password.js';
import { checkStatementsForPlugin, roleStatements } from './path-roles.js';
import {
  connectionById,
  leaseDataJson,
  requireConnection,
  loadRole,
  parseLeaseData,
  parseUserWal,
  userWalJson,
  type ConnectionRecord,
  type LeaseData,
  type RoleRecord,
} from './records.js';
import { checkAllowedRole, leaseTtlSeconds, type EngineState } from './state.js';
import {
  compileUsernameTemplate,
  DEFAULT_TEMPLATES,
  randomAlphanumeric,
} from './username-template.js';

export const SECRET_TYPE = 'creds';
export const WAL_KIND = 'user';

/**
 * The caller's token display name, which Vault puts in usernames. The engine contract does
 * not carry it yet; a request that has it (a later core) is used, else "token".
 */
function displayName(req: EngineRequest): string {
  const value = (req as EngineRequest & { readonly displayName?: unknown }).displayName;
  return typeof value === 'string' && value !== '' ? value : 'token';
}

function usernameTemplate(connection: ConnectionRecord): string {
  const custom = connection.details.username_template;
  if (typeof custom === 'string' && custom !== '') return custom;
  switch (connection.pluginName) {
    case 'postgresql-database-plugin':
      return DEFAULT_TEMPLATES.postgres;
    case 'redis-database-plugin':
      return DEFAULT_TEMPLATES.redis;
    case 'mysql-database-plugin':
      return DEFAULT_TEMPLATES.mysql;
    case 'mysql-aurora-database-plugin':
    case 'mysql-rds-database-plugin':
    case 'mysql-legacy-database-plugin':
      return DEFAULT_TEMPLATES.mysqlLegacy;
  }
}

/** The connection a lease or entry was issued through (the retired copy if deleted since). */
async function connectionFor(
  ctx: EngineContext,
  dbName: string,
  connectionId: string,
): Promise<ConnectionRecord> {
  const connection = await connectionById(ctx.storage, dbName, connectionId);
  if (connection === undefined) {
    throw new CofferError(
      'not_found',
      `database connection "${dbName}" of this lease no longer exists`,
    );
  }
  return connection;
}

export function credsPath(state: EngineState): PathSpec {
  return definePath({
    pattern: 'creds/:name',
    fields: {},
    operations: {
      async read(req, _fields, params) {
        const roleName = checkName(params.name!);
        const role = await loadRole(req.storage, roleName);
        if (role === undefined) {
          throw new CofferError('invalid_request', `unknown role "${roleName}"`);
        }
        const connection = await requireConnection(req.storage, role.dbName);
        checkAllowedRole(connection, roleName);
        const statements = roleStatements(role);
        checkStatementsForPlugin(connection, statements);

        const { ttlSeconds } = leaseTtlSeconds(
          req.mount.config,
          role.defaultTtlSeconds,
          role.maxTtlSeconds,
        );
        const now = req.now();
        const username = compileUsernameTemplate(usernameTemplate(connection), {
          now: req.now,
          random: randomAlphanumeric,
        }).render({ DisplayName: displayName(req), RoleName: roleName });
        const password = generatePassword();
        const driver = await state.connections.ready(req.storage, connection);

        // Write-ahead first: if Coffer dies between creating the user and registering the
        // lease, the core hands this entry to rollback, which drops the user.
        const walId = await req.wal.put(
          WAL_KIND,
          userWalJson({
            username,
            dbName: role.dbName,
            connectionId: connection.id,
            role: roleName,
            rollbackStatements: role.rollbackStatements,
          }),
        );
        await recordUser(req.storage, connection.id, username);
        try {
          await driver.createUser(
            { username, password, expiresAt: now + ttlSeconds * 1000 },
            statements,
          );
        } catch (err) {
          // The driver undid what it could; only if the user is provably gone are the
          // entry and the index dropped (otherwise rollback finishes the job later).
          const gone = await driver.userExists(username).then(
            (exists) => !exists,
            () => false,
          );
          if (gone) {
            await forgetUser(req.storage, state.connections, connection.id, username);
            await req.wal.delete(walId);
          }
          throw err;
        }
        const internal: LeaseData = {
          username,
          dbName: role.dbName,
          connectionId: connection.id,
          role: roleName,
          revocationStatements: role.revocationStatements,
          renewStatements: role.renewStatements,
          defaultTtlSeconds: role.defaultTtlSeconds,
          maxTtlSeconds: role.maxTtlSeconds,
        };
        return {
          kind: 'lease',
          data: { username, password },
          lease: {
            ttlSeconds: role.defaultTtlSeconds,
            maxTtlSeconds: role.maxTtlSeconds,
            renewable: true,
            secretType: SECRET_TYPE,
            internal: leaseDataJson(internal),
            walIds: [walId],
          },
        };
      },
    },
    help: 'Creates a database user for the role and returns it as a lease.',
  });
}

function leaseData(lease: LeaseInfo): LeaseData {
  if (lease.secretType !== SECRET_TYPE) {
    throw new CofferError('internal', `unknown secret type for the database engine`);
  }
  return parseLeaseData(lease.internal);
}

/** The lease's user and connection, and its role if that still exists for the same connection. */
async function leaseTarget(
  ctx: EngineContext,
  lease: LeaseInfo,
): Promise<{ data: LeaseData; connection: ConnectionRecord; role: RoleRecord | undefined }> {
  const data = leaseData(lease);
  const connection = await connectionFor(ctx, data.dbName, data.connectionId);
  const role = await loadRole(ctx.storage, data.role);
  return { data, connection, role: role?.dbName === data.dbName ? role : undefined };
}

/**
 * Drops the lease's user: the role's current revocation statements if the role still
 * exists for the same connection, else those stored with the lease, else the driver's
 * default. A user already gone is success; an unreachable database is upstream_failure
 * (the core retries with backoff).
 */
export async function revokeCreds(
  state: EngineState,
  ctx: EngineContext,
  lease: LeaseInfo,
): Promise<void> {
  const { data, connection, role } = await leaseTarget(ctx, lease);
  const statements = role?.revocationStatements ?? data.revocationStatements;
  const driver = await state.connections.ready(ctx.storage, connection);
  await driver.revokeUser(data.username, statements);
  await forgetUser(ctx.storage, state.connections, connection.id, data.username);
}

/**
 * Extends the user to the lease's new end: the increment asked for (else the role's
 * default TTL, else the mount's), never past issue + max TTL. Returns the role's caps.
 */
export async function renewCreds(
  state: EngineState,
  ctx: EngineContext,
  lease: LeaseInfo,
  incrementSeconds: number,
): Promise<LeaseRenewalGrant> {
  const { data, connection, role: current } = await leaseTarget(ctx, lease);
  const defaultTtl = current?.defaultTtlSeconds ?? data.defaultTtlSeconds;
  const maxTtl = current?.maxTtlSeconds ?? data.maxTtlSeconds;
  const statements = current?.renewStatements ?? data.renewStatements;
  const limits = leaseTtlSeconds(ctx.mount.config, defaultTtl, maxTtl);
  const wanted = incrementSeconds > 0 ? incrementSeconds : limits.ttlSeconds;
  const expiresAt = Math.min(
    ctx.now() + wanted * 1000,
    lease.issuedAt + limits.maxTtlSeconds * 1000,
  );
  const driver = await state.connections.ready(ctx.storage, connection);
  await driver.renewUser(data.username, expiresAt, statements);
  return {
    ...(defaultTtl > 0 ? { ttlSeconds: defaultTtl } : {}),
    ...(maxTtl > 0 ? { maxTtlSeconds: maxTtl } : {}),
  };
}

/**
 * Drops a user whose lease was never registered (crash, or a failed registration), with the
 * role's rollback statements or the driver's default drop. Idempotent.
 */
export async function rollbackUser(
  state: EngineState,
  ctx: EngineContext,
  entry: WalEntry,
): Promise<void> {
  if (entry.kind !== WAL_KIND) return;
  const data = parseUserWal(entry.data);
  const connection = await connectionById(ctx.storage, data.dbName, data.connectionId);
  // Neither the connection nor a retired copy: no user of it can remain on record.
  if (connection === undefined) return;
  const driver = await state.connections.ready(ctx.storage, connection);
  await driver.revokeUser(data.username, data.rollbackStatements, 'rollback_statements');
  await forgetUser(ctx.storage, state.connections, connection.id, data.username);
}
