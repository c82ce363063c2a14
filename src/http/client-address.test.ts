// A standby's statement of a forwarded request's client address verifies only unchanged, fresh
// and under the cluster's key.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  FORWARDED_FOR_HEADER,
  FORWARDED_MAC_HEADER,
  statementHeaders,
  verifyStatement,
} from './client-address.js';

const KEY = randomBytes(32);
const NOW = 1_800_000_000_000;
const URL_ = '/v1/secret/data/app';
const HEADERS = { 'x-vault-token': 'hvs.caller' };

function signed(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...HEADERS,
    ...statementHeaders(KEY, NOW, 'GET', URL_, HEADERS, '10.1.2.3'),
    ...overrides,
  };
}

describe('forwarded client address statements', () => {
  it('verify as made', () => {
    expect(verifyStatement(KEY, NOW + 1_000, 'GET', URL_, signed())).toBe('10.1.2.3');
  });

  it('fail when the address, method, URL or token changed', () => {
    expect(
      verifyStatement(KEY, NOW, 'GET', URL_, signed({ [FORWARDED_FOR_HEADER]: '10.9.9.9' })),
    ).toBeUndefined();
    expect(verifyStatement(KEY, NOW, 'POST', URL_, signed())).toBeUndefined();
    expect(verifyStatement(KEY, NOW, 'GET', '/v1/secret/data/other', signed())).toBeUndefined();
    expect(
      verifyStatement(KEY, NOW, 'GET', URL_, signed({ 'x-vault-token': 'hvs.other' })),
    ).toBeUndefined();
  });

  it('fail under another key, more than a minute off, or malformed', () => {
    expect(verifyStatement(randomBytes(32), NOW, 'GET', URL_, signed())).toBeUndefined();
    expect(verifyStatement(KEY, NOW + 60_001, 'GET', URL_, signed())).toBeUndefined();
    expect(verifyStatement(KEY, NOW - 60_001, 'GET', URL_, signed())).toBeUndefined();
    const mac = signed()[FORWARDED_MAC_HEADER] ?? '';
    for (const bad of [mac.replace('v1.', 'v2.'), `${mac}A`, mac.slice(0, -1), 'v1.x.y', '']) {
      expect(
        verifyStatement(KEY, NOW, 'GET', URL_, signed({ [FORWARDED_MAC_HEADER]: bad })),
      ).toBeUndefined();
    }
    const withoutAddress = Object.fromEntries(
      Object.entries(signed()).filter(([name]) => name !== FORWARDED_FOR_HEADER),
    );
    expect(verifyStatement(KEY, NOW, 'GET', URL_, withoutAddress)).toBeUndefined();
  });
});
