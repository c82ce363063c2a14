// The lockout counter itself (lockout.ts), through the engine's login and its own methods on
// the harness's storage and schedule: which configurations it accepts, how failures count
// over time, when a lock ends, what the sweep keeps, and that malformed records lock nobody.
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../../../sdk/errors.js';
import { lockoutKey } from './keys.js';
import { checkLockoutConfig, Lockout } from './lockout.js';
import { expectCoffer, harness, T0 } from './testing.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function refusal(config: Parameters<typeof checkLockoutConfig>[0]): string | undefined {
  try {
    checkLockoutConfig(config);
    return undefined;
  } catch (error) {
    if (isCofferError(error)) return `${error.field ?? ''}: ${error.message}`;
    throw error;
  }
}

describe('lockout configuration', () => {
  it('refuses a negative or fractional threshold, and zero or negative windows when on', () => {
    const ok = { threshold: 5, durationSeconds: 60, counterResetSeconds: 60 };
    expect(refusal(ok)).toBeUndefined();
    expect(refusal({ ...ok, threshold: -1 })).toBe(
      'lockout_threshold: lockout_threshold: must be a non-negative integer',
    );
    expect(refusal({ ...ok, threshold: 1.5 })).toContain('lockout_threshold');
    expect(refusal({ ...ok, durationSeconds: 0 })).toBe(
      'lockout_duration: lockout_duration: must be positive',
    );
    expect(refusal({ ...ok, counterResetSeconds: 0 })).toBe(
      'lockout_counter_reset: lockout_counter_reset: must be positive',
    );
    expect(refusal({ ...ok, counterResetSeconds: -1 })).toContain('lockout_counter_reset');
    // Off: the windows do not matter.
    expect(refusal({ threshold: 0, durationSeconds: 0, counterResetSeconds: 0 })).toBeUndefined();
  });
});

describe('lockout counting', () => {
  it('failures spread over the counter window still add up to a lock', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 5; i++) {
      h.nowMs = T0 + i * MINUTE;
      await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    }
    await expectCoffer(h.login('alice', 'pw'), 'permission_denied');
  });

  it('after a lock ends, one more failure starts a new count instead of locking again', async () => {
    const h = harness({ lockout: { threshold: 3, durationSeconds: 60, counterResetSeconds: 900 } });
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 3; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    h.nowMs = T0 + MINUTE;
    await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    await h.login('alice', 'pw');
  });

  it('threshold 0 never locks and writes no records, whatever the windows', async () => {
    const h = harness({
      lockout: { threshold: 0, durationSeconds: 3600, counterResetSeconds: 3600 },
    });
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 10; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('lockout/'))).toEqual([]);
    expect(h.schedule.jobs.has('lockout-sweep')).toBe(false);
    await h.login('alice', 'pw');
  });

  it('turning lockout off lifts a lock already recorded', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 5; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    const off = harness(
      { lockout: { threshold: 0, durationSeconds: 0, counterResetSeconds: 0 } },
      h.storage,
    );
    await off.login('alice', 'pw');
  });

  it('a malformed lockout record locks nobody and is replaced by a fresh count', async () => {
    const future = T0 + HOUR;
    for (const record of [
      { failures: '9', lastFailureAt: T0, lockedUntil: future },
      { failures: 9, lastFailureAt: String(T0), lockedUntil: future },
      { failures: 9, lastFailureAt: T0, lockedUntil: String(future) },
    ]) {
      const h = harness();
      await h.call('create', 'users/alice', { password: 'pw' });
      h.storage.entries.set(lockoutKey('alice'), Buffer.from(JSON.stringify(record)));
      await h.login('alice', 'pw');
      h.storage.entries.set(lockoutKey('alice'), Buffer.from(JSON.stringify(record)));
      await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
      const stored = JSON.parse(
        Buffer.from(h.storage.entries.get(lockoutKey('alice'))!).toString('utf8'),
      ) as { failures: number };
      expect(stored.failures, JSON.stringify(record)).toBe(1);
    }
  });
});

describe('lockout sweep and its schedule', () => {
  it('the sweep is armed once, an hour after the first failure, not pushed back by later ones', async () => {
    const h = harness();
    await expectCoffer(h.login('ghost', 'x'), 'invalid_request');
    expect(h.schedule.jobs.get('lockout-sweep')).toBe(T0 + HOUR);
    h.nowMs = T0 + 30 * MINUTE;
    await expectCoffer(h.login('ghost', 'x'), 'invalid_request');
    expect(h.schedule.jobs.get('lockout-sweep')).toBe(T0 + HOUR);
  });

  it('the sweep keeps a lock that is still on, even when its last failure is old', async () => {
    const h = harness({
      lockout: { threshold: 2, durationSeconds: 3600, counterResetSeconds: 60 },
    });
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 2; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    h.nowMs = T0 + 10 * MINUTE;
    h.schedule.jobs.clear();
    await h.engine.runScheduled!(h.context(), 'lockout-sweep');
    expect(h.schedule.jobs.get('lockout-sweep')).toBe(h.nowMs + HOUR);
    await expectCoffer(h.login('alice', 'pw'), 'permission_denied');
  });

  it('the sweep drops malformed and stale records and counts what it dropped', async () => {
    const h = harness();
    const lockout = new Lockout({ threshold: 5, durationSeconds: 900, counterResetSeconds: 900 });
    h.storage.entries.set('lockout/garbage', Buffer.from('"not a record"'));
    await lockout.recordFailure(h.context(), 'old');
    h.nowMs = T0 + 20 * MINUTE;
    await lockout.recordFailure(h.context(), 'new');
    expect(await lockout.sweep(h.context())).toBe(2);
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('lockout/'))).toEqual([
      lockoutKey('new'),
    ]);
  });

  it('the sweep drops a lock the moment both its lock and its counter window are over', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'pw' });
    for (let i = 0; i < 5; i++) await expectCoffer(h.login('alice', 'bad'), 'invalid_request');
    h.nowMs = T0 + 15 * MINUTE - 1;
    await h.engine.runScheduled!(h.context(), 'lockout-sweep');
    expect(h.storage.entries.has(lockoutKey('alice'))).toBe(true);
    h.nowMs = T0 + 15 * MINUTE;
    await h.engine.runScheduled!(h.context(), 'lockout-sweep');
    expect(h.storage.entries.has(lockoutKey('alice'))).toBe(false);
  });

  it('another scheduled job name does not run the sweep', async () => {
    const h = harness();
    await expectCoffer(h.login('old', 'x'), 'invalid_request');
    h.nowMs = T0 + 2 * HOUR;
    await h.engine.runScheduled!(h.context(), 'something-else');
    expect([...h.storage.entries.keys()].filter((k) => k.startsWith('lockout/'))).toHaveLength(1);
  });
});
