// The approle factory: category, unauthenticated paths and mount options.
import { describe, expect, it } from 'vitest';
import { testMount } from '../../../sdk/testing.js';
import { approleAuthFactory, approleRateLimit } from './engine.js';

describe('approle engine', () => {
  it('is an auth method whose login path needs no token', () => {
    expect(approleAuthFactory).toMatchObject({ type: 'approle', category: 'auth' });
    const engine = approleAuthFactory.create(testMount({ type: 'approle', options: {} }));
    expect(engine.unauthenticatedPaths).toEqual(['login']);
  });

  it('takes rate-limit options and refuses others', () => {
    expect(approleRateLimit({})).toEqual({ burst: 100, perSecond: 20 });
    expect(approleRateLimit({ login_rate_burst: '5', login_rate_per_second: '0' })).toEqual({
      burst: 5,
      perSecond: 0,
    });
    for (const options of [
      { version: '2' },
      { login_rate_burst: 'x' },
      { login_rate_per_second: '1e3' },
    ]) {
      expect(() => approleAuthFactory.normaliseOptions!(options)).toThrow(
        expect.objectContaining({ code: 'invalid_request' }) as Error,
      );
    }
  });
});
