// The barrier: encryption round trips, path binding, tamper detection, seal/unseal, rotation,
// key status, reserved keys, the ciphertext cache, and the root-key helpers.
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createInmemBackend } from '../physical/inmem.js';
import type { PhysicalBackend } from '../physical/physical.js';
import { CofferError } from '../sdk/errors.js';
import type { StorageOp } from '../sdk/storage.js';
import {
  AesGcmBarrier,
  decryptWithKey,
  encryptWithKey,
  MIN_CIPHERTEXT_BYTES,
} from './aes-gcm-barrier.js';
import { BARRIER_KEYS } from './keys.js';
import { PlaintextCache } from './plaintext-cache.js';

const T0 = Date.UTC(2026, 0, 1);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/** A promise to wait on and the function that releases it. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { wait, release };
}

/** A physical backend that counts reads and puts and can hold or fail chosen calls. */
function instrumented(inner: PhysicalBackend): PhysicalBackend & {
  gets: number;
  lastValue: Uint8Array | undefined;
  putsTo: (key: string) => number;
  holdNextGet: () => () => void;
  holdNextPutTo: (key: string) => () => void;
  holdNextBatch: () => () => void;
  failPutsTo: Set<string>;
} {
  let batchHold: Promise<void> | undefined;
  let hold: Promise<void> | undefined;
  const putHolds = new Map<string, Promise<void>>();
  const puts = new Map<string, number>();
  const spy = {
    type: inner.type,
    gets: 0,
    /** What the last get returned: the buffer the barrier's ciphertext cache holds. */
    lastValue: undefined as Uint8Array | undefined,
    failPutsTo: new Set<string>(),
    putsTo: (key: string): number => puts.get(key) ?? 0,
    holdNextGet(): () => void {
      const { wait, release } = gate();
      hold = wait;
      return release;
    },
    /** The next put to `key` waits for the release before it writes anything. */
    holdNextPutTo(key: string): () => void {
      const { wait, release } = gate();
      putHolds.set(key, wait);
      return release;
    },
    /** The next batch waits for the release before it writes anything. */
    holdNextBatch(): () => void {
      const { wait, release } = gate();
      batchHold = wait;
      return release;
    },
    async get(key: string) {
      spy.gets += 1;
      const value = await inner.get(key);
      spy.lastValue = value;
      const waiting = hold;
      hold = undefined;
      if (waiting !== undefined) await waiting;
      return value;
    },
    async put(key: string, value: Uint8Array) {
      puts.set(key, spy.putsTo(key) + 1);
      const waiting = putHolds.get(key);
      putHolds.delete(key);
      if (waiting !== undefined) await waiting;
      if (spy.failPutsTo.has(key)) throw new Error('disk full');
      return inner.put(key, value);
    },
    delete: (key: string) => inner.delete(key),
    list: (prefix: string) => inner.list(prefix),
    async batch(ops: readonly StorageOp[]) {
      // StorageOp's contract: a backend may take anything but a put for a delete.
      for (const { op } of ops as readonly { op: string }[]) {
        if (op !== 'put' && op !== 'delete') throw new Error(`malformed op ${op}`);
      }
      const waiting = batchHold;
      batchHold = undefined;
      if (waiting !== undefined) await waiting;
      return inner.batch(ops);
    },
    close: () => inner.close(),
  };
  return spy;
}

