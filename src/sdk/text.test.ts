import { describe, expect, it } from 'vitest';
import { globMatch, rfc3339Nano } from './text.js';

describe('globMatch (go-glob)', () => {
  it.each([
    ['*', '', true],
    ['app-*', 'app-web', true],
    ['app-*', 'ap', false],
    ['*-prod', 'db-prod', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'acb', false],
    ['ab*ba', 'aba', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
    ['a.b', 'axb', false],
  ])('%s ~ %s → %s', (pattern, value, expected) => {
    expect(globMatch(pattern, value)).toBe(expected);
  });
});

describe('rfc3339Nano', () => {
  it('drops trailing zeros of the fraction and the fraction of a whole second', () => {
    expect(rfc3339Nano(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00Z');
    expect(rfc3339Nano(Date.UTC(2026, 0, 1, 0, 0, 0, 120))).toBe('2026-01-01T00:00:00.12Z');
    expect(rfc3339Nano(Date.UTC(2026, 0, 1, 0, 0, 0, 5))).toBe('2026-01-01T00:00:00.005Z');
  });

  it('keeps a year beyond 9999 whole, and the same instant twice gives the same text', () => {
    const far = Date.UTC(10000, 0, 1, 0, 0, 0, 500);
    expect(rfc3339Nano(far)).toBe('+010000-01-01T00:00:00.5Z');
    expect(rfc3339Nano(far)).toBe('+010000-01-01T00:00:00.5Z');
    expect(rfc3339Nano(Date.UTC(10000, 0, 1))).toBe('+010000-01-01T00:00:00Z');
  });
});
