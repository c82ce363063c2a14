import { describe, expect, it } from 'vitest';
import { CofferClient } from './client.js';
import { ClientError } from './errors.js';
import { ResolveError } from './resolve.js';
import { kvV2Probe, routeFetch } from './testing.js';
import type { CannedReply } from './testing.js';
import { envNameOf, resolveVariables, sourcesFingerprint } from './variables.js';

const ADDR = 'http://127.0.0.1:8200';

function v2(data: Record<string, unknown> | null, version = 1): CannedReply {
  return { body: { data: { data, metadata: { version, destroyed: false } } } };
}

/** secret/ is KV v2, legacy/ is KV v1, database/ issues leased credentials. */
function server(extra: Record<string, CannedReply> = {}) {
  return routeFetch({
    'GET sys/internal/ui/mounts/secret/*': kvV2Probe('secret/'),
    'GET sys/internal/ui/mounts/legacy/*': {
      body: { data: { path: 'legacy/', type: 'kv', options: { version: '1' } } },
    },
    'GET sys/internal/ui/mounts/database/*': {
      body: { data: { path: 'database/', type: 'database', options: null } },
    },
    'GET secret/data/app': v2({ 'db-password': 'pw-1', user: 'admin', port: 5432 }),
    'GET secret/data/other': v2({ token: 'tok', nested: { a: 1 } }),
    'GET legacy/app': { body: { data: { api_key: 'k-1' }, lease_duration: 2764800 } },
    'GET database/creds/app': {
      body: {
        lease_id: 'database/creds/app/abc',
        lease_duration: 3600,
        renewable: true,
        data: { username: 'v-app', password: 'dyn-pw' },
      },
    },
    ...extra,
  });
}

function clientFor(rec: ReturnType<typeof routeFetch>) {
  return new CofferClient({ address: ADDR, token: 't', fetch: rec.fetch });
}

describe('variable names of secret keys', () => {
  it.each([
    ['db-password', 'DB_PASSWORD'],
    ['dbPassword', 'DB_PASSWORD'],
    ['db.password', 'DB_PASSWORD'],
    ['API_KEY', 'API_KEY'],
    ['2fa', '_2FA'],
    ['--x--', 'X'],
  ])('%s → %s', (key, name) => {
    expect(envNameOf(key)).toBe(name);
  });

  it('gives nothing for a key without letters or digits', () => {
    expect(envNameOf('--')).toBeUndefined();
  });
});

