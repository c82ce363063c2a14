// static-roles/:name, static-creds, rotate-role and the rotation job, for everything decided
// before a database is reached.
import { describe, expect, it } from 'vitest';
import { putJson } from '../../sdk/storage.js';
import type { StaticRoleRecord } from './records.js';
import { databaseHarness, expectCoffer, unreachablePostgres } from './testing.js';

async function setup() {
  const h = databaseHarness();
  await h.call('update', 'config/pg', unreachablePostgres({ allowed_roles: ['st-*'] }));
  return h;
}

const T0 = Date.UTC(2026, 0, 1);

/** A static role as a successful creation would have stored it. */
async function seed(h: Awaited<ReturnType<typeof setup>>, name: string): Promise<void> {
  const record: StaticRoleRecord = {
    dbName: 'pg',
    username: 'app',
    rotationPeriodSeconds: 3600,
    rotationStatements: [],
    password: 'Current-Password-1',
    lastRotatedAt: T0,
  };
  await putJson(h.storage, `static-role/${name}`, record);
}

describe('static roles', () => {
  it('refuses incomplete or unsupported definitions before touching the database', async () => {
    const h = await setup();
    const bad = (data: Record<string, unknown>, field: string) =>
      expectCoffer(h.call('update', 'static-roles/st-a', data), 'invalid_request', { field });
    await bad({ username: 'app', rotation_period: '1h' }, 'db_name');
    await bad({ db_name: 'pg', rotation_period: '1h' }, 'username');
    await bad({ db_name: 'pg', username: 'app' }, 'rotation_period');
    await bad({ db_name: 'pg', username: 'app', rotation_period: 4 }, 'rotation_period');
    await bad(
      { db_name: 'pg', username: 'app', rotation_schedule: '0 0 * * SAT' },
      'rotation_schedule',
    );
    await bad({ db_name: 'none', username: 'app', rotation_period: '1h' }, 'db_name');
    await expectCoffer(
      h.call('update', 'static-roles/other', {
        db_name: 'pg',
        username: 'app',
        rotation_period: '1h',
      }),
      'invalid_request',
      { field: 'allowed_roles' },
    );
    expect(h.stored('static-role/st-a')).toBeUndefined();
  });

  it('reads a role without its password, and its creds with it', async () => {
    const h = await setup();
    await seed(h, 'st-a');
    h.nowMs = T0 + 600_000;
    const role = await h.data('read', 'static-roles/st-a');
    expect(role).toEqual({
      credential_type: 'password',
      db_name: 'pg',
      username: 'app',
      rotation_period: 3600,
      rotation_statements: [],
      last_vault_rotation: '2026-01-01T00:00:00Z',
      ttl: 3000,
    });
    expect(await h.data('read', 'static-creds/st-a')).toEqual({
      username: 'app',
      password: 'Current-Password-1',
      last_vault_rotation: '2026-01-01T00:00:00Z',
      rotation_period: 3600,
      ttl: 3000,
    });
    expect(await h.data('list', 'static-roles/')).toEqual({ keys: ['st-a'] });
  });

  it('updates the period (re-arming the job) but never the user or the connection', async () => {
    const h = await setup();
    await seed(h, 'st-a');
    await h.call('update', 'static-roles/st-a', { rotation_period: '2h' });
    expect(h.schedule.jobs.get('static-role/st-a')).toBe(T0 + 7_200_000);
    await expectCoffer(
      h.call('update', 'static-roles/st-a', { username: 'other' }),
      'invalid_request',
      {
        field: 'username',
      },
    );
    await expectCoffer(h.call('update', 'static-roles/st-a', { db_name: 'x' }), 'invalid_request', {
      field: 'db_name',
    });
    await h.call('delete', 'static-roles/st-a');
    expect(h.schedule.jobs.has('static-role/st-a')).toBe(false);
    await expectCoffer(h.call('read', 'static-creds/st-a'), 'not_found');
    await expectCoffer(h.call('update', 'rotate-role/st-a'), 'not_found');
  });

  it('a job that fires early re-arms for the due time; unknown jobs and roles do nothing', async () => {
    const h = await setup();
    await seed(h, 'st-a');
    h.nowMs = T0 + 60_000;
    await h.engine.runScheduled!(h.ctx(), 'static-role/st-a');
    expect(h.schedule.jobs.get('static-role/st-a')).toBe(T0 + 3_600_000);
    await h.engine.runScheduled!(h.ctx(), 'static-role/missing');
    await h.engine.runScheduled!(h.ctx(), 'something-else');
    expect([...h.schedule.jobs.keys()]).toEqual(['static-role/st-a']);
  });
});
