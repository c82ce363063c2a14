// Tests for pending OIDC logins: single use, expiry, and the bound on how many are kept.
import { describe, expect, it } from 'vitest';
import { OidcStates } from './oidc-state.js';

const ENTRY = { roleName: 'r', nonce: 'n', redirectUri: 'u', clientNonce: '', codeVerifier: 'v' };

describe('OidcStates', () => {
  it('hands a state out once', () => {
    const states = new OidcStates();
    const id = states.create(ENTRY, 0);
    expect(states.take(id, 1)).toMatchObject(ENTRY);
    expect(states.take(id, 1)).toBeUndefined();
  });

  it('expires states and drops expired ones when new ones come', () => {
    const states = new OidcStates(100, 1_000);
    const old = states.create(ENTRY, 0);
    states.create(ENTRY, 500);
    expect(states.take(old, 1_000)).toBeUndefined();
    states.create(ENTRY, 1_600);
    expect(states.size).toBe(1);
  });

  it('keeps at most the configured number, dropping the oldest', () => {
    const states = new OidcStates(3, 60_000);
    const ids = [0, 1, 2, 3].map((t) => states.create(ENTRY, t));
    expect(states.size).toBe(3);
    expect(states.take(ids[0]!, 10)).toBeUndefined();
    expect(states.take(ids[3]!, 10)).toBeDefined();
  });
});
