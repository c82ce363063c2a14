// Shared helpers: names, allowed_roles globs, Vault's time format, statement fields, locks.
import { describe, expect, it } from 'vitest';
import { globMatch, rfc3339Nano } from '../../sdk/text.js';
import { checkName, KeyedLock, parseStatementList } from './common.js';

describe('common helpers', () => {
  it("accepts Vault's generic names only", () => {
    for (const ok of ['a', 'app-ro', 'my.role_1', '9']) expect(checkName(ok)).toBe(ok);
    for (const bad of ['-a', 'a-', '.a', 'a b', 'a/b', '']) {
      expect(() => checkName(bad)).toThrow(expect.objectContaining({ code: 'unsupported_path' }));
    }
  });

  it('matches allowed_roles globs like go-glob', () => {
    expect(globMatch('*', 'anything')).toBe(true);
    expect(globMatch('app-*-ro', 'app-billing-ro')).toBe(true);
    expect(globMatch('app-*-ro', 'app-billing-rw')).toBe(false);
    expect(globMatch('a*b*c', 'abc')).toBe(true);
    expect(globMatch('a*a', 'a')).toBe(false);
    expect(globMatch('exact', 'exact')).toBe(true);
    expect(globMatch('exact', 'exactly')).toBe(false);
  });

  it("prints times as Go's RFC3339Nano", () => {
    expect(rfc3339Nano(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00Z');
    expect(rfc3339Nano(Date.UTC(2026, 0, 1, 0, 0, 0, 120))).toBe('2026-01-01T00:00:00.12Z');
  });

  it('reads a statements field as a list, never splitting a string on commas', () => {
    expect(parseStatementList('GRANT SELECT, INSERT ON t TO x', 'f')).toEqual([
      'GRANT SELECT, INSERT ON t TO x',
    ]);
    expect(parseStatementList(['a', ' ', 'b'], 'f')).toEqual(['a', 'b']);
    expect(parseStatementList(undefined, 'f')).toEqual([]);
    expect(() => parseStatementList([1], 'f')).toThrow(expect.objectContaining({ field: 'f[0]' }));
  });

  it('runs work for one key one at a time, and other keys alongside', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const step = (tag: string, ms: number) => async () => {
      order.push(`${tag}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${tag}-`);
    };
    await Promise.all([
      lock.run('k', step('a', 20)),
      lock.run('k', step('b', 1)),
      lock.run('j', step('c', 1)),
    ]);
    expect(order.indexOf('a-')).toBeLessThan(order.indexOf('b+'));
    expect(order.indexOf('c+')).toBeLessThan(order.indexOf('a-'));
    await expect(lock.run('k', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await lock.run('k', () => Promise.resolve(1))).toBe(1);
  });
});
