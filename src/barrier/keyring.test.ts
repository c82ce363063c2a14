// The keyring: terms, rotation and the binary encoding (round trip and rejected damage).
import { describe, expect, it } from 'vitest';
import { CofferError } from '../sdk/errors.js';
import { applyUsage, encodeUsage, KEY_BYTES, Keyring } from './keyring.js';

const key = (fill: number): Uint8Array => new Uint8Array(KEY_BYTES).fill(fill);
const T0 = Date.UTC(2026, 0, 1);

function expectMalformed(encoded: Uint8Array): void {
  let caught: unknown;
  try {
    Keyring.parse(encoded);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CofferError);
  expect((caught as CofferError).code).toBe('integrity_failure');
}

describe('Keyring', () => {
  it('starts with term 1 active and copies the key', () => {
    const source = key(1);
    const keyring = Keyring.create(source, T0);
    source.fill(9);
    expect(keyring.activeTerm).toBe(1);
    expect(keyring.active).toEqual({ term: 1, key: key(1), installTimeMs: T0, encryptions: 0 });
  });

  it('adds the next term as active and keeps the old ones', () => {
    const one = Keyring.create(key(1), T0);
    const two = one.withNewTerm(key(2), T0 + 1000);
    expect(two.activeTerm).toBe(2);
    expect(two.term(1)?.key).toEqual(key(1));
    expect(two.term(2)).toEqual({ term: 2, key: key(2), installTimeMs: T0 + 1000, encryptions: 0 });
    expect(one.activeTerm).toBe(1); // the old keyring is unchanged
    expect(two.terms.map((t) => t.term)).toEqual([1, 2]);
  });

  it('round-trips through serialize and parse, counts included', () => {
    const keyring = Keyring.create(key(1), T0)
      .withNewTerm(key(2), T0 + 5)
      .withNewTerm(key(3), T0 + 9);
    keyring.term(1)!.encryptions = 12345;
    keyring.active.encryptions = 2 ** 40;
    const parsed = Keyring.parse(keyring.serialize());
    expect(parsed.activeTerm).toBe(3);
    expect(parsed.terms).toEqual(keyring.terms);
    expect(keyring.serialize()).toHaveLength(9 + 3 * 52);
  });

  it('rejects damaged encodings as integrity failures', () => {
    const good = Keyring.create(key(1), T0).withNewTerm(key(2), T0).serialize();
    expectMalformed(good.subarray(0, good.length - 1));
    expectMalformed(Buffer.concat([good, Buffer.of(0)]));
    expectMalformed(new Uint8Array(0));
    const version = Buffer.from(good);
    version[0] = 2;
    expectMalformed(version);
    const missingActive = Buffer.from(good);
    missingActive.writeUInt32BE(7, 1);
    expectMalformed(missingActive);
    const duplicate = Buffer.from(good);
    duplicate.writeUInt32BE(1, 9 + 52);
    expectMalformed(duplicate);
    const termZero = Buffer.from(good);
    termZero.writeUInt32BE(0, 9);
    expectMalformed(termZero);
    const empty = Buffer.alloc(9);
    empty.writeUInt8(1, 0);
    empty.writeUInt32BE(1, 1);
    expectMalformed(empty);
  });

  it('wipe zero-fills every key', () => {
    const keyring = Keyring.create(key(1), T0).withNewTerm(key(2), T0);
    keyring.wipe();
    for (const t of keyring.terms) expect(t.key).toEqual(new Uint8Array(KEY_BYTES));
  });

  it('refuses a key of the wrong length', () => {
    expect(() => Keyring.create(new Uint8Array(16), T0)).toThrow(CofferError);
    expect(() => Keyring.create(new Uint8Array(33), T0)).toThrow(
      expect.objectContaining({ code: 'internal', message: 'a keyring key must be 32 bytes' }),
    );
  });
});

