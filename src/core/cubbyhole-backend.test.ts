import { beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

describe('cubbyhole', () => {
  let s: Stack;
  const call = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    s.app.inject({
      method,
      url: `/v1/${url}`,
      headers: { 'x-vault-token': token },
      ...(payload === undefined ? {} : { payload }),
    });
  const newToken = async (body: object = { policies: ['default'] }): Promise<string> => {
    const res = await call(s.rootToken, 'POST', 'auth/token/create', body);
    expect(res.statusCode).toBe(200);
    return res.json().auth.client_token as string;
  };
  const cubbyholeKeys = async (): Promise<string[]> => {
    const found: string[] = [];
    const walk = async (prefix: string): Promise<void> => {
      for (const child of await s.physical.list(prefix)) {
        if (child.endsWith('/')) await walk(prefix + child);
        else found.push(prefix + child);
      }
    };
    await walk('sys/cubbyhole/');
    return found;
  };

  beforeAll(async () => {
    s = await createUnsealedStack();
  });

  it('stores, lists, reads and deletes entries for the calling token (default policy)', async () => {
    const token = await newToken();
    expect((await call(token, 'POST', 'cubbyhole/app/one', { secret: 'x1' })).statusCode).toBe(204);
    await call(token, 'POST', 'cubbyhole/app/two', { secret: 'x2' });
    await call(token, 'POST', 'cubbyhole/top', { a: 'b' });
    expect((await call(token, 'GET', 'cubbyhole/app/one')).json().data).toEqual({ secret: 'x1' });
    expect((await call(token, 'GET', 'cubbyhole/?list=true')).json().data.keys).toEqual([
      'app/',
      'top',
    ]);
    expect((await call(token, 'GET', 'cubbyhole/app?list=true')).json().data.keys).toEqual([
      'one',
      'two',
    ]);
    expect((await call(token, 'DELETE', 'cubbyhole/app/one')).statusCode).toBe(204);
    expect((await call(token, 'GET', 'cubbyhole/app/one')).statusCode).toBe(404);
  });

  it('is unreadable by any other token, root included', async () => {
    const owner = await newToken();
    const other = await newToken();
    await call(owner, 'POST', 'cubbyhole/private', { secret: 'only-mine' });
    for (const token of [other, s.rootToken]) {
      const res = await call(token, 'GET', 'cubbyhole/private');
      expect(res.statusCode).toBe(404);
      expect(res.body).not.toContain('only-mine');
    }
    expect((await call(owner, 'GET', 'cubbyhole/private')).json().data.secret).toBe('only-mine');
  });

  it('is destroyed with its token, also when a parent revocation takes it', async () => {
    const before = (await cubbyholeKeys()).length;
    await call(s.rootToken, 'POST', 'sys/policies/acl/minter', {
      policy: 'path "auth/token/create" { capabilities = ["update"] }',
    });
    const parent = await newToken({ policies: ['minter'] });
    await call(parent, 'POST', 'cubbyhole/p', { v: '1' });
    const created = await call(parent, 'POST', 'auth/token/create', { policies: ['minter'] });
    const child = created.json().auth.client_token as string;
    await call(child, 'POST', 'cubbyhole/c', { v: '2' });
    const alone = await newToken();
    await call(alone, 'POST', 'cubbyhole/a', { v: '3' });
    expect((await cubbyholeKeys()).length).toBe(before + 3);
    // Revoking the parent revokes the child: both cubbyholes go, the unrelated one stays.
    await call(s.rootToken, 'POST', 'auth/token/revoke', { token: parent });
    expect((await cubbyholeKeys()).length).toBe(before + 1);
    await call(alone, 'POST', 'auth/token/revoke-self');
    expect((await cubbyholeKeys()).length).toBe(before);
  });

  it('has no cubbyhole for batch tokens, and refuses an empty path', async () => {
    const batch = await newToken({ policies: ['default'], type: 'batch' });
    const res = await call(batch, 'POST', 'cubbyhole/x', { a: 'b' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0]).toContain('batch');
    expect((await call(s.rootToken, 'POST', 'cubbyhole/', { a: 'b' })).statusCode).toBe(400);
  });

  it('is listed among the mounts', async () => {
    const mounts = (await call(s.rootToken, 'GET', 'sys/mounts')).json().data;
    expect(mounts['cubbyhole/'].type).toBe('cubbyhole');
  });
});
