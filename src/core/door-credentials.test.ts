// Door credentials: issued through sys/door-credentials with at most the issuer's policies,
// stored only behind the barrier, resolved by the core to their token's policies, revocable.
import { beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

describe('door credentials', () => {
  let s: Stack;
  const call = (token: string, method: string, url: string, payload?: object) =>
    s.app.inject({
      method: method as 'GET',
      url: `/v1/${url}`,
      headers: { 'x-vault-token': token },
      ...(payload === undefined ? {} : { payload }),
    });
  const viaCredential = (id: string, path: string, operation: 'read' | 'update' = 'read') =>
    s.core.handleRequest({
      operation,
      path,
      data: operation === 'read' ? {} : { data: { v: '1' } },
      token: undefined,
      requestId: 'r1',
      credential: { api: 'aws', id },
    });

  beforeAll(async () => {
    s = await createUnsealedStack();
    await call(s.rootToken, 'PUT', 'sys/policy/reader', {
      policy: 'path "secret/data/app" { capabilities = ["read"] }',
    });
    await call(s.rootToken, 'POST', 'secret/data/app', { data: { password: 'canary-door-1' } });
  });

  it('issues a key pair with the requested policies and resolves it to a caller with them', async () => {
    const res = await call(s.rootToken, 'POST', 'sys/door-credentials/aws', {
      policies: ['reader'],
      display_name: 'ci-reader',
    });
    expect(res.statusCode).toBe(200);
    const data = res.json().data;
    expect(data.access_key_id).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(data.secret_access_key).toHaveLength(40);
    expect(data.policies).toEqual(['reader']);
    expect(data.metadata.principal_arn).toBe('arn:aws:iam::000000000000:user/ci-reader');
    const result = await viaCredential(data.access_key_id, 'secret/data/app');
    expect(result.kind).toBe('data');
    await expect(
      viaCredential(data.access_key_id, 'secret/data/app', 'update'),
    ).rejects.toMatchObject({
      code: 'permission_denied',
      field: undefined,
    });
    // Reads never show the secret or the token.
    const read = await call(s.rootToken, 'GET', `sys/door-credentials/aws/${data.access_key_id}`);
    expect(read.statusCode).toBe(200);
    expect(read.body).not.toContain(data.secret_access_key);
    expect(read.json().data.display_name).toBe('ci-reader');
    const list = await call(s.rootToken, 'GET', 'sys/door-credentials/aws?list=true');
    expect(list.json().data.keys).toContain(data.access_key_id);
  });

  it('stores the secret only behind the barrier', async () => {
    const res = await call(s.rootToken, 'POST', 'sys/door-credentials/aws', {
      policies: ['reader'],
    });
    const { secret_access_key: secret, access_key_id: id } = res.json().data;
    for (const key of await s.physical.list('sys/door-credential/aws/')) {
      const raw = await s.physical.get(`sys/door-credential/aws/${key}`);
      expect(Buffer.from(raw!).toString('latin1')).not.toContain(secret);
    }
    expect((await s.core.doorCredentials.lookup('aws', id))?.material).toEqual({
      secret_access_key: secret,
    });
  });

  it('revoking the credential revokes it for the core, with field "credential"', async () => {
    const res = await call(s.rootToken, 'POST', 'sys/door-credentials/aws', {
      policies: ['reader'],
    });
    const id = res.json().data.access_key_id as string;
    expect((await viaCredential(id, 'secret/data/app')).kind).toBe('data');
    expect((await call(s.rootToken, 'DELETE', `sys/door-credentials/aws/${id}`)).statusCode).toBe(
      204,
    );
    await expect(viaCredential(id, 'secret/data/app')).rejects.toMatchObject({
      code: 'permission_denied',
      field: 'credential',
    });
    await expect(viaCredential('AKIANOSUCHKEY0000000', 'secret/data/app')).rejects.toMatchObject({
      field: 'credential',
    });
  });

  it('revoking the token behind a credential also stops the credential', async () => {
    const res = await call(s.rootToken, 'POST', 'sys/door-credentials/aws', {
      policies: ['reader'],
    });
    const { access_key_id: id, token_accessor: accessor } = res.json().data;
    await call(s.rootToken, 'POST', 'auth/token/revoke-accessor', { accessor });
    await expect(viaCredential(id, 'secret/data/app')).rejects.toMatchObject({
      field: 'credential',
    });
  });

  it('never hands out more than the issuer holds, and only root picks ids or root', async () => {
    await call(s.rootToken, 'PUT', 'sys/policy/issuer', {
      policy: [
        'path "sys/door-credentials/*" { capabilities = ["create", "update", "read", "list"] }',
        'path "secret/data/app" { capabilities = ["read"] }',
      ].join('\n'),
    });
    const issuer = (
      await call(s.rootToken, 'POST', 'auth/token/create', { policies: ['issuer'] })
    ).json().auth.client_token as string;
    const escalate = await call(issuer, 'POST', 'sys/door-credentials/aws', {
      policies: ['reader'],
    });
    expect(escalate.statusCode).toBe(403);
    const asRoot = await call(issuer, 'POST', 'sys/door-credentials/aws', { policies: ['root'] });
    expect(asRoot.statusCode).toBe(403);
    const chosen = await call(issuer, 'POST', 'sys/door-credentials/aws', {
      policies: ['issuer'],
      id: 'AKIACHOSEN',
    });
    expect(chosen.statusCode).toBe(403);
    const ok = await call(issuer, 'POST', 'sys/door-credentials/aws', { policies: ['issuer'] });
    expect(ok.statusCode).toBe(200);
    const bad = await call(s.rootToken, 'POST', 'sys/door-credentials/aws', {
      policies: ['reader'],
      account_id: '12',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0]).toContain('account_id');
  });

  it('a fixed dev key pair with the root policy never expires and survives a seal', async () => {
    await s.core.doorCredentials.create('aws', {
      id: 'AKIDDEV',
      policies: ['root'],
      fields: { secret_access_key: 'dev-secret' },
    });
    await s.core.seal(s.rootToken);
    await s.core.unseal(s.unsealKey);
    const record = await s.core.doorCredentials.lookup('aws', 'AKIDDEV');
    expect(record?.expiresAt).toBeUndefined();
    expect((await viaCredential('AKIDDEV', 'secret/data/app', 'update')).kind).toBe('data');
  });
});
