// Tests for the key-holder ceremonies: Vault's OTP encoding of a generated root token, the
// share and nonce rules, a wrong set of shares minting nothing, and rekey with verification.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import { createInmemBackend } from '../physical/inmem.js';
import {
  decodeRootToken,
  encodeRootToken,
  KeyCeremonies,
  ROOT_TOKEN_LENGTH,
} from './ceremonies.js';
import { SealManager } from './seal-manager.js';

async function setup() {
  const physical = createInmemBackend();
  const barrier = new AesGcmBarrier(physical, { now: () => 0 });
  const seal = new SealManager({ physical, barrier });
  const { shares } = await seal.initialize({ secretShares: 3, secretThreshold: 2 });
  const minted: string[] = [];
  const ceremonies = new KeyCeremonies({
    seal,
    mintRootToken: () => {
      const token = `cfs.${'A'.repeat(44 - String(minted.length).length)}${minted.length}`;
      minted.push(token);
      return Promise.resolve(token);
    },
  });
  return { seal, barrier, shares, ceremonies, minted };
}

describe('key ceremonies', () => {
  it('encodes as Vault >= 1.10: unpadded base64 of token XOR otp; decoding reverses it', () => {
    const token = `cfs.${'x'.repeat(44)}`;
    const otp = 'Z'.repeat(ROOT_TOKEN_LENGTH);
    const encoded = encodeRootToken(token, otp);
    expect(encoded).not.toContain('=');
    const expected = Buffer.from([...Buffer.from(token)].map((b, i) => b ^ otp.charCodeAt(i)));
    expect(Buffer.from(encoded, 'base64')).toEqual(expected);
    expect(decodeRootToken(encoded, otp)).toBe(token);
  });

  it('generates a root token from a threshold of shares, with the nonce, once', async () => {
    const { ceremonies, shares, minted } = await setup();
    const started = await ceremonies.startRoot(undefined, undefined);
    const otp = started.otp as string;
    expect(otp).toMatch(/^[0-9A-Za-z]{48}$/);
    await expect(ceremonies.startRoot(undefined, undefined)).rejects.toMatchObject({
      message: 'root generation already in progress',
    });
    await expect(ceremonies.updateRoot(shares[0]!, 'wrong-nonce')).rejects.toMatchObject({
      field: 'nonce',
    });
    const nonce = started.nonce as string;
    expect((await ceremonies.updateRoot(shares[0]!, nonce)).progress).toBe(1);
    await expect(ceremonies.updateRoot(shares[0]!, nonce)).rejects.toMatchObject({ field: 'key' });
    const done = await ceremonies.updateRoot(shares[2]!, nonce);
    expect(done.complete).toBe(true);
    expect(decodeRootToken(done.encoded_root_token as string, otp)).toBe(minted[0]);
    expect((await ceremonies.rootStatus()).started).toBe(false);
  });

  it('mints nothing from shares that are not the unseal key', async () => {
    const { ceremonies, minted } = await setup();
    const started = await ceremonies.startRoot('o'.repeat(ROOT_TOKEN_LENGTH), undefined);
    expect(started.otp).toBe('');
    const nonce = started.nonce as string;
    await ceremonies.updateRoot(randomBytes(33), nonce);
    await expect(ceremonies.updateRoot(randomBytes(33), nonce)).rejects.toMatchObject({
      code: 'invalid_request',
    });
    expect(minted).toEqual([]);
    await expect(ceremonies.startRoot('short', undefined)).rejects.toMatchObject({ field: 'otp' });
  });

  it('rekeys: the new shares unseal, the old ones no longer do; verification gates the switch', async () => {
    const { ceremonies, shares, seal, barrier } = await setup();
    const rk = await ceremonies.startRekey({
      secretShares: 5,
      secretThreshold: 3,
      requireVerification: true,
      pgpKeys: [],
      backup: false,
    });
    await ceremonies.updateRekey(shares[0]!, rk.nonce as string);
    const done = await ceremonies.updateRekey(shares[1]!, rk.nonce as string);
    const fresh = (done.keys as string[]).map((k) => Buffer.from(k, 'hex'));
    expect(fresh).toHaveLength(5);
    // Not installed until verified.
    expect((await seal.status()).n).toBe(3);
    const vn = done.verification_nonce as string;
    await ceremonies.verifyRekey(fresh[0]!, vn);
    await ceremonies.verifyRekey(fresh[3]!, vn);
    expect((await ceremonies.verifyRekey(fresh[4]!, vn)).complete).toBe(true);
    expect(await seal.status()).toMatchObject({ n: 5, t: 3 });
    barrier.seal();
    await seal.submitShare(shares[0]!);
    await seal.submitShare(shares[1]!);
    await expect(seal.submitShare(shares[2]!)).rejects.toMatchObject({ code: 'invalid_request' });
    for (const share of fresh.slice(1, 4)) await seal.submitShare(share);
    expect(barrier.isSealed()).toBe(false);
  });
});
