// CIDR lists of auth methods: validation and normal form, address matching (fail closed,
// IPv4-mapped IPv6), and the subset rule for secret IDs.
import { describe, expect, it } from 'vitest';
import { addressInCidrs, cidrsWithin, parseCidrList, unmapAddress } from './cidr.js';

describe('cidr', () => {
  it('keeps lists as written (AppRole clients read them back): only trims and drops empties', () => {
    expect(
      parseCidrList(
        [' 10.0.0.0/8', '192.168.1.1/32', '2001:DB8::/32', '10.0.0.0/8', '', '::1/128'],
        'f',
      ),
    ).toEqual(['10.0.0.0/8', '192.168.1.1/32', '2001:DB8::/32', '10.0.0.0/8', '::1/128']);
    expect(parseCidrList(['::ffff:10.0.0.1'], 'f')).toEqual(['::ffff:10.0.0.1']);
    expect(addressInCidrs('10.0.0.1', ['::ffff:10.0.0.1'])).toBe(true);
    expect(addressInCidrs('2001:db8::5', ['2001:DB8::/32'])).toBe(true);
  });

  it('refuses malformed blocks naming the field and not echoing the value', () => {
    for (const bad of [
      '10.0.0.0/33',
      '::/129',
      '10.0.0/8',
      'host.example',
      '10.0.0.0/8/8',
      'fe80::1%eth0',
      '10.0.0.0/-1',
      '010.0.0.1',
    ]) {
      expect(() => parseCidrList([bad], 'token_bound_cidrs')).toThrow(
        expect.objectContaining({ code: 'invalid_request', field: 'token_bound_cidrs' }) as Error,
      );
      try {
        parseCidrList([bad], 'token_bound_cidrs');
      } catch (err) {
        expect((err as Error).message).not.toContain(bad);
      }
    }
  });

  it('matches addresses, IPv4-mapped ones as IPv4, and fails closed', () => {
    const cidrs = parseCidrList(['10.0.0.0/8', '192.0.2.1', '2001:db8::/32'], 'f');
    expect(addressInCidrs('10.255.0.1', cidrs)).toBe(true);
    expect(addressInCidrs('::ffff:10.1.1.1', cidrs)).toBe(true);
    expect(addressInCidrs('192.0.2.1', cidrs)).toBe(true);
    expect(addressInCidrs('192.0.2.2', cidrs)).toBe(false);
    expect(addressInCidrs('2001:db8:ffff::1', cidrs)).toBe(true);
    expect(addressInCidrs('2001:db9::1', cidrs)).toBe(false);
    expect(addressInCidrs(undefined, cidrs)).toBe(false);
    expect(addressInCidrs('garbage', cidrs)).toBe(false);
    expect(addressInCidrs('10.0.0.1', [])).toBe(false);
    expect(unmapAddress('::FFFF:1.2.3.4')).toBe('1.2.3.4');
  });

  it('checks that a list lies within another (an empty outer list allows anything)', () => {
    const role = ['10.0.0.0/8', '192.168.0.0/16'];
    expect(cidrsWithin(['10.1.0.0/16', '192.168.3.4'], role)).toBe(true);
    expect(cidrsWithin(['10.0.0.0/8'], role)).toBe(true);
    expect(cidrsWithin(['10.0.0.0/7'], role)).toBe(false);
    expect(cidrsWithin(['11.0.0.0/16'], role)).toBe(false);
    expect(cidrsWithin(['2001:db8::/48'], role)).toBe(false);
    expect(cidrsWithin(['0.0.0.0/0'], [])).toBe(true);
    expect(cidrsWithin([], role)).toBe(true);
  });
});
