// The Vault-compatible Kubernetes tools against a real Coffer server, by their exact calls
// (docs/kubernetes.md lists them): External Secrets Operator's Vault provider with Kubernetes
// auth and KV v2 (login, lookup-self checks, data and metadata reads, LIST, PushSecret writes,
// revoke-self on close), the Vault Agent Injector's agent (KV version detection through
// sys/internal/ui/mounts, renew-self) and the Vault CSI provider (login, then a read of the
// object's path). The service-account token is reviewed by the Kubernetes API stand-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/k8s-cluster.js';
import { createTempDir } from '../helpers/server-process.js';
import { vaultRequest } from './vault-http.js';
import { readFileSync } from 'node:fs';

const dir = createTempDir('coffer-k8s-eso-');
let cluster: Cluster;
let jwt = '';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: string, path: string, token?: string, body?: unknown) {
  const res = await vaultRequest(cluster.coffer.url, method, path, {
    ...(token === undefined ? {} : { token }),
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, body: (res.body ?? {}) as Body };
}

async function login(): Promise<string> {
  // hashicorp/vault/api/auth/kubernetes: POST auth/<mountPath>/login {role, jwt}.
  const res = await call('POST', 'auth/kubernetes/login', undefined, { role: 'eso', jwt });
  expect(res.status).toBe(200);
  expect(typeof res.body['auth'].client_token).toBe('string');
  expect(typeof res.body['auth'].lease_duration).toBe('number');
  expect(res.body['auth'].renewable).toBe(true);
  expect(res.body['auth'].metadata).toMatchObject({
    role: 'eso',
    service_account_name: 'external-secrets',
  });
  return res.body['auth'].client_token as string;
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.call('PUT', 'sys/policies/acl/eso', {
    policy: [
      'path "secret/data/*" { capabilities = ["read", "create", "update", "delete"] }',
      'path "secret/metadata/*" { capabilities = ["read", "list", "create", "update", "delete"] }',
    ].join('\n'),
  });
  await cluster.call('POST', 'auth/kubernetes/role/eso', {
    bound_service_account_names: ['external-secrets'],
    bound_service_account_namespaces: ['external-secrets'],
    token_policies: ['eso'],
    token_ttl: '10m',
  });
  await cluster.call('POST', 'secret/data/app/db', { data: { password: 'p1', user: 'app' } });
  await cluster.call('POST', 'secret/data/app/db', { data: { password: 'p2', user: 'app' } });
  await cluster.call('POST', 'secret/metadata/app/db', { custom_metadata: { owner: 'shop' } });
  await cluster.call('POST', 'secret/data/app/api', { data: { key: 'k' } });
  const file = await cluster.tokenFile(
    dir,
    'token',
    'external-secrets',
    'external-secrets',
    'https://kubernetes.default.svc',
  );
  jwt = readFileSync(file, 'utf8');
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  dir.remove();
});

describe("External Secrets Operator's Vault provider (Kubernetes auth, KV v2, no token cache)", () => {
  it('replays one reconcile: login, validate, read, list, push, close', async () => {
    const token = await login();
    // Store validation: lookup-self with type, numeric ttl and expire_time (RFC 3339 or null).
    const self = await call('GET', 'auth/token/lookup-self', token);
    expect(self.status).toBe(200);
    expect(self.body['data'].type).toBe('service');
    expect(typeof self.body['data'].ttl).toBe('number');
    expect(self.body['data'].ttl).toBeGreaterThanOrEqual(60);
    const expire = self.body['data'].expire_time as string | null;
    expect(expire === null || !Number.isNaN(Date.parse(expire))).toBe(true);
    // ExternalSecret data: GET <path>/data/<key>, value = .data.data; a version; metadata.
    const read = await call('GET', 'secret/data/app/db', token);
    expect(read.body['data'].data).toEqual({ password: 'p2', user: 'app' });
    const v1 = await call('GET', 'secret/data/app/db?version=1', token);
    expect(v1.body['data'].data).toEqual({ password: 'p1', user: 'app' });
    const meta = await call('GET', 'secret/metadata/app/db', token);
    expect(meta.body['data']).toMatchObject({
      custom_metadata: { owner: 'shop' },
      current_version: 2,
    });
    expect(typeof meta.body['data'].created_time).toBe('string');
    expect(meta.body['data']).toHaveProperty('delete_version_after');
    // A missing secret is a 404 (ESO's NoSecretError, which drives deletionPolicy).
    expect((await call('GET', 'secret/data/app/missing', token)).status).toBe(404);
    // dataFrom.find: LIST <path>/metadata/<prefix> (the LIST verb and ?list=true).
    const listed = await call('LIST', 'secret/metadata/app', token);
    expect(listed.body['data'].keys).toEqual(['api', 'db']);
    const listedGet = await call('GET', 'secret/metadata/app?list=true', token);
    expect(listedGet.body['data'].keys).toEqual(['api', 'db']);
    // PushSecret: data with check-and-set, then the managed-by marker in metadata.
    const pushed = await call('POST', 'secret/data/pushed/cert', token, {
      data: { tls: 'x' },
      options: { cas: 0 },
    });
    expect(pushed.status).toBe(200);
    const casConflict = await call('POST', 'secret/data/pushed/cert', token, {
      data: { tls: 'y' },
      options: { cas: 0 },
    });
    expect(casConflict.status).toBe(400);
    const marked = await call('POST', 'secret/metadata/pushed/cert', token, {
      custom_metadata: { 'managed-by': 'external-secrets' },
    });
    expect(marked.status).toBe(204);
    // Close without the token cache: lookup-self, then revoke-self; the token is gone.
    expect((await call('GET', 'auth/token/lookup-self', token)).status).toBe(200);
    expect((await call('POST', 'auth/token/revoke-self', token)).status).toBe(204);
    expect((await call('GET', 'secret/data/app/db', token)).status).toBe(403);
  });
});

describe('Vault Agent (as the Vault Agent Injector runs it) and the Vault CSI provider', () => {
  it('agent: KV version detection, read, token renewal', async () => {
    const token = await login();
    const mounts = await call('GET', 'sys/internal/ui/mounts/secret/app/db', token);
    expect(mounts.status).toBe(200);
    expect(mounts.body['data']).toMatchObject({ path: 'secret/', options: { version: '2' } });
    expect((await call('GET', 'secret/data/app/db', token)).body['data'].data.password).toBe('p2');
    const renewed = await call('PUT', 'auth/token/renew-self', token, { increment: '10m' });
    expect(renewed.status).toBe(200);
    expect(renewed.body['auth'].lease_duration).toBeGreaterThan(0);
  });

  it('CSI provider: login, then GET the object path; keys under .data.data', async () => {
    const token = await login();
    const object = await call('GET', 'secret/data/app/api', token);
    expect(object.body['data'].data).toEqual({ key: 'k' });
    // A refused token makes it log in again once (403, not 401).
    expect((await call('GET', 'secret/data/app/api', 'not-a-token')).status).toBe(403);
  });
});
