import { describe, expect, it } from 'vitest';
import type { EngineResult, Operation } from '../sdk/engine.js';
import { CofferError } from '../sdk/errors.js';
import type { JsonObject } from '../sdk/json.js';
import { createContextPathEngine } from '../sdk/path.js';
import { memoryStorage, testMount, testRequest } from '../sdk/testing.js';
import type { Caller } from './caller.js';
import { LeaseManager, type RegisterLeaseOptions } from './lease-manager.js';
import { leasePaths, renderLeaseLookup } from './system-leases.js';
import type { TokenEntry } from './token-store.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const SYS = testMount({ path: 'sys/', type: 'system', options: {} });

function caller(sudo: readonly string[] = []): Caller {
  return {
    token: 'cfs.test',
    entry: { policies: ['default'] } as unknown as TokenEntry,
    isRoot: false,
    sudoOn: (path) => sudo.includes(path),
  };
}

function setup(options: { failRevoke?: boolean } = {}) {
  const clock = { now: T0 };
  const storage = memoryStorage();
  const revoked: string[] = [];
  const timers = new Map<number, () => void>();
  let seq = 0;
  const leases = new LeaseManager({
    storage,
    now: () => clock.now,
    // Timers fire only when the test says so (fireTimers); nothing waits for real time.
    timers: {
      setTimeout: (fn) => {
        seq += 1;
        timers.set(seq, fn);
        return seq;
      },
      clearTimeout: (handle) => {
        timers.delete(handle as number);
      },
    },
    retry: { maxAttempts: 1 },
    revoker: (lease) => {
      if (options.failRevoke === true) {
        return Promise.reject(new CofferError('upstream_failure', 'database unreachable'));
      }
      revoked.push(lease.id);
      return Promise.resolve();
    },
  });
  const engine = createContextPathEngine<Caller>(leasePaths({ leases }));
  const call = (
    operation: Operation,
    path: string,
    data: Record<string, unknown> = {},
    who: Caller = caller(),
  ): Promise<EngineResult> =>
    engine.handle(
      testRequest(operation, path, data, storage, { mount: SYS, now: () => clock.now }),
      who,
    );
  const data = async (
    operation: Operation,
    path: string,
    body: Record<string, unknown> = {},
    who?: Caller,
  ): Promise<JsonObject> => {
    const result = await call(operation, path, body, who);
    if (result.kind !== 'data') throw new Error(`expected data, got ${result.kind}`);
    return result.data;
  };
  const register = (overrides: Partial<RegisterLeaseOptions> = {}) =>
    leases.register({
      path: 'database/creds/app',
      mountPath: 'database/',
      ttlSeconds: 600,
      maxTtlSeconds: 3600,
      renewable: true,
      ...overrides,
    });
  const fireTimers = async () => {
    for (const [id, fn] of [...timers]) {
      timers.delete(id);
      fn();
      await leases.settled();
    }
  };
  return { clock, leases, call, data, register, revoked, fireTimers };
}

async function expectCoffer(promise: Promise<unknown>, code: string, message?: string) {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CofferError);
  expect((err as CofferError).code).toBe(code);
  if (message !== undefined) expect((err as CofferError).message).toBe(message);
}

