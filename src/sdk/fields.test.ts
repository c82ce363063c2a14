// Tests for request field parsing: Vault's warning for unknown fields, and the 400 for a field
// within two edits of a known one (a likely typo that must not be silently ignored).
import { describe, expect, it } from 'vitest';
import { editDistance, parseFields, unknownFields, type FieldSpecs } from './fields.js';

const SPECS = {
  policies: { type: 'string-list', description: 'Policies.' },
  ttl: { type: 'duration', description: 'TTL.' },
  token_bound_cidrs: { type: 'string-list', description: 'CIDRs.' },
} as const satisfies FieldSpecs;

describe('fields', () => {
  it('measures edits with adjacent swaps counted once (Damerau, optimal string alignment)', () => {
    expect(editDistance('policies', 'policies')).toBe(0);
    expect(editDistance('polices', 'policies')).toBe(1);
    expect(editDistance('ploicies', 'policies')).toBe(1);
    expect(editDistance('tll', 'ttl')).toBe(1);
    expect(editDistance('ttl', 'tt')).toBe(1);
    expect(editDistance('abc', 'cab')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    // Past the limit it only says "more than the limit".
    expect(editDistance('completely', 'different', 2)).toBe(3);
  });

  it("ignores an unknown field with Vault's warning when the caller collects warnings", () => {
    const warnings: string[] = [];
    const values = parseFields(
      SPECS,
      { ttl: '1h', old_option: 1, other: 'x' },
      undefined,
      warnings,
    );
    expect(values.ttl).toBe(3600);
    expect(warnings).toEqual([
      'Endpoint ignored these unrecognized parameters: [old_option other]',
    ]);
  });

  it('refuses a likely typo, naming the field meant, with or without a warning list', () => {
    for (const [typo, meant] of [
      ['polices', 'policies'],
      ['tll', 'ttl'],
      ['token_bound_cidr', 'token_bound_cidrs'],
      ['token_bund_cidr', 'token_bound_cidrs'],
    ] as const) {
      expect(() => parseFields(SPECS, { [typo]: 'x' }, undefined, [])).toThrow(
        expect.objectContaining({
          code: 'invalid_request',
          field: typo,
          message: `${typo}: unknown field; did you mean "${meant}"?`,
        }) as Error,
      );
    }
    // Three edits away is not a typo.
    expect(unknownFields(SPECS, { pocilies_x: 1 })).toEqual(['pocilies_x']);
  });

  it('refuses unknown fields outright where there is no response to warn in', () => {
    expect(() => parseFields(SPECS, { surprise: 1 })).toThrow(
      expect.objectContaining({ code: 'invalid_request', field: 'surprise' }) as Error,
    );
    expect(parseFields(SPECS, { surprise: 1 }, new Set(['surprise'])).ttl).toBeUndefined();
  });
});
