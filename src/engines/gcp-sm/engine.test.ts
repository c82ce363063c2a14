// The gcp-sm engine over memory storage: Secret Manager's semantics on the shared versioned
// model (versions, aliases, states, etags, updateMask, filters, paging, CRC32C, 64 KiB,
// regional secrets, IAM, expiry, delayed destroy and rotation notifications).
import { beforeEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../sdk/errors.js';
import type { EngineRequest, Operation } from '../../sdk/engine.js';
import { engineHarness, testMount, testRequest, type EngineHarness } from '../../sdk/testing.js';
import { crc32c } from './crc32c.js';
import { createGcpEngine, type Notifier } from './engine.js';
import { fullMethodName, type GcpMethod } from './methods.js';

const P = 'projects/proj';
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function googleStatus(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isCofferError(err)) return err.doorCode ?? err.code;
    throw err;
  }
  return 'OK';
}

describe('gcp-sm engine', () => {
  let h: EngineHarness;
  let published: { topics: readonly string[]; type: string; name: unknown }[];

  beforeEach(() => {
    published = [];
    const notify: Notifier = (_ctx, topics, event, resource) => {
      published.push({ topics, type: event.type, name: resource['name'] });
      return Promise.resolve();
    };
    const mount = testMount({ path: 'gcp/', type: 'gcp-sm', options: {} });
    h = engineHarness(createGcpEngine(mount, { notify }), { mount });
  });

  const create = (id: string, secret: object = { replication: { automatic: {} } }) =>
    h.data('create', `${P}/secrets/${id}`, { secret });
  const add = (id: string, value: string, extra: object = {}) =>
    h.data('update', `${P}/secrets/${id}/add-version`, {
      payload: { data: b64(value), ...extra },
    });
  const access = (id: string, v: string) =>
    h.data('read', `${P}/secrets/${id}/versions/${v}/access`);

  it('creates, adds versions, and accesses by number, latest and alias with CRC32C', async () => {
    const s = await create('db', { replication: { automatic: {} }, labels: { env: 'dev' } });
    expect(s).toMatchObject({ name: `${P}/secrets/db`, labels: { env: 'dev' } });
    expect(s['etag']).toMatch(/^".+"$/);
    const v1 = await add('db', 's3cr3t', { dataCrc32c: '825573743' });
    expect(v1).toMatchObject({
      name: `${P}/secrets/db/versions/1`,
      state: 'ENABLED',
      clientSpecifiedPayloadChecksum: true,
    });
    await add('db', 'two');
    expect(await access('db', 'latest')).toEqual({
      name: `${P}/secrets/db/versions/2`,
      payload: { data: b64('two'), dataCrc32c: String(crc32c(Buffer.from('two'))) },
    });
    expect(await access('db', '1')).toMatchObject({
      payload: { data: b64('s3cr3t'), dataCrc32c: '825573743' },
    });
    await h.data('patch', `${P}/secrets/db`, {
      secret: { versionAliases: { prod: '1' } },
      updateMask: 'versionAliases',
    });
    expect(await access('db', 'prod')).toMatchObject({ name: `${P}/secrets/db/versions/1` });
    expect((await h.data('read', `${P}/secrets/db`))['versionAliases']).toEqual({ prod: '1' });
    expect(await googleStatus(access('db', 'staging'))).toBe('NOT_FOUND');
    expect(await googleStatus(create('db'))).toBe('ALREADY_EXISTS');
  });

  it('refuses a wrong CRC32C, a payload over 64 KiB and a missing secret', async () => {
    await create('c');
    expect(await googleStatus(add('c', 's3cr3t', { dataCrc32c: '825573744' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await googleStatus(add('c', 'x'.repeat(64 * 1024)))).toBe('OK');
    expect(await googleStatus(add('c', 'x'.repeat(64 * 1024 + 1)))).toBe('INVALID_ARGUMENT');
    expect(await googleStatus(add('nope', 'x'))).toBe('NOT_FOUND');
    expect(await googleStatus(access('c', '9'))).toBe('NOT_FOUND');
    await create('empty');
    expect(await googleStatus(access('empty', 'latest'))).toBe('NOT_FOUND');
  });

  it('runs the state machine: disable, enable, destroy; etags are checked', async () => {
    await create('s');
    const v = await add('s', 'value');
    expect(
      await googleStatus(
        h.data('update', `${P}/secrets/s/versions/1/disable`, { etag: '"not-it"' }),
      ),
    ).toBe('ABORTED');
    const disabled = await h.data('update', `${P}/secrets/s/versions/1/disable`, {
      etag: v['etag'],
    });
    expect(disabled['state']).toBe('DISABLED');
    expect(disabled['etag']).not.toBe(v['etag']);
    expect(await googleStatus(access('s', '1'))).toBe('FAILED_PRECONDITION');
    await h.data('update', `${P}/secrets/s/versions/1/enable`, {});
    expect(await access('s', '1')).toMatchObject({ payload: { data: b64('value') } });
    const destroyed = await h.data('update', `${P}/secrets/s/versions/1/destroy`, {});
    expect(destroyed).toMatchObject({ state: 'DESTROYED' });
    expect(destroyed['destroyTime']).toBeDefined();
    expect(await googleStatus(access('s', 'latest'))).toBe('FAILED_PRECONDITION');
    expect(await googleStatus(h.data('update', `${P}/secrets/s/versions/1/enable`, {}))).toBe(
      'FAILED_PRECONDITION',
    );
    // The destroyed value is gone from storage, not just hidden.
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('value/'))).toEqual([]);
  });

  it('delays a destroy by versionDestroyTtl through the scheduler', async () => {
    await create('d', { replication: { automatic: {} }, versionDestroyTtl: '86400s' });
    await add('d', 'v');
    const scheduled = await h.data('update', `${P}/secrets/d/versions/1/destroy`, {});
    expect(scheduled['state']).toBe('DISABLED');
    expect(scheduled['scheduledDestroyTime']).toBeDefined();
    const job = [...h.schedule.jobs.entries()].find(([n]) => n.startsWith('destroy/'));
    expect(job?.[1]).toBe(h.nowMs + 86_400_000);
    h.nowMs += 86_400_000;
    await h.engine.runScheduled!(h.context(), job![0]);
    expect((await h.data('read', `${P}/secrets/d/versions/1`))['state']).toBe('DESTROYED');
  });

  it('updates only masked fields, checks the secret etag, and refuses immutable paths', async () => {
    const s = await create('u', { replication: { automatic: {} }, labels: { a: '1' } });
    const u = await h.data('patch', `${P}/secrets/u`, {
      secret: { labels: { b: '2' }, annotations: { ignored: 'x' }, etag: s['etag'] },
      updateMask: 'labels',
    });
    expect(u['labels']).toEqual({ b: '2' });
    expect(u['annotations']).toBeUndefined();
    expect(u['etag']).not.toBe(s['etag']);
    expect(
      await googleStatus(
        h.data('patch', `${P}/secrets/u`, {
          secret: { labels: {}, etag: s['etag'] },
          updateMask: 'labels',
        }),
      ),
    ).toBe('ABORTED');
    for (const mask of ['replication', '', 'nonsense']) {
      expect(
        await googleStatus(h.data('patch', `${P}/secrets/u`, { secret: {}, updateMask: mask })),
      ).toBe('INVALID_ARGUMENT');
    }
    expect(await googleStatus(h.data('delete', `${P}/secrets/u`, { etag: s['etag'] }))).toBe(
      'ABORTED',
    );
    expect(await h.data('delete', `${P}/secrets/u`, { etag: u['etag'] })).toEqual({});
    expect(await googleStatus(h.data('read', `${P}/secrets/u`))).toBe('NOT_FOUND');
  });

  it('lists newest first with filters (labels, name, AND/OR, NOT, create_time) and paging', async () => {
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) {
      h.nowMs += 1000;
      await create(id, {
        replication: { automatic: {} },
        labels: { env: i % 2 === 0 ? 'dev' : 'prod', team: id },
      });
    }
    const names = (out: Record<string, unknown>) =>
      ((out['secrets'] ?? []) as { name: string }[]).map((s) => s.name.split('/').pop());
    const list = (filter?: string, extra: object = {}) =>
      h.data('list', `${P}/secrets/`, { ...(filter === undefined ? {} : { filter }), ...extra });
    expect(names(await list())).toEqual(['d', 'c', 'b', 'a']);
    expect(names(await list('labels.env=dev'))).toEqual(['c', 'a']);
    expect(names(await list('labels.env=dev AND labels.team:a'))).toEqual(['a']);
    expect(names(await list('labels.team=a OR labels.team=d'))).toEqual(['d', 'a']);
    expect(names(await list('NOT labels.env=dev'))).toEqual(['d', 'b']);
    expect(names(await list('name:secrets/d'))).toEqual(['d']);
    expect(names(await list('labels.env:*'))).toHaveLength(4);
    const t = new Date(h.nowMs - 1500).toISOString();
    expect(names(await list(`create_time>"${t}"`))).toEqual(['d', 'c']);
    expect(await googleStatus(list('labelz.env=dev'))).toBe('INVALID_ARGUMENT');
    expect(await googleStatus(list('(labels.env=dev'))).toBe('INVALID_ARGUMENT');
    const first = await list(undefined, { pageSize: 3 });
    expect(names(first)).toEqual(['d', 'c', 'b']);
    expect(first['totalSize']).toBe(4);
    const second = await list(undefined, { pageSize: 3, pageToken: first['nextPageToken'] });
    expect(names(second)).toEqual(['a']);
    expect(second['nextPageToken']).toBeUndefined();
    expect(await googleStatus(list(undefined, { pageToken: 'garbage!' }))).toBe('INVALID_ARGUMENT');
  });

  it('lists versions with a state filter', async () => {
    await create('v');
    await add('v', '1');
    await add('v', '2');
    await h.data('update', `${P}/secrets/v/versions/1/disable`, {});
    const out = await h.data('list', `${P}/secrets/v/versions/`, { filter: 'state:enabled' });
    expect((out['versions'] as { name: string }[]).map((v) => v.name)).toEqual([
      `${P}/secrets/v/versions/2`,
    ]);
  });

  it('keeps regional secrets apart from global ones and refuses unknown locations', async () => {
    const r = await h.data('create', `${P}/locations/us-east1/secrets/db`, { secret: {} });
    expect(r['name']).toBe(`${P}/locations/us-east1/secrets/db`);
    expect(r['replication']).toBeUndefined();
    await h.data('update', `${P}/locations/us-east1/secrets/db/add-version`, {
      payload: { data: b64('regional') },
    });
    expect(await googleStatus(access('db', 'latest'))).toBe('NOT_FOUND');
    expect(
      await h.data('read', `${P}/locations/us-east1/secrets/db/versions/latest/access`),
    ).toMatchObject({ payload: { data: b64('regional') } });
    expect(
      await googleStatus(h.data('create', `${P}/locations/mars-north1/secrets/x`, { secret: {} })),
    ).toBe('INVALID_ARGUMENT');
    expect(await googleStatus(create('no-replication', {}))).toBe('INVALID_ARGUMENT');
  });

  it('deletes an expired secret through its scheduled job and tells its topics', async () => {
    await create('t', {
      replication: { automatic: {} },
      ttl: '3600s',
      topics: [{ name: 'projects/proj/topics/t' }],
    });
    expect(h.schedule.jobs.get('expire/proj/-/t')).toBe(h.nowMs + 3_600_000);
    h.nowMs += 3_600_000;
    expect(await googleStatus(h.data('read', `${P}/secrets/t`))).toBe('NOT_FOUND');
    await h.engine.runScheduled!(h.context(), 'expire/proj/-/t');
    expect(await h.storage.list('meta/')).toEqual([]);
    expect(published.map((p) => p.type)).toEqual([
      'SECRET_CREATE',
      'TOPIC_CONFIGURED',
      'SECRET_DELETE',
    ]);
  });

  it('publishes SECRET_ROTATE when rotation is due and advances the time by the period', async () => {
    const next = new Date(h.nowMs + 3_600_000).toISOString();
    await create('r', {
      replication: { automatic: {} },
      topics: [{ name: 'projects/proj/topics/rot' }],
      rotation: { nextRotationTime: next, rotationPeriod: '7200s' },
    });
    expect(
      await googleStatus(
        create('r2', { replication: { automatic: {} }, rotation: { nextRotationTime: next } }),
      ),
    ).toBe('INVALID_ARGUMENT');
    h.nowMs += 3_600_000;
    await h.engine.runScheduled!(h.context(), 'rotate/proj/-/r');
    expect(published.at(-1)).toEqual({
      topics: ['projects/proj/topics/rot'],
      type: 'SECRET_ROTATE',
      name: `${P}/secrets/r`,
    });
    expect(h.schedule.jobs.get('rotate/proj/-/r')).toBe(h.nowMs + 7_200_000);
    const s = await h.data('read', `${P}/secrets/r`);
    expect(s['rotation']).toEqual({
      nextRotationTime: new Date(h.nowMs + 7_200_000).toISOString(),
      rotationPeriod: '7200s',
    });
  });

  describe('IAM', () => {
    const asPrincipal = (
      principal: string | undefined,
      method: GcpMethod,
      operation: Operation,
      path: string,
      data: Record<string, unknown> = {},
    ) => {
      const req: EngineRequest = {
        ...testRequest(operation, path, data, h.storage, {
          mount: h.mount,
          now: () => h.nowMs,
          schedule: h.schedule,
        }),
        door: {
          api: 'gcp',
          method: fullMethodName(method),
          ...(principal === undefined ? {} : { principal }),
        },
      };
      return h.engine.handle(req);
    };

    it('limits principals by bindings once a policy exists; callers without one by Coffer alone', async () => {
      await create('s');
      await add('s', 'v');
      const alice = 'user:alice@example.com';
      // No bindings anywhere: Coffer policies alone decide.
      expect(
        await googleStatus(
          asPrincipal(alice, 'AccessSecretVersion', 'read', `${P}/secrets/s/versions/1/access`),
        ),
      ).toBe('OK');
      const empty = await h.data('read', `${P}/iam-policy`);
      expect(empty).toEqual({ version: 1, etag: 'ACAB' });
      await h.data('update', `${P}/iam-policy`, {
        policy: { bindings: [{ role: 'roles/secretmanager.viewer', members: [alice] }] },
      });
      expect(await googleStatus(asPrincipal(alice, 'ListSecrets', 'list', `${P}/secrets/`))).toBe(
        'OK',
      );
      expect(
        await googleStatus(
          asPrincipal(alice, 'AccessSecretVersion', 'read', `${P}/secrets/s/versions/1/access`),
        ),
      ).toBe('PERMISSION_DENIED');
      // A secret-level binding grants access to that secret only.
      const policy = await h.data('read', `${P}/secrets/s/iam-policy`);
      await h.data('update', `${P}/secrets/s/iam-policy`, {
        policy: {
          etag: policy['etag'],
          bindings: [{ role: 'roles/secretmanager.secretAccessor', members: [alice] }],
        },
      });
      expect(
        await googleStatus(
          asPrincipal(alice, 'AccessSecretVersion', 'read', `${P}/secrets/s/versions/1/access`),
        ),
      ).toBe('OK');
      const tested = await asPrincipal(
        alice,
        'TestIamPermissions',
        'read',
        `${P}/secrets/s/test-iam-permissions`,
        { permissions: ['secretmanager.versions.access', 'secretmanager.secrets.delete'] },
      );
      expect(tested).toEqual({
        kind: 'data',
        data: { permissions: ['secretmanager.versions.access'] },
      });
      // A stale etag is refused; a binding with a condition never grants.
      expect(
        await googleStatus(
          h.data('update', `${P}/secrets/s/iam-policy`, {
            policy: { etag: policy['etag'], bindings: [] },
          }),
        ),
      ).toBe('ABORTED');
      // The root token (no principal) is not limited by IAM.
      expect(
        await googleStatus(asPrincipal(undefined, 'DeleteSecret', 'delete', `${P}/secrets/s`)),
      ).toBe('OK');
    });

    it('refuses a method on a path or operation the table does not give it', async () => {
      await create('s');
      expect(
        await googleStatus(
          asPrincipal(undefined, 'GetSecret', 'read', `${P}/secrets/s/versions/1/access`),
        ),
      ).toBe('unsupported_path');
      expect(
        await googleStatus(asPrincipal(undefined, 'DeleteSecret', 'read', `${P}/secrets/s`)),
      ).toBe('unsupported_path');
      expect(await googleStatus(h.data('read', `${P}/secrets/../x`))).toBe('unsupported_path');
    });

    it('refuses unknown roles and malformed members, naming the field', async () => {
      const err = await h
        .data('update', `${P}/iam-policy`, {
          policy: { bindings: [{ role: 'roles/nope', members: ['user:a@b'] }] },
        })
        .catch((e: unknown) => e);
      expect(isCofferError(err) && err.field).toBe('policy.bindings[0].role');
      expect(
        await googleStatus(
          h.data('update', `${P}/iam-policy`, {
            policy: { bindings: [{ role: 'roles/viewer', members: ['alice'] }] },
          }),
        ),
      ).toBe('INVALID_ARGUMENT');
    });
  });
});