describe('sys/leases paths', () => {
  it('looks up a lease with Vault’s fields and times', async () => {
    const h = setup();
    const lease = await h.register();
    h.clock.now += 100_400;
    expect(await h.data('update', 'leases/lookup', { lease_id: lease.id })).toEqual({
      id: lease.id,
      issue_time: '2026-01-01T12:00:00Z',
      expire_time: '2026-01-01T12:10:00Z',
      last_renewal: null,
      renewable: true,
      ttl: 500,
    });
    await expectCoffer(
      h.call('update', 'leases/lookup', { lease_id: 'database/creds/app/nope' }),
      'invalid_request',
      'invalid lease',
    );
    await expectCoffer(h.call('update', 'leases/lookup', {}), 'invalid_request');
    await expectCoffer(h.call('update', 'leases/lookup', { lease: lease.id }), 'invalid_request');
  });

  it('renders an expired, renewed lease as not renewable with ttl 0', () => {
    const rendered = renderLeaseLookup(
      {
        id: 'a/b',
        kind: 'secret',
        path: 'a',
        mountPath: 'a/',
        issuedAt: T0,
        expiresAt: T0 + 1_500,
        lastRenewalAt: T0 + 250,
        ttlSeconds: 1,
        renewable: true,
        maxTtlSeconds: 0,
      },
      T0 + 2_000,
    );
    expect(rendered).toMatchObject({
      last_renewal: '2026-01-01T12:00:00.25Z',
      expire_time: '2026-01-01T12:00:01.5Z',
      renewable: false,
      ttl: 0,
    });
  });

  it('lists lease ids by prefix (LIST), at the top and below; empty is not found', async () => {
    const h = setup();
    const lease = await h.register();
    await h.register({ path: 'aws/creds/x', mountPath: 'aws/' });
    expect(await h.data('list', 'leases/lookup/')).toEqual({ keys: ['aws/', 'database/'] });
    expect(await h.data('list', 'leases/lookup/database/creds/')).toEqual({ keys: ['app/'] });
    expect(await h.data('list', 'leases/lookup/database/creds/app')).toEqual({
      keys: [lease.id.split('/').at(-1)],
    });
    await expectCoffer(h.call('list', 'leases/lookup/nothing/'), 'not_found');
  });

  it('renews by body or URL, current and legacy routes, with durations as strings', async () => {
    const h = setup();
    const lease = await h.register();
    const lease_ = (r: Awaited<ReturnType<typeof h.call>>) =>
      r.kind === 'data'
        ? { data: r.data, id: r.leaseId, renewable: r.renewable, ttl: r.leaseDurationSeconds }
        : undefined;
    expect(
      lease_(await h.call('update', 'leases/renew', { lease_id: lease.id, increment: '20m' })),
    ).toEqual({ data: {}, id: lease.id, renewable: true, ttl: 1200 });
    expect(
      lease_(await h.call('update', `leases/renew/${lease.id}`, { increment: 60 })),
    ).toMatchObject({ ttl: 60 });
    expect(
      lease_(await h.call('update', 'renew', { lease_id: lease.id, increment: '1' })),
    ).toMatchObject({ ttl: 1 });
    expect(lease_(await h.call('update', `renew/${lease.id}/`, {}))).toMatchObject({ ttl: 600 });
    const capped = await h.call('update', 'leases/renew', { lease_id: lease.id, increment: '2h' });
    expect(lease_(capped)).toMatchObject({ ttl: 3600 });
    expect(capped.warnings?.[0]).toContain('capped');
    await expectCoffer(h.call('update', 'leases/renew', {}), 'invalid_request');
    await expectCoffer(
      h.call('update', 'leases/renew', { lease_id: 'x/nope' }),
      'invalid_request',
      'lease not found',
    );
    await expectCoffer(h.call('read', 'leases/renew'), 'unsupported_operation');
  });

  it('revokes by body, URL and legacy route; unknown ids succeed', async () => {
    const h = setup();
    const a = await h.register();
    const b = await h.register();
    const c = await h.register();
    expect(await h.call('update', 'leases/revoke', { lease_id: a.id })).toEqual({
      kind: 'empty',
    });
    expect(await h.call('update', `leases/revoke/${b.id}`)).toEqual({ kind: 'empty' });
    expect(await h.call('update', `revoke/${c.id}`)).toEqual({ kind: 'empty' });
    expect(h.revoked).toEqual([a.id, b.id, c.id]);
    expect(await h.call('update', 'revoke', { lease_id: a.id })).toEqual({ kind: 'empty' });
    expect(h.revoked).toHaveLength(3);
    const lazy = await h.register();
    await h.call('update', 'leases/revoke', { lease_id: lazy.id, sync: 'false' });
    expect((await h.leases.lookup(lazy.id))?.expiresAt).toBe(T0);
  });

  it('revokes by prefix and force-revokes when the engine fails', async () => {
    const ok = setup();
    await ok.register();
    await ok.register({ path: 'aws/creds/x', mountPath: 'aws/' });
    await expectCoffer(
      ok.call('update', 'leases/revoke-prefix/database/', { prefix: 'aws/' }),
      'invalid_request',
      'prefix: does not match the prefix in the URL',
    );
    // hvac sends the prefix again in the body.
    await ok.call('update', 'leases/revoke-prefix/database/', { prefix: 'database/' });
    expect(ok.revoked).toHaveLength(1);
    await ok.call('update', 'revoke-prefix/aws');
    expect(ok.revoked).toHaveLength(2);
    await expectCoffer(ok.call('update', 'leases/revoke-prefix/'), 'invalid_request');

    const failing = setup({ failRevoke: true });
    const stuck = await failing.register();
    await expectCoffer(
      failing.call('update', 'leases/revoke-prefix/database/'),
      'upstream_failure',
    );
    expect(await failing.leases.lookup(stuck.id)).toBeDefined();
    await failing.call('update', 'leases/revoke-force/database/', { prefix: 'database/' });
    expect(await failing.leases.lookup(stuck.id)).toBeUndefined();
    const again = await failing.register();
    await failing.call('update', 'revoke-force/database');
    expect(await failing.leases.lookup(again.id)).toBeUndefined();
  });

  it('lists irrevocable leases only for a caller with sudo on sys/leases', async () => {
    const h = setup({ failRevoke: true });
    await h.leases.open();
    const stuck = await h.register({ ttlSeconds: 1 });
    await h.register({ ttlSeconds: 2 });
    h.clock.now += 2_000;
    await h.fireTimers(); // one failed attempt each; maxAttempts is 1 here
    await expectCoffer(h.call('read', 'leases', { type: 'irrevocable' }), 'permission_denied');
    const admin = caller(['sys/leases']);
    const listed = await h.call('read', 'leases', { type: 'irrevocable', limit: 1 }, admin);
    expect(listed).toMatchObject({
      kind: 'data',
      data: {
        lease_count: 1,
        leases: [
          {
            lease_id: stuck.id,
            mount_path: 'database/',
            error: 'upstream_failure: database unreachable',
            expire_time: '2026-01-01T12:00:01Z',
          },
        ],
      },
    });
    expect(listed.warnings?.[0]).toContain('more than 1');
    expect(await h.data('read', 'leases', { type: 'irrevocable' }, admin)).toMatchObject({
      lease_count: 2,
    });
    await expectCoffer(h.call('read', 'leases', { type: 'other' }, admin), 'invalid_request');
    await expectCoffer(h.call('read', 'leases', {}, admin), 'invalid_request');
    await h.call('update', 'leases/revoke-force/database/', {}, admin);
    expect(await h.data('read', 'leases', { type: 'irrevocable' }, admin)).toEqual({
      lease_count: 0,
      leases: [],
    });
    h.leases.close();
  });
});
