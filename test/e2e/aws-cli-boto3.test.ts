// End to end: Debian's AWS CLI (/usr/bin/aws, with --endpoint-url, the only way it takes an
// endpoint) and Debian's python3-boto3 (imported by /usr/bin/python3), unmodified, drive
// every action they have (22 of 23: both predate BatchGetSecretValue) against a real Coffer
// dev server. With CI=true a missing client fails; elsewhere the test skips and says why.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCi } from '../helpers/skips.js';
import {
  createTempDir,
  startServer,
  type ServerProcess,
  type TempDir,
} from '../helpers/server-process.js';

const AWS = '/usr/bin/aws';
const PYTHON = '/usr/bin/python3';
const KEY = { id: 'AKIDE2ECLI', secret: 'cli-e2e-secret-key-0123456789' };
const SCENARIO = fileURLToPath(new URL('./aws_boto3_scenario.py', import.meta.url));

const awsMissing = existsSync(AWS) ? '' : `${AWS} is missing: install the Debian package awscli`;
const botoProbe = spawnSync(PYTHON, ['-c', 'import boto3'], { encoding: 'utf8', timeout: 30_000 });
const botoMissing =
  botoProbe.status === 0
    ? ''
    : `${PYTHON} cannot import boto3: install the Debian package python3-boto3`;
const CI = isCi();

