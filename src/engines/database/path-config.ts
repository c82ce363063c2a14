// Connections: `config/:name` (write, read, delete), LIST `config/`, `reset/:name` and
// `rotate-root/:name`. A connection's password is stored behind the barrier and never
// returned; rotate-root replaces it with one only Coffer knows.
import { randomUUID } from 'node:crypto';
import { formatGoDuration } from '../../sdk/duration.js';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { FieldValues } from '../../sdk/fields.js';
import type { JsonObject } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { checkName, parseStatementList, pathNameList, pathRecord } from './common.js';
import { deleteConnection } from './connections.js';
import { driverSettings, supportsRootRotation } from './connection-settings.js';
import {
  driverKind,
  isPluginName,
  PLUGIN_NAMES,
  type DriverKind,
  type PluginName,
} from '../../shared/db/driver.js';
import { generatePassword } from '../../shared/db/password.js';
import {
  KEYS,
  loadConnection,
  saveConnection,
  settledConnection,
  type ConnectionRecord,
} from './records.js';
import type { EngineState } from './state.js';
import { compileUsernameTemplate, randomAlphanumeric } from './username-template.js';

const FIELDS = {
  plugin_name: { type: 'string', description: `The plugin: ${PLUGIN_NAMES.join(', ')}.` },
  plugin_version: { type: 'string', description: 'Only "" (the built-in plugin).' },
  verify_connection: {
    type: 'bool',
    description: 'Connect (and check root_rotation_statements) before saving. Default true.',
  },
  allowed_roles: {
    type: 'string-list',
    description: 'Roles that may use this connection; "*" globs. Default none.',
  },
  root_rotation_statements: {
    type: 'any',
    description: 'Statements that set the root password ({{username}}, {{password}}).',
  },
  password_policy: { type: 'string', description: 'Not supported yet: must be empty.' },
  username_template: {
    type: 'string',
    description: 'Go template for dynamic usernames (.DisplayName, .RoleName, Vault functions).',
  },
  username: { type: 'string', description: 'The root user Coffer connects as.' },
  password: { type: 'string', description: 'The root password; never returned.' },
  connection_url: {
    type: 'string',
    description: 'PostgreSQL URL or MySQL DSN with {{username}} and {{password}} placeholders.',
  },
  max_open_connections: { type: 'int', description: 'Pool size. Default 4.' },
  max_idle_connections: {
    type: 'int',
    description: 'Idle connections kept: 0 = max_open_connections, negative = none.',
  },
  max_connection_lifetime: { type: 'duration', description: 'Reuse limit; 0 = forever.' },
  disable_escaping: {
    type: 'bool',
    description: 'Accepted for compatibility; Coffer always encodes credentials itself.',
  },
  tls_ca: { type: 'string', description: 'MySQL: PEM CA for the server certificate.' },
  tls_certificate_key: {
    type: 'string',
    description: 'MySQL: PEM client certificate and key; never returned.',
  },
  tls_server_name: { type: 'string', description: 'MySQL: name to verify in the certificate.' },
  tls_skip_verify: { type: 'bool', description: 'MySQL: do not verify the server certificate.' },
  host: { type: 'string', description: 'Redis: host.' },
  port: { type: 'int', description: 'Redis: port.' },
  tls: { type: 'bool', description: 'Redis: connect with TLS.' },
  insecure_tls: { type: 'bool', description: 'Redis: do not verify the server certificate.' },
  ca_cert: { type: 'string', description: 'Redis: PEM CA for the server certificate.' },
} as const;

type ConfigFields = FieldValues<typeof FIELDS>;

/** Fields that live on the connection itself rather than in connection_details. */
const TOP_LEVEL = new Set([
  'plugin_name',
  'plugin_version',
  'verify_connection',
  'allowed_roles',
  'root_rotation_statements',
  'password_policy',
]);

