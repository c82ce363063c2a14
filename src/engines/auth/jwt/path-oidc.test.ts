// Tests for the browser OIDC flow against the loopback test provider: auth_url (state, nonce,
// PKCE, redirect checks), callback (code exchange, ID token checks), single-use state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectAllowed } from './path-oidc.js';
import {
  expectCoffer,
  harness,
  startTestProvider,
  T0,
  type Harness,
  type TestProvider,
} from './testing.js';

const REDIRECT = 'http://localhost:8250/oidc/callback';

let provider: TestProvider;

beforeAll(async () => {
  provider = await startTestProvider();
});

afterAll(async () => {
  await provider.close();
});

async function setUp(p: TestProvider = provider): Promise<Harness> {
  const h = harness();
  await h.call('update', 'config', {
    oidc_discovery_url: p.issuer,
    oidc_client_id: p.clientId,
    oidc_client_secret: p.clientSecret,
    default_role: 'web',
  });
  await h.call('create', 'role/web', {
    user_claim: 'email',
    allowed_redirect_uris: [REDIRECT, 'https://coffer.example/ui/vault/auth/oidc/oidc/callback'],
    oidc_scopes: 'profile,email',
    claim_mappings: { name: 'name' },
    token_policies: 'reader',
  });
  p.user = { sub: 'u-1', email: 'alice@example.com', name: 'Alice' };
  p.idTokenOverrides = {};
  return h;
}

async function authUrl(h: Harness, data: Record<string, unknown> = {}): Promise<URL> {
  const out = await h.data('update', 'oidc/auth_url', { redirect_uri: REDIRECT, ...data });
  if (typeof out.auth_url !== 'string') throw new Error('auth_url is not a string');
  return new URL(out.auth_url);
}

/** auth_url, then the provider's authorize step; returns the callback parameters. */
async function startLogin(
  h: Harness,
  p: TestProvider = provider,
  data: Record<string, unknown> = {},
): Promise<Record<string, string>> {
  const params = await p.authorize((await authUrl(h, data)).href);
  return Object.fromEntries(params);
}

describe('oidc auth_url', () => {
  it('returns the provider URL with state, nonce and an S256 code challenge', async () => {
    const h = await setUp();
    const url = await authUrl(h, { role: 'web' });
    expect(`${url.origin}${url.pathname}`).toBe(`${provider.issuer}/authorize`);
    const q = url.searchParams;
    expect(q.get('client_id')).toBe(provider.clientId);
    expect(q.get('redirect_uri')).toBe(REDIRECT);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('scope')).toBe('openid profile email');
    expect(q.get('state')).toMatch(/^[0-9a-f]{40}$/);
    expect(q.get('nonce')).toMatch(/^[0-9a-f]{40}$/);
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(h.engine.deps.states.size).toBe(1);
  });

  it('answers an empty URL for a redirect the role does not allow', async () => {
    const h = await setUp();
    const out = await h.data('update', 'oidc/auth_url', {
      redirect_uri: 'https://evil.example/cb',
    });
    expect(out).toEqual({ auth_url: '' });
    expect(h.engine.deps.states.size).toBe(0);
  });

  it('matches loopback redirects in any port, others exactly', () => {
    expect(redirectAllowed('http://localhost:53121/oidc/callback', [REDIRECT])).toBe(true);
    expect(redirectAllowed('http://localhost:53121/other', [REDIRECT])).toBe(false);
    expect(redirectAllowed('https://coffer.example/cb', ['https://coffer.example/cb'])).toBe(true);
    expect(redirectAllowed('https://coffer.example:444/cb', ['https://coffer.example/cb'])).toBe(
      false,
    );
  });

  it('refuses a jwt role, and a mount without an OIDC client', async () => {
    const h = await setUp();
    await h.call('create', 'role/ci', { role_type: 'jwt', user_claim: 'sub', bound_subject: 's' });
    await expectCoffer(
      h.call('update', 'oidc/auth_url', { role: 'ci', redirect_uri: REDIRECT }),
      'invalid_request',
      /not an OIDC role/,
    );
    const bare = harness();
    await bare.call('update', 'config', { jwks_url: provider.jwksUrl });
    await expectCoffer(
      bare.call('update', 'oidc/auth_url', { role: 'web', redirect_uri: REDIRECT }),
      'invalid_request',
      /OIDC login is not configured/,
    );
  });
});