async function setup(options: { cacheEntries?: number; plaintextLifetimeMs?: number } = {}) {
  let clock = T0;
  const physical = instrumented(createInmemBackend());
  const barrier = new AesGcmBarrier(physical, { now: () => clock, ...options });
  const rootKey = randomBytes(32);
  await barrier.initialize(rootKey);
  await barrier.unseal(rootKey);
  return {
    physical,
    barrier,
    rootKey,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

/** Lets every pending promise callback run (nothing here waits on real I/O). */
const idle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function errorOf(action: () => unknown): Promise<CofferError> {
  try {
    await action();
  } catch (err) {
    expect(err).toBeInstanceOf(CofferError);
    return err as CofferError;
  }
  throw new Error('expected a CofferError, got success');
}

function termOf(raw: Uint8Array): number {
  return Buffer.from(raw).readUInt32BE(0);
}

describe('AesGcmBarrier: initialize and unseal', () => {
  it('initializes sealed, with a keyring at core/keyring, once', async () => {
    const physical = createInmemBackend();
    const barrier = new AesGcmBarrier(physical, { now: () => T0 });
    const rootKey = randomBytes(32);
    expect(await barrier.isInitialized()).toBe(false);
    await barrier.initialize(rootKey);
    expect(await barrier.isInitialized()).toBe(true);
    expect(barrier.isSealed()).toBe(true);
    const stored = await physical.get(BARRIER_KEYS.keyring);
    expect(termOf(stored!)).toBe(0); // encrypted directly under the root key
    expect((await errorOf(() => barrier.initialize(rootKey))).code).toBe('already_initialized');
  });

  it('refuses a root key that is not 32 bytes', async () => {
    const barrier = new AesGcmBarrier(createInmemBackend(), { now: () => T0 });
    expect((await errorOf(() => barrier.initialize(new Uint8Array(16)))).code).toBe(
      'invalid_request',
    );
    expect((await errorOf(() => barrier.unseal(new Uint8Array(31)))).code).toBe('invalid_request');
  });

  it('refuses to unseal before initialization', async () => {
    const barrier = new AesGcmBarrier(createInmemBackend(), { now: () => T0 });
    expect((await errorOf(() => barrier.unseal(randomBytes(32)))).code).toBe('not_initialized');
  });

  it('a wrong root key fails, says nothing about the key, and stays sealed', async () => {
    const { barrier } = await setup();
    barrier.seal();
    const wrong = randomBytes(32);
    const err = await errorOf(() => barrier.unseal(wrong));
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(/does not decrypt the keyring/);
    expect(err.message).not.toContain(wrong.toString('hex'));
    expect(err.message).not.toContain(wrong.toString('base64'));
    expect(barrier.isSealed()).toBe(true);
    expect((await errorOf(() => barrier.get('x'))).code).toBe('sealed');
  });

  it('keeps its own copy of the root key (the caller may wipe theirs)', async () => {
    const { barrier, rootKey } = await setup();
    const copy = Buffer.from(rootKey);
    rootKey.fill(0);
    await barrier.rotate(); // needs the root key to store the keyring
    await barrier.put('k', text('v'));
    barrier.seal();
    await barrier.unseal(copy);
    expect(await barrier.get('k')).toEqual(text('v'));
  });

  it('unseal while unsealed is a no-op', async () => {
    const { barrier, physical, rootKey } = await setup();
    await barrier.put('k', text('v'));
    const reads = physical.gets;
    await barrier.unseal(rootKey);
    expect(physical.gets).toBe(reads); // not even the keyring is read again
    expect(await barrier.get('k')).toEqual(text('v'));
  });
});

describe('AesGcmBarrier: sealed', () => {
  it("every operation throws 'sealed' while sealed", async () => {
    const { barrier } = await setup();
    await barrier.put('k', text('v'));
    barrier.seal();
    barrier.seal(); // idempotent
    expect(barrier.isSealed()).toBe(true);
    const ops: (() => unknown)[] = [
      () => barrier.get('k'),
      () => barrier.put('k', text('v')),
      () => barrier.delete('k'),
      () => barrier.list(''),
      () => barrier.batch([{ op: 'put', key: 'k', value: text('v') }]),
      () => barrier.batch([]),
      () => barrier.rotate(),
      () => barrier.keyStatus(),
    ];
    for (const op of ops) {
      const err = await errorOf(op);
      expect(err.code).toBe('sealed');
      expect(err.message).toBe('Coffer is sealed');
    }
  });

  it("a read in flight when the barrier seals ends with 'sealed'", async () => {
    const { barrier, physical } = await setup({ cacheEntries: 0 });
    await barrier.put('k', text('v'));
    const release = physical.holdNextGet();
    const read = barrier.get('k');
    barrier.seal();
    release();
    expect((await errorOf(() => read)).code).toBe('sealed');
  });
});

describe('AesGcmBarrier: storage', () => {
  it('round-trips values, including empty and binary ones', async () => {
    const { barrier } = await setup();
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await barrier.put('a/b', all);
    await barrier.put('a/empty', new Uint8Array(0));
    expect(await barrier.get('a/b')).toEqual(all);
    expect(await barrier.get('a/empty')).toEqual(new Uint8Array(0));
    expect(await barrier.get('a/missing')).toBeUndefined();
    expect(await barrier.list('a/')).toEqual(['b', 'empty']);
    await barrier.delete('a/b');
    expect(await barrier.get('a/b')).toBeUndefined();
  });

  it('stores [term][0x02][nonce][ciphertext][tag] with no plaintext in it', async () => {
    const { barrier, physical } = await setup();
    const secret = text('correct horse battery staple');
    await barrier.put('s', secret);
    await barrier.put('t', secret);
    const raw = (await physical.get('s'))!;
    expect(raw.length).toBe(MIN_CIPHERTEXT_BYTES + secret.length);
    expect(termOf(raw)).toBe(1);
    expect(raw[4]).toBe(0x02);
    expect(Buffer.from(raw).includes(Buffer.from(secret))).toBe(false);
    const other = (await physical.get('t'))!;
    expect(Buffer.from(raw.subarray(5, 17)).equals(Buffer.from(other.subarray(5, 17)))).toBe(false); // fresh nonce per encryption
  });

  it('batch encrypts every put and applies puts and deletes together', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('old', text('1'));
    await barrier.batch([
      { op: 'put', key: 'new/a', value: text('a') },
      { op: 'put', key: 'new/b', value: text('b') },
      { op: 'delete', key: 'old' },
    ]);
    expect(await barrier.get('old')).toBeUndefined();
    expect(await barrier.get('new/a')).toEqual(text('a'));
    expect(termOf((await physical.get('new/b'))!)).toBe(1);
  });

  it('binds ciphertext to its path: an entry copied to another key fails', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('secret/a', text('alpha'));
    await physical.put('secret/b', (await physical.get('secret/a'))!);
    const err = await errorOf(() => barrier.get('secret/b'));
    expect(err.code).toBe('integrity_failure');
    expect(err.message).toBe('stored entry at secret/b failed its integrity check');
    expect(err.message).not.toContain('alpha');
  });

  it('a flipped bit at any position is an integrity failure, never other plaintext', async () => {
    const { barrier, physical } = await setup({ cacheEntries: 0 });
    await barrier.put('victim', text('the plaintext'));
    const raw = (await physical.get('victim'))!;
    for (let i = 0; i < raw.length; i += 1) {
      for (const bit of [0x01, 0x80]) {
        const tampered = Uint8Array.from(raw);
        tampered[i]! ^= bit;
        await physical.put('victim', tampered);
        const err = await errorOf(() => barrier.get('victim'));
        expect(err.code, `byte ${i} bit ${bit}`).toBe('integrity_failure');
      }
    }
    await physical.put('victim', raw);
    expect(await barrier.get('victim')).toEqual(text('the plaintext'));
  });

  it('short, truncated, extended, wrong-version and unknown-term entries fail', async () => {
    const { barrier, physical } = await setup({ cacheEntries: 0 });
    await barrier.put('e', text('value'));
    const raw = (await physical.get('e'))!;
    const unknownTerm = Uint8Array.from(raw);
    unknownTerm[3] = 9;
    const version = Uint8Array.from(raw);
    version[4] = 0x01;
    const bad = [
      new Uint8Array(0),
      raw.subarray(0, MIN_CIPHERTEXT_BYTES - 1),
      raw.subarray(0, raw.length - 1),
      Buffer.concat([raw, Buffer.of(0)]),
      unknownTerm,
      version,
    ];
    for (const blob of bad) {
      await physical.put('e', blob);
      expect((await errorOf(() => barrier.get('e'))).code).toBe('integrity_failure');
    }
  });

  it('the keyring itself is not readable as a barrier entry', async () => {
    const { barrier } = await setup();
    expect((await errorOf(() => barrier.get(BARRIER_KEYS.keyring))).code).toBe('integrity_failure');
  });

  it('refuses writes to the keyring and the seal entries, allows the rest of core/', async () => {
    const { barrier, physical } = await setup();
    const before = await physical.get(BARRIER_KEYS.keyring);
    for (const key of [
      BARRIER_KEYS.keyring,
      BARRIER_KEYS.keyringUsage,
      'core/seal-config',
      'core/seal/root-key',
    ]) {
      expect((await errorOf(() => barrier.put(key, text('x')))).code).toBe('permission_denied');
      expect((await errorOf(() => barrier.delete(key))).code).toBe('permission_denied');
    }
    const err = await errorOf(() =>
      barrier.batch([
        { op: 'put', key: 'core/mounts', value: text('m') },
        { op: 'delete', key: BARRIER_KEYS.keyring },
      ]),
    );
    expect(err.code).toBe('permission_denied');
    expect(await barrier.get('core/mounts')).toBeUndefined(); // nothing of the batch applied
    expect(await physical.get(BARRIER_KEYS.keyring)).toEqual(before);
    await barrier.put('core/mounts', text('m'));
    expect(await barrier.get('core/mounts')).toEqual(text('m'));
  });

  it('refuses keys with a lone surrogate', async () => {
    const { barrier } = await setup();
    expect((await errorOf(() => barrier.put('a\ud800', text('x')))).code).toBe('invalid_request');
    expect((await errorOf(() => barrier.get('a\udfff')))?.code).toBe('invalid_request');
  });
});

