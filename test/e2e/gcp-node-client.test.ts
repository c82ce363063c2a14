// End to end: @google-cloud/secret-manager (the real Node client) against a Coffer dev server's
// Google door, over gRPC and over REST fallback, authenticated by a Coffer-minted
// service-account key file in GOOGLE_APPLICATION_CREDENTIALS (self-signed RS256 JWTs that the
// door verifies against the stored public key). Over plaintext gRPC the client sends no
// credentials of its own, so the JWT goes as explicit `authorization` metadata.
import { createSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/engines/gcp-sm/crc32c.js';
import {
  createTempDir,
  encodedForms,
  findCanaries,
  startServer,
  type ServerProcess,
  type TempDir,
} from '../helpers/server-process.js';

const ROOT = 'gcp-node-root';
const CANARY = 'canary-gcp-node-Hw4Rb8Ny2';
const PROJECT = 'coffer-proj';

interface KeyFile {
  private_key_id: string;
  private_key: string;
  client_email: string;
}

function selfSignedJwt(key: KeyFile, claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id })}.${enc({
    iss: key.client_email,
    sub: key.client_email,
    scope: 'https://www.googleapis.com/auth/cloud-platform',
    iat: now,
    exp: now + 3600,
    ...claims,
  })}`;
  return `${body}.${createSign('RSA-SHA256').update(body).sign(key.private_key, 'base64url')}`;
}

describe('@google-cloud/secret-manager against the Google door', () => {
  let server: ServerProcess;
  let dir: TempDir;
  let restPort: number;
  let grpcHostPort: string;
  let key: KeyFile;
  let auditFile: string;
  const previousCredentials = process.env['GOOGLE_APPLICATION_CREDENTIALS'];
  const vault = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${server.url}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: res.status === 204 ? {} : ((await res.json()) as any) }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    dir = createTempDir('coffer-gcp-node-');
    auditFile = dir.file('audit.log');
    server = await startServer({ dev: { rootTokenId: ROOT } });
    const out = server.stdout();
    restPort = Number(/Google Secret Manager \(REST\): http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
    grpcHostPort = /Google Secret Manager \(gRPC\): (\S+)/.exec(out)![1]!;
    expect(
      (await vault('POST', 'sys/audit/file', { type: 'file', options: { file_path: auditFile } }))
        .status,
    ).toBe(204);
    await vault('PUT', 'sys/policies/acl/gcp-all', {
      policy:
        'path "gcp/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }',
    });
    const minted = await vault('POST', 'sys/door-credentials/gcp', {
      policies: ['gcp-all'],
      display_name: 'app-reader',
      project_id: PROJECT,
    });
    expect(minted.status).toBe(200);
    key = minted.json.data.key_file as KeyFile;
    expect(key.client_email).toBe(`app-reader@${PROJECT}.iam.gserviceaccount.com`);
    const keyPath = dir.file('sa.json');
    writeFileSync(keyPath, JSON.stringify(key));
    // The only change an application needs: the key file (and the endpoint in code options).
    process.env['GOOGLE_APPLICATION_CREDENTIALS'] = keyPath;
  }, 30_000);
  afterAll(async () => {
    if (previousCredentials === undefined) delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
    else process.env['GOOGLE_APPLICATION_CREDENTIALS'] = previousCredentials;
    await server?.stop();
    dir?.remove();
  });

  it('works over REST fallback with the key file (self-signed JWT verified by Coffer)', async () => {
    const sm = new SecretManagerServiceClient({
      fallback: true,
      apiEndpoint: '127.0.0.1',
      port: restPort,
      protocol: 'http',
    });
    try {
      const parent = `projects/${PROJECT}`;
      const [secret] = await sm.createSecret({
        parent,
        secretId: 'rest-db',
        secret: { replication: { automatic: {} }, labels: { env: 'dev' } },
      });
      expect(secret.name).toBe(`${parent}/secrets/rest-db`);
      const [version] = await sm.addSecretVersion({
        parent: secret.name!,
        payload: {
          data: Buffer.from(CANARY),
          dataCrc32c: String(crc32c(Buffer.from(CANARY))),
        },
      });
      expect(version.state).toBe('ENABLED');
      const [accessed] = await sm.accessSecretVersion({ name: `${secret.name!}/versions/latest` });
      expect(Buffer.from(accessed.payload!.data as Uint8Array).toString()).toBe(CANARY);
      expect(String(accessed.payload!.dataCrc32c)).toBe(String(crc32c(Buffer.from(CANARY))));
      const [listed] = await sm.listSecrets({ parent, filter: 'labels.env=dev' });
      expect(listed.map((s) => s.name)).toEqual([secret.name]);
      const [updated] = await sm.updateSecret({
        secret: { name: secret.name!, labels: { env: 'prod' }, etag: secret.etag! },
        updateMask: { paths: ['labels'] },
      });
      expect(updated.labels).toEqual({ env: 'prod' });
      const [disabled] = await sm.disableSecretVersion({ name: version.name! });
      expect(disabled.state).toBe('DISABLED');
      await expect(sm.accessSecretVersion({ name: version.name! })).rejects.toThrow(
        /FAILED_PRECONDITION/,
      );
      await sm.enableSecretVersion({ name: version.name! });
      const [destroyed] = await sm.destroySecretVersion({ name: version.name! });
      expect(destroyed.state).toBe('DESTROYED');
      const [versions] = await sm.listSecretVersions({ parent: secret.name! });
      expect(versions.map((v) => v.state)).toEqual(['DESTROYED']);
      const [policy] = await sm.setIamPolicy({
        resource: secret.name!,
        policy: {
          bindings: [
            { role: 'roles/secretmanager.secretAccessor', members: ['user:x@y.z'] },
            // Once a secret has bindings, IAM limits the service account too: keep it admin.
            { role: 'roles/secretmanager.admin', members: [`serviceAccount:${key.client_email}`] },
          ],
        },
      });
      const [got] = await sm.getIamPolicy({ resource: secret.name! });
      expect(got.bindings?.map((b) => b.role)).toEqual([
        'roles/secretmanager.secretAccessor',
        'roles/secretmanager.admin',
      ]);
      expect(got.etag).toEqual(policy.etag);
      await sm.deleteSecret({ name: secret.name!, etag: updated.etag! });
      await expect(sm.getSecret({ name: secret.name! })).rejects.toThrow(/NOT_FOUND/);
    } finally {
      await sm.close();
    }
  }, 60_000);

  it('works over gRPC with the JWT as explicit authorization metadata; Google status codes', async () => {
    const [host, port] = grpcHostPort.split(':');
    const sm = new SecretManagerServiceClient({
      apiEndpoint: host!,
      port: Number(port),
      sslCreds: grpc.credentials.createInsecure(),
    });
    // The self-signed JWT Google's auth library sends from the key file (over REST above);
    // plaintext gRPC attaches no credentials, so the app passes it as metadata.
    const authorization = `Bearer ${selfSignedJwt(key)}`;
    expect(authorization).toMatch(/^Bearer eyJ/);
    const call = { otherArgs: { headers: { authorization } } };
    try {
      const parent = `projects/${PROJECT}`;
      const [secret] = await sm.createSecret(
        {
          parent,
          secretId: 'grpc-db',
          secret: { replication: { automatic: {} }, ttl: { seconds: 7200 } },
        },
        call,
      );
      expect(Number(secret.expireTime!.seconds)).toBeGreaterThan(Date.now() / 1000 + 7000);
      await sm.addSecretVersion(
        { parent: secret.name!, payload: { data: Buffer.from(CANARY) } },
        call,
      );
      const [accessed] = await sm.accessSecretVersion({ name: `${secret.name!}/versions/1` }, call);
      expect(Buffer.from(accessed.payload!.data as Uint8Array).toString()).toBe(CANARY);
      const status = async (p: Promise<unknown>) =>
        p.then(
          () => 0,
          (e: unknown) => (e as { code: number }).code,
        );
      expect(await status(sm.getSecret({ name: `${parent}/secrets/missing` }, call))).toBe(5);
      expect(await status(sm.getSecret({ name: secret.name! }))).toBe(16);
      const forged = selfSignedJwt({ ...key, private_key_id: 'f'.repeat(40) });
      const bad = { otherArgs: { headers: { authorization: `Bearer ${forged}` } } };
      expect(await status(sm.getSecret({ name: secret.name! }, bad))).toBe(16);
      const expired = selfSignedJwt(key, {
        iat: Math.floor(Date.now() / 1000) - 7200,
        exp: Math.floor(Date.now() / 1000) - 3600,
      });
      const old = { otherArgs: { headers: { authorization: `Bearer ${expired}` } } };
      expect(await status(sm.getSecret({ name: secret.name! }, old))).toBe(16);
      const tampered =
        authorization.slice(0, -4) + (authorization.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const t = { otherArgs: { headers: { authorization: tampered } } };
      expect(await status(sm.getSecret({ name: secret.name! }, t))).toBe(16);
      // IAM: a project viewer binding for the service account lists but cannot access.
      await fetch(`http://127.0.0.1:${restPort}/v1/${parent}:setIamPolicy`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ROOT}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          policy: {
            bindings: [
              {
                role: 'roles/secretmanager.viewer',
                members: [`serviceAccount:${key.client_email}`],
              },
            ],
          },
        }),
      });
      const [listed] = await sm.listSecrets({ parent }, call);
      expect(listed.map((s) => s.name)).toContain(secret.name);
      expect(
        await status(sm.accessSecretVersion({ name: `${secret.name!}/versions/1` }, call)),
      ).toBe(7);
    } finally {
      await sm.close();
    }
  }, 60_000);

  it('audits the service account as the principal; no canary anywhere', () => {
    const audit = readFileSync(auditFile, 'utf8');
    const lines = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    const access = lines.filter(
      (l) =>
        l['type'] === 'request' &&
        l['request']?.door?.method ===
          'google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion',
    );
    expect(access.length).toBeGreaterThanOrEqual(3);
    for (const l of access) {
      expect(l['request'].door.principal).toBe(`serviceAccount:${key.client_email}`);
    }
    const forms = encodedForms({ canary: CANARY });
    expect(findCanaries(audit, forms)).toEqual([]);
    expect(findCanaries(server.stdout() + server.stderr(), forms)).toEqual([]);
  });
});
