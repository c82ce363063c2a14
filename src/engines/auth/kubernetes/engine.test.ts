// Tests for the Kubernetes factory: type, auth category, unauthenticated login.
import { describe, expect, it } from 'vitest';
import { testMount } from '../../../sdk/testing.js';
import { kubernetesAuthFactory } from './engine.js';

describe('kubernetes factory', () => {
  it('is an auth method of type kubernetes with login open', () => {
    expect(kubernetesAuthFactory.type).toBe('kubernetes');
    expect(kubernetesAuthFactory.category).toBe('auth');
    const engine = kubernetesAuthFactory.create(
      testMount({ path: 'auth/k8s/', type: 'kubernetes' }),
    );
    expect(engine.unauthenticatedPaths).toEqual(['login']);
  });
});
