// Dynamic roles: `roles/:name` (write, read, delete) and LIST `roles/`. Statements are
// checked against the database when the role is written if its connection has
// verify_connection set; otherwise they are first run when credentials are asked for.
import { invalidField } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { FieldValues } from '../../sdk/fields.js';
import type { PathSpec } from '../../sdk/path.js';
import { putJson } from '../../sdk/storage.js';
import { checkNameField, parseStatementList, pathNameList, pathRecord } from './common.js';
import { driverKind, type RoleStatements } from '../../shared/db/driver.js';
import { redisUnsupportedField } from '../../shared/db/driver-redis.js';
import {
  KEYS,
  loadConnection,
  loadRole,
  type ConnectionRecord,
  type RoleRecord,
} from './records.js';
import type { EngineState } from './state.js';
import { parseRedisRules } from '../../shared/db/statements.js';

const STATEMENTS_HELP =
  ' A list of strings, or one string; each may hold several statements separated by ";".';

const FIELDS = {
  db_name: { type: 'string', description: 'The connection (config/<db_name>) to use.' },
  default_ttl: { type: 'duration', description: "Lease TTL; 0 = the mount's default." },
  max_ttl: { type: 'duration', description: "Longest lease life; 0 = the mount's maximum." },
  creation_statements: {
    type: 'any',
    description: `Create the user ({{name}}, {{password}}, {{expiration}}).${STATEMENTS_HELP} Redis: a JSON list of ACL rules.`,
  },
  revocation_statements: {
    type: 'any',
    description: `Remove the user ({{name}}); default: the driver's drop.${STATEMENTS_HELP}`,
  },
  rollback_statements: {
    type: 'any',
    description: `Undo a failed creation ({{name}}); default: the driver's drop.${STATEMENTS_HELP}`,
  },
  renew_statements: {
    type: 'any',
    description: `Extend the user ({{name}}, {{expiration}}).${STATEMENTS_HELP}`,
  },
  credential_type: { type: 'string', description: 'Only "password".' },
  credential_config: { type: 'map', description: 'Not used for "password": must be empty.' },
} as const;

export function roleStatements(role: RoleRecord): RoleStatements {
  return {
    creation: role.creationStatements,
    revocation: role.revocationStatements,
    rollback: role.rollbackStatements,
    renew: role.renewStatements,
  };
}

/**
 * Checks that need only the plugin: Redis takes one JSON list of ACL rules and no other
 * statements; SQL plugins need creation statements.
 */
export function checkStatementsForPlugin(
  connection: ConnectionRecord,
  statements: RoleStatements,
): void {
  if (driverKind(connection.pluginName) === 'redis') {
    const unsupported = redisUnsupportedField(statements);
    if (unsupported !== undefined)
      throw invalidField(unsupported, `not supported by ${connection.pluginName}`);
    parseRedisRules(statements.creation, 'creation_statements');
  } else if (statements.creation.length === 0) {
    throw invalidField('creation_statements', `is required by ${connection.pluginName}`);
  }
}

export function rolePaths(state: EngineState): PathSpec[] {
  async function write(
    req: EngineRequest,
    fields: FieldValues<typeof FIELDS>,
    name: string,
  ): Promise<EngineResult> {
    const existing = await loadRole(req.storage, name);
    if (fields.credential_type !== undefined && fields.credential_type !== 'password') {
      throw invalidField('credential_type', 'only "password" is supported');
    }
    if (
      fields.credential_config !== undefined &&
      Object.keys(fields.credential_config).length > 0
    ) {
      throw invalidField('credential_config', 'must be empty for credential_type "password"');
    }
    const dbName = fields.db_name ?? existing?.dbName;
    if (dbName === undefined || dbName === '') throw invalidField('db_name', 'is required');
    const statements = (value: unknown, field: string, kept: readonly string[] | undefined) =>
      value === undefined ? [...(kept ?? [])] : parseStatementList(value, field);
    const role: RoleRecord = {
      dbName,
      defaultTtlSeconds: fields.default_ttl ?? existing?.defaultTtlSeconds ?? 0,
      maxTtlSeconds: fields.max_ttl ?? existing?.maxTtlSeconds ?? 0,
      creationStatements: statements(
        fields.creation_statements,
        'creation_statements',
        existing?.creationStatements,
      ),
      revocationStatements: statements(
        fields.revocation_statements,
        'revocation_statements',
        existing?.revocationStatements,
      ),
      rollbackStatements: statements(
        fields.rollback_statements,
        'rollback_statements',
        existing?.rollbackStatements,
      ),
      renewStatements: statements(
        fields.renew_statements,
        'renew_statements',
        existing?.renewStatements,
      ),
    };
    if (role.maxTtlSeconds > 0 && role.defaultTtlSeconds > role.maxTtlSeconds) {
      throw invalidField('default_ttl', 'must not be longer than max_ttl');
    }
    const warnings: string[] = [];
    const connection = await loadConnection(req.storage, checkNameField(dbName, 'db_name'));
    if (connection === undefined) {
      warnings.push(
        `connection "${dbName}" does not exist yet; statements will be checked when credentials are created`,
      );
    } else {
      checkStatementsForPlugin(connection, roleStatements(role));
      if (connection.verifyConnection) {
        const driver = await state.connections.ready(req.storage, connection);
        await driver.validateRoleStatements(roleStatements(role));
      }
    }
    await putJson(req.storage, KEYS.role(name), role);
    return warnings.length === 0 ? { kind: 'empty' } : { kind: 'empty', warnings };
  }

  const role = pathRecord({
    pattern: 'roles/:name',
    fields: FIELDS,
    load: loadRole,
    notFound: 'role not found',
    render: (found) => ({
      db_name: found.dbName,
      default_ttl: found.defaultTtlSeconds,
      max_ttl: found.maxTtlSeconds,
      creation_statements: [...found.creationStatements],
      revocation_statements: [...found.revocationStatements],
      rollback_statements: [...found.rollbackStatements],
      renew_statements: [...found.renewStatements],
      credential_type: 'password',
    }),
    write,
    async delete(req, name) {
      await req.storage.delete(KEYS.role(name));
    },
    help:
      'A dynamic role: which connection (db_name), lease TTLs, and the statements that create, ' +
      'renew and revoke each generated user.',
  });

  const list = pathNameList('roles', KEYS.rolePrefix, 'roles', 'Lists the dynamic role names.');

  return [list, role];
}
