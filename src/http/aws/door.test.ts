// The AWS door in process (inject(), no port): requests signed with SigV4 by a signer written
// out here, the refusals the door adds around sigv4.ts (region, unknown key, query string), and
// resource policies: an explicit Deny takes away what Coffer's policies allow.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleServer } from '../../assemble.js';
import type { Core } from '../../core/core.js';
import { createInmemBackend } from '../../physical/inmem.js';
import type { FastifyInstance } from 'fastify';

const NOW = Date.UTC(2026, 10, 25, 9, 34, 17);
const AMZ = '20261125T093417Z';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const ALICE = 'arn:aws:iam::000000000000:user/alice';

const hex = (data: string) => createHash('sha256').update(data).digest('hex');

interface Call {
  readonly accessKeyId?: string;
  readonly secret?: string;
  readonly region?: string;
  readonly amzDate?: string;
  readonly url?: string;
}

/** Headers of a signed Secrets Manager request, as botocore builds them. */
function signedHeaders(action: string, body: string, call: Call = {}): Record<string, string> {
  const amzDate = call.amzDate ?? AMZ;
  const region = call.region ?? 'us-east-1';
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.1',
    host: 'coffer.test',
    'x-amz-date': amzDate,
    'x-amz-target': `secretsmanager.${action}`,
  };
  const names = Object.keys(headers).sort();
  const canonical = `POST\n/\n\n${names.map((n) => `${n}:${headers[n]}\n`).join('')}\n${names.join(';')}\n${hex(body)}`;
  const scope = `${day}/${region}/secretsmanager/aws4_request`;
  let key = createHmac('sha256', `AWS4${call.secret ?? SECRET}`)
    .update(day)
    .digest();
  for (const part of [region, 'secretsmanager', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  const signature = createHmac('sha256', key)
    .update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hex(canonical)}`)
    .digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${call.accessKeyId ?? 'AKIDALICE'}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

describe('the AWS door', () => {
  let app: FastifyInstance;
  let core: Core;

  const aws = async (action: string, input: object, call: Call = {}) => {
    const body = JSON.stringify(input);
    const res = await app.inject({
      method: 'POST',
      url: call.url ?? '/',
      headers: signedHeaders(action, body, call),
      payload: body,
    });
    return { status: res.statusCode, json: res.json<Record<string, unknown>>() };
  };
  /** CreateSecret with the idempotency token every SDK adds. */
  const create = async (name: string, value: string) => {
    const res = await aws('CreateSecret', {
      Name: name,
      SecretString: value,
      ClientRequestToken: randomUUID(),
    });
    expect(res.status).toBe(200);
  };
  const refusal = (type: string, message: string) => ({
    status: 400,
    json: { __type: type, message },
  });

  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    ({ app, core } = assembleServer({
      physical: createInmemBackend(),
      logger,
      now: () => NOW,
      version: '0.0.0-test',
      defaultLeaseTtlSeconds: 3600,
      maxLeaseTtlSeconds: 3600,
      awsDoorMount: 'aws/',
    }));
    const { shares, rootToken } = await core.initialize({ secretShares: 1, secretThreshold: 1 });
    await core.unseal(shares[0]!);
    await core.mounts.enable('aws/', { type: 'aws-sm', options: {} });
    const policy = await app.inject({
      method: 'PUT',
      url: '/v1/sys/policy/aws-all',
      headers: { 'x-vault-token': rootToken },
      payload: {
        policy: 'path "aws/*" { capabilities = ["create", "read", "update", "delete", "list"] }',
      },
    });
    expect(policy.statusCode).toBe(204);
    await core.doorCredentials.create('aws', {
      id: 'AKIDALICE',
      policies: ['aws-all'],
      displayName: 'alice',
      fields: { secret_access_key: SECRET },
    });
    await create('app/db', 'pw');
  });

  it('serves a request signed with a known key', async () => {
    const res = await aws('GetSecretValue', { SecretId: 'app/db' });
    expect(res.status).toBe(200);
    expect(res.json['SecretString']).toBe('pw');
  });

  it('refuses a request without a signature, and one with a wrong signature', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.ListSecrets',
      },
      payload: '{}',
    });
    expect({ status: res.statusCode, json: res.json() }).toEqual(
      refusal('MissingAuthenticationTokenException', 'Missing Authentication Token'),
    );
    expect(await aws('GetSecretValue', { SecretId: 'app/db' }, { secret: `${SECRET}x` })).toEqual(
      refusal(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      ),
    );
  });

  it('refuses a scope with an invalid region, an unknown key, a stale date, a query string', async () => {
    for (const region of ['mars', 'US-EAST-1', 'us-east-1x', '']) {
      expect(await aws('ListSecrets', {}, { region }), region).toEqual(
        refusal('InvalidSignatureException', 'Credential should be scoped to a valid region.'),
      );
    }
    expect(await aws('ListSecrets', {}, { accessKeyId: 'AKIDNOBODY' })).toEqual(
      refusal(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      ),
    );
    expect(await aws('ListSecrets', {}, { amzDate: '20261125T092916Z' })).toEqual(
      refusal(
        'InvalidSignatureException',
        'Signature expired: 20261125T092916Z is now earlier than 20261125T092917Z (20261125T093417Z - 5 min.)',
      ),
    );
    expect(await aws('ListSecrets', {}, { url: '/?Action=ListSecrets' })).toEqual(
      refusal(
        'InvalidRequestException',
        'Query-string authentication and parameters are not supported.',
      ),
    );
  });

  describe('resource policies', () => {
    const deny = (action: string, principal: object | string = { AWS: ALICE }) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: principal, Action: action, Resource: '*' }],
      });

    it('an explicit Deny for the caller refuses the action, and only that action', async () => {
      await create('denied', 'v');
      const put = await aws('PutResourcePolicy', {
        SecretId: 'denied',
        ResourcePolicy: deny('secretsmanager:GetSecretValue'),
      });
      expect(put.status).toBe(200);
      expect(put.json['Name']).toBe('denied');
      expect(await aws('GetSecretValue', { SecretId: 'denied' })).toEqual(
        refusal(
          'AccessDeniedException',
          'User is not authorized to perform: secretsmanager:GetSecretValue on resource because of an explicit deny in a resource-based policy',
        ),
      );
      expect((await aws('DescribeSecret', { SecretId: 'denied' })).status).toBe(200);
      const got = await aws('GetResourcePolicy', { SecretId: 'denied' });
      expect(got.json['ResourcePolicy']).toBe(deny('secretsmanager:GetSecretValue'));
      expect((await aws('DeleteResourcePolicy', { SecretId: 'denied' })).status).toBe(200);
      expect((await aws('GetSecretValue', { SecretId: 'denied' })).json['SecretString']).toBe('v');
      expect((await aws('GetResourcePolicy', { SecretId: 'denied' })).json).not.toHaveProperty(
        'ResourcePolicy',
      );
    });

    it('a Deny for someone else, or an Allow, changes nothing for the caller', async () => {
      await create('others', 'v');
      await aws('PutResourcePolicy', {
        SecretId: 'others',
        ResourcePolicy: deny('secretsmanager:*', { AWS: 'arn:aws:iam::000000000000:user/bob' }),
      });
      expect((await aws('GetSecretValue', { SecretId: 'others' })).status).toBe(200);
    });

    it('refuses a malformed document, and a public one with BlockPublicPolicy', async () => {
      await create('public', 'v');
      const malformed = await aws('PutResourcePolicy', {
        SecretId: 'public',
        ResourcePolicy: '{"Statement": []}',
      });
      expect(malformed).toMatchObject({
        status: 400,
        json: {
          __type: 'MalformedPolicyDocumentException',
          message: 'The policy document must have at least one Statement.',
        },
      });
      const open = JSON.stringify({
        Statement: { Effect: 'Allow', Principal: '*', Action: 'secretsmanager:*' },
      });
      const blocked = await aws('PutResourcePolicy', {
        SecretId: 'public',
        ResourcePolicy: open,
        BlockPublicPolicy: true,
      });
      expect(blocked.json['__type']).toBe('PublicPolicyException');
      const allowed = await aws('PutResourcePolicy', { SecretId: 'public', ResourcePolicy: open });
      expect(allowed.status).toBe(200);
    });

    it('ValidateResourcePolicy lists syntax errors, and refuses text that is not JSON', async () => {
      expect(
        (await aws('ValidateResourcePolicy', { ResourcePolicy: deny('secretsmanager:Get*') })).json,
      ).toEqual({ PolicyValidationPassed: true, ValidationErrors: [] });
      expect(
        (await aws('ValidateResourcePolicy', { ResourcePolicy: deny('s3:GetObject') })).json,
      ).toEqual({
        PolicyValidationPassed: false,
        ValidationErrors: [
          {
            CheckName: 'SYNTAX_CHECK',
            ErrorMessage: 'Statement 1: unsupported action "s3:GetObject".',
          },
        ],
      });
      expect((await aws('ValidateResourcePolicy', { ResourcePolicy: '{' })).json).toEqual({
        __type: 'MalformedPolicyDocumentException',
        message: 'The policy document is not valid JSON.',
      });
    });
  });
});
