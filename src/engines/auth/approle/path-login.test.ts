// approle login: the grant, Vault's one error for unknown, foreign, expired and used-up
// credentials, CIDR restrictions, use counts spent atomically under concurrency, and the
// per-address rate limit.
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../../../sdk/testing.js';
import { INVALID_CREDENTIALS } from './path-login.js';
import { expectCoffer, harness, str, T0 } from './testing.js';

type MemoryStorage = ReturnType<typeof memoryStorage>;

/** A storage whose every call waits `ms` first, so racing requests interleave. */
function slowStorage(inner: MemoryStorage, ms: number): MemoryStorage {
  const wait = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  return {
    entries: inner.entries,
    get: async (k) => (await wait(), inner.get(k)),
    put: async (k, v) => (await wait(), inner.put(k, v)),
    delete: async (k) => (await wait(), inner.delete(k)),
    list: async (p) => (await wait(), inner.list(p)),
    batch: async (ops) => (await wait(), inner.batch(ops)),
  };
}

describe('approle login', () => {
  it('grants a token with the role token settings, role_name metadata and the role ID as alias', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup(
      'app',
      {
        token_policies: 'dev,ops',
        token_ttl: '20m',
        token_max_ttl: '30m',
        token_bound_cidrs: '127.0.0.0/8',
      },
      { metadata: '{"tag1":"production"}' },
    );
    expect(await h.call('update', 'login', { role_id: roleId, secret_id: secretId })).toEqual({
      kind: 'login',
      login: {
        policies: ['dev', 'ops'],
        displayName: '',
        metadata: { tag1: 'production', role_name: 'app' },
        ttlSeconds: 1200,
        maxTtlSeconds: 1800,
        explicitMaxTtlSeconds: 0,
        periodSeconds: 0,
        numUses: 0,
        tokenType: 'default',
        boundCidrs: ['127.0.0.0/8'],
        noDefaultPolicy: false,
        alias: { name: roleId, metadata: { tag1: 'production', role_name: 'app' } },
      },
    });
  });

  it("binds the token to the secret ID's token_bound_cidrs when it has them", async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup(
      'app',
      { token_bound_cidrs: '10.0.0.0/8' },
      { token_bound_cidrs: '10.1.0.0/16' },
    );
    expect((await h.login(roleId, secretId)).boundCidrs).toEqual(['10.1.0.0/16']);
  });

  it('metadata cannot override role_name', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app', {}, { metadata: { role_name: 'admin' } });
    expect((await h.login(roleId, secretId)).metadata).toEqual({ role_name: 'app' });
  });

  it('trims the role ID and secret ID as Vault does', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app');
    const grant = await h.login(` ${roleId}\n`, `\t${secretId} `);
    expect(grant.alias.name).toBe(roleId);
  });

  it('answers unknown role IDs and wrong secret IDs with the same 400', async () => {
    const h = harness();
    const { roleId } = await h.setup('app');
    await expectCoffer(h.login('no-such-role-id', 'x'), 'invalid_request', INVALID_CREDENTIALS);
    await expectCoffer(h.login(roleId, 'wrong'), 'invalid_request', INVALID_CREDENTIALS);
    expect(INVALID_CREDENTIALS).toBe('invalid role or secret ID');
  });

  it('requires role_id always, and secret_id when the role binds it', async () => {
    const h = harness();
    const { roleId } = await h.setup('app');
    await expectCoffer(h.call('update', 'login', {}), 'invalid_request');
    await expectCoffer(h.call('update', 'login', { role_id: ' ' }), 'invalid_request');
    await expectCoffer(h.call('update', 'login', { role_id: roleId }), 'invalid_request');
    await expectCoffer(
      h.call('update', 'login', { role_id: roleId, secret_id: 'x', extra: 1 }),
      'invalid_request',
    );
  });

  it('refuses before any role exists (no HMAC key yet)', async () => {
    const h = harness();
    await expectCoffer(h.login('anything', 'x'), 'invalid_request', INVALID_CREDENTIALS);
    expect(h.storage.entries.size).toBe(0);
  });

  it('refuses a secret ID of another role, and leaves it usable by its own', async () => {
    const h = harness();
    const a = await h.setup('a');
    const b = await h.setup('b', {}, { num_uses: 1 });
    await expectCoffer(h.login(a.roleId, b.secretId), 'invalid_request', INVALID_CREDENTIALS);
    await h.login(b.roleId, b.secretId);
  });

  it('spends uses: a used-up secret ID fails with Vault’s message and is gone', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app', { secret_id_num_uses: 3 });
    await h.login(roleId, secretId);
    const looked = await h.data('update', 'role/app/secret-id/lookup', { secret_id: secretId });
    expect(looked.secret_id_num_uses).toBe(2);
    await h.login(roleId, secretId);
    await h.login(roleId, secretId);
    await expectCoffer(h.login(roleId, secretId), 'invalid_request', INVALID_CREDENTIALS);
    await expectCoffer(
      h.call('update', 'role/app/secret-id/lookup', { secret_id: secretId }),
      'not_found',
    );
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('accessor/'))).toEqual([]);
  });

  it('an expired secret ID fails with Vault’s message and is removed', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app', { secret_id_ttl: '1m' });
    h.nowMs = T0 + 59_999;
    await h.login(roleId, secretId);
    h.nowMs = T0 + 60_000;
    await expectCoffer(h.login(roleId, secretId), 'invalid_request', INVALID_CREDENTIALS);
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('secret-id/'))).toEqual([]);
  });

  it("enforces the secret ID's cidr_list, without spending a use on a refused address", async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app', {}, { cidr_list: '10.0.0.0/8', num_uses: 1 });
    h.remoteAddress = '192.0.2.1';
    await expectCoffer(h.login(roleId, secretId), 'invalid_request');
    h.remoteAddress = undefined;
    await expectCoffer(h.login(roleId, secretId), 'invalid_request');
    h.remoteAddress = '::ffff:10.2.3.4';
    await h.login(roleId, secretId);
  });

  it("enforces the role's secret_id_bound_cidrs, with or without bind_secret_id", async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app', { secret_id_bound_cidrs: '10.0.0.0/8' });
    h.remoteAddress = '192.0.2.1';
    await expectCoffer(h.login(roleId, secretId), 'invalid_request');
    h.remoteAddress = '10.0.0.1';
    await h.login(roleId, secretId);

    await h.call('create', 'role/nosecret', {
      bind_secret_id: false,
      secret_id_bound_cidrs: '10.0.0.0/8',
    });
    const open = str((await h.data('read', 'role/nosecret/role-id')).role_id);
    expect((await h.login(open)).metadata).toEqual({ role_name: 'nosecret' });
    h.remoteAddress = '192.0.2.1';
    await expectCoffer(h.login(open), 'invalid_request');
  });

  it('two concurrent logins for a secret ID with num_uses=1: exactly one wins', async () => {
    const h = harness({}, slowStorage(memoryStorage(), 1));
    await h.call('update', 'role/app', {});
    const roleId = str((await h.data('read', 'role/app/role-id')).role_id);
    for (let round = 0; round < 5; round++) {
      const issued = await h.data('update', 'role/app/secret-id', { num_uses: 1 });
      const secretId = str(issued.secret_id);
      const results = await Promise.allSettled([
        h.login(roleId, secretId),
        h.login(roleId, secretId),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    }
  });

  it('ten concurrent logins for a secret ID with num_uses=3: exactly three win', async () => {
    const h = harness({}, slowStorage(memoryStorage(), 1));
    await h.call('update', 'role/app', { role_id: 'rid' });
    const issued = await h.data('update', 'role/app/secret-id', { num_uses: 3 });
    const secretId = str(issued.secret_id);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => h.login('rid', secretId)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
  });

  it('rate-limits each client address before looking anything up', async () => {
    const h = harness({ rateLimit: { burst: 2, perSecond: 1 } });
    const { roleId, secretId } = await h.setup('app');
    h.remoteAddress = '2001:db8:1:2::5';
    await h.login(roleId, secretId);
    await expectCoffer(h.login('unknown', 'x'), 'invalid_request');
    await expect(h.login(roleId, secretId)).rejects.toMatchObject({
      code: 'rate_limited',
      retryAfterSeconds: 1,
    });
    // The same /64 shares the bucket; another /64 has its own.
    h.remoteAddress = '2001:db8:1:2::9';
    await expectCoffer(h.login(roleId, secretId), 'rate_limited');
    h.remoteAddress = '2001:db8:1:3::9';
    await h.login(roleId, secretId);
  });
});
