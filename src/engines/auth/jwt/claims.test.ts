// Tests for claim lookup (names and JSON pointers), globs, bound claims and metadata mapping.
import { describe, expect, it } from 'vitest';
import {
  checkAudience,
  checkBoundClaims,
  getClaim,
  groupNames,
  mappedMetadata,
  userName,
} from './claims.js';
import { globMatch } from '../../../sdk/text.js';

const CLAIMS = {
  sub: 'u1',
  aud: ['a', 'b'],
  'a/b': 'slash',
  org: { teams: ['red', 'blue'], 'x~y': 1 },
  admin: true,
  count: 3,
};

describe('claims', () => {
  it('reads plain names and JSON pointers', () => {
    expect(getClaim(CLAIMS, 'sub')).toBe('u1');
    expect(getClaim(CLAIMS, '/org/teams/1')).toBe('blue');
    expect(getClaim(CLAIMS, '/org/x~0y')).toBe(1);
    expect(getClaim(CLAIMS, '/a~1b')).toBe('slash');
    expect(getClaim(CLAIMS, '/org/teams/01')).toBeUndefined();
    expect(getClaim(CLAIMS, '/org/missing/x')).toBeUndefined();
    expect(getClaim(CLAIMS, 'constructor')).toBeUndefined();
  });

  it('matches globs with * anywhere and nothing else special', () => {
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('dev-*', 'dev-1')).toBe(true);
    expect(globMatch('*-prod', 'eu-prod')).toBe(true);
    expect(globMatch('a*b*c', 'abc')).toBe(true);
    expect(globMatch('ab*ba', 'aba')).toBe(false);
    expect(globMatch('a?c', 'abc')).toBe(false);
    expect(globMatch('dev-*', 'prod-1')).toBe(false);
  });

  it('checks bound claims against scalars and lists', () => {
    expect(() => {
      checkBoundClaims({ '/org/teams': 'blue', admin: true, count: [1, 3] }, 'string', CLAIMS);
    }).not.toThrow();
    expect(() => {
      checkBoundClaims({ count: '3' }, 'string', CLAIMS);
    }).toThrow(/claim "count" does not match/);
    expect(() => {
      checkBoundClaims({ '/org/teams': 'b*' }, 'glob', CLAIMS);
    }).not.toThrow();
    expect(() => {
      checkBoundClaims({ nope: 'x' }, 'string', CLAIMS);
    }).toThrow(/claim "nope" is missing/);
  });

  it('checks audiences, strictly or not', () => {
    expect(() => {
      checkAudience(['b'], CLAIMS, true);
    }).not.toThrow();
    expect(() => {
      checkAudience(['c'], CLAIMS, false);
    }).toThrow(/aud claim does not match/);
    expect(() => {
      checkAudience([], CLAIMS, true);
    }).toThrow(/no audiences bound/);
    expect(() => {
      checkAudience([], CLAIMS, false);
    }).not.toThrow();
  });

  it('takes the user name from a string or number, and refuses other shapes', () => {
    expect(userName(CLAIMS, 'sub', false)).toBe('u1');
    expect(userName(CLAIMS, 'count', false)).toBe('3');
    expect(userName(CLAIMS, '/org/teams/0', true)).toBe('red');
    expect(() => userName(CLAIMS, '/org/teams/0', false)).toThrow(/not found/);
    expect(() => userName(CLAIMS, 'org', false)).toThrow(/could not be converted/);
    expect(() => userName(CLAIMS, 'admin', false)).toThrow(/could not be converted/);
  });

  it('maps claims to metadata and reads groups', () => {
    expect(mappedMetadata(CLAIMS, { sub: 'user', '/org/x~0y': 'x', missing: 'm' })).toEqual({
      user: 'u1',
      x: '1',
    });
    expect(() => mappedMetadata(CLAIMS, { aud: 'aud' })).toThrow(/error converting claim "aud"/);
    expect(groupNames(CLAIMS, '/org/teams')).toEqual(['red', 'blue']);
    expect(() => groupNames(CLAIMS, '/org')).toThrow(/string list/);
  });
});