const COMMON_DETAILS = ['username', 'password', 'username_template'];
const SQL_DETAILS = [
  'connection_url',
  'max_open_connections',
  'max_idle_connections',
  'max_connection_lifetime',
  'disable_escaping',
];
const DETAILS_BY_KIND: Record<DriverKind, ReadonlySet<string>> = {
  postgres: new Set([...COMMON_DETAILS, ...SQL_DETAILS]),
  mysql: new Set([
    ...COMMON_DETAILS,
    ...SQL_DETAILS,
    'tls_ca',
    'tls_certificate_key',
    'tls_server_name',
    'tls_skip_verify',
  ]),
  redis: new Set([...COMMON_DETAILS, 'host', 'port', 'tls', 'insecure_tls', 'ca_cert']),
};

/** SECURITY: details that are secrets and never leave the engine. */
const SECRET_DETAILS = new Set(['password', 'tls_certificate_key']);

/** connection_details as read returns it: everything but the secrets. */
export function publicDetails(details: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(details)) {
    if (SECRET_DETAILS.has(key)) continue;
    out[key] =
      key === 'max_connection_lifetime' && typeof value === 'number'
        ? formatGoDuration(value)
        : value;
  }
  return out;
}

const CONNECTION_NOT_FOUND = 'connection not found';

function notFound(): CofferError {
  return new CofferError('not_found', CONNECTION_NOT_FOUND);
}

/** Opens a throwaway driver for checks; closes it whatever happens. */
async function withTemporary(
  state: EngineState,
  plugin: PluginName,
  details: JsonObject,
  fn: (driver: ReturnType<EngineState['connections']['temporary']>) => Promise<void>,
): Promise<void> {
  const driver = state.connections.temporary(plugin, details);
  try {
    await fn(driver);
  } finally {
    await driver.close();
  }
}