describe('usage counts', () => {
  it('raises counts to the stored ones and never lowers them', () => {
    const saved = Keyring.create(key(1), T0).withNewTerm(key(2), T0);
    saved.term(1)!.encryptions = 10;
    saved.term(2)!.encryptions = 3;
    const usage = encodeUsage(saved);
    const loaded = Keyring.create(key(1), T0).withNewTerm(key(2), T0);
    loaded.term(1)!.encryptions = 50;
    applyUsage(loaded, usage);
    expect(loaded.term(1)!.encryptions).toBe(50);
    expect(loaded.term(2)!.encryptions).toBe(3);
  });

  it('ignores malformed usage', () => {
    const keyring = Keyring.create(key(1), T0);
    applyUsage(keyring, new TextEncoder().encode('not json'));
    applyUsage(keyring, new TextEncoder().encode('{"1":"many"}'));
    expect(keyring.active.encryptions).toBe(0);
  });

  it('ignores usage that is not an object of whole counts for known terms', () => {
    const keyring = Keyring.create(key(1), T0);
    for (const usage of ['null', '7', '"17"', '[9]', '{"2": 5}', '{"1": 2.5}', '{"1": 1e300}']) {
      applyUsage(keyring, new TextEncoder().encode(usage));
      expect(keyring.active.encryptions, usage).toBe(0);
    }
    applyUsage(keyring, new TextEncoder().encode('{"1": 9007199254740991}'));
    expect(keyring.active.encryptions).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('Keyring.parse refuses a malformed entry, naming why', () => {
  type Term = { term: number; installTimeMs?: bigint; encryptions?: bigint };
  const encode = (activeTerm: number, terms: Term[], version = 1, extra = 0): Uint8Array => {
    const out = Buffer.alloc(9 + terms.length * 52 + extra);
    out.writeUInt8(version, 0);
    out.writeUInt32BE(activeTerm, 1);
    out.writeUInt32BE(terms.length, 5);
    terms.forEach((t, i) => {
      const at = 9 + i * 52;
      out.writeUInt32BE(t.term, at);
      out.writeBigUInt64BE(t.installTimeMs ?? 1n, at + 4);
      out.writeBigUInt64BE(t.encryptions ?? 0n, at + 12);
      out.fill(t.term, at + 20, at + 52);
    });
    return out;
  };
  const refused = (encoded: Uint8Array, why: string): void => {
    let caught: unknown;
    try {
      Keyring.parse(encoded);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CofferError);
    expect((caught as CofferError).code).toBe('integrity_failure');
    expect((caught as CofferError).message).toBe(`the keyring entry is malformed: ${why}`);
  };
  const HUGE = 2n ** 60n;

  it('each malformation with its own reason', () => {
    refused(encode(1, [{ term: 1 }]).subarray(0, 8), 'too short');
    refused(encode(1, []), 'no terms');
    refused(encode(1, [{ term: 1 }], 2), 'unknown format version');
    refused(encode(1, [{ term: 1 }], 1, 1), 'wrong length');
    refused(encode(1, [{ term: 0 }, { term: 1 }]), 'term 0 is reserved');
    refused(encode(1, [{ term: 1 }, { term: 1 }]), 'duplicate term');
    refused(encode(1, [{ term: 1, installTimeMs: HUGE }]), 'counter out of range');
    refused(encode(1, [{ term: 1, encryptions: HUGE }]), 'counter out of range');
    refused(encode(3, [{ term: 1 }, { term: 2 }]), 'the active term is missing');
  });

  it('a keyring whose highest term is the largest u32 has no terms left', () => {
    const full = Keyring.parse(encode(0xffff_ffff, [{ term: 0xffff_ffff }]));
    expect(() => full.withNewTerm(key(2), T0)).toThrow(
      expect.objectContaining({ code: 'internal', message: 'the keyring has no terms left' }),
    );
    const last = Keyring.parse(encode(0xffff_fffe, [{ term: 0xffff_fffe }]));
    expect(last.withNewTerm(key(2), T0).activeTerm).toBe(0xffff_ffff);
  });

  it('a well-formed entry with terms out of order lists them ascending', () => {
    const ring = Keyring.parse(encode(2, [{ term: 2 }, { term: 1, encryptions: 5n }]));
    expect(ring.terms.map((t) => t.term)).toEqual([1, 2]);
    expect(ring.active.term).toBe(2);
    expect(ring.term(1)?.encryptions).toBe(5);
    expect(ring.term(1)?.key).toEqual(new Uint8Array(KEY_BYTES).fill(1));
  });
});
