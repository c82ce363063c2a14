// KeyedMutex: one callback at a time per key, in order, different keys in parallel, no leak.
import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.js';

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

describe('KeyedMutex', () => {
  it('runs callbacks for one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        mutex.run('k', async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          log.push(`start${n}`);
          await tick();
          log.push(`end${n}`);
          inside -= 1;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(log).toEqual(['start1', 'end1', 'start2', 'end2', 'start3', 'end3', 'start4', 'end4']);
    expect(mutex.size).toBe(0);
  });

  it('runs different keys in parallel', async () => {
    const mutex = new KeyedMutex();
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      ['a', 'b', 'c'].map((k) =>
        mutex.run(k, async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          await tick();
          inside -= 1;
        }),
      ),
    );
    expect(maxInside).toBe(3);
  });

  it('keeps going after a callback throws, and returns values', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await mutex.run('k', () => Promise.resolve(42))).toBe(42);
    expect(mutex.size).toBe(0);
  });
});