describe('AesGcmBarrier: rotation and key status', () => {
  it('new writes use the new term; old entries stay readable, also after re-unseal', async () => {
    const { barrier, physical, rootKey, advance } = await setup();
    await barrier.put('before', text('one'));
    advance(60_000);
    const rotated = await barrier.rotate();
    expect(rotated).toEqual({ term: 2, installTime: new Date(T0 + 60_000).toISOString() });
    await barrier.put('after', text('two'));
    expect(termOf((await physical.get('before'))!)).toBe(1);
    expect(termOf((await physical.get('after'))!)).toBe(2);
    expect(await barrier.get('before')).toEqual(text('one'));
    barrier.seal();
    await barrier.unseal(rootKey);
    expect(barrier.keyStatus().term).toBe(2);
    expect(await barrier.get('before')).toEqual(text('one'));
    expect(await barrier.get('after')).toEqual(text('two'));
  });

  it('concurrent rotations take distinct terms', async () => {
    const { barrier, rootKey } = await setup();
    const [a, b] = await Promise.all([barrier.rotate(), barrier.rotate()]);
    expect([a.term, b.term]).toEqual([2, 3]);
    await barrier.put('k', text('v'));
    barrier.seal();
    await barrier.unseal(rootKey);
    expect(barrier.keyStatus().term).toBe(3);
    expect(await barrier.get('k')).toEqual(text('v'));
  });

  it('a rotation whose keyring write fails changes nothing', async () => {
    const { barrier, physical, rootKey } = await setup();
    physical.failPutsTo.add(BARRIER_KEYS.keyring);
    await expect(barrier.rotate()).rejects.toThrow('disk full');
    expect(barrier.keyStatus().term).toBe(1);
    await barrier.put('k', text('v'));
    expect(termOf((await physical.get('k'))!)).toBe(1);
    physical.failPutsTo.clear();
    expect((await barrier.rotate()).term).toBe(2);
    barrier.seal();
    await barrier.unseal(rootKey);
    expect(await barrier.get('k')).toEqual(text('v'));
  });

  it('reports the active term, its install time and its encryption count', async () => {
    const { barrier, rootKey, advance } = await setup();
    expect(barrier.keyStatus()).toEqual({
      term: 1,
      installTime: '2026-01-01T00:00:00.000Z',
      encryptions: 0,
    });
    await barrier.put('a', text('1'));
    await barrier.batch([
      { op: 'put', key: 'b', value: text('2') },
      { op: 'put', key: 'c', value: text('3') },
      { op: 'delete', key: 'a' },
    ]);
    await barrier.get('b');
    expect(barrier.keyStatus().encryptions).toBe(3);
    // Counts survive a seal (saved at seal) ...
    barrier.seal();
    await barrier.unseal(rootKey);
    expect(barrier.keyStatus().encryptions).toBe(3);
    // ... and a rotate (saved with the keyring); the new term starts at 0.
    await barrier.put('d', text('4'));
    advance(1000);
    await barrier.rotate();
    expect(barrier.keyStatus()).toEqual({
      term: 2,
      installTime: '2026-01-01T00:00:01.000Z',
      encryptions: 0,
    });
    await barrier.put('e', text('5'));
    barrier.seal();
    await barrier.unseal(rootKey);
    expect(barrier.keyStatus().encryptions).toBe(1);
  });
});

