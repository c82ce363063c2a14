// Static roles: one existing database user whose password Coffer rotates every
// rotation_period. `static-roles/:name` (write, read, delete), LIST `static-roles/`,
// `static-creds/:name`, `rotate-role/:name`, and the scheduled job `static-role/<name>`.
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineContext, EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { FieldValues } from '../../sdk/fields.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { getJson, putJson } from '../../sdk/storage.js';
import { rfc3339Nano } from '../../sdk/text.js';
import {
  checkName,
  checkNameField,
  parseStatementList,
  pathNameList,
  pathRecord,
} from './common.js';
import { driverKind } from '../../shared/db/driver.js';
import { generatePassword } from '../../shared/db/password.js';
import {
  JOB_PREFIX,
  KEYS,
  loadConnection,
  requireConnection,
  loadStaticRole,
  settledStaticRole,
  type StaticRoleRecord,
} from './records.js';
import { checkAllowedRole, type EngineState } from './state.js';

/** Vault's floor for rotation_period. */
export const MIN_ROTATION_PERIOD_SECONDS = 5;

const FIELDS = {
  db_name: { type: 'string', description: 'The connection (config/<db_name>) to use.' },
  username: { type: 'string', description: 'The existing database user; cannot be changed.' },
  rotation_period: {
    type: 'duration',
    description: `How often the password is rotated (at least ${MIN_ROTATION_PERIOD_SECONDS}s).`,
  },
  rotation_statements: {
    type: 'any',
    description: "Set the password ({{name}}, {{password}}); default: the driver's.",
  },
  credential_type: { type: 'string', description: 'Only "password".' },
  rotation_schedule: { type: 'string', description: 'Not supported yet.' },
  rotation_window: { type: 'duration', description: 'Not supported yet.' },
} as const;

export function jobName(role: string): string {
  return `${JOB_PREFIX}${role}`;
}

const STATIC_ROLE_NOT_FOUND = 'static role not found';

function notFound(): CofferError {
  return new CofferError('not_found', STATIC_ROLE_NOT_FOUND);
}

/** When the role's password is next due to rotate, epoch ms. */
function nextRotationAt(role: StaticRoleRecord): number {
  return role.lastRotatedAt + role.rotationPeriodSeconds * 1000;
}

/** Whole seconds until the next rotation (0 when it is due). */
function secondsToRotation(role: StaticRoleRecord, nowMs: number): number {
  return Math.max(0, Math.floor((nextRotationAt(role) - nowMs) / 1000));
}

/**
 * Sets a new password for the role's user and stores it. The password is stored as pending
 * before the database changes, and a retry (after a failure or a crash) sets that same
 * password, so the database never holds a password Coffer has lost. Caller holds the
 * role's lock.
 */
async function rotate(
  state: EngineState,
  ctx: EngineContext,
  name: string,
  role: StaticRoleRecord,
): Promise<StaticRoleRecord> {
  const connection = await requireConnection(ctx.storage, role.dbName);
  checkAllowedRole(connection, name);
  const password = role.pendingPassword ?? generatePassword();
  if (role.pendingPassword === undefined) {
    await putJson(ctx.storage, KEYS.staticRole(name), { ...role, pendingPassword: password });
  }
  const driver = await state.connections.ready(ctx.storage, connection);
  await driver.setPassword(role.username, password, role.rotationStatements);
  const rest = settledStaticRole(role);
  const rotated: StaticRoleRecord = { ...rest, password, lastRotatedAt: ctx.now() };
  await putJson(ctx.storage, KEYS.staticRole(name), rotated);
  return rotated;
}

/** Another static role on the same connection already manages this user? */
async function usernameTaken(
  req: EngineRequest,
  name: string,
  dbName: string,
  username: string,
): Promise<boolean> {
  for (const other of await req.storage.list(KEYS.staticRolePrefix)) {
    if (other === name) continue;
    const record = await getJson<StaticRoleRecord>(req.storage, KEYS.staticRole(other));
    if (record?.dbName === dbName && record.username === username) return true;
  }
  return false;
}

