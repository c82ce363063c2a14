// The plaintext cache: served only for the ciphertext it came from and within its lifetime,
// bounded in bytes, handed out as copies, and zero-filled whenever it lets a value go.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PlaintextCache } from './plaintext-cache.js';

function cache(options: { lifetimeMs?: number; maxBytes?: number; maxValueBytes?: number } = {}) {
  let clock = 1_000;
  const made = new PlaintextCache({
    lifetimeMs: options.lifetimeMs ?? 100,
    maxBytes: options.maxBytes ?? 1_000,
    maxValueBytes: options.maxValueBytes ?? 100,
    now: () => clock,
  });
  return {
    cache: made,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const zeroed = (buffer: Uint8Array): boolean => buffer.every((b) => b === 0);

afterEach(() => {
  vi.useRealTimers();
});

describe('PlaintextCache', () => {
  it('serves a copy for the same ciphertext buffer only', () => {
    const { cache: c } = cache();
    const blob = bytes(9);
    const plaintext = bytes(1, 2);
    c.keep('k', blob, plaintext);
    const served = c.get('k', blob)!;
    expect(served).toEqual(bytes(1, 2));
    served.fill(7); // a reader's copy
    expect(c.get('k', blob)).toEqual(bytes(1, 2));
    // Another buffer, even with the same bytes, is another ciphertext: the kept one goes.
    expect(c.get('k', bytes(9))).toBeUndefined();
    expect(zeroed(plaintext)).toBe(true);
    expect(c.get('k', blob)).toBeUndefined();
    expect(c.get('other', blob)).toBeUndefined();
  });

  it('lets a value go when its lifetime is over, zero-filled', () => {
    const { cache: c, advance } = cache({ lifetimeMs: 100 });
    const blob = bytes(9);
    const plaintext = bytes(1);
    c.keep('k', blob, plaintext);
    advance(99);
    expect(c.get('k', blob)).toEqual(bytes(1));
    advance(1);
    expect(c.get('k', blob)).toBeUndefined();
    expect(zeroed(plaintext)).toBe(true);
    expect(c.size).toBe(0);
  });

  it('sweeps a quarter of a lifetime apart, and at least a second apart', () => {
    vi.useFakeTimers();
    const { cache: c, advance } = cache({ lifetimeMs: 40_000 });
    const kept = bytes(1);
    c.keep('k', bytes(9), kept);
    advance(40_000); // expired, but nobody reads it
    vi.advanceTimersByTime(9_999);
    expect(zeroed(kept)).toBe(false);
    vi.advanceTimersByTime(1);
    expect(zeroed(kept)).toBe(true);
    const { cache: short } = cache({ lifetimeMs: 100 });
    short.keep('k', bytes(9), bytes(1));
    vi.advanceTimersByTime(999);
    expect(short.size).toBe(1); // a 25 ms lifetime / 4 would have swept it by now
    short.clear();
  });

  it('sweeps expired values that nobody reads, and stops sweeping when empty', () => {
    vi.useFakeTimers();
    const { cache: c, advance } = cache({ lifetimeMs: 4_000 });
    const old = bytes(1);
    const fresh = bytes(2);
    c.keep('old', bytes(9), old);
    advance(2_000);
    c.keep('fresh', bytes(9), fresh);
    advance(2_000);
    vi.advanceTimersByTime(1_000); // the sweep runs every lifetime / 4
    expect(zeroed(old)).toBe(true);
    expect(zeroed(fresh)).toBe(false);
    expect(c.size).toBe(1);
    advance(2_000);
    vi.advanceTimersByTime(1_000);
    expect(zeroed(fresh)).toBe(true);
    expect(c.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps within its byte bound, letting the least recently used go first', () => {
    const { cache: c } = cache({ maxBytes: 4, maxValueBytes: 4 });
    const [a, b, d] = [bytes(1, 1), bytes(2, 2), bytes(3, 3)];
    const blob = bytes(9);
    c.keep('a', blob, a);
    c.keep('b', blob, b);
    c.get('a', blob); // a is now the most recent
    c.keep('d', blob, d);
    expect(c.bytes).toBe(4);
    expect(zeroed(b)).toBe(true);
    expect(c.get('b', blob)).toBeUndefined();
    expect(c.get('a', blob)).toEqual(bytes(1, 1));
    expect(c.get('d', blob)).toEqual(bytes(3, 3));
  });

  it('does not keep a value over its size limit, or anything with a lifetime of 0', () => {
    vi.useFakeTimers();
    const large = bytes(1, 2, 3);
    const { cache: c } = cache({ maxValueBytes: 2 });
    c.keep('k', bytes(9), large);
    expect(c.size).toBe(0);
    expect(zeroed(large)).toBe(true);
    c.keep('k', bytes(9), bytes(1, 2)); // exactly the limit is kept
    expect(c.size).toBe(1);
    c.clear();
    const { cache: off } = cache({ lifetimeMs: 0 });
    const small = bytes(1);
    off.keep('k', bytes(9), small);
    expect(off.size).toBe(0);
    expect(zeroed(small)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('zero-fills on drop, on a new value for the key, and on clear', () => {
    vi.useFakeTimers();
    const { cache: c } = cache();
    const blob = bytes(9);
    const [a, a2, b] = [bytes(1), bytes(2), bytes(3)];
    c.keep('a', blob, a);
    c.keep('a', blob, a2);
    expect(zeroed(a)).toBe(true);
    c.keep('b', blob, b);
    c.drop('a');
    expect(zeroed(a2)).toBe(true);
    expect(c.bytes).toBe(1);
    c.clear();
    expect(zeroed(b)).toBe(true);
    expect([c.size, c.bytes, vi.getTimerCount()]).toEqual([0, 0, 0]);
  });
});
