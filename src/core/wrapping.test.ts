// Response wrapping through the HTTP API: wrap any response, unwrap it exactly once, look it
// up without using it, rewrap it, and watch it expire.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import { createInmemBackend } from '../physical/inmem.js';
import { CofferError } from '../sdk/errors.js';
import { prefixedStorage, putJson } from '../sdk/storage.js';
import { cubbyholePrefix } from './cubbyhole-backend.js';
import { CORE_KEYS } from './keys.js';
import { TokenStore } from './token-store.js';
import {
  INVALID_WRAPPING_TOKEN,
  RESPONSE_WRAPPING_POLICY,
  ResponseWrapper,
  requireWrapTtl,
} from './wrapping.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

describe('response wrapping', () => {
  let s: Stack;
  const call = (
    token: string | undefined,
    method: 'GET' | 'POST',
    url: string,
    options: { payload?: object; wrap?: string } = {},
  ) =>
    s.app.inject({
      method,
      url: `/v1/${url}`,
      headers: {
        ...(token === undefined ? {} : { 'x-vault-token': token }),
        ...(options.wrap === undefined ? {} : { 'x-vault-wrap-ttl': options.wrap }),
      },
      ...(options.payload === undefined ? {} : { payload: options.payload }),
    });
  const wrapRead = async (wrap = '60') => {
    const res = await call(s.rootToken, 'GET', 'secret/data/wrapped', { wrap });
    expect(res.statusCode).toBe(200);
    return res.json().wrap_info as { token: string; accessor: string; ttl: number };
  };

  beforeAll(async () => {
    s = await createUnsealedStack();
    await call(s.rootToken, 'POST', 'secret/data/wrapped', {
      payload: { data: { pw: 'w-secret' } },
    });
  });

  it('unwraps once with the wrapping token itself; a second unwrap fails', async () => {
    const { token } = await wrapRead();
    const first = await call(token, 'POST', 'sys/wrapping/unwrap');
    expect(first.statusCode).toBe(200);
    expect(first.json().data.data).toEqual({ pw: 'w-secret' });
    // A used wrapping token in X-Vault-Token: the body form's 400, not a 403 (as Vault).
    for (const path of ['sys/wrapping/unwrap', 'sys/wrapping/rewrap', 'sys/wrapping/lookup']) {
      const used = await call(token, 'POST', path);
      expect(used.statusCode, path).toBe(400);
      expect(used.json().errors[0], path).toContain(
        'wrapping token is not valid or does not exist',
      );
    }
    // Any other path still answers a bad token with 403.
    expect((await call(token, 'GET', 'secret/data/wrapped')).statusCode).toBe(403);
    const byBody = await call(s.rootToken, 'POST', 'sys/wrapping/unwrap', { payload: { token } });
    expect(byBody.statusCode).toBe(400);
    expect(byBody.json().errors[0]).toContain('wrapping token is not valid or does not exist');
  });

  it('concurrent unwraps of one token: exactly one winner gets the secret', async () => {
    const created = await call(s.rootToken, 'POST', 'auth/token/create', {
      payload: { policies: ['default'] },
    });
    const other = created.json().auth.client_token as string;
    // By the wrapping token itself, by the token in the body (another caller), and both mixed.
    const modes = ['header', 'body', 'mixed'] as const;
    for (const mode of modes) {
      const { token } = await wrapRead();
      const attempts = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          mode === 'header' || (mode === 'mixed' && i % 2 === 0)
            ? call(token, 'POST', 'sys/wrapping/unwrap')
            : call(other, 'POST', 'sys/wrapping/unwrap', { payload: { token } }),
        ),
      );
      const winners = attempts.filter((res) => res.statusCode === 200);
      expect(winners, mode).toHaveLength(1);
      expect(winners[0]!.json().data.data).toEqual({ pw: 'w-secret' });
      for (const res of attempts.filter((r) => r.statusCode !== 200)) {
        expect([400, 403]).toContain(res.statusCode);
        expect(res.body).not.toContain('w-secret');
      }
    }
  });

  it('unwraps with the token in the body, by any token the default policy covers', async () => {
    const { token } = await wrapRead();
    const created = await call(s.rootToken, 'POST', 'auth/token/create', {
      payload: { policies: ['default'] },
    });
    const other = created.json().auth.client_token as string;
    const res = await call(other, 'POST', 'sys/wrapping/unwrap', { payload: { token } });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.data.pw).toBe('w-secret');
    expect(
      (await call(other, 'POST', 'sys/wrapping/unwrap', { payload: { token } })).statusCode,
    ).toBe(400);
  });

  it('looks a wrapping token up without a token of its own and without using it', async () => {
    const { token } = await wrapRead('120');
    const lookup = await call(undefined, 'POST', 'sys/wrapping/lookup', { payload: { token } });
    expect(lookup.statusCode).toBe(200);
    expect(lookup.json().data).toMatchObject({
      creation_path: 'secret/data/wrapped',
      creation_ttl: 120,
    });
    expect((await call(token, 'POST', 'sys/wrapping/unwrap')).statusCode).toBe(200);
    const after = await call(undefined, 'POST', 'sys/wrapping/lookup', { payload: { token } });
    expect(after.statusCode).toBe(400);
    const notWrapping = await call(undefined, 'POST', 'sys/wrapping/lookup', {
      payload: { token: s.rootToken },
    });
    expect(notWrapping.statusCode).toBe(400);
  });

  it('wraps arbitrary data with sys/wrapping/wrap, which requires a wrap TTL', async () => {
    const without = await call(s.rootToken, 'POST', 'sys/wrapping/wrap', { payload: { a: 'b' } });
    expect(without.statusCode).toBe(400);
    expect(without.json().errors[0]).toContain(
      'X-Vault-Wrap-TTL: endpoint requires response wrapping to be used',
    );
    const wrapped = await call(s.rootToken, 'POST', 'sys/wrapping/wrap', {
      payload: { a: 'b' },
      wrap: '30s',
    });
    // Any body is wrapped as given: its fields are not checked against a schema.
    expect(wrapped.json().warnings ?? []).toEqual([]);
    const { token } = wrapped.json().wrap_info as { token: string };
    expect((await call(token, 'POST', 'sys/wrapping/unwrap')).json().data).toEqual({ a: 'b' });
  });

  it('a wrap TTL above the maximum TTL is refused; the maximum itself is accepted', async () => {
    const max = 2_764_800; // the stack's maximum lease TTL
    const over = await call(s.rootToken, 'GET', 'secret/data/wrapped', { wrap: String(max + 1) });
    expect(over.statusCode).toBe(400);
    expect(over.json().errors[0]).toContain(
      `X-Vault-Wrap-TTL: must be at most ${max} seconds (the maximum TTL)`,
    );
    expect(over.body).not.toContain('w-secret');
    const atMax = await call(s.rootToken, 'GET', 'secret/data/wrapped', { wrap: String(max) });
    expect(atMax.statusCode).toBe(200);
    expect(atMax.json().wrap_info.ttl).toBe(max);
    // Without a wrap TTL the bound does not apply.
    expect((await call(s.rootToken, 'GET', 'secret/data/wrapped')).statusCode).toBe(200);
  });

  it('rewraps into a new token; the old one stops working', async () => {
    const { token } = await wrapRead();
    const rewrapped = await call(s.rootToken, 'POST', 'sys/wrapping/rewrap', {
      payload: { token },
    });
    const fresh = rewrapped.json().wrap_info.token as string;
    expect(fresh).not.toBe(token);
    expect((await call(token, 'POST', 'sys/wrapping/unwrap')).statusCode).toBe(400);
    expect((await call(fresh, 'POST', 'sys/wrapping/unwrap')).json().data.data.pw).toBe('w-secret');
  });

  it('wraps a token creation: wrapped_accessor is set and the unwrapped token works', async () => {
    const res = await call(s.rootToken, 'POST', 'auth/token/create', {
      payload: { policies: ['default'] },
      wrap: '60',
    });
    const info = res.json().wrap_info as { token: string; wrapped_accessor: string };
    expect(res.json().auth).toBeNull();
    const unwrapped = (await call(info.token, 'POST', 'sys/wrapping/unwrap')).json();
    expect(unwrapped.auth.accessor).toBe(info.wrapped_accessor);
    const lookup = await call(
      unwrapped.auth.client_token as string,
      'GET',
      'auth/token/lookup-self',
    );
    expect(lookup.statusCode).toBe(200);
  });

  it('the wrapping token itself is single-use, not renewable, and named response-wrapping', async () => {
    const info = await wrapRead('90');
    const looked = await call(s.rootToken, 'POST', 'auth/token/lookup-accessor', {
      payload: { accessor: info.accessor },
    });
    expect(looked.statusCode).toBe(200);
    expect(looked.json().data).toMatchObject({
      display_name: 'response-wrapping',
      renewable: false,
      num_uses: 1,
      policies: ['response-wrapping'],
      path: 'secret/data/wrapped',
    });
    // Not renewable: it cannot be kept alive past its wrap TTL.
    const renew = await call(s.rootToken, 'POST', 'auth/token/renew-accessor', {
      payload: { accessor: info.accessor },
    });
    expect(renew.statusCode).toBe(400);
    expect((await call(info.token, 'POST', 'sys/wrapping/unwrap')).statusCode).toBe(200);
  });

  it('an empty response is not wrapped: no wrapping token is made for it', async () => {
    const res = await s.app.inject({
      method: 'PUT',
      url: '/v1/sys/policies/acl/wrapped-empty',
      headers: { 'x-vault-token': s.rootToken, 'x-vault-wrap-ttl': '60' },
      payload: { policy: 'path "secret/*" { capabilities = ["read"] }' },
    });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
  });

  it('an empty token in the body means the calling token', async () => {
    const { token } = await wrapRead();
    const res = await call(token, 'POST', 'sys/wrapping/unwrap', { payload: { token: '' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.data).toEqual({ pw: 'w-secret' });
  });

  it('expires with its TTL', async () => {
    const { token } = await wrapRead('1');
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect((await call(token, 'POST', 'sys/wrapping/unwrap')).statusCode).toBe(400);
    const lookup = await call(undefined, 'POST', 'sys/wrapping/lookup', { payload: { token } });
    expect(lookup.statusCode).toBe(400);
  });
});

