import { describe, expect, it } from 'vitest';
import { runCliForTest as run } from './testing.js';

const CREATED = {
  data: {
    access_key_id: 'AKIAABCDEFGHIJKLMNOP',
    secret_access_key: 'a'.repeat(40),
    policies: ['reader'],
    metadata: { principal_arn: 'arn:aws:iam::000000000000:user/ci' },
  },
};

describe('aws keys', () => {
  it('create sends the policies and prints the pair once', async () => {
    const result = await run(
      ['aws', 'keys', 'create', '-policy=reader', '-display-name=ci', '-ttl=1h'],
      { routes: { 'PUT sys/door-credentials/aws': { body: CREATED } } },
    );
    expect(result.code).toBe(0);
    expect(result.requests[0]).toMatchObject({
      method: 'PUT',
      path: 'sys/door-credentials/aws',
      body: { policies: ['reader'], display_name: 'ci', ttl: '1h' },
    });
    expect(result.stdout).toContain('AKIAABCDEFGHIJKLMNOP');
    expect(result.stdout).toContain('arn:aws:iam::000000000000:user/ci');
    const field = await run(['aws', 'keys', 'create', '-policy=r', '-field=secret_access_key'], {
      routes: { 'PUT sys/door-credentials/aws': { body: CREATED } },
    });
    expect(field.stdout.trim()).toBe('a'.repeat(40));
  });

  it('create without a policy is a usage error; revoke deletes by id', async () => {
    expect((await run(['aws', 'keys', 'create'])).code).toBe(2);
    const revoked = await run(['aws', 'keys', 'revoke', 'AKIAABCDEFGHIJKLMNOP'], {
      routes: { 'DELETE sys/door-credentials/aws/AKIAABCDEFGHIJKLMNOP': { status: 204 } },
    });
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('Revoked access key: AKIAABCDEFGHIJKLMNOP');
    expect((await run(['aws', 'keys', 'revoke', 'bad/id'])).code).toBe(2);
  });
});