describe('AesGcmBarrier: plaintext cache', () => {
  /** A new barrier holding `k` = "v", kept and then damaged (see keepThenDamage). */
  async function keptThenDamaged(options: { plaintextLifetimeMs?: number } = {}) {
    const ctx = await setup(options);
    await keepThenDamage(ctx, 'k', text('v'));
    return ctx;
  }

  /**
   * Writes `key` and reads it twice (a miss fills the ciphertext cache, a hit keeps the
   * plaintext), then damages the cached ciphertext in place: a read that decrypts now fails
   * its integrity check.
   */
  async function keepThenDamage(
    { barrier, physical }: Awaited<ReturnType<typeof setup>>,
    key: string,
    value: Uint8Array,
  ): Promise<void> {
    await barrier.put(key, value);
    await barrier.get(key);
    await barrier.get(key); // kept from here, if at all
    const cached = physical.lastValue!;
    cached[cached.length - 1]! ^= 1; // damage the cached ciphertext in place
  }

  it('serves a value read again from memory, without decrypting it, as a copy', async () => {
    const { barrier, physical } = await keptThenDamaged();
    const reads = physical.gets;
    const first = await barrier.get('k');
    expect(first).toEqual(text('v'));
    first!.fill(0);
    expect(await barrier.get('k')).toEqual(text('v'));
    expect(physical.gets).toBe(reads);
  });

  it('decrypts every read with a lifetime of 0, and after the lifetime', async () => {
    const off = await keptThenDamaged({ plaintextLifetimeMs: 0 });
    expect((await errorOf(() => off.barrier.get('k'))).code).toBe('integrity_failure');
    const short = await keptThenDamaged({ plaintextLifetimeMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await errorOf(() => short.barrier.get('k'))).code).toBe('integrity_failure');
  });

  it('zero-fills the kept plaintext on invalidateCache, seal, reload and a write', async () => {
    const keep = vi.spyOn(PlaintextCache.prototype, 'keep');
    const actions: [string, (ctx: Awaited<ReturnType<typeof setup>>) => Promise<unknown>][] = [
      [
        'invalidateCache(k)',
        ({ barrier }) => {
          barrier.invalidateCache('k');
          return Promise.resolve();
        },
      ],
      [
        'invalidateCache()',
        ({ barrier }) => {
          barrier.invalidateCache();
          return Promise.resolve();
        },
      ],
      ['reload', ({ barrier }) => barrier.reload()],
      ['write', ({ barrier }) => barrier.put('k', text('w'))],
      [
        'seal',
        async ({ barrier, rootKey }) => {
          barrier.seal();
          await barrier.unseal(rootKey);
        },
      ],
    ];
    try {
      for (const [name, action] of actions) {
        keep.mockClear();
        const ctx = await keptThenDamaged();
        const kept = keep.mock.calls[0]?.[2];
        expect(kept, name).toEqual(text('v'));
        await action(ctx);
        expect(
          kept!.every((b) => b === 0),
          name,
        ).toBe(true);
        // Read from storage again (intact there), so the damaged cached copy is gone too.
        expect(await ctx.barrier.get('k'), name).toEqual(text(name === 'write' ? 'w' : 'v'));
      }
    } finally {
      keep.mockRestore();
    }
  });

  it('keeps values up to 64 KiB, and a write to one key leaves the others kept', async () => {
    const ctx = await setup();
    const { barrier, physical } = ctx;
    const limit = new Uint8Array(64 * 1024).fill(7);
    await keepThenDamage(ctx, 'limit', limit);
    await keepThenDamage(ctx, 'over', new Uint8Array(64 * 1024 + 1).fill(7));
    expect(await barrier.get('limit')).toEqual(limit);
    expect((await errorOf(() => barrier.get('over'))).code).toBe('integrity_failure');
    const reads = physical.gets;
    await barrier.put('other', text('x'));
    expect(await barrier.get('limit')).toEqual(limit); // still kept, not read again
    expect(physical.gets).toBe(reads);
  });

  it('a write replaces a kept plaintext', async () => {
    const { barrier } = await setup();
    await barrier.put('k', text('old'));
    await barrier.get('k');
    expect(await barrier.get('k')).toEqual(text('old'));
    expect(await barrier.get('k')).toEqual(text('old'));
    await barrier.put('k', text('new'));
    expect(await barrier.get('k')).toEqual(text('new'));
    expect(await barrier.get('k')).toEqual(text('new'));
    await barrier.delete('k');
    expect(await barrier.get('k')).toBeUndefined();
  });
});

