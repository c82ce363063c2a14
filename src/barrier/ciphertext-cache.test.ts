// The ciphertext cache: LRU bound, and no stale fill from a read that raced a write.
import { describe, expect, it } from 'vitest';
import { CiphertextCache } from './ciphertext-cache.js';

const v = (n: number): Uint8Array => Uint8Array.of(n);

describe('CiphertextCache', () => {
  it('returns what was filled', () => {
    const cache = new CiphertextCache(10);
    cache.fill('a', v(1), cache.readToken());
    expect(cache.get('a')).toEqual(v(1));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(1); // a miss adds nothing
  });

  it('evicts the least recently used entry beyond its bound', () => {
    const cache = new CiphertextCache(2);
    cache.fill('a', v(1), cache.readToken());
    cache.fill('b', v(2), cache.readToken());
    cache.get('a'); // a is now the most recent
    cache.fill('c', v(3), cache.readToken());
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual(v(1));
    expect(cache.get('c')).toEqual(v(3));
  });

  it('does not fill from a read that a write overtook', () => {
    const cache = new CiphertextCache(10);
    const token = cache.readToken();
    cache.invalidate('a'); // a write started (or finished) while the read was in flight
    cache.fill('a', v(1), token);
    expect(cache.get('a')).toBeUndefined();
  });

  it('invalidate and clear drop entries', () => {
    const cache = new CiphertextCache(10);
    cache.fill('a', v(1), cache.readToken());
    cache.fill('b', v(2), cache.readToken());
    cache.invalidate('a');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toEqual(v(2));
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('caches nothing with a bound of 0', () => {
    const cache = new CiphertextCache(0);
    cache.fill('a', v(1), cache.readToken());
    expect(cache.get('a')).toBeUndefined();
  });
});
