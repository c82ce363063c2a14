// userpass login: the grant, identical failures for wrong passwords and unknown users, lockout
// per canonical name without running the KDF, the per-address rate limit, and CIDR binding.
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../../../sdk/errors.js';
import { INVALID_CREDENTIALS } from './path-login.js';
import { expectCoffer, harness, T0 } from './testing.js';

/** The error a login attempt ends with, as the HTTP layer would see it. */
async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isCofferError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the login to fail');
}

describe('userpass login', () => {
  it('grants a token with the user token settings, Vault metadata and alias', async () => {
    const h = harness();
    await h.call('create', 'users/alice', {
      password: 'pw',
      token_policies: 'dev',
      token_ttl: '1h',
      token_max_ttl: '2h',
      token_period: 0,
      token_num_uses: 4,
      token_explicit_max_ttl: '3h',
      token_no_default_policy: true,
      token_type: 'service',
    });
    expect(await h.call('update', 'login/alice', { password: 'pw' })).toEqual({
      kind: 'login',
      login: {
        policies: ['dev'],
        displayName: 'alice',
        metadata: { username: 'alice' },
        ttlSeconds: 3600,
        maxTtlSeconds: 7200,
        explicitMaxTtlSeconds: 10800,
        periodSeconds: 0,
        numUses: 4,
        tokenType: 'service',
        boundCidrs: [],
        noDefaultPolicy: true,
        alias: { name: 'alice', metadata: { username: 'alice' } },
      },
    });
  });

  it('logs in with any case or whitespace variant of the name', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (const v of ['ALICE', ' alice', 'alice\t', 'AlIcE ']) {
      expect((await h.login(v, 'pw')).metadata).toEqual({ username: 'alice' });
    }
  });

  it('answers a wrong password and an unknown user with the same error, both after one KDF run', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    const wrong = await failure(h.login('alice', 'nope'));
    expect(h.hasher.verifies).toBe(1);
    const unknown = await failure(h.login('mallory', 'nope'));
    expect(h.hasher.verifies).toBe(2);
    const malformed = await failure(h.login('not a valid name!', 'nope'));
    expect(h.hasher.verifies).toBe(3);
    expect(wrong).toEqual({ code: 'invalid_request', message: INVALID_CREDENTIALS });
    expect(unknown).toEqual(wrong);
    expect(malformed).toEqual(wrong);
    expect(INVALID_CREDENTIALS).toBe('invalid username or password');
  });

  it('refuses a missing password before any KDF run', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    await expectCoffer(h.call('update', 'login/alice', {}), 'invalid_request');
    await expectCoffer(h.call('update', 'login/alice', { password: '' }), 'invalid_request');
    await expectCoffer(
      h.call('update', 'login/alice', { password: 'pw', pasword: 'x' }),
      'invalid_request',
    );
    expect(h.hasher.verifies).toBe(0);
  });

  it('locks a user after 5 failures and refuses even the right password without the KDF', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 5; i++) await expectCoffer(h.login('alice', `bad${i}`), 'invalid_request');
    expect(h.hasher.verifies).toBe(5);
    expect(await failure(h.login('alice', 'pw'))).toEqual({
      code: 'permission_denied',
      message: 'permission denied',
    });
    await expectCoffer(h.login('alice', 'bad'), 'permission_denied');
    expect(h.hasher.verifies).toBe(5);
  });

  it('counts case and whitespace variants of the name against the same user', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    const variants = ['alice', 'ALICE', ' alice', 'alice\t', 'Alice '];
    for (const v of variants) await expectCoffer(h.login(v, 'bad'), 'invalid_request');
    await expectCoffer(h.login('aLiCe', 'pw'), 'permission_denied');
    expect(h.hasher.verifies).toBe(5);
  });

  it('1,000 wrong passwords with name variants reach the KDF at most threshold times', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'right' });
    const variants = ['alice', 'ALICE', ' alice', 'alice ', '\talice', 'Alice\n', 'aLICE'];
    const attempts = Array.from({ length: 1000 }, (_, i) =>
      failure(h.login(variants[i % variants.length]!, `guess-${i}`)),
    );
    // All at once: the per-name queue must stop parallel guesses from slipping past the check.
    const results = await Promise.all(attempts);
    expect(h.hasher.verifies).toBeLessThanOrEqual(5);
    expect(h.hasher.verifies).toBe(5);
    expect(results.filter((r) => r.code === 'invalid_request')).toHaveLength(5);
    expect(results.filter((r) => r.code === 'permission_denied')).toHaveLength(995);
    await expectCoffer(h.login('alice', 'right'), 'permission_denied');
    expect(h.hasher.verifies).toBe(5);
  });

  it('locks unknown names too, so a lockout does not reveal which names exist', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) await expectCoffer(h.login('ghost', 'x'), 'invalid_request');
    await expectCoffer(h.login('GHOST', 'x'), 'permission_denied');
    expect(h.hasher.verifies).toBe(5);
  });

  it('unlocks after the lockout duration and resets the counter after a success', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 5; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    h.nowMs = T0 + 15 * 60_000 - 1;
    await expectCoffer(h.login('alice', 'pw'), 'permission_denied');
    h.nowMs = T0 + 15 * 60_000;
    await h.login('alice', 'pw');
    // The success cleared the counter: four more failures do not lock.
    for (let i = 0; i < 4; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    await h.login('alice', 'pw');
  });

  it('forgets failures older than the counter reset', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 4; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    h.nowMs = T0 + 15 * 60_000;
    for (let i = 0; i < 4; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    await h.login('alice', 'pw');
  });

  it('honours mount lockout settings, and threshold 0 turns lockout off', async () => {
    const h = harness({ lockout: { threshold: 2, durationSeconds: 60, counterResetSeconds: 60 } });
    await h.call('create', 'users/alice', { password: 'pw' });
    await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    await expectCoffer(h.login('alice', 'pw'), 'permission_denied');
    h.nowMs = T0 + 60_000;
    await h.login('alice', 'pw');

    const off = harness({ lockout: { threshold: 0, durationSeconds: 0, counterResetSeconds: 0 } });
    await off.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 20; i++) await expectCoffer(off.login('alice', 'bad'), 'invalid_request');
    await off.login('alice', 'pw');
  });

  it('lockout records survive a new engine on the same storage (a restart)', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 5; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    const keys = [...h.storage.entries.keys()].filter((k) => k.startsWith('lockout/'));
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain('alice');
    expect(h.schedule.jobs.has('lockout-sweep')).toBe(true);
    const restarted = harness({}, h.storage);
    await expectCoffer(restarted.login('alice', 'pw'), 'permission_denied');
    expect(restarted.hasher.verifies).toBe(0);
  });

  it('rate-limits each client address before the KDF, with a retry-after', async () => {
    const h = harness({ rateLimit: { burst: 3, perSecond: 0.5 } });
    await h.call('create', 'users/alice', { password: 'pw' });
    h.remoteAddress = '192.0.2.7';
    for (let i = 0; i < 3; i++) await h.login(`alice`, 'pw');
    const limited = await h.login('alice', 'pw').catch((e: unknown) => e);
    expect(limited).toMatchObject({ code: 'rate_limited', retryAfterSeconds: 2 });
    expect(h.hasher.verifies).toBe(3);
    // Another address has its own bucket; the first earns attempts back with time.
    h.remoteAddress = '192.0.2.8';
    await h.login('alice', 'pw');
    h.remoteAddress = '::ffff:192.0.2.7';
    await expectCoffer(h.login('alice', 'pw'), 'rate_limited');
    h.nowMs += 2000;
    await h.login('alice', 'pw');
  });

  it('a user bound to CIDRs logs in only from inside them', async () => {
    const h = harness();
    await h.call('create', 'users/alice', {
      password: 'pw',
      token_bound_cidrs: '10.0.0.0/8,192.0.2.1',
    });
    h.remoteAddress = '10.1.2.3';
    expect((await h.login('alice', 'pw')).boundCidrs).toEqual(['10.0.0.0/8', '192.0.2.1']);
    h.remoteAddress = '::ffff:192.0.2.1';
    await h.login('alice', 'pw');
    h.remoteAddress = '172.16.0.1';
    await expectCoffer(h.login('alice', 'pw'), 'permission_denied');
    h.remoteAddress = undefined;
    await expectCoffer(h.login('alice', 'pw'), 'permission_denied');
  });

  it('runs the lockout sweep job: stale records go, live ones stay and re-arm it', async () => {
    const h = harness();
    await expectCoffer(h.login('old', 'x'), 'invalid_request');
    h.nowMs = T0 + 20 * 60_000;
    await expectCoffer(h.login('new', 'x'), 'invalid_request');
    h.schedule.jobs.clear();
    await h.engine.runScheduled!(h.context(), 'lockout-sweep');
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('lockout/'))).toHaveLength(1);
    expect(h.schedule.jobs.has('lockout-sweep')).toBe(true);
    h.nowMs = T0 + 40 * 60_000;
    h.schedule.jobs.clear();
    await h.engine.runScheduled!(h.context(), 'lockout-sweep');
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('lockout/'))).toHaveLength(0);
    expect(h.schedule.jobs.has('lockout-sweep')).toBe(false);
  });

  it('deleting a user clears its lockout record', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 5; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    await h.call('delete', 'users/alice');
    await h.call('create', 'users/alice', { password: 'pw' });
    await h.login('alice', 'pw');
  });
});