describe('AesGcmBarrier: ciphertext cache', () => {
  it('serves repeated reads from memory, still decrypting each time', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('k', text('v'));
    await barrier.get('k');
    const reads = physical.gets;
    const first = await barrier.get('k');
    first!.fill(0); // callers get their own plaintext
    expect(await barrier.get('k')).toEqual(text('v'));
    expect(physical.gets).toBe(reads);
  });

  it('a write replaces what a later read sees', async () => {
    const { barrier } = await setup();
    await barrier.put('k', text('old'));
    expect(await barrier.get('k')).toEqual(text('old'));
    await barrier.put('k', text('new'));
    expect(await barrier.get('k')).toEqual(text('new'));
    await barrier.delete('k');
    expect(await barrier.get('k')).toBeUndefined();
  });

  it('a slow read that a write overtook does not leave the old value cached', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('k', text('old'));
    const release = physical.holdNextGet();
    const slow = barrier.get('k'); // reads 'old' from physical, then waits
    await barrier.put('k', text('new'));
    release();
    expect(await slow).toEqual(text('old'));
    expect(await barrier.get('k')).toEqual(text('new'));
  });

  it('invalidateCache makes writes by another node visible', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('k', text('v'));
    await barrier.get('k');
    await physical.put('k', new Uint8Array(MIN_CIPHERTEXT_BYTES)); // a foreign, bad write
    expect(await barrier.get('k')).toEqual(text('v')); // cached
    barrier.invalidateCache('k');
    expect((await errorOf(() => barrier.get('k'))).code).toBe('integrity_failure');
  });
});

describe('encryptWithKey / decryptWithKey', () => {
  it('round-trips under term 0 bound to the path', () => {
    const key = randomBytes(32);
    const blob = encryptWithKey(key, 'core/seal/root-key', text('root'));
    expect(termOf(blob)).toBe(0);
    expect(blob[4]).toBe(0x02);
    expect(decryptWithKey(key, 'core/seal/root-key', blob)).toEqual(text('root'));
  });

  it('fails with a wrong key, a wrong path or a tampered entry', async () => {
    const key = randomBytes(32);
    const blob = encryptWithKey(key, 'p', text('root'));
    const tampered = Uint8Array.from(blob);
    tampered[20]! ^= 1;
    for (const attempt of [
      () => decryptWithKey(randomBytes(32), 'p', blob),
      () => decryptWithKey(key, 'q', blob),
      () => decryptWithKey(key, 'p', tampered),
      () => decryptWithKey(key, 'p', blob.subarray(0, 10)),
    ]) {
      expect((await errorOf(attempt)).code).toBe('integrity_failure');
    }
  });

  it('refuses barrier entries (non-zero term) and keys of the wrong length', async () => {
    const { physical, barrier } = await setup();
    await barrier.put('x', text('v'));
    const entry = (await physical.get('x'))!;
    expect((await errorOf(() => decryptWithKey(randomBytes(32), 'x', entry))).code).toBe(
      'integrity_failure',
    );
    expect((await errorOf(() => encryptWithKey(new Uint8Array(16), 'p', text('v')))).code).toBe(
      'internal',
    );
  });
});

