// End to end: the AWS SDK for JavaScript v3 (@aws-sdk/client-secrets-manager), unmodified,
// with only the endpoint and keys set, drives all 23 actions against a real Coffer dev server
// process; its error classes, retries and clock-skew correction behave as against AWS; and a
// canary secret value never appears in a log, an error or an audit line.
import { readFileSync } from 'node:fs';
import {
  SecretsManagerClient,
  BatchGetSecretValueCommand,
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteResourcePolicyCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  ListSecretsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  StopReplicationToReplicaCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  ValidateResourcePolicyCommand,
  ResourceNotFoundException,
  ResourceExistsException,
  InvalidRequestException,
  InvalidParameterException,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  encodedForms,
  findCanaries,
  startServer,
  type ServerProcess,
  type TempDir,
} from '../helpers/server-process.js';

const ROOT = 'aws-e2e-root';
const KEY = { id: 'AKIDE2ESDK', secret: 'sdk-e2e-secret-key-0123456789' };
const CANARY = 'canary-aws-sdk-Qm7Rt2Vx9';

function client(
  url: string,
  creds = { accessKeyId: KEY.id, secretAccessKey: KEY.secret },
  extra: object = {},
) {
  return new SecretsManagerClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: creds,
    maxAttempts: 2,
    ...extra,
  });
}

