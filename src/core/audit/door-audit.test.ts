// A cloud door's method is recorded in the audit entry (request and response lines, refusals
// too), in clear like the path; the credential's token and the data stay HMAC'd.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../../test/helpers/stack.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

describe('audit names the door method', () => {
  let s: Stack;
  let dir: string;
  let file: string;
  const lines = () =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .map((l) => JSON.parse(l) as Record<string, any>);

  beforeAll(async () => {
    s = await createUnsealedStack();
    dir = mkdtempSync(join(tmpdir(), 'coffer-door-audit-'));
    file = join(dir, 'audit.log');
    await s.core.handleRequest({
      operation: 'update',
      path: 'sys/audit/file',
      data: { type: 'file', options: { file_path: file } },
      token: s.rootToken,
      requestId: 'enable',
    });
    await s.core.doorCredentials.create('aws', {
      id: 'AKIDAUDIT',
      policies: ['root'],
      fields: { secret_access_key: 'audit-secret-key' },
    });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('records api and method on both lines, and on a refused credential', async () => {
    const door = { api: 'aws', method: 'secretsmanager.PutSecretValue' };
    await s.core.handleRequest({
      operation: 'update',
      path: 'secret/data/door',
      data: { data: { v: 'canary-door-audit' } },
      token: undefined,
      requestId: 'door-1',
      credential: { api: 'aws', id: 'AKIDAUDIT' },
      door,
    });
    await expect(
      s.core.handleRequest({
        operation: 'read',
        path: 'secret/data/door',
        data: {},
        token: undefined,
        requestId: 'door-2',
        credential: { api: 'aws', id: 'AKIDUNKNOWN' },
        door: { api: 'aws', method: 'secretsmanager.GetSecretValue' },
      }),
    ).rejects.toMatchObject({ field: 'credential' });
    await s.core.handleRequest({
      operation: 'read',
      path: 'secret/data/door',
      data: {},
      token: s.rootToken,
      requestId: 'vault-1',
    });
    const mine = lines().filter((l) => String(l.request.id).startsWith('door-'));
    expect(mine.map((l) => [l.type, l.request.id, l.request.door])).toEqual([
      // The caller's principal is named in clear beside the method.
      ['request', 'door-1', { ...door, principal: 'arn:aws:iam::000000000000:user/AKIDAUDIT' }],
      ['response', 'door-1', { ...door, principal: 'arn:aws:iam::000000000000:user/AKIDAUDIT' }],
      ['request', 'door-2', { api: 'aws', method: 'secretsmanager.GetSecretValue' }],
      ['response', 'door-2', { api: 'aws', method: 'secretsmanager.GetSecretValue' }],
    ]);
    expect(mine[0]!.auth.display_name).toBe('aws-AKIDAUDIT');
    expect(mine[3]!.error).toContain('door credential');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('canary-door-audit');
    expect(text).not.toContain('audit-secret-key');
    // A Vault-door request has no door field.
    const vault = lines().filter((l) => l.request.id === 'vault-1');
    expect(vault).toHaveLength(2);
    expect(vault[0]!.request.door).toBeUndefined();
  });
});
