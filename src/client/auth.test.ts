import { startAuthTestServer, type AuthTestServer } from '../../test/helpers/test-auth-method.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  disableAuthMethod,
  enableAuthMethod,
  listAuthMethods,
  login,
  loginRequest,
  newClientNonce,
  oidcAuthUrl,
  oidcCallback,
  readAuthTune,
  tuneAuthMethod,
} from './auth.js';
import { OIDC_CALLBACK_PATH, startOidcListener } from './oidc-listener.js';
import { CofferClient } from './client.js';
import { ApiError, ClientError } from './errors.js';

const PASSWORD = 'CANARY-client-password';
const SECRET_ID = 'CANARY-client-secret-id';
const JWT = 'CANARY.client.jwt';
const CODE = 'CANARY-client-code';

let server: AuthTestServer | undefined;
let stack: AuthTestServer['stack'] | undefined;
let address = '';

beforeAll(async () => {
  server = await startAuthTestServer(
    { password: PASSWORD, secretId: SECRET_ID, jwt: JWT, code: CODE },
    ['userpass', 'approle', 'jwt', 'kubernetes', 'oidc'],
  );
  stack = server.stack;
  address = server.address;
});

afterAll(async () => {
  await server?.close();
});

function root(): CofferClient {
  return new CofferClient({ address, token: stack!.rootToken });
}

function anonymous(): CofferClient {
  return new CofferClient({ address });
}

describe('auth method mounts', () => {
  it('enables, lists, tunes and disables an auth method through sys/auth', async () => {
    await enableAuthMethod(root(), '/team-pass/', {
      type: 'testauth',
      description: 'team logins',
      config: { default_lease_ttl: '1h', max_lease_ttl: 7200 },
      options: { flavour: 'x' },
    });
    const methods = await listAuthMethods(root());
    expect(methods['token/']?.type).toBe('token');
    expect(methods['team-pass/']).toMatchObject({
      type: 'testauth',
      description: 'team logins',
      config: { default_lease_ttl: 3600, max_lease_ttl: 7200 },
      options: { flavour: 'x' },
    });
    expect(methods['team-pass/']?.accessor).toMatch(/^auth_testauth_/);

    await tuneAuthMethod(root(), 'team-pass', { default_lease_ttl: '30m', description: 'new' });
    expect(await readAuthTune(root(), 'team-pass')).toMatchObject({
      default_lease_ttl: 1800,
      max_lease_ttl: 7200,
      description: 'new',
    });

    await disableAuthMethod(root(), 'team-pass');
    expect((await listAuthMethods(root()))['team-pass/']).toBeUndefined();
  });

  it('refuses an empty path or type before sending anything', async () => {
    await expect(enableAuthMethod(root(), ' / ', { type: 'testauth' })).rejects.toThrow(
      ClientError,
    );
    await expect(enableAuthMethod(root(), 'x', { type: ' ' })).rejects.toThrow(ClientError);
    await expect(disableAuthMethod(root(), '')).rejects.toThrow(ClientError);
  });

  it('needs a token: sys/auth is refused without one', async () => {
    await expect(listAuthMethods(anonymous())).rejects.toMatchObject({ status: 403 });
  });
});