describe('AesGcmBarrier: a seal racing an unseal, a rotation or a reload', () => {
  it('a seal while an unseal is in flight leaves the barrier sealed', async () => {
    const { barrier, rootKey } = await setup();
    await barrier.put('k', text('v'));
    barrier.seal();
    const unsealing = barrier.unseal(rootKey);
    barrier.seal();
    const err = await errorOf(() => unsealing);
    expect(err.code).toBe('sealed');
    expect(err.message).toBe('the barrier was sealed while unsealing');
    expect(barrier.isSealed()).toBe(true);
    expect((await errorOf(() => barrier.get('k'))).code).toBe('sealed');
    await barrier.unseal(rootKey);
    expect(await barrier.get('k')).toEqual(text('v'));
  });

  it('of two concurrent unseals the later one to finish keeps the keyring in use', async () => {
    const { barrier, physical, rootKey } = await setup();
    barrier.seal();
    const release = physical.holdNextGet(); // the first unseal's read of the keyring
    const first = barrier.unseal(rootKey);
    const second = barrier.unseal(rootKey);
    await second;
    await barrier.put('k', text('v')); // counted on the keyring the second unseal installed
    release();
    await first; // not an error: the barrier is unsealed, as asked
    expect(barrier.isSealed()).toBe(false);
    expect(barrier.keyStatus().encryptions).toBe(1);
    expect(await barrier.get('k')).toEqual(text('v'));
  });

  it('a rotation that a seal overtook fails and does not unseal the barrier', async () => {
    const { barrier, physical, rootKey } = await setup();
    const release = physical.holdNextPutTo(BARRIER_KEYS.keyring);
    const rotating = barrier.rotate();
    await idle(); // the rotation now waits on its keyring write
    expect(physical.putsTo(BARRIER_KEYS.keyring)).toBe(2); // initialize's, and this one
    barrier.seal();
    release();
    const err = await errorOf(() => rotating);
    expect(err.code).toBe('sealed');
    expect(barrier.isSealed()).toBe(true);
    expect((await errorOf(() => barrier.get('k'))).code).toBe('sealed');
    // The stored keyring has the new term; nothing was encrypted with it.
    await barrier.unseal(rootKey);
    expect(barrier.keyStatus().term).toBe(2);
  });

  it('a seal while a reload is in flight leaves the barrier sealed', async () => {
    const { barrier, physical } = await setup();
    const release = physical.holdNextGet();
    const reloading = barrier.reload();
    await idle(); // the reload now waits on its read of the keyring
    barrier.seal();
    release();
    await reloading;
    expect(barrier.isSealed()).toBe(true);
    expect((await errorOf(() => barrier.get('k'))).code).toBe('sealed');
  });
});

describe('AesGcmBarrier: reload (another node rotated or wrote)', () => {
  it('is a no-op while sealed', async () => {
    const { barrier } = await setup();
    barrier.seal();
    await barrier.reload();
    expect(barrier.isSealed()).toBe(true);
  });

  it('learns the terms another node added and drops what it had cached', async () => {
    const { barrier: active, physical, rootKey } = await setup();
    const standby = new AesGcmBarrier(physical, { now: () => T0 });
    await standby.unseal(rootKey);
    await standby.put('k', text('old'));
    expect(await standby.get('k')).toEqual(text('old')); // now cached
    await active.rotate();
    await active.put('k', text('new'));
    await active.put('n', text('fresh'));
    expect((await errorOf(() => standby.get('n'))).code).toBe('integrity_failure'); // term 2
    expect(await standby.get('k')).toEqual(text('old'));
    await standby.reload();
    expect(standby.keyStatus().term).toBe(2);
    expect(await standby.get('k')).toEqual(text('new'));
    expect(await standby.get('n')).toEqual(text('fresh'));
    await standby.put('m', text('mine'));
    expect(termOf((await physical.get('m'))!)).toBe(2);
  });

  it('refuses a missing or damaged keyring and keeps the keyring it has', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('k', text('v'));
    const stored = (await physical.get(BARRIER_KEYS.keyring))!;
    await physical.delete(BARRIER_KEYS.keyring);
    let err = await errorOf(() => barrier.reload());
    expect(err.code).toBe('integrity_failure');
    expect(err.message).toBe('the keyring is missing');
    const damaged = Uint8Array.from(stored);
    damaged[damaged.length - 1]! ^= 1;
    await physical.put(BARRIER_KEYS.keyring, damaged);
    err = await errorOf(() => barrier.reload());
    expect(err.code).toBe('integrity_failure');
    expect(err.message).toBe('the stored keyring failed its integrity check');
    expect(err.cause).toBeInstanceOf(CofferError);
    expect(await barrier.get('k')).toEqual(text('v'));
    // A failed reload does not block the next keyring operation.
    await physical.put(BARRIER_KEYS.keyring, stored);
    expect((await barrier.rotate()).term).toBe(2);
  });
});

