// The console calls (the web UI's typed extras) against a real in-process server on a port:
// wrapping as one-time sharing, the resultant ACL and mount discovery, lease listing, the audit
// device list, log view and hash, and explain for another subject.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthTestServer, type AuthTestServer } from '../../test/helpers/test-auth-method.js';
import { newClientNonce } from './auth.js';
import { CofferClient } from './client.js';
import {
  auditHash,
  listAuditDevices,
  listLeases,
  listSecretMounts,
  lookupWrapping,
  mountOf,
  readAuditLog,
  resultantAcl,
  wrapData,
} from './console.js';
import { ApiError } from './errors.js';

const VALUE = 'CANARY-console-value';

let server: AuthTestServer;
let dir: string;
let root: CofferClient;

beforeAll(async () => {
  server = await startAuthTestServer({ password: 'p', secretId: 's', jwt: 'j', code: 'c' }, []);
  root = new CofferClient({ address: server.address, token: server.stack.rootToken });
  dir = mkdtempSync(join(tmpdir(), 'coffer-console-'));
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('one-time sharing by response wrapping', () => {
  it('wraps data, looks it up without spending it, opens it once only', async () => {
    const info = await wrapData(root, { password: VALUE }, '5m');
    expect(info.ttl).toBe(300);
    const anonymous = new CofferClient({ address: server.address });
    const seen = await lookupWrapping(anonymous, info.token);
    expect(seen.creationPath).toBe('sys/wrapping/wrap');
    expect(seen.creationTtlSeconds).toBe(300);
    const holder = new CofferClient({ address: server.address, token: info.token });
    expect((await holder.unwrap())?.data).toEqual({ password: VALUE });
    const again = await holder.unwrap().catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiError);
    await expect(lookupWrapping(anonymous, info.token)).rejects.toThrow(/not valid/);
  });
});

describe('what a token may use', () => {
  it('lists the mounts for root and finds a mount from any path inside it', async () => {
    const mounts = await listSecretMounts(root);
    expect(mounts.find((m) => m.path === 'secret/')?.type).toBe('kv');
    const mount = await mountOf(root, 'secret/data/app/db');
    expect(mount.path).toBe('secret/');
    expect(mount.options).toMatchObject({ version: '2' });
  });

  it("reads the caller's resultant ACL and explains for a policy set", async () => {
    await root.writePolicy('app', 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n');
    const created = await root.createToken({ policies: ['app'] });
    const limited = new CofferClient({ address: server.address, token: created.auth.client_token });
    const acl = await resultantAcl(limited);
    expect(acl.root).toBe(false);
    expect(acl.globPaths['secret/data/app/']?.capabilities).toEqual(['read']);
    expect((await resultantAcl(root)).root).toBe(true);
    // A limited token may not list every mount, but may probe the one it can use.
    await expect(listSecretMounts(limited)).rejects.toMatchObject({ status: 403 });
    expect((await mountOf(limited, 'secret/data/app/x')).path).toBe('secret/');
    const explained = await root.explainPolicy('secret/data/app/x', 'update', {
      policies: ['app'],
    });
    expect(explained.allowed).toBe(false);
    const byAccessor = await root.explainPolicy('secret/data/app/x', 'read', {
      accessor: created.auth.accessor,
    });
    expect(byAccessor.allowed).toBe(true);
    expect(byAccessor.policies).toEqual(['app', 'default']);
  });

  it('lists leases under a prefix (none here)', async () => {
    await expect(listLeases(root, 'database/creds/')).resolves.toEqual([]);
  });

  it('makes client nonces of 20 random bytes, base64url, with Web Crypto', () => {
    const nonce = newClientNonce();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{27}$/);
    expect(newClientNonce()).not.toBe(nonce);
  });
});

describe('audit', () => {
  it('lists devices, reads the verified log view and hashes a value', async () => {
    await root.request('PUT', 'sys/audit/file', {
      body: { type: 'file', options: { file_path: join(dir, 'audit.log') } },
    });
    await root.kvPut('secret', 'audited', { password: VALUE });
    const devices = await listAuditDevices(root);
    expect(devices.map((d) => d.path)).toEqual(['file/']);
    expect(devices[0]!.options['checkpoint_public_key']).toBeTruthy();
    const hash = await auditHash(root, 'file', VALUE);
    expect(hash).toMatch(/^hmac-sha256:/);
    const view = await readAuditLog(root, 'file/', { filter: hash, limit: 10 });
    expect(view.verification?.ok).toBe(true);
    expect(view.verification?.matches_server_head).toBe(true);
    expect(view.entries.length).toBeGreaterThan(0);
    expect(JSON.stringify(view)).not.toContain(VALUE);
  });
});