describe('Debian awscli and python3-boto3 against the AWS door', () => {
  let server: ServerProcess;
  let home: TempDir;

  beforeAll(async () => {
    home = createTempDir('coffer-awscli-');
    server = await startServer({ dev: { awsKey: KEY, rootTokenId: 'cli-root' } });
    // The no-op rotation function that both scenarios' RotateSecret names.
    const res = await fetch(`${server.url}/v1/aws/rotation-functions/noop`, {
      method: 'POST',
      headers: { 'x-vault-token': 'cli-root', 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'command', command: ['/bin/true'] }),
    });
    expect(res.status).toBe(204);
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    home?.remove();
  });

  function aws(args: string[], keySecret = KEY.secret) {
    const res = spawnSync(
      AWS,
      [
        '--endpoint-url',
        server.url,
        '--region',
        'us-east-1',
        '--output',
        'json',
        'secretsmanager',
        ...args,
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: '/usr/bin:/bin',
          HOME: home.path,
          AWS_ACCESS_KEY_ID: KEY.id,
          AWS_SECRET_ACCESS_KEY: keySecret,
          AWS_PAGER: '',
          AWS_MAX_ATTEMPTS: '1',
          AWS_CONFIG_FILE: home.file('none'),
          AWS_SHARED_CREDENTIALS_FILE: home.file('none'),
        },
      },
    );
    const out: unknown = res.stdout.trim() === '' ? {} : JSON.parse(res.stdout);
    return { code: res.status, out: out as Record<string, any>, err: res.stderr }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  it('the AWS CLI drives its 22 actions', (ctx) => {
    if (awsMissing !== '') {
      if (CI) throw new Error(awsMissing);
      ctx.skip(awsMissing);
    }
    const used = new Set<string>();
    const run = (args: string[]) => {
      used.add(args[0]!);
      const res = aws(args);
      expect(res.code, `${args[0]}: ${res.err}`).toBe(0);
      return res.out;
    };
    const created = run([
      'create-secret',
      '--name',
      'cli/app',
      '--secret-string',
      'v1',
      '--tags',
      'Key=t,Value=1',
    ]);
    expect(created.ARN).toContain(':secret:cli/app-');
    expect(run(['get-secret-value', '--secret-id', 'cli/app']).SecretString).toBe('v1');
    const put = run(['put-secret-value', '--secret-id', 'cli/app', '--secret-string', 'v2']);
    const upd = run([
      'update-secret',
      '--secret-id',
      'cli/app',
      '--description',
      'd',
      '--secret-string',
      'v3',
    ]);
    expect(run(['describe-secret', '--secret-id', created.ARN]).Description).toBe('d');
    run([
      'update-secret-version-stage',
      '--secret-id',
      'cli/app',
      '--version-stage',
      'AWSCURRENT',
      '--move-to-version-id',
      put.VersionId,
      '--remove-from-version-id',
      upd.VersionId,
    ]);
    expect(run(['list-secret-version-ids', '--secret-id', 'cli/app']).Versions).toHaveLength(2);
    run(['tag-resource', '--secret-id', 'cli/app', '--tags', 'Key=env,Value=ci']);
    run(['untag-resource', '--secret-id', 'cli/app', '--tag-keys', 't']);
    expect(run(['list-secrets', '--filters', 'Key=tag-value,Values=ci']).SecretList).toHaveLength(
      1,
    );
    expect(run(['get-random-password', '--password-length', '16']).RandomPassword).toHaveLength(16);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Principal: { AWS: 'arn:aws:iam::000000000000:user/other' },
          Action: 'secretsmanager:*',
          Resource: '*',
        },
      ],
    });
    expect(
      run(['validate-resource-policy', '--resource-policy', policy]).PolicyValidationPassed,
    ).toBe(true);
    run(['put-resource-policy', '--secret-id', 'cli/app', '--resource-policy', policy]);
    expect(run(['get-resource-policy', '--secret-id', 'cli/app']).ResourcePolicy).toBe(policy);
    run(['delete-resource-policy', '--secret-id', 'cli/app']);
    run([
      'replicate-secret-to-regions',
      '--secret-id',
      'cli/app',
      '--add-replica-regions',
      'Region=eu-west-1',
    ]);
    run([
      'remove-regions-from-replication',
      '--secret-id',
      'cli/app',
      '--remove-replica-regions',
      'eu-west-1',
    ]);
    run([
      'replicate-secret-to-regions',
      '--secret-id',
      'cli/app',
      '--add-replica-regions',
      'Region=eu-west-2',
    ]);
    used.add('stop-replication-to-replica');
    const stop = spawnSync(
      AWS,
      [
        '--endpoint-url',
        server.url,
        '--region',
        'eu-west-2',
        'secretsmanager',
        'stop-replication-to-replica',
        '--secret-id',
        'cli/app',
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: '/usr/bin:/bin',
          HOME: home.path,
          AWS_ACCESS_KEY_ID: KEY.id,
          AWS_SECRET_ACCESS_KEY: KEY.secret,
          AWS_PAGER: '',
        },
      },
    );
    expect(stop.status, stop.stderr).toBe(0);
    run([
      'rotate-secret',
      '--secret-id',
      'cli/app',
      '--rotation-lambda-arn',
      'noop',
      '--rotation-rules',
      'AutomaticallyAfterDays=7',
      '--no-rotate-immediately',
    ]);
    run(['cancel-rotate-secret', '--secret-id', 'cli/app']);
    run(['delete-secret', '--secret-id', 'cli/app', '--recovery-window-in-days', '7']);
    run(['restore-secret', '--secret-id', 'cli/app']);
    run(['delete-secret', '--secret-id', 'cli/app', '--force-delete-without-recovery']);
    const missing = aws(['get-secret-value', '--secret-id', 'cli/app']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain('ResourceNotFoundException');
    const wrong = aws(['list-secrets'], 'wrong-secret');
    expect(wrong.err).toContain('InvalidSignatureException');
    expect(used.size).toBe(22);
    console.info(`[aws cli] actions driven: ${used.size}/22`);
  }, 180_000);

  it('boto3 drives its 22 actions', (ctx) => {
    if (botoMissing !== '') {
      if (CI) throw new Error(botoMissing);
      ctx.skip(botoMissing);
    }
    const res = spawnSync(PYTHON, [SCENARIO, server.url, KEY.id, KEY.secret], {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        PATH: '/usr/bin:/bin',
        HOME: home.path,
        LANG: 'C.UTF-8',
        AWS_CONFIG_FILE: home.file('none'),
        AWS_SHARED_CREDENTIALS_FILE: home.file('none'),
      },
    });
    expect(res.status, res.stderr).toBe(0);
    const summary = JSON.parse(res.stdout.trim().split('\n').pop()!) as { actions: string[] };
    expect(summary.actions).toHaveLength(22);
    console.info(`[boto3] actions driven: ${summary.actions.length}/22`);
  }, 180_000);
});
