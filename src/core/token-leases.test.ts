// Token leases: every service token with an expiry is revoked when it expires, without anyone
// presenting it again, also across a seal/unseal (a restart), and a renewal moves its lease.
import { beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

describe('token leases', () => {
  let s: Stack;
  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
    s.app.inject({
      method,
      url: `/v1/${url}`,
      headers: { 'x-vault-token': token },
      ...(payload === undefined ? {} : { payload }),
    });
  const storedTokens = async (): Promise<number> => (await s.physical.list('sys/token/id/')).length;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** Polls (bounded) until `check` holds; returns how long it took. */
  async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (await check()) return Date.now() - start;
      await sleep(50);
    }
    throw new Error(`condition not met within ${ms} ms`);
  }
  const create = async (body: object) => {
    const res = await call(s.rootToken, 'POST', 'auth/token/create', body);
    expect(res.statusCode).toBe(200);
    return res.json().auth as { client_token: string; accessor: string };
  };

  beforeAll(async () => {
    s = await createUnsealedStack();
  });

  it('revokes an expired token (and its cubbyhole) without any request using it', async () => {
    const before = await storedTokens();
    const { client_token: token } = await create({ policies: ['default'], ttl: '1s' });
    await call(token, 'POST', 'cubbyhole/x', { v: '1' });
    expect(await storedTokens()).toBe(before + 1);
    const leases = await call(s.rootToken, 'GET', 'sys/leases/lookup/auth/token/create/?list=true');
    expect(leases.json().data.keys).toHaveLength(1);
    const took = await within(4_000, async () => (await storedTokens()) === before);
    console.info(`[token leases] a 1 s token was revoked ${took} ms after the check started`);
    expect((await s.physical.list('sys/cubbyhole/')).length).toBe(0);
    expect((await call(token, 'GET', 'auth/token/lookup-self')).statusCode).toBe(403);
  });

  it('revokes a token that expired while the server was sealed, right after unseal', async () => {
    const before = await storedTokens();
    await create({ policies: ['default'], ttl: '1s' });
    expect(await storedTokens()).toBe(before + 1);
    await s.core.seal(s.rootToken);
    await sleep(1_300);
    await s.core.unseal(s.unsealKey);
    await within(2_000, async () => (await storedTokens()) === before);
  });

  it('moves the lease when the token is renewed, and drops it when the token is revoked', async () => {
    const { client_token: token } = await create({ policies: ['default'], ttl: '2s' });
    const renewed = await call(token, 'POST', 'auth/token/renew-self', { increment: '1h' });
    expect(renewed.statusCode).toBe(200);
    await sleep(2_500);
    expect((await call(token, 'GET', 'auth/token/lookup-self')).statusCode).toBe(200);
    const list = async () =>
      ((await call(s.rootToken, 'GET', 'sys/leases/lookup/auth/token/create/?list=true')).json()
        .data?.keys ?? []) as string[];
    expect(await list()).toHaveLength(1);
    await call(token, 'POST', 'auth/token/revoke-self');
    const after = await call(s.rootToken, 'GET', 'sys/leases/lookup/auth/token/create/?list=true');
    expect(after.statusCode).toBe(404);
  });
});
