import { describe, expect, it } from 'vitest';
import { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import { createInmemBackend } from '../physical/inmem.js';
import { SealManager } from './seal-manager.js';
import { validateShareConfig } from './shamir.js';

function setup(staticKey?: Uint8Array) {
  const physical = createInmemBackend();
  const barrier = new AesGcmBarrier(physical, { now: () => 0 });
  const seal = new SealManager({ physical, barrier, ...(staticKey ? { staticKey } : {}) });
  return { physical, barrier, seal };
}

describe('SealManager (Shamir)', () => {
  it('splits into shares of key length + 1 and unseals with any threshold subset', async () => {
    const { seal, barrier } = setup();
    const { shares } = await seal.initialize({ secretShares: 5, secretThreshold: 3 });
    expect(shares).toHaveLength(5);
    for (const share of shares) expect(share.length).toBe(33);
    expect(barrier.isSealed()).toBe(true);
    let status = await seal.submitShare(shares[4]!);
    expect(status).toMatchObject({ sealed: true, progress: 1, t: 3, n: 5 });
    expect(status.nonce).not.toBe('');
    await seal.submitShare(shares[1]!);
    status = await seal.submitShare(shares[2]!);
    expect(status).toMatchObject({ sealed: false, progress: 0, nonce: '' });
    expect(barrier.isSealed()).toBe(false);
  });

  it('refuses a second initialisation', async () => {
    const { seal } = setup();
    await seal.initialize({ secretShares: 1, secretThreshold: 1 });
    await expect(seal.initialize({ secretShares: 1, secretThreshold: 1 })).rejects.toMatchObject({
      code: 'already_initialized',
    });
  });

  it('decrypts nothing with a forged share and resets progress', async () => {
    const { seal, barrier } = setup();
    const { shares } = await seal.initialize({ secretShares: 3, secretThreshold: 2 });
    const forged = Uint8Array.from(shares[1]!);
    forged[0] = forged[0]! ^ 1;
    await seal.submitShare(shares[0]!);
    await expect(seal.submitShare(forged)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(barrier.isSealed()).toBe(true);
    expect((await seal.status()).progress).toBe(0);
  });

  it('reports a damaged keyring as an integrity failure, not as wrong shares', async () => {
    const { seal, physical, barrier } = setup();
    const { shares } = await seal.initialize({ secretShares: 2, secretThreshold: 2 });
    const keyring = (await physical.get('core/keyring'))!;
    keyring[keyring.length - 1] = keyring[keyring.length - 1]! ^ 1;
    await physical.put('core/keyring', keyring);
    await seal.submitShare(shares[0]!);
    await expect(seal.submitShare(shares[1]!)).rejects.toMatchObject({
      code: 'integrity_failure',
    });
    expect(barrier.isSealed()).toBe(true);
  });

  it('ignores a duplicate share and rejects a share of the wrong length', async () => {
    const { seal } = setup();
    const { shares } = await seal.initialize({ secretShares: 3, secretThreshold: 2 });
    await seal.submitShare(shares[0]!);
    expect((await seal.submitShare(shares[0]!)).progress).toBe(1);
    await expect(seal.submitShare(new Uint8Array(10))).rejects.toMatchObject({ field: 'key' });
  });

  it('with one share, the share is the unseal key itself', async () => {
    const { seal } = setup();
    const { shares } = await seal.initialize({ secretShares: 1, secretThreshold: 1 });
    expect(shares[0]!.length).toBe(32);
    expect((await seal.submitShare(shares[0]!)).sealed).toBe(false);
  });

  it('seals again and needs the threshold again', async () => {
    const { seal, barrier } = setup();
    const { shares } = await seal.initialize({ secretShares: 2, secretThreshold: 2 });
    await seal.submitShare(shares[0]!);
    await seal.submitShare(shares[1]!);
    seal.seal();
    expect(barrier.isSealed()).toBe(true);
    expect((await seal.submitShare(shares[0]!)).sealed).toBe(true);
  });
});

describe('SealManager (static key)', () => {
  it('auto-unseals with the right key and not with another', async () => {
    const key = new Uint8Array(32).fill(7);
    const first = setup(key);
    const { shares } = await first.seal.initialize({ secretShares: 0, secretThreshold: 0 });
    expect(shares).toEqual([]);
    await first.seal.autoUnseal();
    expect(first.barrier.isSealed()).toBe(false);

    const other = new SealManager({
      physical: first.physical,
      barrier: new AesGcmBarrier(first.physical, { now: () => 0 }),
      staticKey: new Uint8Array(32).fill(8),
    });
    await expect(other.autoUnseal()).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('share configuration', () => {
  it.each([
    [0, 0, 'secret_shares'],
    [256, 2, 'secret_shares'],
    [5, 6, 'secret_threshold'],
    [5, 1, 'secret_threshold'],
    [1, 2, 'secret_threshold'],
  ])('rejects %i shares with threshold %i (%s)', (shares, threshold, field) => {
    expect(() => {
      validateShareConfig(shares, threshold);
    }).toThrow(expect.objectContaining({ field }));
  });
});
