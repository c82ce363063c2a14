// The write-ahead store: entries per mount, read back by id (a failed lease registration) or
// by age (the sweep after a crash), and dropped with their mount.
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../sdk/testing.js';
import { WalStore } from './wal-store.js';

describe('WalStore', () => {
  it('reads entries back by id and by age, per mount, and drops a mount’s entries', async () => {
    let now = 1_000;
    const store = new WalStore({ storage: memoryStorage(), now: () => now });
    const a = store.forMount('mount-a');
    const first = await a.put('user', { name: 'u1' });
    now = 2_000;
    const second = await a.put('user', { name: 'u2' });
    await store.forMount('mount-b').put('user', { name: 'other' });

    expect(await store.entries('mount-a', [second, 'not-an-id', first])).toMatchObject([
      { id: second, kind: 'user', data: { name: 'u2' }, createdAt: 2_000 },
      { id: first, data: { name: 'u1' }, createdAt: 1_000 },
    ]);
    expect((await store.entriesBefore('mount-a', 2_000)).map((e) => e.id)).toEqual([first]);
    expect((await store.mounts()).sort()).toEqual(['mount-a', 'mount-b']);

    await a.delete(first);
    expect(await store.entries('mount-a', [first])).toEqual([]);
    await store.dropMount('mount-a');
    expect(await store.entriesBefore('mount-a', Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(await store.entriesBefore('mount-b', Number.MAX_SAFE_INTEGER)).toHaveLength(1);
  });
});