describe('AWS SDK v3 against Coffer', () => {
  let server: ServerProcess;
  let sm: SecretsManagerClient;
  let dir: TempDir;
  let auditFile: string;
  const vault = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${server.url}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: res.status === 204 ? {} : ((await res.json()) as any) }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    dir = createTempDir('coffer-aws-sdk-');
    auditFile = dir.file('audit.log');
    server = await startServer({ dev: { rootTokenId: ROOT, awsKey: KEY } });
    expect(server.stdout()).toContain(`AWS Secrets Manager: ${server.url}`);
    expect(
      (await vault('POST', 'sys/audit/file', { type: 'file', options: { file_path: auditFile } }))
        .status,
    ).toBe(204);
    sm = client(server.url);
  }, 30_000);
  afterAll(async () => {
    sm?.destroy();
    await server?.stop();
    dir?.remove();
  });

  it('drives every action the SDK has (23) with AWS semantics', async () => {
    const used = new Set<string>();
    const send = async <T>(cmd: { constructor: { name: string } }, run: () => Promise<T>) => {
      used.add(cmd.constructor.name.replace(/Command$/, ''));
      return run();
    };
    const created = await send(new CreateSecretCommand({ Name: 'x' }), () =>
      sm.send(
        new CreateSecretCommand({
          Name: 'app/db',
          SecretString: `{"password":"${CANARY}"}`,
          Description: 'db creds',
          Tags: [{ Key: 'team', Value: 'core' }],
        }),
      ),
    );
    expect(created.ARN).toMatch(
      /^arn:aws:secretsmanager:us-east-1:000000000000:secret:app\/db-[A-Za-z0-9]{6}$/,
    );
    const v1 = created.VersionId!;
    const got = await send(new GetSecretValueCommand({ SecretId: 'x' }), () =>
      sm.send(new GetSecretValueCommand({ SecretId: created.ARN })),
    );
    expect(got.SecretString).toBe(`{"password":"${CANARY}"}`);
    expect(got.VersionStages).toEqual(['AWSCURRENT']);
    expect(got.CreatedDate).toBeInstanceOf(Date);
    const put = await send(new PutSecretValueCommand({ SecretId: 'x' }), () =>
      sm.send(
        new PutSecretValueCommand({
          SecretId: 'app/db',
          SecretBinary: new Uint8Array([0, 1, 2, 255]),
        }),
      ),
    );
    const bin = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
    expect([...bin.SecretBinary!]).toEqual([0, 1, 2, 255]);
    const prev = await sm.send(
      new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' }),
    );
    expect(prev.VersionId).toBe(v1);
    const upd = await send(new UpdateSecretCommand({ SecretId: 'x' }), () =>
      sm.send(
        new UpdateSecretCommand({
          SecretId: 'app/db',
          Description: 'changed',
          SecretString: 'plain',
        }),
      ),
    );
    expect(upd.VersionId).toBeDefined();
    const desc = await send(new DescribeSecretCommand({ SecretId: 'x' }), () =>
      sm.send(new DescribeSecretCommand({ SecretId: 'app/db' })),
    );
    expect(desc.Description).toBe('changed');
    expect(desc.Tags).toEqual([{ Key: 'team', Value: 'core' }]);
    expect(Object.values(desc.VersionIdsToStages!).flat().sort()).toEqual([
      'AWSCURRENT',
      'AWSPREVIOUS',
    ]);
    await send(new UpdateSecretVersionStageCommand({ SecretId: 'x', VersionStage: 'x' }), () =>
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: 'app/db',
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: put.VersionId!,
          RemoveFromVersionId: upd.VersionId!,
        }),
      ),
    );
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).VersionId).toBe(
      put.VersionId,
    );
    const versions = await send(new ListSecretVersionIdsCommand({ SecretId: 'x' }), () =>
      sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db', IncludeDeprecated: true })),
    );
    expect(versions.Versions).toHaveLength(3);
    await send(new TagResourceCommand({ SecretId: 'x', Tags: [] }), () =>
      sm.send(
        new TagResourceCommand({ SecretId: 'app/db', Tags: [{ Key: 'env', Value: 'prod' }] }),
      ),
    );
    await send(new UntagResourceCommand({ SecretId: 'x', TagKeys: [] }), () =>
      sm.send(new UntagResourceCommand({ SecretId: 'app/db', TagKeys: ['team'] })),
    );
    for (let i = 0; i < 3; i++)
      await sm.send(
        new CreateSecretCommand({
          Name: `list/s${i}`,
          SecretString: `v${i}`,
          Tags: [{ Key: 'k', Value: `t${i}` }],
        }),
      );
    const page1 = await send(new ListSecretsCommand({}), () =>
      sm.send(
        new ListSecretsCommand({
          MaxResults: 2,
          Filters: [{ Key: 'name', Values: ['list/'] }],
          SortOrder: 'desc',
        }),
      ),
    );
    expect(page1.SecretList!.map((s) => s.Name)).toEqual(['list/s2', 'list/s1']);
    const page2 = await sm.send(
      new ListSecretsCommand({
        MaxResults: 2,
        Filters: [{ Key: 'name', Values: ['list/'] }],
        SortOrder: 'desc',
        NextToken: page1.NextToken!,
      }),
    );
    expect(page2.SecretList!.map((s) => s.Name)).toEqual(['list/s0']);
    const batch = await send(new BatchGetSecretValueCommand({}), () =>
      sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['list/s0', 'list/s1', 'missing'] })),
    );
    expect(batch.SecretValues!.map((v) => v.SecretString)).toEqual(['v0', 'v1']);
    expect(batch.Errors).toEqual([
      expect.objectContaining({ SecretId: 'missing', ErrorCode: 'ResourceNotFoundException' }),
    ]);
    const byFilter = await sm.send(
      new BatchGetSecretValueCommand({ Filters: [{ Key: 'tag-value', Values: ['t2'] }] }),
    );
    expect(byFilter.SecretValues!.map((v) => v.Name)).toEqual(['list/s2']);
    const pw = await send(new GetRandomPasswordCommand({}), () =>
      sm.send(new GetRandomPasswordCommand({ PasswordLength: 40, ExcludePunctuation: true })),
    );
    expect(pw.RandomPassword).toMatch(/^[A-Za-z0-9]{40}$/);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::000000000000:user/dev' },
          Action: 'secretsmanager:GetSecretValue',
          Resource: '*',
        },
      ],
    });
    const valid = await send(new ValidateResourcePolicyCommand({ ResourcePolicy: '' }), () =>
      sm.send(new ValidateResourcePolicyCommand({ ResourcePolicy: policy })),
    );
    expect(valid.PolicyValidationPassed).toBe(true);
    expect(
      (
        await send(new GetResourcePolicyCommand({ SecretId: 'x' }), () =>
          sm.send(new GetResourcePolicyCommand({ SecretId: 'app/db' })),
        )
      ).ResourcePolicy,
    ).toBeUndefined();
    await send(new PutResourcePolicyCommand({ SecretId: 'x', ResourcePolicy: '' }), () =>
      sm.send(new PutResourcePolicyCommand({ SecretId: 'app/db', ResourcePolicy: policy })),
    );
    expect(
      (await sm.send(new GetResourcePolicyCommand({ SecretId: 'app/db' }))).ResourcePolicy,
    ).toBe(policy);
    await send(new DeleteResourcePolicyCommand({ SecretId: 'x' }), () =>
      sm.send(new DeleteResourcePolicyCommand({ SecretId: 'app/db' })),
    );
    // Replication: a read-only copy in another region, kept in sync.
    const rep = await send(
      new ReplicateSecretToRegionsCommand({ SecretId: 'x', AddReplicaRegions: [] }),
      () =>
        sm.send(
          new ReplicateSecretToRegionsCommand({
            SecretId: 'app/db',
            AddReplicaRegions: [{ Region: 'eu-west-1' }],
          }),
        ),
    );
    expect(rep.ReplicationStatus).toEqual([
      expect.objectContaining({ Region: 'eu-west-1', Status: 'InSync' }),
    ]);
    const eu = client(server.url, undefined, { region: 'eu-west-1' });
    await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'replicated' }));
    expect((await eu.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString).toBe(
      'replicated',
    );
    await expect(
      eu.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'no' })),
    ).rejects.toBeInstanceOf(InvalidRequestException);
    await sm.send(
      new ReplicateSecretToRegionsCommand({
        SecretId: 'app/db',
        AddReplicaRegions: [{ Region: 'eu-central-1' }],
      }),
    );
    await send(new StopReplicationToReplicaCommand({ SecretId: 'x' }), () =>
      eu.send(new StopReplicationToReplicaCommand({ SecretId: 'app/db' })),
    );
    await eu.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'standalone' }));
    await send(
      new RemoveRegionsFromReplicationCommand({ SecretId: 'x', RemoveReplicaRegions: [] }),
      () =>
        sm.send(
          new RemoveRegionsFromReplicationCommand({
            SecretId: 'app/db',
            RemoveReplicaRegions: ['eu-central-1'],
          }),
        ),
    );
    expect(
      (await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }))).ReplicationStatus,
    ).toBeUndefined();
    eu.destroy();
    // Rotation needs a registered function; a command that always succeeds tests the wiring.
    expect(
      (
        await vault('POST', 'aws/rotation-functions/noop', {
          type: 'command',
          command: ['/bin/true'],
        })
      ).status,
    ).toBe(204);
    const rot = await send(new RotateSecretCommand({ SecretId: 'x' }), () =>
      sm.send(
        new RotateSecretCommand({
          SecretId: 'list/s0',
          RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:noop',
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: false,
        }),
      ),
    );
    expect(rot.VersionId).toBeDefined();
    await send(new CancelRotateSecretCommand({ SecretId: 'x' }), () =>
      sm.send(new CancelRotateSecretCommand({ SecretId: 'list/s0' })),
    );
    const cancelled = await sm.send(new DescribeSecretCommand({ SecretId: 'list/s0' }));
    expect(cancelled.RotationEnabled).toBe(false);
    expect(cancelled.RotationLambdaARN).toContain('function:noop');
    // Deletion with a recovery window, restore, then force.
    const del = await send(new DeleteSecretCommand({ SecretId: 'x' }), () =>
      sm.send(new DeleteSecretCommand({ SecretId: 'list/s1', RecoveryWindowInDays: 7 })),
    );
    expect(del.DeletionDate!.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: 'list/s1' })),
    ).rejects.toBeInstanceOf(InvalidRequestException);
    expect(
      (await sm.send(new DescribeSecretCommand({ SecretId: 'list/s1' }))).DeletedDate,
    ).toBeInstanceOf(Date);
    await send(new RestoreSecretCommand({ SecretId: 'x' }), () =>
      sm.send(new RestoreSecretCommand({ SecretId: 'list/s1' })),
    );
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'list/s1' }))).SecretString).toBe(
      'v1',
    );
    await sm.send(
      new DeleteSecretCommand({ SecretId: 'list/s1', ForceDeleteWithoutRecovery: true }),
    );
    await expect(
      sm.send(new DescribeSecretCommand({ SecretId: 'list/s1' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    expect([...used].sort()).toHaveLength(23);
    console.info(`[aws sdk] actions driven: ${used.size}/23`);
  }, 60_000);

  it('answers with the SDK error classes AWS uses, and idempotency tokens', async () => {
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    const token = '11111111-2222-3333-4444-555555555555';
    const a = await sm.send(
      new CreateSecretCommand({ Name: 'idem', SecretString: 's', ClientRequestToken: token }),
    );
    const b = await sm.send(
      new CreateSecretCommand({ Name: 'idem', SecretString: 's', ClientRequestToken: token }),
    );
    expect(b).toMatchObject({ ARN: a.ARN, VersionId: token });
    await expect(
      sm.send(
        new CreateSecretCommand({ Name: 'idem', SecretString: 'other', ClientRequestToken: token }),
      ),
    ).rejects.toBeInstanceOf(ResourceExistsException);
    await expect(
      sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 's' })),
    ).rejects.toBeInstanceOf(ResourceExistsException);
    await expect(
      sm.send(new DeleteSecretCommand({ SecretId: 'idem', RecoveryWindowInDays: 3 })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(sm.send(new CreateSecretCommand({ Name: 'bad name!' }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(sm.send(new RotateSecretCommand({ SecretId: 'idem' }))).rejects.toBeInstanceOf(
      InvalidRequestException,
    );
  });

  it('refuses a wrong signature, an unknown key, an expired request, a revoked key and a policy denial with AWS errors', async () => {
    const wrong = client(server.url, { accessKeyId: KEY.id, secretAccessKey: 'not-the-secret' });
    await expect(wrong.send(new ListSecretsCommand({}))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 400 },
    });
    const unknown = client(server.url, { accessKeyId: 'AKIANOSUCHKEY', secretAccessKey: 'x' });
    await expect(unknown.send(new ListSecretsCommand({}))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    // Expired: a clock 20 minutes behind. Without correction the SDK fails; with its default
    // correction it reads our Date header and succeeds on the retry.
    const skewed = client(server.url, undefined, {
      systemClockOffset: -20 * 60_000,
      maxAttempts: 1,
    });
    await expect(skewed.send(new ListSecretsCommand({}))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      message: expect.stringContaining('Signature expired'),
    });
    const corrected = client(server.url, undefined, {
      systemClockOffset: -20 * 60_000,
      maxAttempts: 3,
    });
    await expect(corrected.send(new ListSecretsCommand({}))).resolves.toBeDefined();
    // A key bound to a read-only policy; revoked afterwards.
    await vault('PUT', 'sys/policy/aws-reader', {
      policy: 'path "aws/us-east-1/secrets/ro-*" { capabilities = ["read"] }',
    });
    await sm.send(new CreateSecretCommand({ Name: 'ro-1', SecretString: 'readable' }));
    const issued = await vault('POST', 'sys/door-credentials/aws', {
      policies: ['aws-reader'],
      display_name: 'reader',
    });
    const reader = client(server.url, {
      accessKeyId: issued.json.data.access_key_id,
      secretAccessKey: issued.json.data.secret_access_key,
    });
    expect((await reader.send(new GetSecretValueCommand({ SecretId: 'ro-1' }))).SecretString).toBe(
      'readable',
    );
    await expect(
      reader.send(new PutSecretValueCommand({ SecretId: 'ro-1', SecretString: 'x' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(
      reader.send(new GetSecretValueCommand({ SecretId: 'app/db' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // A resource policy's explicit Deny wins over the Coffer policy that allows.
    await sm.send(
      new PutResourcePolicyCommand({
        SecretId: 'ro-1',
        ResourcePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Deny',
              Principal: { AWS: 'arn:aws:iam::000000000000:user/reader' },
              Action: 'secretsmanager:GetSecretValue',
              Resource: '*',
            },
          ],
        }),
      }),
    );
    await expect(
      reader.send(new GetSecretValueCommand({ SecretId: 'ro-1' })),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('explicit deny'),
    });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'ro-1' }))).SecretString).toBe(
      'readable',
    );
    expect(
      (await vault('DELETE', `sys/door-credentials/aws/${issued.json.data.access_key_id}`)).status,
    ).toBe(204);
    await expect(
      reader.send(new GetSecretValueCommand({ SecretId: 'ro-1' })),
    ).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    for (const c of [wrong, unknown, skewed, corrected, reader]) c.destroy();
  });

  it('refuses an unsigned or unknown-key request before reading a large body', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    const res = await fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.ListSecrets',
      },
      body: big,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
    expect(res.headers.get('date')).not.toBeNull();
  });

  it('serves the same secrets to the Vault API (documented KV v2 mapping)', async () => {
    await sm.send(
      new CreateSecretCommand({ Name: 'shared/json', SecretString: '{"user":"u","pass":"p"}' }),
    );
    const read = await vault('GET', 'aws/data/us-east-1/shared/json');
    expect(read.json.data.data).toEqual({ user: 'u', pass: 'p' });
    const meta = await vault('GET', 'aws/metadata/us-east-1/shared/json');
    expect(meta.json.data.current_version).toBe(1);
    expect((await vault('POST', 'aws/data/us-east-1/shared/json', { data: { a: 1 } })).status).toBe(
      405,
    );
  });

  it('writes no canary in any form to logs, error bodies or the audit file', async () => {
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'NOPE' })),
    ).rejects.toBeDefined();
    const forms = encodedForms({ canary: CANARY, key: KEY.secret });
    const audit = readFileSync(auditFile, 'utf8');
    expect(audit).toContain('"door":{"api":"aws","method":"secretsmanager.GetSecretValue"}');
    expect(findCanaries(audit, forms)).toEqual([]);
    expect(findCanaries(server.stderr(), forms)).toEqual([]);
    expect(findCanaries(server.stdout(), forms)).toEqual([]);
  });
});