describe('AesGcmBarrier: usage counts saved at seal', () => {
  it('are written only when they changed since last saved (unseal, rotate, reload)', async () => {
    const { barrier, physical, rootKey } = await setup();
    const usageWrites = (): number => physical.putsTo(BARRIER_KEYS.keyringUsage);
    barrier.seal(); // nothing encrypted yet
    expect(usageWrites()).toBe(0);
    await barrier.unseal(rootKey);
    await barrier.put('a', text('1'));
    barrier.seal();
    expect(usageWrites()).toBe(1);
    await barrier.unseal(rootKey); // loads the saved count
    barrier.seal();
    expect(usageWrites()).toBe(1);
    await barrier.unseal(rootKey);
    await barrier.put('b', text('2'));
    await barrier.rotate(); // the keyring stored with the rotation holds the counts
    barrier.seal();
    expect(usageWrites()).toBe(1);
    await barrier.unseal(rootKey);
    const other = new AesGcmBarrier(physical, { now: () => T0 });
    await other.unseal(rootKey);
    await other.put('c', text('3'));
    await other.rotate(); // stores term 2's count of 1 with the keyring
    await barrier.reload(); // takes the stored counts as saved
    barrier.seal();
    expect(usageWrites()).toBe(1);
  });

  it('the next unseal waits for the usage write the seal started', async () => {
    const { barrier, physical, rootKey } = await setup();
    await barrier.put('a', text('1'));
    const release = physical.holdNextPutTo(BARRIER_KEYS.keyringUsage);
    barrier.seal();
    const unsealing = barrier.unseal(rootKey);
    await idle();
    expect(barrier.isSealed()).toBe(true); // still waiting for the write
    release();
    await unsealing;
    expect(barrier.keyStatus().encryptions).toBe(1);
  });

  it('a failed usage write neither fails the seal nor blocks the next unseal', async () => {
    const { barrier, physical, rootKey } = await setup();
    await barrier.put('a', text('1'));
    physical.failPutsTo.add(BARRIER_KEYS.keyringUsage);
    barrier.seal();
    await barrier.unseal(rootKey);
    expect(await barrier.get('a')).toEqual(text('1'));
    expect(barrier.keyStatus().encryptions).toBe(0); // advisory counts, lost
  });

  it('a damaged or malformed usage entry does not block unsealing', async () => {
    const { barrier, physical, rootKey } = await setup();
    await physical.put(BARRIER_KEYS.keyringUsage, randomBytes(MIN_CIPHERTEXT_BYTES + 4));
    barrier.seal(); // nothing encrypted: the damaged entry is not overwritten
    await barrier.unseal(rootKey);
    expect(barrier.keyStatus().encryptions).toBe(0);
    for (const usage of ['null', '{"7": 5}', '{"1": 2.5}']) {
      const blob = encryptWithKey(rootKey, BARRIER_KEYS.keyringUsage, text(usage));
      await physical.put(BARRIER_KEYS.keyringUsage, blob);
      barrier.seal();
      await barrier.unseal(rootKey);
      expect(barrier.keyStatus().encryptions, usage).toBe(0);
    }
  });
});

