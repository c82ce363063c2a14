// The login rate limiter: token buckets per client key, Retry-After, IPv6 /64 grouping,
// bounded memory and the mount options.
import { describe, expect, it } from 'vitest';
import { clientKey, LoginRateLimiter, rateLimitFromOptions } from './rate-limit.js';

describe('login rate limit', () => {
  it('allows a burst, then one attempt per earned token, with a retry-after', () => {
    const limiter = new LoginRateLimiter({ burst: 3, perSecond: 0.25 });
    for (let i = 0; i < 3; i++) limiter.take('192.0.2.1', 0);
    expect(() => {
      limiter.take('192.0.2.1', 0);
    }).toThrow(expect.objectContaining({ code: 'rate_limited', retryAfterSeconds: 4 }) as Error);
    expect(() => {
      limiter.take('192.0.2.1', 3_999);
    }).toThrow(expect.objectContaining({ code: 'rate_limited', retryAfterSeconds: 1 }) as Error);
    limiter.take('192.0.2.1', 4_000);
    limiter.take('192.0.2.2', 4_000);
  });

  it('refused attempts do not spend tokens', () => {
    const limiter = new LoginRateLimiter({ burst: 1, perSecond: 1 });
    limiter.take('198.51.100.1', 0);
    for (let i = 0; i < 10; i++)
      expect(() => {
        limiter.take('198.51.100.1', 500);
      }).toThrow();
    limiter.take('198.51.100.1', 1_000);
  });

  it('is off at 0 per second', () => {
    const limiter = new LoginRateLimiter({ burst: 1, perSecond: 0 });
    for (let i = 0; i < 100; i++) limiter.take('192.0.2.1', 0);
    expect(limiter.size).toBe(0);
  });

  it('keys IPv4 by address, IPv6 by /64, mapped IPv4 as IPv4, unknown together', () => {
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:DB8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(clientKey('1:2:3:4:5:6:1.2.3.4')).toBe('1:2:3:4::/64');
    expect(clientKey(undefined)).toBe('unknown');
    expect(clientKey('nonsense')).toBe('unknown');
  });

  it('holds at most 10,000 clients', () => {
    const limiter = new LoginRateLimiter({ burst: 5, perSecond: 1 });
    for (let i = 0; i < 10_050; i++)
      limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 0);
    expect(limiter.size).toBe(10_000);
  });

  it('reads mount options and refuses malformed ones', () => {
    const defaults = { burst: 20, perSecond: 5 };
    expect(rateLimitFromOptions({}, defaults)).toEqual(defaults);
    expect(
      rateLimitFromOptions({ login_rate_burst: '3', login_rate_per_second: '0.5' }, defaults),
    ).toEqual({
      burst: 3,
      perSecond: 0.5,
    });
    for (const options of [
      { login_rate_burst: '0' },
      { login_rate_burst: '1.5' },
      { login_rate_per_second: 'fast' },
    ]) {
      expect(() => rateLimitFromOptions(options, defaults)).toThrow(
        expect.objectContaining({ code: 'invalid_request' }) as Error,
      );
    }
  });
});
