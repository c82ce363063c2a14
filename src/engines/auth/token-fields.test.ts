// The shared token fields: parsing through parseFields, validation, the legacy `policies`
// field, Vault's read shape, the stored form, and the LoginGrant.
import { describe, expect, it } from 'vitest';
import { parseFields } from '../../sdk/fields.js';
import {
  DEFAULT_TOKEN_SETTINGS,
  loginGrant,
  normalisePolicies,
  readTokenSettings,
  renderTokenSettings,
  TOKEN_FIELDS,
  updateTokenSettings,
  type TokenSettings,
} from './token-fields.js';

const apply = (data: Record<string, unknown>, current: TokenSettings = DEFAULT_TOKEN_SETTINGS) =>
  updateTokenSettings(current, parseFields(TOKEN_FIELDS, data));

describe('token fields', () => {
  it('parses every field with Vault weak typing', () => {
    const { settings, warnings } = apply({
      token_policies: 'b, A ,a',
      token_ttl: '1h',
      token_max_ttl: '7200',
      token_explicit_max_ttl: 10_800,
      token_period: '0s',
      token_num_uses: '3',
      token_type: 'service',
      token_bound_cidrs: '10.0.0.0/8, 192.0.2.1/32',
      token_no_default_policy: 'true',
    });
    expect(warnings).toEqual([]);
    expect(settings).toEqual({
      policies: ['a', 'b'],
      legacyPolicies: false,
      ttlSeconds: 3600,
      maxTtlSeconds: 7200,
      explicitMaxTtlSeconds: 10_800,
      periodSeconds: 0,
      numUses: 3,
      tokenType: 'service',
      boundCidrs: ['10.0.0.0/8', '192.0.2.1/32'],
      noDefaultPolicy: true,
    });
  });

  it('renders Vault read shape, defaults included', () => {
    expect(renderTokenSettings(DEFAULT_TOKEN_SETTINGS)).toEqual({
      token_bound_cidrs: [],
      token_explicit_max_ttl: 0,
      token_max_ttl: 0,
      token_no_default_policy: false,
      token_num_uses: 0,
      token_period: 0,
      token_policies: [],
      token_ttl: 0,
      token_type: 'default',
    });
  });

  it('keeps fields a write does not name', () => {
    const first = apply({ token_policies: 'a', token_ttl: 60 }).settings;
    const second = apply({ token_num_uses: 2 }, first).settings;
    expect(second).toMatchObject({ policies: ['a'], ttlSeconds: 60, numUses: 2 });
  });

  it('handles the legacy policies field as Vault does', () => {
    const legacy = apply({ policies: 'x,y' }).settings;
    expect(legacy).toMatchObject({ policies: ['x', 'y'], legacyPolicies: true });
    expect(renderTokenSettings(legacy)).toMatchObject({
      policies: ['x', 'y'],
      token_policies: ['x', 'y'],
    });
    const both = apply({ policies: 'old', token_policies: 'new' }).settings;
    expect(both).toMatchObject({ policies: ['new'], legacyPolicies: true });
    const modern = apply({ token_policies: 'new' }, legacy).settings;
    expect(modern.legacyPolicies).toBe(false);
    expect(renderTokenSettings(modern)).not.toHaveProperty('policies');
  });

  it('refuses root in any spelling, for both policy fields', () => {
    for (const data of [
      { token_policies: 'root' },
      { token_policies: 'a, ROOT' },
      { policies: ' Root ' },
    ]) {
      expect(() => apply(data)).toThrow(
        expect.objectContaining({ code: 'invalid_request' }) as Error,
      );
    }
    expect(normalisePolicies([' Dev ', 'dev', '', 'OPS'], 'p')).toEqual(['dev', 'ops']);
  });

  it('validates: ttl within max_ttl, batch limits, token_type, CIDRs, negatives', () => {
    const bad: Record<string, unknown>[] = [
      { token_ttl: 100, token_max_ttl: 50 },
      { token_type: 'batch', token_period: 60 },
      { token_type: 'batch', token_num_uses: 1 },
      { token_type: 'orphan' },
      { token_bound_cidrs: '10.0.0.0/40' },
      { token_num_uses: -1 },
      { token_ttl: -5 },
      { token_ttl: 'forever' },
    ];
    for (const data of bad) {
      expect(() => apply(data)).toThrow(
        expect.objectContaining({ code: 'invalid_request' }) as Error,
      );
    }
    // ttl > max_ttl is checked against the stored value too.
    const capped = apply({ token_max_ttl: 60 }).settings;
    expect(() => apply({ token_ttl: 61 }, capped)).toThrow(
      expect.objectContaining({ field: 'token_ttl' }) as Error,
    );
    expect(apply({ token_ttl: 100, token_max_ttl: 0 }).settings.ttlSeconds).toBe(100);
  });

  it('maps old read-back token types with a warning', () => {
    expect(apply({ token_type: 'default-batch' })).toEqual({
      settings: expect.objectContaining({ tokenType: 'batch' }) as TokenSettings,
      warnings: ['default-batch has no useful meaning; adjusting to batch'],
    });
    expect(apply({ token_type: '' }).settings.tokenType).toBe('default');
  });

  it('round-trips the stored form and refuses a malformed one', () => {
    const { settings } = apply({ token_policies: 'a', token_bound_cidrs: '10.0.0.0/8' });
    expect(readTokenSettings(JSON.parse(JSON.stringify(settings)))).toEqual(settings);
    for (const bad of [
      null,
      'x',
      { ...settings, numUses: -1 },
      { ...settings, tokenType: 'root' },
    ]) {
      expect(() => readTokenSettings(bad)).toThrow(
        expect.objectContaining({ code: 'integrity_failure' }) as Error,
      );
    }
  });

  it('turns settings into a LoginGrant, with an optional CIDR override', () => {
    const { settings } = apply({
      token_policies: 'dev',
      token_ttl: 60,
      token_max_ttl: 120,
      token_explicit_max_ttl: 300,
      token_period: 30,
      token_num_uses: 2,
      token_bound_cidrs: '10.0.0.0/8',
      token_no_default_policy: true,
    });
    const who = { displayName: 'alice', metadata: { username: 'alice' }, aliasName: 'alice' };
    expect(loginGrant(settings, who)).toEqual({
      policies: ['dev'],
      displayName: 'alice',
      metadata: { username: 'alice' },
      ttlSeconds: 60,
      maxTtlSeconds: 120,
      explicitMaxTtlSeconds: 300,
      periodSeconds: 30,
      numUses: 2,
      tokenType: 'default',
      boundCidrs: ['10.0.0.0/8'],
      noDefaultPolicy: true,
      alias: { name: 'alice', metadata: { username: 'alice' } },
    });
    expect(loginGrant(settings, { ...who, boundCidrs: ['10.1.0.0/16'] }).boundCidrs).toEqual([
      '10.1.0.0/16',
    ]);
  });

  it('never grants root, even from a stored entry written around the API', () => {
    const tampered = { ...DEFAULT_TOKEN_SETTINGS, policies: ['dev', 'ROOT'] };
    expect(() => loginGrant(tampered, { displayName: '', metadata: {}, aliasName: 'x' })).toThrow(
      expect.objectContaining({ code: 'permission_denied' }) as Error,
    );
  });
});
