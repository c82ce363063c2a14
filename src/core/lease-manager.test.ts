import { describe, expect, it } from 'vitest';
import { CofferError } from '../sdk/errors.js';
import type { Storage, StorageOp } from '../sdk/storage.js';
import { memoryStorage } from '../sdk/testing.js';
import {
  bucketStart,
  dayStart,
  expiryKey,
  irrevocableKey,
  leaseRecordKey,
  tokenIndexKey,
} from './lease-keys.js';
import {
  LeaseManager,
  type LeaseManagerDeps,
  type LeaseRecord,
  type LeaseTimers,
  type RegisterLeaseOptions,
} from './lease-manager.js';

/** Mid-minute, so bucket boundaries are exercised. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 30);
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A clock and timer queue the test moves by hand; nothing waits for real time. */
class FakeClock {
  now: number;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  #seq = 0;
  readonly timers: LeaseTimers = {
    setTimeout: (fn, delayMs) => {
      this.#seq += 1;
      this.#timers.set(this.#seq, { at: this.now + Math.max(0, delayMs), fn });
      return this.#seq;
    },
    clearTimeout: (handle) => {
      this.#timers.delete(handle as number);
    },
  };

  constructor(start: number) {
    this.now = start;
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing timers in time order and letting each run finish. */
  async advance(ms: number, manager: LeaseManager): Promise<void> {
    const target = this.now + ms;
    for (let guard = 0; guard < 1_000_000; guard += 1) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const timer of this.#timers) {
        if (timer[1].at <= target && (next === undefined || timer[1].at < next[1].at)) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
      await manager.settled();
    }
    this.now = target;
  }
}

/** Counts storage calls (deterministic, unlike timings). */
function counting(inner: Storage): Storage & { counts: Record<string, number>; reset(): void } {
  const counts = { get: 0, list: 0, put: 0, delete: 0, batch: 0 };
  return {
    counts,
    reset() {
      for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] = 0;
    },
    get: (key) => {
      counts.get += 1;
      return inner.get(key);
    },
    put: (key, value) => {
      counts.put += 1;
      return inner.put(key, value);
    },
    delete: (key) => {
      counts.delete += 1;
      return inner.delete(key);
    },
    list: (prefix) => {
      counts.list += 1;
      return inner.list(prefix);
    },
    batch: (ops) => {
      counts.batch += 1;
      return inner.batch(ops);
    },
  };
}

interface Setup {
  clock?: FakeClock;
  storage?: Storage;
  revoker?: LeaseManagerDeps['revoker'];
  extra?: Partial<LeaseManagerDeps>;
}

function setup(options: Setup = {}) {
  const clock = options.clock ?? new FakeClock(T0);
  const storage = options.storage ?? memoryStorage();
  const revoked: { id: string; at: number }[] = [];
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const manager = new LeaseManager({
    storage,
    now: () => clock.now,
    timers: clock.timers,
    revoker:
      options.revoker ??
      ((lease) => {
        revoked.push({ id: lease.id, at: clock.now });
        return Promise.resolve();
      }),
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    ...options.extra,
  });
  return { clock, storage, manager, revoked, warnings };
}

function lease(overrides: Partial<RegisterLeaseOptions> = {}): RegisterLeaseOptions {
  return {
    path: 'database/creds/app',
    mountPath: 'database/',
    secretType: 'creds',
    internal: { username: 'v-app-1' },
    ttlSeconds: 60,
    maxTtlSeconds: 0,
    renewable: true,
    ...overrides,
  };
}