export function configPaths(state: EngineState): PathSpec[] {
  async function write(
    req: EngineRequest,
    fields: ConfigFields,
    name: string,
  ): Promise<EngineResult> {
    return state.connections.rootLock.run(name, async () => {
      const existing = await loadConnection(req.storage, name);
      const pluginName = fields.plugin_name ?? existing?.pluginName;
      if (pluginName === undefined || pluginName === '') {
        throw invalidField('plugin_name', 'is required');
      }
      if (!isPluginName(pluginName)) {
        throw invalidField('plugin_name', `must be one of ${PLUGIN_NAMES.join(', ')}`);
      }
      if (existing !== undefined && existing.pluginName !== pluginName) {
        throw invalidField('plugin_name', 'cannot be changed; delete the connection first');
      }
      const kind = driverKind(pluginName);
      const allowedDetails = DETAILS_BY_KIND[kind];
      for (const key of Object.keys(req.data)) {
        if (!TOP_LEVEL.has(key) && !allowedDetails.has(key)) {
          throw invalidField(key, `is not a field of ${pluginName}`);
        }
      }
      if (fields.plugin_version !== undefined && fields.plugin_version !== '') {
        throw invalidField('plugin_version', 'only the built-in plugin ("") is available');
      }
      if (fields.password_policy !== undefined && fields.password_policy !== '') {
        throw invalidField(
          'password_policy',
          'password policies are not supported yet; leave it empty for the default policy',
        );
      }

      // As in Vault, an update merges the fields it names into the stored ones.
      const details: JsonObject = { ...(existing?.details ?? {}) };
      for (const key of allowedDetails) {
        const value = fields[key as keyof ConfigFields];
        if (value !== undefined) details[key] = value as JsonObject[string];
      }
      driverSettings(pluginName, details);
      if (typeof details.username_template === 'string' && details.username_template !== '') {
        compileUsernameTemplate(details.username_template, {
          now: req.now,
          random: randomAlphanumeric,
        });
      }
      const rootRotationStatements =
        fields.root_rotation_statements !== undefined
          ? parseStatementList(fields.root_rotation_statements, 'root_rotation_statements')
          : [...(existing?.rootRotationStatements ?? [])];
      if (kind === 'redis' && rootRotationStatements.length > 0) {
        throw invalidField('root_rotation_statements', `not supported by ${pluginName}`);
      }

      const verifyConnection = fields.verify_connection ?? true;
      if (verifyConnection) {
        await withTemporary(state, pluginName, details, async (driver) => {
          await driver.verifyConnection();
          await driver.validateRootRotationStatements(rootRotationStatements);
        });
      }
      const keepPending =
        existing?.pendingRootPassword !== undefined && fields.password === undefined;
      const record: ConnectionRecord = {
        name,
        id: existing?.id ?? randomUUID(),
        version: randomUUID(),
        pluginName,
        verifyConnection,
        allowedRoles: fields.allowed_roles ?? [...(existing?.allowedRoles ?? [])],
        rootRotationStatements,
        details,
        ...(keepPending ? { pendingRootPassword: existing.pendingRootPassword } : {}),
      };
      await saveConnection(req.storage, record);
      return { kind: 'empty' };
    });
  }

  const config = pathRecord({
    pattern: 'config/:name',
    fields: FIELDS,
    load: loadConnection,
    notFound: CONNECTION_NOT_FOUND,
    render: (record) => ({
      allowed_roles: [...record.allowedRoles],
      connection_details: publicDetails(record.details),
      password_policy: '',
      plugin_name: record.pluginName,
      plugin_version: '',
      root_credentials_rotate_statements: [...record.rootRotationStatements],
      verify_connection: record.verifyConnection,
    }),
    write,
    async delete(req, name) {
      await state.connections.rootLock.run(name, async () => {
        const record = await loadConnection(req.storage, name);
        if (record !== undefined) await deleteConnection(req.storage, state.connections, record);
      });
    },
    help:
      'A database connection: plugin_name, connection_url (or host/port for Redis), the ' +
      'root username and password (never returned), allowed_roles and pool settings.',
  });

  const list = pathNameList(
    'config',
    KEYS.connectionPrefix,
    'connections',
    'Lists the connection names.',
  );

  const reset = definePath({
    pattern: 'reset/:name',
    fields: {},
    operations: {
      async update(req, _fields, params) {
        const record = await loadConnection(req.storage, checkName(params.name!));
        if (record === undefined) throw notFound();
        await state.connections.forget(record.id);
        const driver = await state.connections.ready(req.storage, record);
        await driver.verifyConnection();
        return { kind: 'empty' };
      },
    },
    help: 'Closes the connection pool and connects again with the stored settings.',
  });

  const rotateRoot = definePath({
    pattern: 'rotate-root/:name',
    fields: {},
    operations: {
      async update(req, _fields, params) {
        const name = checkName(params.name!);
        await state.connections.rootLock.run(name, async () => {
          const loaded = await loadConnection(req.storage, name);
          if (loaded === undefined) throw notFound();
          if (!supportsRootRotation(loaded.pluginName, loaded.details)) {
            throw invalidField(
              'connection_url',
              'rotate-root needs {{password}} in connection_url',
            );
          }
          if (driverSettings(loaded.pluginName, loaded.details).root.username === '') {
            throw invalidField('username', 'rotate-root needs the root username');
          }
          const record = await state.connections.recover(req.storage, loaded);
          const driver = state.connections.driver(record);
          const password = generatePassword();
          // The new password is stored before the database changes (see pendingRootPassword).
          await saveConnection(req.storage, { ...record, pendingRootPassword: password });
          try {
            await driver.rotateRootPassword(password, record.rootRotationStatements);
          } catch (err) {
            // A refused statement changed nothing; a lost connection may have changed it,
            // so then the pending password stays for recovery.
            if (err instanceof CofferError && err.code === 'invalid_request') {
              await saveConnection(req.storage, record);
            }
            throw err;
          }
          const rest = settledConnection(record);
          const rotated: ConnectionRecord = {
            ...rest,
            details: { ...record.details, password },
            version: randomUUID(),
          };
          await saveConnection(req.storage, rotated);
          await state.connections.driver(rotated).verifyConnection();
        });
        return { kind: 'empty' };
      },
    },
    help: 'Sets a new random root password in the database and stores it; nobody can read it.',
  });

  return [list, config, reset, rotateRoot];
}