describe('logins', () => {
  it('builds each method’s endpoint and body, with the method name as the default mount', () => {
    expect(loginRequest({ method: 'userpass', username: 'alice', password: 'p w ' })).toEqual({
      path: 'auth/userpass/login/alice',
      body: { password: 'p w ' },
    });
    expect(loginRequest({ method: 'approle', mount: '/ci/', roleId: 'r' })).toEqual({
      path: 'auth/ci/login',
      body: { role_id: 'r' },
    });
    expect(loginRequest({ method: 'jwt', jwt: 'a.b.c' })).toEqual({
      path: 'auth/jwt/login',
      body: { jwt: 'a.b.c' },
    });
    expect(loginRequest({ method: 'kubernetes', role: 'app', jwt: 'a.b.c' })).toEqual({
      path: 'auth/kubernetes/login',
      body: { jwt: 'a.b.c', role: 'app' },
    });
    expect(() => loginRequest({ method: 'userpass', username: 'a/b', password: 'x' })).toThrow(
      'username must not contain "/"',
    );
    expect(() => loginRequest({ method: 'userpass', username: 'a', password: '' })).toThrow(
      'password must not be empty',
    );
  });

  it('logs in with userpass, AppRole, JWT and Kubernetes without a token', async () => {
    const user = await login(anonymous(), {
      method: 'userpass',
      username: 'alice',
      password: PASSWORD,
    });
    expect(user.auth.client_token).not.toBe('');
    expect(user.auth.metadata).toEqual({ method: 'userpass', name: 'alice' });
    expect(user.auth.policies).toEqual(['default', 'reader']);

    // The token works: it looks itself up.
    const self = new CofferClient({ address, token: user.auth.client_token });
    expect((await self.lookupSelf()).info.accessor).toBe(user.auth.accessor);

    const app = await login(anonymous(), { method: 'approle', roleId: 'rid', secretId: SECRET_ID });
    expect(app.auth.metadata?.['method']).toBe('approle');
    const jwt = await login(anonymous(), { method: 'jwt', role: 'dev', jwt: JWT });
    expect(jwt.auth.metadata?.['method']).toBe('jwt');
    const k8s = await login(anonymous(), { method: 'kubernetes', role: 'dev', jwt: JWT });
    expect(k8s.auth.accessor).not.toBe(jwt.auth.accessor);
  });

  it('reports a refused login as an ApiError that does not echo the password', async () => {
    const failure = await login(anonymous(), {
      method: 'userpass',
      username: 'alice',
      password: 'CANARY-wrong',
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(400);
    expect((failure as ApiError).message).not.toContain('CANARY');
  });
});

describe('OIDC', () => {
  it('runs the browser flow: auth_url, the provider redirect to the listener, callback', async () => {
    const listener = await startOidcListener({ host: '127.0.0.1', port: 0 });
    try {
      expect(listener.port).toBeGreaterThan(0);
      const redirectUri = `http://127.0.0.1:${listener.port}${OIDC_CALLBACK_PATH}`;
      const clientNonce = newClientNonce();
      const client = anonymous();
      const url = await oidcAuthUrl(client, { role: 'dev', redirectUri, clientNonce });
      expect(url.startsWith(`${redirectUri}?`)).toBe(true);

      const waiting = listener.waitForCallback(
        (params) => oidcCallback(client, { ...params, clientNonce }),
        10_000,
      );
      // The "browser": another path is not the callback; then the provider's redirect.
      expect((await fetch(`http://127.0.0.1:${listener.port}/favicon.ico`)).status).toBe(404);
      const browser = await fetch(url);
      expect(browser.status).toBe(200);
      expect(browser.headers.get('referrer-policy')).toBe('no-referrer');
      expect(await browser.text()).toContain('Coffer login succeeded');
      const result = await waiting;
      expect(result.auth.metadata).toEqual({ method: 'oidc', name: 'dev' });
    } finally {
      await listener.close();
    }
  });

  it('fails when the server refuses the code, and tells the browser', async () => {
    const listener = await startOidcListener({ host: '127.0.0.1', port: 0 });
    const client = anonymous();
    const redirectUri = `http://127.0.0.1:${listener.port}${OIDC_CALLBACK_PATH}`;
    const url = await oidcAuthUrl(client, { redirectUri, clientNonce: 'nonce-a' });
    const waiting = listener
      .waitForCallback((params) => oidcCallback(client, { ...params, clientNonce: 'nonce-b' }))
      .catch((error: unknown) => error);
    const browser = await fetch(url);
    expect(browser.status).toBe(400);
    expect(await browser.text()).not.toContain(CODE);
    expect(await waiting).toMatchObject({ status: 400 });
    await listener.close();
  });

  it('reports the provider’s error code but not arbitrary text, and a missing code', async () => {
    /** Sends the browser to the callback with `query` and returns how the wait ended. */
    const outcome = async (query: string) => {
      const listener = await startOidcListener({ host: '127.0.0.1', port: 0 });
      const waiting = listener
        .waitForCallback(() => Promise.resolve('unused'))
        .catch((error: unknown) => error);
      const browser = await fetch(
        `http://127.0.0.1:${listener.port}${OIDC_CALLBACK_PATH}?${query}`,
      );
      expect(browser.status).toBe(400);
      return String(await waiting);
    };
    expect(await outcome('error=access_denied')).toBe(
      'ClientError: the OIDC provider refused the login (access_denied)',
    );
    const arbitrary = await outcome('error=CANARY%20text%3Cb%3E');
    expect(arbitrary).toContain('(unrecognised error)');
    expect(arbitrary).not.toContain('CANARY');
    expect(await outcome('state=s')).toBe(
      'ClientError: the OIDC callback carried no state or code',
    );
  });

  it('gives up after the timeout and stops listening', async () => {
    const listener = await startOidcListener({ host: '127.0.0.1', port: 0 });
    await expect(listener.waitForCallback(() => Promise.resolve(1), 50)).rejects.toThrow(
      'no OIDC callback arrived within 50 ms',
    );
    await listener.close();
    await expect(fetch(`http://127.0.0.1:${listener.port}${OIDC_CALLBACK_PATH}`)).rejects.toThrow();
  });

  it('names the address when it cannot listen, and says when the server gave no auth_url', async () => {
    const first = await startOidcListener({ host: '127.0.0.1', port: 0 });
    await expect(startOidcListener({ host: '127.0.0.1', port: first.port })).rejects.toThrow(
      `cannot listen for the OIDC callback on 127.0.0.1:${first.port} (EADDRINUSE)`,
    );
    await first.close();
    await expect(
      oidcAuthUrl(anonymous(), { role: 'nourl', redirectUri: 'http://x/cb', clientNonce: 'n' }),
    ).rejects.toThrow(
      'the server returned no auth_url for role "nourl" with redirect_uri http://x/cb',
    );
  });
});