describe('AesGcmBarrier: refusals say what was wrong', () => {
  it('names the field and the reason, never the value', async () => {
    const { barrier, rootKey } = await setup();
    let err = await errorOf(() => barrier.get('a\ud800'));
    expect(err.message).toBe('key is not a well-formed string');
    expect(err.field).toBe('key');
    err = await errorOf(() => barrier.list('a\ud800/'));
    expect([err.code, err.message, err.field]).toEqual([
      'invalid_request',
      'prefix is not a well-formed string',
      'prefix',
    ]);
    err = await errorOf(() => barrier.batch([{ op: 'delete', key: '\udc00' }]));
    expect([err.code, err.field]).toEqual(['invalid_request', 'key']);
    err = await errorOf(() => barrier.put(BARRIER_KEYS.keyring, text('x')));
    expect([err.message, err.field]).toEqual([
      'core/keyring is reserved for the barrier and the seal',
      'key',
    ]);
    err = await errorOf(() => barrier.initialize(rootKey));
    expect(err.message).toBe('the barrier is already initialized');
    err = await errorOf(() => barrier.unseal(new Uint8Array(33)));
    expect(err.message).toBe('the root key must be 32 bytes');
    err = await errorOf(() => barrier.initialize(new Uint8Array(31)));
    expect(err.message).toBe('the root key must be 32 bytes');
    const fresh = new AesGcmBarrier(createInmemBackend(), { now: () => T0 });
    err = await errorOf(() => fresh.unseal(rootKey));
    expect(err.message).toBe('the barrier is not initialized');
    err = await errorOf(() => encryptWithKey(new Uint8Array(31), 'p', text('v')));
    expect([err.code, err.message]).toEqual(['internal', 'an encryption key must be 32 bytes']);
    err = await errorOf(() => decryptWithKey(new Uint8Array(33), 'p', new Uint8Array(40)));
    expect([err.code, err.message]).toEqual(['internal', 'an encryption key must be 32 bytes']);
    // 32 characters are not 32 bytes of key: node:crypto would take a string as a key.
    const chars = 'k'.repeat(32) as unknown as Uint8Array;
    err = await errorOf(() => encryptWithKey(chars, 'p', text('v')));
    expect([err.code, err.message]).toEqual(['internal', 'an encryption key must be 32 bytes']);
    err = await errorOf(() => fresh.initialize(chars));
    expect([err.code, err.message]).toEqual(['invalid_request', 'the root key must be 32 bytes']);
  });

  it('refuses a value that is not bytes instead of encrypting its text', async () => {
    const { barrier, physical } = await setup();
    const err = await errorOf(() => barrier.put('k', 'v' as unknown as Uint8Array));
    expect([err.code, err.message]).toEqual(['internal', 'the value for k is not bytes']);
    expect(await physical.get('k')).toBeUndefined();
  });

  it('an integrity failure keeps the decryption error as its cause', async () => {
    const { barrier, physical } = await setup({ cacheEntries: 0 });
    await barrier.put('k', text('v'));
    const raw = Uint8Array.from((await physical.get('k'))!);
    raw[raw.length - 1]! ^= 1;
    await physical.put('k', raw);
    const err = await errorOf(() => barrier.get('k'));
    expect(err.code).toBe('integrity_failure');
    expect(err.cause).toBeInstanceOf(Error);
  });
});

describe('AesGcmBarrier: ciphertext cache and writes in flight', () => {
  it('a read during a write does not leave the old value cached once the write lands', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('k', text('old'));
    const release = physical.holdNextBatch();
    const writing = barrier.put('k', text('new'));
    expect(await barrier.get('k')).toEqual(text('old')); // the write has not landed yet
    release();
    await writing;
    expect(await barrier.get('k')).toEqual(text('new'));
  });
});

describe('AesGcmBarrier: more of the cache and of sealing', () => {
  it('invalidateCache() without a key drops every cached entry', async () => {
    const { barrier, physical } = await setup();
    await barrier.put('a', text('1'));
    await barrier.put('b', text('2'));
    await barrier.get('a');
    await barrier.get('b');
    await physical.put('a', new Uint8Array(MIN_CIPHERTEXT_BYTES)); // foreign, bad writes
    await physical.put('b', new Uint8Array(MIN_CIPHERTEXT_BYTES));
    barrier.invalidateCache();
    expect((await errorOf(() => barrier.get('a'))).code).toBe('integrity_failure');
    expect((await errorOf(() => barrier.get('b'))).code).toBe('integrity_failure');
  });

  it('by default caches at most 10,000 entries', async () => {
    const { barrier, physical } = await setup();
    const keys = Array.from({ length: 10_001 }, (_, i) => `k/${i}`);
    await barrier.batch(keys.map((key) => ({ op: 'put', key, value: text('v') })));
    for (const key of keys) await barrier.get(key);
    const reads = physical.gets;
    await barrier.get(keys[1]!);
    expect(physical.gets).toBe(reads); // still cached
    await barrier.get(keys[0]!);
    expect(physical.gets).toBe(reads + 1); // the least recently used, dropped
  });

  it("a listing in flight when the barrier seals ends with 'sealed'", async () => {
    const { barrier } = await setup();
    await barrier.put('a/b', text('1'));
    const listing = barrier.list('a/');
    barrier.seal();
    expect((await errorOf(() => listing)).code).toBe('sealed');
  });

  it('refuses a key that is not a string', async () => {
    const { barrier } = await setup();
    const err = await errorOf(() => barrier.get(7 as unknown as string));
    expect([err.code, err.field]).toEqual(['invalid_request', 'key']);
  });
});

describe('decryptWithKey: the header term', () => {
  it('refuses an entry whose term was changed from 0, though it would authenticate', async () => {
    const key = randomBytes(32);
    const blob = encryptWithKey(key, 'p', text('root'));
    const moved = Uint8Array.from(blob);
    moved[3] = 1;
    const err = await errorOf(() => decryptWithKey(key, 'p', moved));
    expect(err.code).toBe('integrity_failure');
    expect(err.message).toBe('stored entry at p failed its integrity check');
  });
});
