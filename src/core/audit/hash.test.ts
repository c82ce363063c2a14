import { describe, expect, it } from 'vitest';
import { deviceHasher, hashStructure, hmacString, MAX_HASH_DEPTH, newSalt } from './hash.js';

const salt = Buffer.alloc(32, 7);
const hash = deviceHasher(salt);

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) strings(item, out);
  }
  return out;
}

describe('audit HMAC', () => {
  it('is hmac-sha256:<hex> of the UTF-8 string under the salt (known answer)', () => {
    // HMAC-SHA256 with key 0x07 * 32 over "abc", computed independently with openssl.
    expect(hmacString(salt, 'abc')).toBe(
      'hmac-sha256:127da4ced6a839b8f6118bc244684d2663e70cb5ff0adeefca89d7e74d5a0525',
    );
    expect(hmacString(salt, 'abc')).toBe(hmacString(Buffer.alloc(32, 7), 'abc'));
    expect(hmacString(salt, 'abc')).not.toBe(hmacString(Buffer.alloc(32, 8), 'abc'));
    expect(hmacString(salt, 'abc')).not.toBe(hmacString(salt, 'abd'));
  });

  it('uses a fresh random salt per call', () => {
    expect(newSalt()).toHaveLength(32);
    expect(newSalt().equals(newSalt())).toBe(false);
  });

  it('leaves no string of a nested structure in clear; numbers, booleans, null and keys stay', () => {
    const input = {
      password: 'hunter2',
      nested: { list: ['a', { deep: 'b' }, 3, true, null], empty: '' },
      count: 42,
      flag: false,
    };
    const out = hashStructure(input, hash) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['password', 'nested', 'count', 'flag']);
    expect(out['count']).toBe(42);
    expect(out['flag']).toBe(false);
    const nested = out['nested'] as { list: unknown[]; empty: string };
    expect(nested.list.slice(2)).toEqual([3, true, null]);
    expect(nested.empty).toBe('');
    for (const s of strings(out)) {
      expect(s === '' || /^hmac-sha256:[0-9a-f]{64}$/.test(s)).toBe(true);
    }
    expect(JSON.stringify(out)).not.toMatch(/hunter2|"a"|"b"/);
    expect(out['password']).toBe(hmacString(salt, 'hunter2'));
  });

  it('hashes a subtree deeper than the cap whole instead of recursing', () => {
    let deep: unknown = 'bottom-secret';
    for (let i = 0; i < MAX_HASH_DEPTH + 10; i++) deep = { d: deep };
    const text = JSON.stringify(hashStructure(deep, hash));
    expect(text).not.toContain('bottom-secret');
    expect(text).toContain('hmac-sha256:');
  });

  it('keeps a "__proto__" key as data, and hashes bigint, Uint8Array and toJSON values', () => {
    const input = JSON.parse('{"__proto__": "x-secret"}') as Record<string, unknown>;
    const out = hashStructure(
      { ...input, big: 12n, bytes: new Uint8Array([1, 2]), when: new Date(0) },
      hash,
    ) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).not.toMatch(/x-secret|1970|AQI=|"12"/);
    expect(Object.keys(out)).toEqual(['__proto__', 'big', 'bytes', 'when']);
  });
});

describe('hashStructure: values JSON cannot hold, and the depth cap', () => {
  const h = (s: string) => hmacString(salt, s);

  it('keeps the empty string empty and HMACs every other string', () => {
    expect(hash('')).toBe('');
    expect(hash(' ')).toBe(h(' '));
  });

  it('writes what JSON.stringify would for numbers JSON cannot hold and for dropped values', () => {
    const out = hashStructure(
      {
        nan: Number.NaN,
        inf: Number.POSITIVE_INFINITY,
        gone: undefined,
        fn: () => 1,
        sym: Symbol('s'),
        list: [undefined, () => 1, Symbol('s'), Number.NEGATIVE_INFINITY, 1.5],
      },
      hash,
    );
    expect(out).toEqual({ nan: null, inf: null, list: [null, null, null, null, 1.5] });
    expect(Object.keys(out as object)).toEqual(['nan', 'inf', 'list']);
    expect(hashStructure(undefined, hash)).toBeNull();
    expect(hashStructure(null, hash)).toBeNull();
  });

  it('HMACs a bigint as its digits, bytes as base64 and an object with toJSON as what it returns', () => {
    expect(hashStructure(12n, hash)).toBe(h('12'));
    expect(hashStructure(new Uint8Array([1, 2]), hash)).toBe(h('AQI='));
    expect(hashStructure(Buffer.from('hi'), hash)).toBe(h('aGk='));
    expect(hashStructure(new Date(0), hash)).toBe(h('1970-01-01T00:00:00.000Z'));
    expect(hashStructure({ toJSON: () => ({ inner: 'v' }) }, hash)).toEqual({ inner: h('v') });
    // A toJSON that returns its own object ends at the depth cap, as JSON.stringify writes it.
    const selfish = {
      toJSON(): unknown {
        return this;
      },
    };
    expect(hashStructure(selfish, hash)).toBe(h('{}'));
  });

  it('hashes the subtree at the depth cap whole, as its JSON text', () => {
    const leaf = { secret: 'bottom', big: 7n };
    let deep: unknown = leaf;
    for (let i = 0; i < MAX_HASH_DEPTH; i++) deep = [deep];
    let out: unknown = hashStructure(deep, hash);
    for (let i = 0; i < MAX_HASH_DEPTH; i++) {
      expect(Array.isArray(out)).toBe(true);
      out = (out as unknown[])[0];
    }
    expect(out).toBe(h('{"secret":"bottom","big":"7"}'));
    // One level less: still walked.
    let shallow: unknown = { secret: 'bottom' };
    for (let i = 0; i < MAX_HASH_DEPTH - 1; i++) shallow = [shallow];
    let walked: unknown = hashStructure(shallow, hash);
    for (let i = 0; i < MAX_HASH_DEPTH - 1; i++) walked = (walked as unknown[])[0];
    expect(walked).toEqual({ secret: h('bottom') });
  });

  it('a cycle ends at the depth cap as an unserialisable subtree, never in clear', () => {
    const cyclic: Record<string, unknown> = { secret: 'loop' };
    cyclic['self'] = cyclic;
    let out = hashStructure(cyclic, hash) as Record<string, unknown>;
    for (let i = 0; i < MAX_HASH_DEPTH - 1; i++) out = out['self'] as Record<string, unknown>;
    expect(out['secret']).toBe(h('loop'));
    expect(out['self']).toBe(h('[unserialisable]'));
  });
});
