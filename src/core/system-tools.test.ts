import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

describe('sys/tools', () => {
  let s: Stack;
  let limited: string;
  const post = (url: string, payload: object = {}, token = s.rootToken) =>
    s.app.inject({
      method: 'POST',
      url: `/v1/sys/tools/${url}`,
      headers: { 'x-vault-token': token },
      payload,
    });

  beforeAll(async () => {
    s = await createUnsealedStack();
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/token/create',
      headers: { 'x-vault-token': s.rootToken },
      payload: { policies: ['default'] },
    });
    limited = res.json().auth.client_token as string;
  });

  it('returns random bytes in the asked size and format, from the body or the path', async () => {
    const b64 = (await post('random')).json().data.random_bytes as string;
    expect(Buffer.from(b64, 'base64')).toHaveLength(32);
    const hex = (await post('random', { bytes: 16, format: 'hex' })).json().data
      .random_bytes as string;
    expect(hex).toMatch(/^[0-9a-f]{32}$/);
    const fromPath = (await post('random/platform/8', { format: 'hex' })).json().data.random_bytes;
    expect(fromPath).toMatch(/^[0-9a-f]{16}$/);
    expect((await post('random/64')).json().data.random_bytes).toHaveLength(88);
    expect(b64).not.toBe((await post('random')).json().data.random_bytes);
  });

  it('rejects sizes out of bounds, unknown sources and formats with a 400 naming the field', async () => {
    for (const [url, body, field] of [
      ['random', { bytes: 0 }, 'bytes'],
      ['random', { bytes: 200_000 }, 'bytes'],
      ['random/moon', {}, 'source'],
      ['random', { format: 'utf8' }, 'format'],
    ] as const) {
      const res = await post(url, body);
      expect(res.statusCode).toBe(400);
      expect(res.json().errors[0]).toContain(field);
    }
  });

  it('hashes base64 input with the asked algorithm and format', async () => {
    const input = Buffer.from('hello coffer').toString('base64');
    const expected = (algorithm: string, format: 'hex' | 'base64') =>
      createHash(algorithm).update('hello coffer').digest(format);
    expect((await post('hash', { input })).json().data.sum).toBe(expected('sha256', 'hex'));
    expect((await post('hash/sha2-512', { input, format: 'base64' })).json().data.sum).toBe(
      expected('sha512', 'base64'),
    );
    expect((await post('hash', { input, algorithm: 'sha3-256' })).json().data.sum).toBe(
      expected('sha3-256', 'hex'),
    );
    expect((await post('hash', { input, algorithm: 'md5' })).statusCode).toBe(400);
    expect((await post('hash', { input: 'not base64!' })).statusCode).toBe(400);
    expect((await post('hash', {})).statusCode).toBe(400);
  });

  it('is open to every token for hash (default policy) but not for random', async () => {
    const input = Buffer.from('x').toString('base64');
    expect((await post('hash', { input }, limited)).statusCode).toBe(200);
    expect((await post('random', {}, limited)).statusCode).toBe(403);
  });
});
