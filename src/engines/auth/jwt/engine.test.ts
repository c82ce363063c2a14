// Tests for the JWT/OIDC factories: both types, auth category, unauthenticated paths.
import { describe, expect, it } from 'vitest';
import { testMount } from '../../../sdk/testing.js';
import { jwtAuthFactory, oidcAuthFactory } from './engine.js';

describe('jwt and oidc factories', () => {
  it('serve types jwt and oidc as auth methods with the login paths open', () => {
    expect(jwtAuthFactory.type).toBe('jwt');
    expect(oidcAuthFactory.type).toBe('oidc');
    for (const factory of [jwtAuthFactory, oidcAuthFactory]) {
      expect(factory.category).toBe('auth');
      const engine = factory.create(testMount({ path: 'auth/x/', type: factory.type }));
      expect(engine.unauthenticatedPaths).toEqual(['login', 'oidc/auth_url', 'oidc/callback']);
    }
  });
});