export function staticRolePaths(state: EngineState): PathSpec[] {
  async function write(
    req: EngineRequest,
    fields: FieldValues<typeof FIELDS>,
    name: string,
  ): Promise<EngineResult> {
    if (fields.credential_type !== undefined && fields.credential_type !== 'password') {
      throw invalidField('credential_type', 'only "password" is supported');
    }
    if (fields.rotation_schedule !== undefined || fields.rotation_window !== undefined) {
      const field =
        fields.rotation_schedule !== undefined ? 'rotation_schedule' : 'rotation_window';
      throw invalidField(field, 'is not supported yet; use rotation_period');
    }
    if (
      fields.rotation_period !== undefined &&
      fields.rotation_period < MIN_ROTATION_PERIOD_SECONDS
    ) {
      throw invalidField(
        'rotation_period',
        `must be at least ${MIN_ROTATION_PERIOD_SECONDS} seconds`,
      );
    }
    return state.staticLock.run(name, async () => {
      const existing = await loadStaticRole(req.storage, name);
      if (existing !== undefined) {
        if (fields.username !== undefined && fields.username !== existing.username) {
          throw invalidField('username', 'cannot be changed');
        }
        if (fields.db_name !== undefined && fields.db_name !== existing.dbName) {
          throw invalidField('db_name', 'cannot be changed');
        }
        const updated: StaticRoleRecord = {
          ...existing,
          rotationPeriodSeconds: fields.rotation_period ?? existing.rotationPeriodSeconds,
          rotationStatements:
            fields.rotation_statements === undefined
              ? existing.rotationStatements
              : parseStatementList(fields.rotation_statements, 'rotation_statements'),
        };
        await putJson(req.storage, KEYS.staticRole(name), updated);
        if (updated.rotationPeriodSeconds !== existing.rotationPeriodSeconds) {
          await req.schedule.set(jobName(name), Math.max(nextRotationAt(updated), req.now()));
        }
        return { kind: 'empty' };
      }

      if (fields.db_name === undefined || fields.db_name === '') {
        throw invalidField('db_name', 'is required');
      }
      if (fields.username === undefined || fields.username === '') {
        throw invalidField('username', 'is required');
      }
      if (fields.rotation_period === undefined)
        throw invalidField('rotation_period', 'is required');
      const connection = await loadConnection(
        req.storage,
        checkNameField(fields.db_name, 'db_name'),
      );
      if (connection === undefined) {
        throw invalidField('db_name', `connection "${fields.db_name}" does not exist`);
      }
      checkAllowedRole(connection, name);
      const rotationStatements = parseStatementList(
        fields.rotation_statements,
        'rotation_statements',
      );
      if (driverKind(connection.pluginName) === 'redis' && rotationStatements.length > 0) {
        throw invalidField('rotation_statements', `not supported by ${connection.pluginName}`);
      }
      if (await usernameTaken(req, name, fields.db_name, fields.username)) {
        throw invalidField('username', 'is already managed by another static role');
      }
      // Vault rotates on creation: it must know the password it hands out.
      const draft: StaticRoleRecord = {
        dbName: fields.db_name,
        username: fields.username,
        rotationPeriodSeconds: fields.rotation_period,
        rotationStatements,
        password: '',
        lastRotatedAt: 0,
      };
      let rotated: StaticRoleRecord;
      try {
        rotated = await rotate(state, req, name, draft);
      } catch (err) {
        await req.storage.delete(KEYS.staticRole(name));
        throw err;
      }
      await req.schedule.set(jobName(name), nextRotationAt(rotated));
      return { kind: 'empty' };
    });
  }

  const staticRole = pathRecord({
    pattern: 'static-roles/:name',
    fields: FIELDS,
    load: loadStaticRole,
    notFound: STATIC_ROLE_NOT_FOUND,
    render: (role, req) => ({
      credential_type: 'password',
      db_name: role.dbName,
      username: role.username,
      rotation_period: role.rotationPeriodSeconds,
      rotation_statements: [...role.rotationStatements],
      last_vault_rotation: rfc3339Nano(role.lastRotatedAt),
      ttl: secondsToRotation(role, req.now()),
    }),
    write,
    async delete(req, name) {
      await state.staticLock.run(name, async () => {
        await req.storage.delete(KEYS.staticRole(name));
        await req.schedule.cancel(jobName(name));
      });
    },
    help:
      'A static role: an existing database user (username on db_name) whose password Coffer ' +
      'sets on creation and rotates every rotation_period. Deleting it leaves the user as is.',
  });

  const list = pathNameList(
    'static-roles',
    KEYS.staticRolePrefix,
    'static roles',
    'Lists the static role names.',
  );

  const creds = definePath({
    pattern: 'static-creds/:name',
    fields: {},
    operations: {
      async read(req, _fields, params) {
        const name = checkName(params.name!);
        const role = await loadStaticRole(req.storage, name);
        if (role === undefined) throw notFound();
        const connection = await loadConnection(req.storage, role.dbName);
        if (connection !== undefined) checkAllowedRole(connection, name);
        return {
          kind: 'data',
          data: {
            username: role.username,
            password: role.password,
            last_vault_rotation: rfc3339Nano(role.lastRotatedAt),
            rotation_period: role.rotationPeriodSeconds,
            ttl: secondsToRotation(role, req.now()),
          },
        };
      },
    },
    help: "The static role's current username and password, and when it is next rotated.",
  });

  const rotateRole = definePath({
    pattern: 'rotate-role/:name',
    fields: {},
    operations: {
      async update(req, _fields, params) {
        const name = checkName(params.name!);
        await state.staticLock.run(name, async () => {
          const role = await loadStaticRole(req.storage, name);
          if (role === undefined) throw notFound();
          const rotated = await rotate(state, req, name, role);
          await req.schedule.set(jobName(name), nextRotationAt(rotated));
        });
        return { kind: 'empty' };
      },
    },
    help: "Rotates the static role's password now and restarts its rotation period.",
  });

  return [list, staticRole, creds, rotateRole];
}

/**
 * The scheduled rotation of `static-role/<name>`. The job is re-armed for a full period
 * before the database is touched, so a crash mid-rotation cannot lose it; a throw makes the
 * core retry sooner with backoff. A job that fires early (the period was lengthened) just
 * re-arms for the real due time.
 */
export async function runStaticRotation(
  state: EngineState,
  ctx: EngineContext,
  job: string,
): Promise<void> {
  if (!job.startsWith(JOB_PREFIX)) return;
  const name = job.slice(JOB_PREFIX.length);
  await state.staticLock.run(name, async () => {
    const role = await loadStaticRole(ctx.storage, name);
    if (role === undefined) return;
    const periodMs = role.rotationPeriodSeconds * 1000;
    const dueAt = role.lastRotatedAt + periodMs;
    if (role.pendingPassword === undefined && ctx.now() < dueAt) {
      await ctx.schedule.set(job, dueAt);
      return;
    }
    await ctx.schedule.set(job, ctx.now() + periodMs);
    const rotated = await rotate(state, ctx, name, role);
    await ctx.schedule.set(job, rotated.lastRotatedAt + periodMs);
  });
}
