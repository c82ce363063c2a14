// The barrier: encryption round trips, path binding, tamper detection, seal/unseal, rotation,
// key status, reserved keys, the ciphertext cache, and the root-key helpers.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
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

const T0 = Date.UTC(2026, 0, 1);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/** A physical backend that counts reads and can hold or fail chosen calls. */
function instrumented(inner: PhysicalBackend): PhysicalBackend & {
  gets: number;
  holdNextGet: () => () => void;
  failPutsTo: Set<string>;
} {
  let hold: Promise<void> | undefined;
  const spy = {
    type: inner.type,
    gets: 0,
    failPutsTo: new Set<string>(),
    holdNextGet(): () => void {
      let release!: () => void;
      hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      return release;
    },
    async get(key: string) {
      spy.gets += 1;
      const value = await inner.get(key);
      const waiting = hold;
      hold = undefined;
      if (waiting !== undefined) await waiting;
      return value;
    },
    put(key: string, value: Uint8Array) {
      if (spy.failPutsTo.has(key)) return Promise.reject(new Error('disk full'));
      return inner.put(key, value);
    },
    delete: (key: string) => inner.delete(key),
    list: (prefix: string) => inner.list(prefix),
    batch: (ops: readonly StorageOp[]) => inner.batch(ops),
    close: () => inner.close(),
  };
  return spy;
}

async function setup(options: { cacheEntries?: number } = {}) {
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
    const { barrier, rootKey } = await setup();
    await barrier.put('k', text('v'));
    await barrier.unseal(rootKey);
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
