// End to end: gcloud (the real Cloud SDK, unmodified) against a Coffer dev server's Google door,
// with only the endpoint override and an access token set: secrets create/describe/list
// --filter/update --update-labels/delete, versions add/access (gcloud checks our CRC32C)/list/
// disable/enable/destroy, add-iam-policy-binding/get-iam-policy. A principal with only the
// viewer role lists but gets PERMISSION_DENIED on access; every request has its audit entry
// naming the Google method; a canary value appears nowhere else.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessCi } from '../helpers/skips.js';
import {
  createTempDir,
  encodedForms,
  findCanaries,
  startServer,
  type ServerProcess,
  type TempDir,
} from '../helpers/server-process.js';

const ROOT = 'gcloud-e2e-root';
const CANARY = 'canary-gcloud-Zt8Kq3Lw5';
const PROJECT = 'coffer-proj';
const REST_LINE = /Google Secret Manager \(REST\): (\S+)/;
const GCLOUD_TIMEOUT_MS = 60_000;

function gcloudPath(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    try {
      readFileSync(`${dir}/gcloud`);
      return `${dir}/gcloud`;
    } catch {
      // not here
    }
  }
  return undefined;
}

const GCLOUD = gcloudPath();
const missing = GCLOUD === undefined ? 'gcloud is not installed' : undefined;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(skipUnlessCi(missing ?? '', 'gcloud'))('gcloud against the Google door', () => {
  let server: ServerProcess;
  let dir: TempDir;
  let restUrl: string;
  let auditFile: string;
  const outputs: string[] = [];

  const gcloud = (args: string[], token: string, stdin?: string): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(
        GCLOUD!,
        [...args, `--project=${PROJECT}`, '--quiet'],
        {
          timeout: GCLOUD_TIMEOUT_MS,
          env: {
            PATH: process.env['PATH'] ?? '/usr/bin:/bin',
            HOME: dir.path,
            CLOUDSDK_CONFIG: dir.file('gcloud-config'),
            CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: `${restUrl}/`,
            CLOUDSDK_AUTH_ACCESS_TOKEN: token,
            CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
            CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
            CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: '1',
          },
        },
        (err, stdout, stderr) => {
          outputs.push(stdout, stderr);
          resolve({
            code: err === null ? 0 : ((err as { code?: number }).code ?? 1),
            stdout,
            stderr,
          });
        },
      );
      if (stdin !== undefined) child.stdin?.end(stdin);
      else child.stdin?.end();
    });
  const ok = async (args: string[], token = ROOT, stdin?: string): Promise<string> => {
    const run = await gcloud(args, token, stdin);
    expect(run.code, `gcloud ${args.join(' ')}: ${run.stderr}`).toBe(0);
    return run.stdout;
  };
  const vault = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${server.url}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: res.status === 204 ? {} : ((await res.json()) as any) }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  /** A direct REST call to the door (for checks that need no gcloud start-up). */
  const rest = async (method: string, path: string, token = ROOT, body?: object) => {
    const res = await fetch(`${restUrl}/v1/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    dir = createTempDir('coffer-gcloud-');
    auditFile = dir.file('audit.log');
    server = await startServer({ dev: { rootTokenId: ROOT } });
    restUrl = REST_LINE.exec(server.stdout())![1]!;
    expect(
      (await vault('POST', 'sys/audit/file', { type: 'file', options: { file_path: auditFile } }))
        .status,
    ).toBe(204);
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    dir?.remove();
  });

  it('runs the secrets, versions and IAM commands unchanged', async () => {
    const payload = dir.file('payload');
    writeFileSync(payload, CANARY);
    await ok([
      'secrets',
      'create',
      'app-db',
      `--data-file=${payload}`,
      '--labels=env=dev,team=core',
      '--replication-policy=automatic',
    ]);
    await ok(['secrets', 'create', 'other', '--labels=env=prod', '--replication-policy=automatic']);
    const described = await ok(['secrets', 'describe', 'app-db', '--format=json']);
    expect(JSON.parse(described)).toMatchObject({
      name: `projects/${PROJECT}/secrets/app-db`,
      labels: { env: 'dev', team: 'core' },
      replication: { automatic: {} },
    });
    const listed = JSON.parse(
      await ok(['secrets', 'list', '--filter=labels.env=dev', '--format=json']),
    ) as { name: string }[];
    expect(listed.map((s) => s.name)).toEqual([`projects/${PROJECT}/secrets/app-db`]);

    await ok(['secrets', 'update', 'app-db', '--update-labels=team=platform']);
    expect((await rest('GET', `projects/${PROJECT}/secrets/app-db`)).json.labels).toEqual({
      env: 'dev',
      team: 'platform',
    });

    // gcloud verifies the dataCrc32c we return; a wrong one would fail this command.
    expect(await ok(['secrets', 'versions', 'access', 'latest', '--secret=app-db'])).toBe(CANARY);
    await ok(['secrets', 'versions', 'add', 'app-db', '--data-file=-'], ROOT, 'second-value');
    await ok(['secrets', 'versions', 'disable', '1', '--secret=app-db']);
    const enabled = JSON.parse(
      await ok([
        'secrets',
        'versions',
        'list',
        'app-db',
        '--filter=state:enabled',
        '--format=json',
      ]),
    ) as { name: string }[];
    expect(enabled.map((v) => v.name.split('/').pop())).toEqual(['2']);
    const denied = await gcloud(['secrets', 'versions', 'access', '1', '--secret=app-db'], ROOT);
    expect(denied.stderr).toContain('FAILED_PRECONDITION');
    await ok(['secrets', 'versions', 'enable', '1', '--secret=app-db']);
    expect((await rest('GET', `projects/${PROJECT}/secrets/app-db/versions/1`)).json.state).toBe(
      'ENABLED',
    );
    await ok(['secrets', 'versions', 'destroy', '1', '--secret=app-db']);
    const destroyed = await gcloud(['secrets', 'versions', 'access', '1', '--secret=app-db'], ROOT);
    expect(destroyed.stderr).toContain('is in DESTROYED state');

    await ok([
      'secrets',
      'add-iam-policy-binding',
      'app-db',
      '--member=user:bob@example.com',
      '--role=roles/secretmanager.secretAccessor',
    ]);
    const policy = JSON.parse(await ok(['secrets', 'get-iam-policy', 'app-db', '--format=json']));
    expect(policy.bindings).toEqual([
      { role: 'roles/secretmanager.secretAccessor', members: ['user:bob@example.com'] },
    ]);

    await ok(['secrets', 'delete', 'other']);
    const gone = await rest('GET', `projects/${PROJECT}/secrets/other`);
    expect(gone).toMatchObject({ status: 404, json: { error: { status: 'NOT_FOUND' } } });
  }, 300_000);

  it('lets a viewer list but refuses its access with PERMISSION_DENIED', async () => {
    expect(
      (
        await vault('PUT', 'sys/policies/acl/gcp-all', {
          policy:
            'path "gcp/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }',
        })
      ).status,
    ).toBe(204);
    const created = await vault('POST', 'auth/token/create', {
      policies: ['gcp-all'],
      meta: { principal: 'user:alice@example.com' },
    });
    const alice = created.json.auth.client_token as string;
    const res = await rest('POST', `projects/${PROJECT}:setIamPolicy`, ROOT, {
      policy: {
        bindings: [{ role: 'roles/secretmanager.viewer', members: ['user:alice@example.com'] }],
      },
    });
    expect(res.status).toBe(200);
    const listed = JSON.parse(await ok(['secrets', 'list', '--format=json'], alice)) as unknown[];
    expect(listed.length).toBeGreaterThan(0);
    const refused = await gcloud(
      ['secrets', 'versions', 'access', 'latest', '--secret=app-db'],
      alice,
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('PERMISSION_DENIED');
    const unauthenticated = await rest('GET', `projects/${PROJECT}/secrets`, 'not-a-token');
    expect(unauthenticated).toMatchObject({
      status: 401,
      json: { error: { status: 'UNAUTHENTICATED' } },
    });
  }, 120_000);

  it('audits every request with the Google method, principal and resource; no canary leaks', () => {
    const audit = readFileSync(auditFile, 'utf8');
    const lines = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    const methods = new Set(
      lines.filter((l) => l['request']?.door?.api === 'gcp').map((l) => l['request'].door.method),
    );
    for (const m of [
      'CreateSecret',
      'GetSecret',
      'ListSecrets',
      'UpdateSecret',
      'DeleteSecret',
      'AddSecretVersion',
      'AccessSecretVersion',
      'ListSecretVersions',
      'EnableSecretVersion',
      'DisableSecretVersion',
      'DestroySecretVersion',
      'GetIamPolicy',
      'SetIamPolicy',
    ]) {
      expect(methods).toContain(`google.cloud.secretmanager.v1.SecretManagerService.${m}`);
    }
    // Every gcp request line has its response line.
    const requests = lines.filter(
      (l) => l['type'] === 'request' && l['request']?.door?.api === 'gcp',
    );
    const responses = lines.filter(
      (l) => l['type'] === 'response' && l['request']?.door?.api === 'gcp',
    );
    expect(responses.length).toBe(requests.length);
    const aliceDenied = lines.find(
      (l) =>
        l['type'] === 'response' &&
        l['request']?.door?.method.endsWith('.AccessSecretVersion') &&
        l['request']?.door?.principal === 'user:alice@example.com',
    );
    expect(aliceDenied?.['request'].path).toBe(
      `gcp/projects/${PROJECT}/secrets/app-db/versions/latest/access`,
    );
    expect(aliceDenied?.['error']).toBeDefined();
    const forms = encodedForms({ canary: CANARY });
    expect(findCanaries(audit, forms)).toEqual([]);
    expect(findCanaries(server.stdout() + server.stderr(), forms)).toEqual([]);
    // gcloud printed the value where asked; nothing else it printed holds it.
    const others = outputs.filter((o) => o.trim() !== CANARY).join('\n');
    expect(findCanaries(others, forms)).toEqual([]);
  });
});
