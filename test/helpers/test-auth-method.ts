// A small auth method for tests of the login plumbing (core, client, CLI): it answers every
// login shape Coffer's clients send, with fixed credentials, and grants a token whose
// metadata says which method and name it saw. Not a mock of a real method: the real ones have
// their own tests; this one exercises everything around them.
import { kvEngineFactory } from '../../src/engines/kv/engine.js';
import type { EngineFactory, EngineResult } from '../../src/sdk/engine.js';
import { CofferError } from '../../src/sdk/errors.js';
import { createUnsealedStack, type Stack } from './stack.js';

export interface TestAuthCredentials {
  readonly password: string;
  readonly secretId: string;
  readonly jwt: string;
  /** The authorisation code the OIDC "provider" hands back. */
  readonly code: string;
  /** The token TTL a login asks for; default 600, 0 = the auth mount's default. */
  readonly ttlSeconds?: number;
}

function grant(name: string, method: string, ttlSeconds: number): EngineResult {
  return {
    kind: 'login',
    login: {
      policies: ['reader'],
      displayName: name,
      metadata: { method, name },
      ttlSeconds,
      maxTtlSeconds: 0,
      explicitMaxTtlSeconds: 0,
      periodSeconds: 0,
      numUses: 0,
      tokenType: 'default',
      boundCidrs: [],
      noDefaultPolicy: false,
      alias: { name },
    },
  };
}

const denied = (): Promise<never> =>
  Promise.reject(new CofferError('invalid_request', 'invalid credentials'));

/**
 * Type "testauth". userpass: `login/:name` with the password (name = the user). AppRole:
 * `login` with role_id "rid" and the secret-id or none (name "given"/"none"). JWT and
 * Kubernetes: `login` with the JWT and role "dev" (name = the role). OIDC: `oidc/auth_url`
 * answers the redirect URI itself with state and code (the "provider" approves at once; role
 * "nourl" gets no URL), and `oidc/callback` checks state, nonce and code (name = the role,
 * default "oidc-user").
 */
export function testAuthMethod(credentials: TestAuthCredentials): EngineFactory {
  const ttl = credentials.ttlSeconds ?? 600;
  return {
    type: 'testauth',
    category: 'auth',
    description: 'test auth method',
    create: () => {
      const pending = new Map<string, { nonce: string; role: string }>();
      return {
        unauthenticatedPaths: ['login', 'login/*', 'oidc/auth_url', 'oidc/callback'],
        exists: () => Promise.resolve(undefined),
        handle(req) {
          const d = req.data;
          if (req.path.startsWith('login/')) {
            return d['password'] === credentials.password
              ? Promise.resolve(grant(req.path.slice('login/'.length), 'userpass', ttl))
              : denied();
          }
          if (req.path === 'login' && d['role_id'] !== undefined) {
            const secretId = d['secret_id'] === undefined ? 'none' : 'given';
            const ok =
              d['role_id'] === 'rid' &&
              (d['secret_id'] ?? credentials.secretId) === credentials.secretId;
            return ok ? Promise.resolve(grant(secretId, 'approle', ttl)) : denied();
          }
          if (req.path === 'login') {
            const ok = d['jwt'] === credentials.jwt && (d['role'] ?? 'dev') === 'dev';
            const role = typeof d['role'] === 'string' ? d['role'] : 'default';
            return ok ? Promise.resolve(grant(role, 'jwt', ttl)) : denied();
          }
          if (req.path === 'oidc/auth_url') {
            if (d['role'] === 'nourl') {
              return Promise.resolve({ kind: 'data', data: { auth_url: '' } });
            }
            const state = `st-${pending.size + 1}`;
            pending.set(state, {
              nonce: String(d['client_nonce']),
              role: typeof d['role'] === 'string' ? d['role'] : 'oidc-user',
            });
            const url = new URL(String(d['redirect_uri']));
            url.searchParams.set('state', state);
            url.searchParams.set('code', credentials.code);
            return Promise.resolve({ kind: 'data', data: { auth_url: url.toString() } });
          }
          if (req.path === 'oidc/callback') {
            const entry = pending.get(String(d['state']));
            pending.delete(String(d['state']));
            const ok =
              entry !== undefined &&
              entry.nonce === d['client_nonce'] &&
              d['code'] === credentials.code;
            return ok ? Promise.resolve(grant(entry.role, 'oidc', ttl)) : denied();
          }
          return Promise.resolve({ kind: 'data', data: {} });
        },
      };
    },
  };
}

export interface AuthTestServer {
  readonly stack: Stack & { readonly rootToken: string };
  /** e.g. "http://127.0.0.1:41234". */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * An unsealed in-process server on a loopback port with KV v2 at secret/ and the test auth
 * method enabled at each of `paths`.
 */
export async function startAuthTestServer(
  credentials: TestAuthCredentials,
  paths: readonly string[],
): Promise<AuthTestServer> {
  const factory = testAuthMethod(credentials);
  const stack = await createUnsealedStack({
    engines: new Map([
      [kvEngineFactory.type, kvEngineFactory],
      [factory.type, factory],
    ]),
  });
  const address = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  for (const path of paths) await stack.core.authMounts.enable(path, { type: factory.type });
  return {
    stack,
    address,
    async close() {
      await stack.core.sealForShutdown();
      await stack.app.close();
    },
  };
}
