// The scheduler with a fake clock and timers: jobs run when due and not before, a failing
// run is retried with a growing backoff, a time the engine sets wins, and jobs survive a
// close/open cycle (seal and unseal) because they are stored.
import { describe, expect, it } from 'vitest';
import { CofferError } from '../sdk/errors.js';
import { memoryStorage } from '../sdk/testing.js';
import { SCHEDULE_RETRY_BASE_MS, Scheduler, type SchedulerTimers } from './scheduler.js';

function fakeTime(start = 1_000_000) {
  let now = start;
  const pending = new Map<number, { at: number; fn: () => void }>();
  let next = 0;
  const timers: SchedulerTimers = {
    setTimeout(fn, delayMs) {
      next += 1;
      pending.set(next, { at: now + delayMs, fn });
      return next;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    now: () => now,
    /** Moves the clock, firing due timers in order, and lets their promises settle. */
    async advance(ms: number) {
      const target = now + ms;
      for (;;) {
        const due = [...pending.entries()]
          .filter(([, t]) => t.at <= target)
          .sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        pending.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
        for (let i = 0; i < 20; i += 1) await Promise.resolve();
      }
      now = target;
      for (let i = 0; i < 20; i += 1) await Promise.resolve();
    },
  };
}

describe('Scheduler', () => {
  it('runs a job when it is due, not before, and only once unless re-armed', async () => {
    const time = fakeTime();
    const runs: string[] = [];
    const scheduler = new Scheduler({
      storage: memoryStorage(),
      now: time.now,
      timers: time.timers,
      run: (uuid, name) => {
        runs.push(`${uuid}:${name}`);
        return Promise.resolve(true);
      },
    });
    await scheduler.open();
    await scheduler.forMount('m1').set('rotate/a', time.now() + 10_000);
    await time.advance(9_999);
    expect(runs).toEqual([]);
    await time.advance(1);
    expect(runs).toEqual(['m1:rotate/a']);
    await time.advance(100_000);
    expect(runs).toHaveLength(1);
    expect(scheduler.jobs()).toEqual([]);
  });

  it('retries a failing job with a doubling backoff, and a time the engine set wins', async () => {
    const time = fakeTime();
    const runs: number[] = [];
    let fail = true;
    const scheduler = new Scheduler({
      storage: memoryStorage(),
      now: time.now,
      timers: time.timers,
      run: () => {
        runs.push(time.now());
        return fail
          ? Promise.reject(new CofferError('upstream_failure', 'database is down'))
          : Promise.resolve(true);
      },
    });
    await scheduler.open();
    const start = time.now();
    await scheduler.forMount('m').set('job', start);
    await time.advance(0);
    await time.advance(SCHEDULE_RETRY_BASE_MS);
    await time.advance(SCHEDULE_RETRY_BASE_MS * 2);
    expect(runs.map((t) => t - start)).toEqual([0, 5_000, 15_000]);
    expect(scheduler.jobs()[0]).toMatchObject({ attempts: 3 });
    fail = false;
    await time.advance(SCHEDULE_RETRY_BASE_MS * 4);
    expect(runs).toHaveLength(4);
    expect(scheduler.jobs()).toEqual([]);
  });

  it('keeps jobs in storage across close and open, and drops a mount’s jobs', async () => {
    const time = fakeTime();
    const storage = memoryStorage();
    const runs: string[] = [];
    const scheduler = new Scheduler({
      storage,
      now: time.now,
      timers: time.timers,
      run: (_uuid, name) => {
        runs.push(name);
        return Promise.resolve(true);
      },
    });
    await scheduler.open();
    await scheduler.forMount('a').set('one', time.now() + 1_000);
    await scheduler.forMount('b').set('two', time.now() + 2_000);
    scheduler.close();
    await time.advance(5_000);
    expect(runs).toEqual([]);
    await scheduler.open(); // overdue jobs run at once
    expect(await scheduler.forMount('a').get('one')).toBeDefined();
    await scheduler.dropMount('b');
    await time.advance(0);
    expect(runs).toEqual(['one']);
    expect(storage.entries.size).toBe(0);
  });

  it('a job that was running when the process died runs again after the restart', async () => {
    const time = fakeTime();
    const storage = memoryStorage();
    const runs: string[] = [];
    // The first process: the job starts and never finishes (the process is killed).
    const crashed = new Scheduler({
      storage,
      now: time.now,
      timers: time.timers,
      run: (_uuid, name) => {
        runs.push(`first:${name}`);
        return new Promise<boolean>(() => undefined);
      },
    });
    await crashed.open();
    await crashed.forMount('m').set('rotate/x', time.now() + 1_000);
    await time.advance(1_000);
    expect(runs).toEqual(['first:rotate/x']);
    expect(storage.entries.size).toBe(1);
    // The second process over the same storage: the job is still there and runs at once.
    const restarted = new Scheduler({
      storage,
      now: time.now,
      timers: time.timers,
      run: (_uuid, name) => {
        runs.push(`second:${name}`);
        return Promise.resolve(true);
      },
    });
    await restarted.open();
    await time.advance(0);
    expect(runs).toEqual(['first:rotate/x', 'second:rotate/x']);
    // Done and not re-armed: gone from memory and from storage.
    expect(restarted.jobs()).toEqual([]);
    expect(storage.entries.size).toBe(0);
  });

  it('a time the engine sets while its job runs is kept in storage', async () => {
    const time = fakeTime();
    const storage = memoryStorage();
    const scheduler: Scheduler = new Scheduler({
      storage,
      now: time.now,
      timers: time.timers,
      run: async (uuid, name) => {
        await scheduler.forMount(uuid).set(name, time.now() + 60_000);
        return true;
      },
    });
    await scheduler.open();
    await scheduler.forMount('m').set('periodic', time.now() + 1_000);
    await time.advance(1_000);
    expect(scheduler.jobs().map((j) => j.dueAt)).toEqual([time.now() + 60_000]);
    expect(storage.entries.size).toBe(1);
  });
});
