// The real argon2id hasher: its parameters, verification, the dummy hash for unknown users, and
// that hashing leaves the event loop free.
import { parseOptions } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { ARGON2_PARAMS, argon2Hasher } from './hasher.js';

describe('argon2 hasher', () => {
  it('hashes with argon2id at the OWASP minimum (m=19456 KiB, t=2, p=1)', async () => {
    const hasher = argon2Hasher();
    const stored = await hasher.hash('correct horse');
    expect(stored.startsWith('$argon2id$v=19$m=19456,t=2,p=1$')).toBe(true);
    expect(stored).not.toContain('correct horse');
    expect(parseOptions(stored)).toMatchObject({
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
      outputLen: 32,
      saltLen: 16,
    });
    expect(ARGON2_PARAMS).toMatchObject({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  });

  it('verifies the right password only; two hashes of one password differ (random salt)', async () => {
    const hasher = argon2Hasher();
    const a = await hasher.hash('pw');
    const b = await hasher.hash('pw');
    expect(a).not.toBe(b);
    expect(await hasher.verify(a, 'pw')).toBe(true);
    expect(await hasher.verify(a, 'pw ')).toBe(false);
    expect(await hasher.verify(b, 'PW')).toBe(false);
  });

  it('has a dummy hash with the same parameters, stable per hasher, matching nothing simple', async () => {
    const hasher = argon2Hasher();
    const dummy = await hasher.dummyHash();
    expect(await hasher.dummyHash()).toBe(dummy);
    expect(parseOptions(dummy)).toEqual(parseOptions(await hasher.hash('x')));
    expect(await hasher.verify(dummy, '')).toBe(false);
    expect(await hasher.verify(dummy, 'dummy')).toBe(false);
  });

  it('reports a malformed stored hash as an integrity failure', async () => {
    const error: unknown = await argon2Hasher()
      .verify('not-a-hash', 'pw')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'integrity_failure',
      message: 'stored password hash is malformed',
    });
    // The library's own error is kept as the cause, for the server log.
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('does not block the event loop while hashing', async () => {
    // A 1 ms timer set after the hash starts fires before the hash ends. A KDF that blocked the
    // event loop could never let it, in any attempt; a process descheduled mid-hash on a loaded
    // machine can lose one attempt, so up to five are made.
    const hasher = argon2Hasher();
    const orders: string[][] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const order: string[] = [];
      const hashed = hasher.hash('pw').then(() => order.push('hash'));
      const timer = new Promise<void>((resolve) =>
        setTimeout(() => {
          order.push('timer');
          resolve();
        }, 1),
      );
      await Promise.all([hashed, timer]);
      orders.push(order);
      if (order[0] === 'timer') break;
    }
    expect(orders.at(-1)).toEqual(['timer', 'hash']);
  });
});