describe('resolving variables', () => {
  it('turns every key of a KV v2 and a KV v1 path into UPPER_SNAKE variables', async () => {
    const rec = server();
    const resolved = await resolveVariables(clientFor(rec), {
      paths: ['secret/app', 'legacy/app'],
    });
    expect(resolved.vars).toEqual({
      DB_PASSWORD: 'pw-1',
      USER: 'admin',
      PORT: '5432',
      API_KEY: 'k-1',
    });
    expect(resolved.secretNames).toEqual(['API_KEY', 'DB_PASSWORD', 'PORT', 'USER']);
    // KV v1 answers carry a refresh interval but no lease id: nothing to renew.
    expect(resolved.reads.every((r) => r.lease === undefined)).toBe(true);
  });

  it('reads each distinct path once, however many references use it', async () => {
    const rec = server();
    const resolved = await resolveVariables(clientFor(rec), {
      paths: ['secret/app'],
      explicit: [
        { name: 'PW', value: 'coffer://secret/app#db-password', source: '-map' },
        { name: 'U', value: 'coffer://secret/app#user', source: '-map' },
        { name: 'T', value: 'coffer://secret/other#token', source: 'f:1' },
      ],
    });
    expect(resolved.vars['PW']).toBe('pw-1');
    expect(resolved.vars['T']).toBe('tok');
    const reads = rec.requests.filter((r) => !r.path.startsWith('sys/'));
    expect(reads.map((r) => r.path).sort()).toEqual(['secret/data/app', 'secret/data/other']);
  });

  it('asks KV v2 for a version with ?version=N', async () => {
    const rec = server({ 'GET secret/data/app': v2({ user: 'old' }, 2) });
    const resolved = await resolveVariables(clientFor(rec), {
      explicit: [{ name: 'U', value: 'coffer://secret/app?version=2#user', source: '-map' }],
    });
    expect(resolved.vars).toEqual({ U: 'old' });
    const read = rec.requests.find((r) => r.path === 'secret/data/app')!;
    expect(read.query['version']).toBe('2');
  });

  it('reads a dynamic secret as it is and remembers its lease', async () => {
    const rec = server();
    const resolved = await resolveVariables(clientFor(rec), {
      explicit: [
        { name: 'DB_PASS', value: 'coffer://database/creds/app#password', source: '-map' },
      ],
    });
    expect(resolved.vars).toEqual({ DB_PASS: 'dyn-pw' });
    expect(resolved.reads[0]!.lease).toEqual({
      leaseId: 'database/creds/app/abc',
      leaseDurationSeconds: 3600,
      renewable: true,
    });
    expect(resolved.reads[0]!.watchPaths).toEqual(['database/creds/app']);
  });

  it('watches the data, metadata, delete, undelete and destroy paths of a KV v2 key', async () => {
    const resolved = await resolveVariables(clientFor(server()), { paths: ['secret/app'] });
    expect(resolved.reads[0]!.watchPaths).toEqual([
      'secret/data/app',
      'secret/metadata/app',
      'secret/delete/app',
      'secret/undelete/app',
      'secret/destroy/app',
    ]);
  });

  it('lets an explicit variable win over a key of a whole path, literals included', async () => {
    const resolved = await resolveVariables(clientFor(server()), {
      paths: ['secret/app'],
      explicit: [
        { name: 'USER', value: 'coffer://secret/other#token', source: '-map' },
        { name: 'PORT', value: 'literal', source: 'f:2' },
      ],
    });
    expect(resolved.vars['USER']).toBe('tok');
    expect(resolved.vars['PORT']).toBe('literal');
    expect(resolved.secretNames).not.toContain('PORT');
  });

  it('refuses two paths giving the same name, naming both sources', async () => {
    const rec = server({ 'GET secret/data/other': v2({ db_password: 'x' }) });
    await expect(
      resolveVariables(clientFor(rec), { paths: ['secret/app', 'secret/other'] }),
    ).rejects.toThrow(
      'variable DB_PASSWORD comes from both secret/app#db-password and secret/other#db_password',
    );
  });

  it('refuses a name set twice explicitly, naming both places', async () => {
    await expect(
      resolveVariables(clientFor(server()), {
        explicit: [
          { name: 'A', value: 'x', source: '.env.tpl:3' },
          { name: 'A', value: 'y', source: '-map' },
        ],
      }),
    ).rejects.toThrow('variable A is set twice: by .env.tpl:3 and by -map');
  });

  it('says which secret or key is missing, never a value', async () => {
    const c = clientFor(server());
    await expect(resolveVariables(c, { paths: ['secret/nope'] })).rejects.toThrow(
      new ResolveError('no secret at secret/nope'),
    );
    await expect(
      resolveVariables(c, {
        explicit: [{ name: 'X', value: 'coffer://secret/app#nokey', source: '-map' }],
      }),
    ).rejects.toThrow('-map: no key "nokey" in the secret at secret/app');
    await expect(
      resolveVariables(c, {
        explicit: [{ name: 'X', value: 'coffer://legacy/app?version=2#api_key', source: '-map' }],
      }),
    ).rejects.toThrow(/only on a KV version 2 mount/);
    await expect(
      resolveVariables(c, { explicit: [{ name: 'bad-name', value: 'x', source: '-map' }] }),
    ).rejects.toThrow(ClientError);
  });

  it('refuses a deleted KV v2 version', async () => {
    const rec = server({ 'GET secret/data/app': v2(null) });
    await expect(resolveVariables(clientFor(rec), { paths: ['secret/app'] })).rejects.toThrow(
      'the secret at secret/app is deleted or destroyed',
    );
  });

  it('fingerprints the request, not the values, regardless of order', () => {
    const a = sourcesFingerprint({
      paths: ['b', 'a'],
      explicit: [
        { name: 'X', value: 'coffer://s/p#k', source: '-map' },
        { name: 'L', value: 'lit', source: 'f:1' },
      ],
    });
    const b = sourcesFingerprint({
      paths: ['a', 'b'],
      explicit: [
        { name: 'L', value: 'other', source: '-map' },
        { name: 'X', value: 'coffer://s/p#k', source: 'f:9' },
      ],
    });
    expect(a).toBe(b);
    expect(a).not.toContain('lit');
  });
});