describe('oidc callback', () => {
  it('exchanges the code with PKCE and client authentication, and logs in', async () => {
    const h = await setUp();
    const cb = await startLogin(h);
    const grant = await h.login('oidc/callback', { state: cb.state, code: cb.code }, 'read');
    expect(grant).toMatchObject({
      policies: ['reader'],
      displayName: 'alice@example.com',
      metadata: { role: 'web', name: 'Alice' },
      alias: { name: 'alice@example.com' },
    });
    const exchange = provider.tokenRequests[provider.tokenRequests.length - 1]!;
    expect(exchange.form.grant_type).toBe('authorization_code');
    expect(exchange.form.redirect_uri).toBe(REDIRECT);
    expect(exchange.form).not.toHaveProperty('client_secret');
    expect(exchange.authorization).toMatch(/^Basic /);
    expect(exchange.form.code_verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(h.engine.deps.states.size).toBe(0);
  });

  it('refuses a state used twice', async () => {
    const h = await setUp();
    const cb = await startLogin(h);
    await h.login('oidc/callback', { state: cb.state, code: cb.code }, 'read');
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'invalid_request',
      /expired or missing OAuth state/,
    );
  });

  it('consumes the state even when the login fails', async () => {
    const h = await setUp();
    const cb = await startLogin(h);
    provider.idTokenOverrides = { aud: 'someone-else' };
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'permission_denied',
      /aud/,
    );
    provider.idTokenOverrides = {};
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'invalid_request',
      /expired or missing OAuth state/,
    );
  });

  it('refuses an expired state', async () => {
    const h = await setUp();
    const cb = await startLogin(h);
    h.nowMs = T0 + 10 * 60_000 + 1;
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'invalid_request',
      /expired or missing OAuth state/,
    );
  });

  it('refuses an ID token with another nonce', async () => {
    const h = await setUp();
    const cb = await startLogin(h);
    provider.idTokenOverrides = { nonce: 'replayed' };
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'permission_denied',
      /nonce/,
    );
  });

  it('refuses an ID token from another issuer or with another azp', async () => {
    const h = await setUp();
    let cb = await startLogin(h);
    provider.idTokenOverrides = { iss: 'https://evil.example' };
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'permission_denied',
      /"iss"/,
    );
    cb = await startLogin(h);
    provider.idTokenOverrides = { aud: [provider.clientId, 'other'], azp: 'other' };
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'permission_denied',
      /azp/,
    );
  });

  it('requires the client_nonce given to auth_url', async () => {
    const h = await setUp();
    const cb = await startLogin(h, provider, { client_nonce: 'cn-1' });
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code, client_nonce: 'cn-2' }),
      'permission_denied',
      /client_nonce/,
    );
    const again = await startLogin(h, provider, { client_nonce: 'cn-1' });
    await h.login(
      'oidc/callback',
      { state: again.state, code: again.code, client_nonce: 'cn-1' },
      'read',
    );
  });

  it('refuses a code the provider rejects, a provider error and an issuer mix-up', async () => {
    const h = await setUp();
    let cb = await startLogin(h);
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: 'forged' }),
      'upstream_failure',
      /code exchange failed with HTTP status 400 \(invalid_grant\)/,
    );
    cb = await startLogin(h);
    await expectCoffer(
      h.call('read', 'oidc/callback', {
        state: cb.state,
        error: 'access_denied',
        error_description: 'The user said <b>no</b>',
      }),
      'permission_denied',
      /^login failed at the provider \(access_denied\)$/,
    );
    cb = await startLogin(h);
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code, iss: 'https://x' }),
      'permission_denied',
      /iss/,
    );
  });

  it('ignores the provider’s extra redirect parameters but refuses unknown ones', async () => {
    const h = await setUp();
    let cb = await startLogin(h);
    await h.login(
      'oidc/callback',
      { ...cb, session_state: 'abc', scope: 'openid', iss: provider.issuer },
      'read',
    );
    cb = await startLogin(h);
    await expectCoffer(
      h.call('read', 'oidc/callback', { ...cb, surprise: '1' }),
      'invalid_request',
      /^surprise: unknown field/,
    );
  });

  it('authenticates with client_secret_post when the provider supports only that', async () => {
    const postOnly = await startTestProvider({ tokenAuthMethods: ['client_secret_post'] });
    try {
      const h = await setUp(postOnly);
      const cb = await startLogin(h, postOnly);
      await h.login('oidc/callback', { state: cb.state, code: cb.code }, 'read');
      const exchange = postOnly.tokenRequests[0]!;
      expect(exchange.authorization).toBeUndefined();
      expect(exchange.form.client_id).toBe(postOnly.clientId);
      expect(exchange.form.client_secret).toBe(postOnly.clientSecret);
    } finally {
      await postOnly.close();
    }
  });

  it('checks the role’s bound claims on the ID token', async () => {
    const h = await setUp();
    await h.call('update', 'role/web', { bound_claims: { hd: 'example.com' } });
    const cb = await startLogin(h);
    await expectCoffer(
      h.call('read', 'oidc/callback', { state: cb.state, code: cb.code }),
      'permission_denied',
      /claim "hd" is missing/,
    );
  });
});