function keys(storage: { entries: Map<string, Uint8Array> }): string[] {
  return [...storage.entries.keys()].sort();
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

/** A deterministic pseudo-random sequence (fixed seed). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('LeaseManager registration and storage layout', () => {
  it('stores a Vault-style lease id with its record and indices in one batch', async () => {
    const storage = memoryStorage();
    const counted = counting(storage);
    const { manager, clock } = setup({ storage: counted });
    const record = await manager.register(lease({ tokenHash: 'a'.repeat(64) }));
    expect(record.id).toMatch(/^database\/creds\/app\/[0-9A-Za-z]{22}$/);
    expect(counted.counts.batch).toBe(1);
    expect(record).toMatchObject({
      kind: 'secret',
      path: 'database/creds/app',
      issuedAt: clock.now,
      expiresAt: clock.now + 60_000,
      ttlSeconds: 60,
    });
    expect(keys(storage)).toEqual(
      [
        leaseRecordKey(record.id),
        expiryKey(record.expiresAt, record.id),
        tokenIndexKey('a'.repeat(64), record.id),
      ].sort(),
    );
    // The index is bucketed by day and minute and keeps the lease id in one segment.
    const expiry = expiryKey(record.expiresAt, record.id).split('/');
    expect(expiry).toHaveLength(4);
    expect(Number(expiry[1])).toBe(dayStart(record.expiresAt));
    expect(Number(expiry[2])).toBe(bucketStart(record.expiresAt));
    expect(await manager.lookup(record.id)).toEqual(record);
  });

  it('caps the first TTL at the max TTL and refuses nonsense from the core', async () => {
    const { manager } = setup();
    const record = await manager.register(lease({ ttlSeconds: 7200, maxTtlSeconds: 600 }));
    expect(record.ttlSeconds).toBe(600);
    await expectCoffer(manager.register(lease({ ttlSeconds: 0 })), 'internal');
    await expectCoffer(manager.register(lease({ tokenHash: '../x' })), 'internal');
    await expectCoffer(manager.register(lease({ path: '/' })), 'internal');
    const fixed = await manager.register(lease({ id: 'auth/token/create/abc', kind: 'token' }));
    expect(fixed.id).toBe('auth/token/create/abc');
    await expectCoffer(
      manager.register(lease({ id: 'auth/token/create/abc', kind: 'token' })),
      'invalid_request',
    );
  });

  it('refuses malformed lease ids from clients without touching storage', async () => {
    const { manager } = setup();
    for (const bad of ['', '/a', 'a/', 'a//b', 'a/../b', 'a/./b', 'a\u0000b', 'a\ud800b']) {
      await expectCoffer(manager.lookup(bad), 'invalid_request');
      await expectCoffer(manager.revoke(bad), 'invalid_request');
    }
    await expectCoffer(manager.listByPrefix('a//'), 'invalid_request');
  });

  it('reports a malformed stored record as an integrity failure', async () => {
    const storage = memoryStorage();
    const { manager } = setup({ storage });
    await storage.put(leaseRecordKey('x/y'), new TextEncoder().encode('{"id":"x/y"}'));
    await expectCoffer(manager.lookup('x/y'), 'integrity_failure');
  });
});

describe('LeaseManager expiry', () => {
  it('revokes a 2 s lease when the clock passes 2 s, not before', async () => {
    const { manager, clock, revoked, storage } = setup({ storage: memoryStorage() });
    await manager.open();
    const record = await manager.register(lease({ ttlSeconds: 2 }));
    await clock.advance(1_999, manager);
    expect(revoked).toEqual([]);
    await clock.advance(1, manager);
    expect(revoked).toEqual([{ id: record.id, at: T0 + 2_000 }]);
    expect(await manager.lookup(record.id)).toBeUndefined();
    expect(keys(storage as ReturnType<typeof memoryStorage>)).toEqual([]);
    manager.close();
  });

  it('revokes many leases in expiry order, each at its expiry time', async () => {
    const { manager, clock, revoked } = setup({ extra: { batchSize: 7 } });
    await manager.open();
    const random = lcg(42);
    const records: LeaseRecord[] = [];
    for (let i = 0; i < 300; i += 1) {
      records.push(await manager.register(lease({ ttlSeconds: 1 + Math.floor(random() * 900) })));
    }
    // Some registered later, into the already loaded window.
    await clock.advance(30_000, manager);
    for (let i = 0; i < 20; i += 1) {
      records.push(await manager.register(lease({ ttlSeconds: 1 + Math.floor(random() * 60) })));
    }
    await clock.advance(HOUR_MS, manager);
    expect(revoked).toHaveLength(records.length);
    const expected = [...records].sort(
      (a, b) => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : 1),
    );
    expect(revoked.map((r) => r.id)).toEqual(expected.map((r) => r.id));
    for (const r of expected) {
      expect(revoked.find((x) => x.id === r.id)?.at).toBe(r.expiresAt);
    }
    manager.close();
  });

  it('survives a restart: overdue leases are revoked right after open, future ones on time', async () => {
    const storage = memoryStorage();
    const clock = new FakeClock(T0);
    const first = setup({ storage, clock });
    await first.manager.open();
    const soon = await first.manager.register(lease({ ttlSeconds: 10 }));
    const later = await first.manager.register(lease({ ttlSeconds: 3 * 3600 }));
    first.manager.close(); // sealed / process gone
    clock.now += 5 * 60_000;

    const second = setup({ storage, clock });
    await second.manager.open();
    expect(second.revoked).toEqual([]); // open itself never waits on engines
    await clock.advance(0, second.manager);
    expect(second.revoked.map((r) => r.id)).toEqual([soon.id]);
    await clock.advance(later.expiresAt - clock.now - 1, second.manager);
    expect(second.revoked).toHaveLength(1);
    await clock.advance(1, second.manager);
    expect(second.revoked.map((r) => r.id)).toEqual([soon.id, later.id]);
    expect(second.revoked[1]?.at).toBe(later.expiresAt);
    expect(keys(storage)).toEqual([]);
  });

  it('holds only the due window in memory: 10,000 leases over a day', async () => {
    const storage = memoryStorage();
    const clock = new FakeClock(T0);
    const writer = setup({ storage, clock });
    const records: LeaseRecord[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      records.push(await writer.manager.register(lease({ ttlSeconds: 1 + i * 8 })));
    }
    const counted = counting(storage);
    let maxInMemory = 0;
    const holder: { manager?: LeaseManager } = {};
    const reader = setup({
      storage: counted,
      clock,
      revoker: () => {
        maxInMemory = Math.max(maxInMemory, holder.manager?.stats().inMemory ?? 0);
        return Promise.resolve();
      },
    });
    holder.manager = reader.manager;
    await reader.manager.open();
    const { inMemory, horizon } = reader.manager.stats();
    const dueInWindow = records.filter((r) => r.expiresAt < horizon).length;
    expect(inMemory).toBe(dueInWindow);
    expect(inMemory).toBeLessThanOrEqual(20);
    expect(counted.counts.get).toBe(0); // not one lease record read to open
    expect(counted.counts.list).toBeLessThanOrEqual(5);
    await clock.advance(2 * HOUR_MS, reader.manager);
    expect(maxInMemory).toBeLessThanOrEqual(20);
    const left = records.filter((r) => r.expiresAt > clock.now).length;
    expect(keys(storage).filter((k) => k.startsWith('id/'))).toHaveLength(left);
    reader.manager.close();
  });

  it('opens with 100,000 stored leases due next week with the same reads as with none', async () => {
    const open = async (count: number) => {
      const storage = memoryStorage();
      const clock = new FakeClock(T0);
      const writer = setup({ storage, clock });
      const jobs: Promise<LeaseRecord>[] = [];
      for (let i = 0; i < count; i += 1) {
        jobs.push(writer.manager.register(lease({ ttlSeconds: 7 * 86_400 + (i % 86_400) })));
        if (jobs.length === 1_000) await Promise.all(jobs.splice(0));
      }
      await Promise.all(jobs);
      const counted = counting(storage);
      const reader = setup({ storage: counted, clock });
      const started = performance.now();
      await reader.manager.open();
      const elapsedMs = performance.now() - started;
      reader.manager.close();
      return { counts: { ...counted.counts }, elapsedMs, inMemory: 0 };
    };
    const none = await open(0);
    const many = await open(100_000);
    console.log(
      `lease open(): none ${JSON.stringify(none.counts)} in ${none.elapsedMs.toFixed(1)} ms; ` +
        `100,000 due next week ${JSON.stringify(many.counts)} in ${many.elapsedMs.toFixed(1)} ms`,
    );
    expect(many.counts).toEqual(none.counts);
    expect(many.counts.get).toBe(0);
  }, 60_000);

  it('bounds memory while working through a large backlog of overdue leases', async () => {
    const storage = memoryStorage();
    const clock = new FakeClock(T0);
    const writer = setup({ storage, clock });
    const records: LeaseRecord[] = [];
    for (let i = 0; i < 2_000; i += 1) {
      records.push(await writer.manager.register(lease({ ttlSeconds: 1 + i * 3 })));
    }
    clock.now += 3 * HOUR_MS; // down for three hours
    let maxInMemory = 0;
    const holder: { manager?: LeaseManager } = {};
    const order: string[] = [];
    const reader = setup({
      storage,
      clock,
      revoker: (l) => {
        order.push(l.id);
        maxInMemory = Math.max(maxInMemory, holder.manager?.stats().inMemory ?? 0);
        return Promise.resolve();
      },
      extra: { maxLoaded: 500, batchSize: 100 },
    });
    holder.manager = reader.manager;
    await reader.manager.open();
    expect(reader.manager.stats().inMemory).toBeLessThanOrEqual(500 + 20);
    await clock.advance(0, reader.manager);
    expect(order).toEqual(records.map((r) => r.id)); // in expiry order
    expect(maxInMemory).toBeLessThanOrEqual(500 + 20);
    expect(keys(storage)).toEqual([]);
  });

  it('does not lose a lease registered while the window is being loaded', async () => {
    const inner = memoryStorage();
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let gated = false;
    const slow: Storage = {
      ...inner,
      list: async (prefix) => {
        const listed = await inner.list(prefix); // the snapshot is taken before the register
        if (!gated && prefix === 'exp/') {
          gated = true;
          reached();
          await gate;
        }
        return listed;
      },
    };
    const { manager, clock, revoked } = setup({ storage: slow });
    const opening = manager.open();
    await atGate;
    const record = await manager.register(lease({ ttlSeconds: 5 }));
    release();
    await opening;
    await clock.advance(5_000, manager);
    expect(revoked).toEqual([{ id: record.id, at: T0 + 5_000 }]);
    manager.close();
  });

  it('stops on close and resumes on the next open', async () => {
    const storage = memoryStorage();
    const { manager, clock, revoked } = setup({ storage });
    await manager.open();
    const record = await manager.register(lease({ ttlSeconds: 1 }));
    manager.close();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(10_000, manager);
    expect(revoked).toEqual([]);
    await manager.open();
    await clock.advance(0, manager);
    expect(revoked.map((r) => r.id)).toEqual([record.id]);
    manager.close();
  });

  it('keeps a lease whose deletion failed and revokes it again later', async () => {
    const inner = memoryStorage();
    let failNextBatch = false;
    const flaky: Storage = {
      ...inner,
      batch: (ops: readonly StorageOp[]) => {
        if (failNextBatch && ops.some((op) => op.op === 'delete')) {
          failNextBatch = false;
          return Promise.reject(new CofferError('internal', 'storage write failed'));
        }
        return inner.batch(ops);
      },
    };
    const { manager, clock, revoked, warnings } = setup({
      storage: flaky,
      extra: { retry: { baseMs: 5_000 } },
    });
    await manager.open();
    const record = await manager.register(lease({ ttlSeconds: 1 }));
    failNextBatch = true;
    await clock.advance(1_000, manager);
    expect(revoked).toHaveLength(1);
    expect(await manager.lookup(record.id)).toBeDefined();
    expect(warnings.map((w) => w.msg)).toContain('lease expiry failed');
    await clock.advance(5_000, manager);
    expect(revoked.map((r) => r.at)).toEqual([T0 + 1_000, T0 + 6_000]);
    expect(keys(inner)).toEqual([]);
    manager.close();
  });
});

describe('LeaseManager failed revocations', () => {
  it('retries with exponential backoff, then marks the lease irrevocable with a safe error', async () => {
    const storage = memoryStorage();
    const clock = new FakeClock(T0);
    const attempts: number[] = [];
    const { manager, warnings } = setup({
      storage,
      clock,
      revoker: () => {
        attempts.push(clock.now);
        return Promise.reject(new Error('dial postgres://admin:hunter2@db failed'));
      },
    });
    await manager.open();
    const record = await manager.register(lease({ ttlSeconds: 1 }));
    await clock.advance(1_000, manager);
    expect((await manager.lookup(record.id))?.attempts).toBe(1);
    await clock.advance(9_999, manager);
    expect(attempts).toHaveLength(1);
    await clock.advance(DAY_MS, manager);
    const first = T0 + 1_000;
    expect(attempts).toEqual([
      first,
      first + 10_000,
      first + 30_000,
      first + 70_000,
      first + 150_000,
      first + 310_000,
    ]);
    const stored = await manager.lookup(record.id);
    expect(stored).toMatchObject({ irrevocable: true, attempts: 6 });
    expect(stored?.lastError).toBe('internal: revocation failed (Error)');
    expect(storage.entries.has(irrevocableKey(record.id))).toBe(true);
    expect(keys(storage).filter((k) => k.startsWith('exp/'))).toEqual([]);
    expect((await manager.irrevocable()).map((l) => l.id)).toEqual([record.id]);
    expect(JSON.stringify(warnings)).not.toContain('hunter2');
    expect(JSON.stringify(stored)).not.toContain('hunter2');
    expect(warnings.at(-1)?.obj).toMatchObject({ lease_id: record.id, attempts: 6 });
    await expectCoffer(
      manager.renew(record.id, 60),
      'invalid_request',
      'lease is expired and has failed previous revocation attempts',
    );
    manager.close();
  });

  it('succeeds on a later attempt, including across a restart', async () => {
    const storage = memoryStorage();
    const clock = new FakeClock(T0);
    let failures = 2;
    const calls: number[] = [];
    const revoker = () => {
      calls.push(clock.now);
      if (failures > 0) {
        failures -= 1;
        return Promise.reject(new CofferError('upstream_failure', 'database unreachable'));
      }
      return Promise.resolve();
    };
    const first = setup({ storage, clock, revoker });
    await first.manager.open();
    const record = await first.manager.register(lease({ ttlSeconds: 1 }));
    await first.manager.open();
    await clock.advance(1_000, first.manager);
    expect(await first.manager.lookup(record.id)).toMatchObject({
      attempts: 1,
      nextAttemptAt: T0 + 11_000,
      lastError: 'upstream_failure: database unreachable',
    });
    first.manager.close();
    const second = setup({ storage, clock, revoker });
    await second.manager.open();
    await clock.advance(60_000, second.manager);
    expect(calls).toEqual([T0 + 1_000, T0 + 11_000, T0 + 31_000]);
    expect(keys(storage)).toEqual([]);
    second.manager.close();
  });

  it('gives up at once on an error retrying cannot fix (the mount is gone)', async () => {
    const { manager, clock } = setup({
      revoker: () => Promise.reject(new CofferError('no_route', 'no handler for route')),
    });
    await manager.open();
    const record = await manager.register(lease({ ttlSeconds: 1 }));
    await clock.advance(1_000, manager);
    expect(await manager.lookup(record.id)).toMatchObject({ irrevocable: true, attempts: 1 });
    manager.close();
  });

  it('revoke-force removes leases whose engine fails; plain revoke reports the failure', async () => {
    const storage = memoryStorage();
    let calls = 0;
    const { manager, clock, warnings } = setup({
      storage,
      revoker: () => {
        calls += 1;
        return Promise.reject(new CofferError('upstream_failure', 'database unreachable'));
      },
      extra: { retry: { maxAttempts: 1 } },
    });
    await manager.open();
    const stuck = await manager.register(lease({ ttlSeconds: 1 }));
    const live = await manager.register(lease({ ttlSeconds: 600 }));
    await clock.advance(1_000, manager);
    expect(await manager.lookup(stuck.id)).toMatchObject({ irrevocable: true });
    await expectCoffer(manager.revoke(live.id), 'upstream_failure', 'database unreachable');
    expect(await manager.lookup(live.id)).toBeDefined();
    await expectCoffer(manager.revokePrefix('database/creds/'), 'upstream_failure');
    calls = 0;
    expect(await manager.revokePrefix('database/', { force: true })).toBe(2);
    expect(calls).toBe(2);
    expect(keys(storage)).toEqual([]);
    expect(await manager.irrevocable()).toEqual([]);
    expect(warnings.some((w) => w.msg.startsWith('revoke-force'))).toBe(true);
    manager.close();
  });
});

describe('LeaseManager renew', () => {
  it('renews by the increment, capped by the max TTL from issue time', async () => {
    const storage = memoryStorage();
    const { manager, clock, revoked } = setup({ storage });
    await manager.open();
    const record = await manager.register(lease({ ttlSeconds: 60, maxTtlSeconds: 120 }));
    await clock.advance(30_000, manager);
    const small = await manager.renew(record.id, 45);
    expect(small).toMatchObject({ ttlSeconds: 45, warnings: [] });
    expect(small.lease).toMatchObject({ expiresAt: T0 + 75_000, lastRenewalAt: T0 + 30_000 });
    const big = await manager.renew(record.id, 3600);
    expect(big.ttlSeconds).toBe(90);
    expect(big.lease.expiresAt).toBe(T0 + 120_000);
    expect(big.warnings[0]).toContain('capped');
    // The index moved with it: one expiry entry, at the new time.
    expect(keys(storage).filter((k) => k.startsWith('exp/'))).toEqual([
      expiryKey(T0 + 120_000, record.id),
    ]);
    await clock.advance(60_000, manager); // the original expiry passes
    expect(revoked).toEqual([]);
    await clock.advance(30_000, manager);
    expect(revoked).toEqual([{ id: record.id, at: T0 + 120_000 }]);
    manager.close();
  });

  it('renews without an increment by the TTL granted at issue, or the engine’s answer', async () => {
    const seen: number[] = [];
    const { manager, clock } = setup({
      extra: {
        renewer: (_lease, increment) => {
          seen.push(increment);
          return Promise.resolve({ ttlSeconds: 40, maxTtlSeconds: 100, internal: { n: 2 } });
        },
      },
    });
    const plain = setup({ clock });
    const a = await plain.manager.register(lease({ ttlSeconds: 60 }));
    clock.now += 10_000;
    expect((await plain.manager.renew(a.id, 0)).ttlSeconds).toBe(60);
    const b = await manager.register(lease({ ttlSeconds: 60 }));
    expect((await manager.renew(b.id, 0)).ttlSeconds).toBe(40);
    const capped = await manager.renew(b.id, 500);
    expect(capped.ttlSeconds).toBe(100);
    expect(capped.lease.internal).toEqual({ n: 2 });
    expect(seen).toEqual([0, 500]);
  });

  it('refuses unknown, expired, non-renewable and token leases', async () => {
    const { manager, clock } = setup();
    await expectCoffer(
      manager.renew('database/creds/app/nope', 60),
      'invalid_request',
      'lease not found',
    );
    const fixed = await manager.register(lease({ renewable: false }));
    await expectCoffer(manager.renew(fixed.id, 60), 'invalid_request', 'lease is not renewable');
    const token = await manager.register(
      lease({ kind: 'token', id: 'auth/token/create/h1', path: 'auth/token/create' }),
    );
    await expectCoffer(
      manager.renew(token.id, 60),
      'invalid_request',
      'tokens cannot be renewed through this endpoint',
    );
    expect((await manager.renew(token.id, 60, { allowToken: true })).ttlSeconds).toBe(60);
    const short = await manager.register(lease({ ttlSeconds: 1 }));
    clock.now += 1_000; // expired but not yet revoked (the manager is not open)
    await expectCoffer(manager.renew(short.id, 60), 'invalid_request', 'lease expired');
    await expectCoffer(manager.renew(short.id, -1), 'invalid_request');
  });

  it('reschedules a token lease after the token store renewed the token', async () => {
    const { manager, clock, revoked } = setup();
    await manager.open();
    const token = await manager.register(
      lease({
        kind: 'token',
        id: 'auth/token/create/h2',
        path: 'auth/token/create',
        ttlSeconds: 5,
      }),
    );
    await manager.reschedule(token.id, T0 + 30_000);
    await clock.advance(29_999, manager);
    expect(revoked).toEqual([]);
    await clock.advance(1, manager);
    expect(revoked).toEqual([{ id: token.id, at: T0 + 30_000 }]);
    expect(await manager.reschedule(token.id, T0)).toBeUndefined();
    manager.close();
  });
});

describe('LeaseManager revocation', () => {
  it('revokes through the revoker once, idempotently, and deletes every key', async () => {
    const storage = memoryStorage();
    const { manager, revoked } = setup({ storage });
    await manager.open();
    const record = await manager.register(lease({ tokenHash: 'b'.repeat(64) }));
    const [one, two] = await Promise.all([manager.revoke(record.id), manager.revoke(record.id)]);
    expect([one, two]).toEqual([true, false]);
    expect(revoked.map((r) => r.id)).toEqual([record.id]);
    expect(keys(storage)).toEqual([]);
    expect(await manager.revoke('database/creds/app/unknown')).toBe(false);
    expect(manager.stats().inMemory).toBe(0);
    manager.close();
  });

  it('revokes lazily with sync false: due now, revoked on the next turn', async () => {
    const { manager, clock, revoked } = setup();
    await manager.open();
    const record = await manager.register(lease({ ttlSeconds: 3600 }));
    expect(await manager.revoke(record.id, { sync: false })).toBe(true);
    expect(revoked).toEqual([]);
    expect((await manager.lookup(record.id))?.expiresAt).toBe(T0);
    await clock.advance(0, manager);
    expect(revoked.map((r) => r.id)).toEqual([record.id]);
    manager.close();
  });

  it('revokes by prefix, by exact id, lazily, and refuses an empty prefix', async () => {
    const storage = memoryStorage();
    const { manager, clock, revoked } = setup({ storage });
    await manager.open();
    const app = [
      await manager.register(lease()),
      await manager.register(lease()),
      await manager.register(lease({ path: 'database/creds/app/nested' })),
    ];
    const other = await manager.register(lease({ path: 'database/creds/other' }));
    const aws = await manager.register(lease({ path: 'aws/creds/x', mountPath: 'aws/' }));
    expect(await manager.revokePrefix('database/creds/ap')).toBe(0); // whole segments only
    expect(await manager.revokePrefix(other.id)).toBe(1);
    expect(await manager.revokePrefix('database/creds/app')).toBe(3);
    expect(revoked.map((r) => r.id).sort()).toEqual([other.id, ...app.map((r) => r.id)].sort());
    await expectCoffer(manager.revokePrefix(''), 'invalid_request');
    expect(await manager.revokePrefix('aws/', { sync: false })).toBe(1);
    expect(revoked).toHaveLength(4);
    await clock.advance(0, manager);
    expect(revoked.at(-1)?.id).toBe(aws.id);
    expect(keys(storage)).toEqual([]);
    manager.close();
  });

  it('revokes the leases a token owns, and only those', async () => {
    const storage = memoryStorage();
    const { manager, clock, revoked } = setup({ storage });
    await manager.open();
    const owner = 'c'.repeat(64);
    const mine = [
      await manager.register(lease({ tokenHash: owner })),
      await manager.register(lease({ tokenHash: owner, ttlSeconds: 7 * 86_400 })),
    ];
    const theirs = await manager.register(lease({ tokenHash: 'd'.repeat(64) }));
    expect(await manager.revokeByToken(owner)).toBe(2);
    await clock.advance(0, manager);
    expect(revoked.map((r) => r.id).sort()).toEqual(mine.map((r) => r.id).sort());
    expect(keys(storage).some((k) => k.startsWith(`token/${owner}/`))).toBe(false);
    expect(await manager.lookup(theirs.id)).toBeDefined();
    expect(await manager.revokeByToken(owner)).toBe(0);
    manager.close();
  });

  it('forgets a lease without calling the revoker', async () => {
    const storage = memoryStorage();
    const { manager, revoked } = setup({ storage });
    const record = await manager.register(lease());
    expect(await manager.forget(record.id)).toBe(true);
    expect(await manager.forget(record.id)).toBe(false);
    expect(revoked).toEqual([]);
    expect(keys(storage)).toEqual([]);
  });

  it('lists lease ids by prefix, folders ending with "/"', async () => {
    const { manager } = setup();
    const a = await manager.register(lease());
    await manager.register(lease({ path: 'database/creds/app/nested' }));
    await manager.register(lease({ path: 'aws/creds/x', mountPath: 'aws/' }));
    expect(await manager.listByPrefix('')).toEqual(['aws/', 'database/']);
    expect(await manager.listByPrefix('database')).toEqual(['creds/']);
    const inApp = await manager.listByPrefix('database/creds/app/');
    expect(inApp).toContain(a.id.slice('database/creds/app/'.length));
    expect(inApp).toContain('nested/');
    expect(await manager.listByPrefix('nothing/')).toEqual([]);
  });
});