// The HTTP door refuses to give a token the response-wrapping policy, so a wrapping token whose
// cubbyhole holds no response (storage damage, or a hand-made token) is made here, in the token
// store over a real unsealed barrier, wired as the core wires it.
describe('ResponseWrapper over a real barrier', () => {
  async function wrapperOverBarrier() {
    const barrier = new AesGcmBarrier(createInmemBackend(), { now: () => Date.now() });
    const rootKey = randomBytes(32);
    await barrier.initialize(rootKey);
    await barrier.unseal(rootKey);
    const tokens = new TokenStore({
      storage: prefixedStorage(barrier, CORE_KEYS.tokenPrefix),
      now: () => Date.now(),
    });
    await tokens.open();
    const wrapper = new ResponseWrapper({ tokens, barrier });
    const wrappingToken = async () =>
      (
        await tokens.create({
          policies: [RESPONSE_WRAPPING_POLICY],
          path: 'sys/wrapping/wrap',
          displayName: 'response-wrapping',
          ttlSeconds: 60,
          numUses: 1,
        })
      ).token;
    const cubbyhole = (token: string) =>
      prefixedStorage(barrier, cubbyholePrefix(tokens.hashToken(token)));
    return { wrapper, tokens, wrappingToken, cubbyhole };
  }

  async function errorOf(action: () => Promise<unknown>): Promise<CofferError> {
    try {
      await action();
    } catch (error) {
      if (error instanceof CofferError) return error;
      throw error;
    }
    throw new Error('no error thrown');
  }

  it('a wrapping token whose cubbyhole holds no response unwraps to the documented 400', async () => {
    const { wrapper, tokens, wrappingToken } = await wrapperOverBarrier();
    const token = await wrappingToken();
    const error = await errorOf(() => wrapper.unwrap(token));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(INVALID_WRAPPING_TOKEN);
    expect(error.field).toBe('token');
    // Used up all the same: the token is revoked on the way out.
    expect(await tokens.lookup(token)).toBeUndefined();
  });

  it('a wrapping token whose cubbyhole holds something other than a response is refused', async () => {
    const { wrapper, wrappingToken, cubbyhole } = await wrapperOverBarrier();
    for (const stored of [{ pw: 'not-a-response' }, { kind: 'empty' }, { kind: 'wrapped' }]) {
      const token = await wrappingToken();
      await putJson(cubbyhole(token), 'entry/response', stored);
      const error = await errorOf(() => wrapper.unwrap(token));
      expect(error.message, JSON.stringify(stored)).toContain(INVALID_WRAPPING_TOKEN);
      expect(error.field).toBe('token');
    }
  });

  it('a token without exactly the response-wrapping policy is not a wrapping token (400 on token)', async () => {
    const { wrapper, tokens } = await wrapperOverBarrier();
    for (const policies of [['default'], [RESPONSE_WRAPPING_POLICY, 'default']]) {
      const { token } = await tokens.create({
        policies,
        path: 'auth/token/create',
        displayName: 'token',
        ttlSeconds: 60,
      });
      const error = await errorOf(() => wrapper.unwrap(token));
      expect(error.message, policies.join()).toContain(INVALID_WRAPPING_TOKEN);
      expect(error.field).toBe('token');
      // Refused before anything happens to it: the token still works.
      expect(await tokens.lookup(token)).toBeDefined();
    }
  });

  it('requireWrapTtl: a maximum of 0 means no bound', () => {
    expect(() => {
      requireWrapTtl('secret/data/x', 10 ** 9, 0);
    }).not.toThrow();
    expect(() => {
      requireWrapTtl('secret/data/x', 61, 60);
    }).toThrow(/at most 60 seconds/);
  });

  it("the response sits at the token's cubbyhole/response (Vault's place) and unwraps as stored", async () => {
    const { wrapper, wrappingToken, cubbyhole } = await wrapperOverBarrier();
    for (const stored of [
      { kind: 'data', data: { pw: 'x' } },
      { kind: 'auth', auth: { accessor: 'a' } },
    ]) {
      const token = await wrappingToken();
      await putJson(cubbyhole(token), 'entry/response', stored);
      expect(await wrapper.unwrap(token)).toEqual(stored);
    }
  });
});
