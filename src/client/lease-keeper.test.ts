import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CofferClient } from './client.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { SecretLease } from './resolve.js';
import { recordingFetch } from './testing.js';
import type { CannedReply } from './testing.js';

const LEASE: SecretLease = {
  leaseId: 'database/creds/app/abc',
  leaseDurationSeconds: 3600,
  renewable: true,
};

function renewal(seconds: number, renewable = true): CannedReply {
  return {
    body: { lease_id: LEASE.leaseId, lease_duration: seconds, renewable, data: null },
  };
}

/** A keeper whose server answers renewals from `answers` in turn (the last one repeats). */
function setup(answers: (CannedReply | 'down')[]) {
  let i = 0;
  const rec = recordingFetch(() => {
    const answer = answers[Math.min(i++, answers.length - 1)]!;
    if (answer === 'down') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    return answer;
  });
  const exhausted: string[] = [];
  const errors: string[] = [];
  const renewed: number[] = [];
  const keeper = new LeaseKeeper({
    client: new CofferClient({ address: 'http://127.0.0.1:8200', token: 't', fetch: rec.fetch }),
    onExhausted: (lease) => exhausted.push(lease.leaseId),
    onError: (error) => errors.push(error.message),
    onRenewed: (_lease, granted) => renewed.push(granted),
    now: () => Date.now(),
  });
  return { keeper, requests: rec.requests, exhausted, errors, renewed };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('keeping leases alive', () => {
  it('renews at 2/3 of the TTL, asking for the full TTL again, and keeps going', async () => {
    const t = setup([renewal(3600)]);
    t.keeper.track([LEASE]);
    await vi.advanceTimersByTimeAsync(2_399_000);
    expect(t.requests).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.requests).toHaveLength(1);
    expect(t.requests[0]!.path).toBe('sys/leases/renew');
    expect(t.requests[0]!.body).toEqual({ lease_id: LEASE.leaseId, increment: 3600 });
    await vi.advanceTimersByTimeAsync(2_400_000);
    expect(t.requests).toHaveLength(2);
    expect(t.renewed).toEqual([3600, 3600]);
    expect(t.exhausted).toEqual([]);
    t.keeper.close();
  });

  it('asks for fresh values 2/3 into the last stretch when the max TTL caps a renewal', async () => {
    const t = setup([renewal(900)]);
    t.keeper.track([LEASE]);
    await vi.advanceTimersByTimeAsync(2_400_000);
    expect(t.renewed).toEqual([900]);
    await vi.advanceTimersByTimeAsync(599_000);
    expect(t.exhausted).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.exhausted).toEqual([LEASE.leaseId]);
    await vi.advanceTimersByTimeAsync(10_000_000);
    expect(t.requests).toHaveLength(1);
    expect(t.exhausted).toHaveLength(1);
  });

  it('replaces a lease that is not renewable at 2/3 of its TTL, without asking the server', async () => {
    const t = setup([renewal(3600)]);
    t.keeper.track([{ ...LEASE, renewable: false }]);
    await vi.advanceTimersByTimeAsync(2_400_000);
    expect(t.exhausted).toEqual([LEASE.leaseId]);
    expect(t.requests).toHaveLength(0);
  });

  it('replaces a lease at once when the server refuses to renew it', async () => {
    const t = setup([{ status: 400, body: { errors: ['lease not found'] } }]);
    t.keeper.track([LEASE]);
    await vi.advanceTimersByTimeAsync(2_400_000);
    expect(t.exhausted).toEqual([LEASE.leaseId]);
  });

  it('retries while the server is down, and gives up only at expiry', async () => {
    const t = setup(['down', 'down', renewal(3600)]);
    t.keeper.track([LEASE]);
    await vi.advanceTimersByTimeAsync(2_400_000);
    expect(t.errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.requests).toHaveLength(3);
    expect(t.renewed).toEqual([3600]);
    expect(t.exhausted).toEqual([]);
    t.keeper.close();

    const down = setup(['down']);
    down.keeper.track([{ ...LEASE, leaseDurationSeconds: 30 }]);
    await vi.advanceTimersByTimeAsync(31_000);
    expect(down.exhausted).toEqual([LEASE.leaseId]);
  });

  it('forgets old leases on track() and everything on close()', async () => {
    const t = setup([renewal(3600)]);
    t.keeper.track([LEASE, { ...LEASE, leaseId: 'x/0', leaseDurationSeconds: 0 }]);
    expect(t.keeper.size).toBe(1);
    t.keeper.track([{ ...LEASE, leaseId: 'database/creds/app/new' }]);
    t.keeper.close();
    expect(t.keeper.size).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000_000);
    expect(t.requests).toHaveLength(0);
    expect(t.exhausted).toEqual([]);
  });

  it('keeps the schedule of a lease tracked again (a reused read), and says which are kept', async () => {
    const t = setup([renewal(20)]);
    const lease = { ...LEASE, leaseDurationSeconds: 60 };
    t.keeper.track([lease]);
    await vi.advanceTimersByTimeAsync(30_000);
    // Tracked again halfway: the renewal stays due at 40 s, not 30 s + 40 s.
    t.keeper.track([lease]);
    expect(t.keeper.isKept(lease.leaseId)).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.requests).toHaveLength(1);
    // Capped (20 < 60): exhausted 2/3 into the last stretch, and no longer kept, even if
    // tracked again.
    await vi.advanceTimersByTimeAsync(14_000);
    expect(t.exhausted).toEqual([lease.leaseId]);
    t.keeper.track([lease]);
    expect(t.keeper.isKept(lease.leaseId)).toBe(false);
    expect(t.keeper.isKept('database/creds/app/unknown')).toBe(false);
    t.keeper.close();
  });
});
