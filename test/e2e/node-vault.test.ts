// node-vault 0.12.0 (npm) as an unmodified black-box client against the real server binary on
// SQLite: init/unseal, KV v1, KV v2 (versions, check-and-set, delete/undelete/destroy,
// metadata), mounts, then a process restart that must come back sealed with every byte intact.
import { randomUUID } from 'node:crypto';
import vault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultError } from '../helpers/node-vault.js';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

type Client = ReturnType<typeof vault>;

/** The parts of a KV v2 error body the tests look at (404 with an envelope, for example). */
interface ErrorBody {
  readonly errors?: string[];
  readonly data?: {
    readonly data?: unknown;
    readonly metadata?: { version?: number; deletion_time?: string; destroyed?: boolean };
  };
}

// Canaries: values planted in secrets that must never show up in the server's logs.
const KV1_PASSWORD = `nv-kv1-canary-${randomUUID()}`;
const V2_SECRET_1 = `nv-v2-canary-one-${randomUUID()}`;
const V2_SECRET_2 = `nv-v2-canary-two-${randomUUID()}`;
const V2_PATCHED = `nv-v2-canary-patch-${randomUUID()}`;

describe('node-vault 0.12.0 against coffer server (SQLite), across a process restart', () => {
  const dir = createTempDir('coffer-e2e-node-vault-');
  const config = sqliteConfig(dir.file('coffer.db'));
  const logs: string[] = [];
  let server: ServerProcess;
  let client: Client;
  let keys: string[] = [];
  let keysBase64: string[] = [];
  let rootToken = '';

  beforeAll(async () => {
    server = await startServer({ configText: config });
    client = vault({ endpoint: server.url });
  });

  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  it('reports an uninitialised, sealed server', async () => {
    expect(await client.initialized()).toMatchObject({ initialized: false });
    const status = await client.status();
    expect(status).toMatchObject({ initialized: false, sealed: true });
    // node-vault resolves non-2xx health answers as data.
    expect(await client.health()).toMatchObject({ initialized: false, sealed: true });
  });

  it('initialises with 5 shares, threshold 3', async () => {
    const init = await client.init({ secret_shares: 5, secret_threshold: 3 });
    expect(init.keys).toHaveLength(5);
    expect(init.keys_base64).toHaveLength(5);
    expect(typeof init.root_token).toBe('string');
    expect(init.root_token.length).toBeGreaterThan(0);
    keys = init.keys;
    keysBase64 = init.keys_base64;
    rootToken = init.root_token;
    client.token = rootToken;
    expect(await client.initialized()).toMatchObject({ initialized: true });
    const again = await vaultError<ErrorBody>(
      client.init({ secret_shares: 5, secret_threshold: 3 }),
    );
    expect(again.status).toBe(400);
    expect(again.message).toContain('already initialized');
  });

  it('unseals with 3 of 5 keys, reporting progress', async () => {
    expect(await client.status()).toMatchObject({ sealed: true, t: 3, n: 5, progress: 0 });
    expect(await client.unseal({ key: keys[0] })).toMatchObject({ sealed: true, progress: 1 });
    expect(await client.unseal({ key: keys[1] })).toMatchObject({ sealed: true, progress: 2 });
    expect(await client.unseal({ key: keys[2] })).toMatchObject({ sealed: false, progress: 0 });
    expect(await client.status()).toMatchObject({ initialized: true, sealed: false, t: 3, n: 5 });
    expect(await client.health()).toMatchObject({
      initialized: true,
      sealed: false,
      standby: false,
    });
  });

  it('mounts KV v1 and KV v2 and lists them', async () => {
    await client.mount({ mount_point: 'secret', type: 'kv', options: { version: '2' } });
    await client.mount({ mount_point: 'kv1', type: 'kv', options: { version: '1' } });
    const mounts = await client.mounts();
    // Vault copies `data` to the top level on sys/mounts; node-vault users read either.
    for (const view of [mounts.data, mounts]) {
      expect(view['secret/']).toMatchObject({ type: 'kv', options: { version: '2' } });
      expect(view['kv1/']).toMatchObject({ type: 'kv' });
      expect(view['sys/']).toBeDefined();
    }
    expect(mounts.data['kv1/'].options?.version ?? '1').toBe('1');
  });

  it('KV v1: write, read, list, delete', async () => {
    await client.write('kv1/app/db', { user: 'app', password: KV1_PASSWORD });
    await client.write('kv1/app/cache', { url: 'redis://127.0.0.1' });
    await client.write('kv1/other', { x: '1' });
    const read = await client.read('kv1/app/db');
    expect(read.data).toEqual({ user: 'app', password: KV1_PASSWORD });
    expect(read.lease_id).toBe('');
    expect((await client.list('kv1/app')).data.keys).toEqual(['cache', 'db']);
    expect((await client.list('kv1/')).data.keys).toEqual(['app/', 'other']);
    await client.delete('kv1/other');
    expect((await vaultError<ErrorBody>(client.read('kv1/other'))).status).toBe(404);
    expect((await client.list('kv1/')).data.keys).toEqual(['app/']);
  });

  it('KV v2: check-and-set writes and versions', async () => {
    const first = await client.write('secret/data/x', {
      data: { v: 'one', s: V2_SECRET_1 },
      options: { cas: 0 },
    });
    expect(first.data).toMatchObject({ version: 1, destroyed: false, deletion_time: '' });
    const cas0 = await vaultError<ErrorBody>(
      client.write('secret/data/x', { data: { v: 'nope' }, options: { cas: 0 } }),
    );
    expect(cas0.status).toBe(400);
    expect(cas0.message).toContain('check-and-set');
    const second = await client.write('secret/data/x', {
      data: { v: 'two', s: V2_SECRET_2 },
      options: { cas: 1 },
    });
    expect(second.data.version).toBe(2);
    const stale = await vaultError<ErrorBody>(
      client.write('secret/data/x', { data: { v: 'nope' }, options: { cas: 1 } }),
    );
    expect(stale.status).toBe(400);
    expect(stale.message).toContain('check-and-set');

    const latest = await client.read('secret/data/x');
    expect(latest.data.data).toEqual({ v: 'two', s: V2_SECRET_2 });
    expect(latest.data.metadata).toMatchObject({ version: 2, destroyed: false });
    const v1 = await client.read('secret/data/x?version=1');
    expect(v1.data.data).toEqual({ v: 'one', s: V2_SECRET_1 });
    expect(v1.data.metadata.version).toBe(1);
    await client.write('secret/data/dir/y', { data: { y: 'why' } });
  });

  it('KV v2: metadata with custom_metadata, list', async () => {
    await client.write('secret/metadata/x', {
      custom_metadata: { owner: 'team-a', tier: 'gold' },
      max_versions: 7,
    });
    const meta = await client.read('secret/metadata/x');
    expect(meta.data).toMatchObject({
      current_version: 2,
      max_versions: 7,
      custom_metadata: { owner: 'team-a', tier: 'gold' },
    });
    expect(Object.keys(meta.data.versions).sort()).toEqual(['1', '2']);
    expect((await client.list('secret/metadata/')).data.keys).toEqual(['dir/', 'x']);
    expect((await client.list('secret/metadata/dir')).data.keys).toEqual(['y']);
  });

  it('KV v2: soft delete, undelete, destroy, patch', async () => {
    await client.delete('secret/data/x');
    const deleted = await vaultError<ErrorBody>(client.read('secret/data/x'));
    expect(deleted.status).toBe(404);
    // A deleted version answers 404 WITH the envelope: data null, metadata set.
    expect(deleted.body?.data?.data ?? null).toBeNull();
    expect(deleted.body?.data?.metadata?.version).toBe(2);
    expect(deleted.body?.data?.metadata?.deletion_time).not.toBe('');

    await client.write('secret/undelete/x', { versions: [2] });
    expect((await client.read('secret/data/x')).data.data).toEqual({ v: 'two', s: V2_SECRET_2 });

    await client.write('secret/destroy/x', { versions: [1] });
    const destroyed = await vaultError<ErrorBody>(client.read('secret/data/x?version=1'));
    expect(destroyed.status).toBe(404);
    expect(destroyed.body?.data?.metadata?.destroyed).toBe(true);
    const meta = await client.read('secret/metadata/x');
    expect(meta.data.versions['1'].destroyed).toBe(true);
    expect(meta.data.versions['2']).toMatchObject({ destroyed: false, deletion_time: '' });

    // node-vault's update() is PATCH with application/merge-patch+json.
    const patched = await client.update('secret/data/x', { data: { p: V2_PATCHED } });
    expect(patched.data.version).toBe(3);
    expect((await client.read('secret/data/x')).data.data).toEqual({
      v: 'two',
      s: V2_SECRET_2,
      p: V2_PATCHED,
    });
  });

  it('mount and unmount a scratch engine', async () => {
    await client.mount({ mount_point: 'scratch', type: 'kv', options: { version: '1' } });
    await client.write('scratch/k', { a: 'b' });
    expect((await client.mounts()).data['scratch/']).toBeDefined();
    await client.unmount({ mount_point: 'scratch' });
    expect((await client.mounts()).data['scratch/']).toBeUndefined();
    expect((await vaultError<ErrorBody>(client.read('scratch/k'))).status).toBe(404);
  });

  it('restarts sealed after SIGTERM and unseals again with 3 keys', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    logs.push(server.stderr(), server.stdout());
    server = await startServer({ configText: config });
    client = vault({ endpoint: server.url, token: rootToken });

    expect(await client.status()).toMatchObject({
      initialized: true,
      sealed: true,
      t: 3,
      n: 5,
      progress: 0,
    });
    expect(await client.health()).toMatchObject({ initialized: true, sealed: true });
    const sealed = await vaultError<ErrorBody>(client.read('kv1/app/db'));
    expect(sealed.status).toBe(503);
    expect(JSON.stringify(sealed.body)).not.toContain(KV1_PASSWORD);

    // A different 3 of the 5 shares, base64 this time.
    expect(await client.unseal({ key: keysBase64[4] })).toMatchObject({
      sealed: true,
      progress: 1,
    });
    expect(await client.unseal({ key: keysBase64[2] })).toMatchObject({
      sealed: true,
      progress: 2,
    });
    expect(await client.unseal({ key: keysBase64[3] })).toMatchObject({ sealed: false });
  });

  it('keeps every mount, secret, version and metadata across the restart', async () => {
    const mounts = await client.mounts();
    expect(mounts.data['secret/']).toMatchObject({ type: 'kv', options: { version: '2' } });
    expect(mounts.data['kv1/']).toMatchObject({ type: 'kv' });
    expect(mounts.data['scratch/']).toBeUndefined();

    expect((await client.read('kv1/app/db')).data).toEqual({ user: 'app', password: KV1_PASSWORD });
    expect((await client.list('kv1/')).data.keys).toEqual(['app/']);
    expect((await client.list('kv1/app')).data.keys).toEqual(['cache', 'db']);

    const latest = await client.read('secret/data/x');
    expect(latest.data.data).toEqual({ v: 'two', s: V2_SECRET_2, p: V2_PATCHED });
    expect(latest.data.metadata.version).toBe(3);
    expect((await client.read('secret/data/x?version=2')).data.data).toEqual({
      v: 'two',
      s: V2_SECRET_2,
    });
    expect((await vaultError<ErrorBody>(client.read('secret/data/x?version=1'))).status).toBe(404);

    const meta = await client.read('secret/metadata/x');
    expect(meta.data).toMatchObject({
      current_version: 3,
      max_versions: 7,
      custom_metadata: { owner: 'team-a', tier: 'gold' },
    });
    expect(meta.data.versions['1'].destroyed).toBe(true);
    expect(Object.keys(meta.data.versions).sort()).toEqual(['1', '2', '3']);
    expect((await client.list('secret/metadata/')).data.keys).toEqual(['dir/', 'x']);
    expect((await client.read('secret/data/dir/y')).data.data).toEqual({ y: 'why' });

    // Still writable after the restart, with check-and-set against the restored version.
    const next = await client.write('secret/data/x', { data: { v: 'four' }, options: { cas: 3 } });
    expect(next.data.version).toBe(4);
  });

  it('never logs the root token, an unseal key or a secret value', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    logs.push(server.stderr(), server.stdout());
    const canaries: Record<string, string> = {
      rootToken,
      kv1Password: KV1_PASSWORD,
      v2Secret1: V2_SECRET_1,
      v2Secret2: V2_SECRET_2,
      v2Patched: V2_PATCHED,
    };
    keys.forEach((k, i) => (canaries[`unsealKeyHex${i}`] = k));
    keysBase64.forEach((k, i) => (canaries[`unsealKeyB64${i}`] = k));
    const all = logs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    expect(findCanaries(all, canaries)).toEqual([]);
  });
});
