// Test fixtures for the JWT/OIDC auth method: a tiny OIDC provider on a loopback port (discovery,
// JWKS with key rotation, authorize with a redirect, token endpoint with PKCE and client
// authentication) that signs with real keys, and the engine on an auth mount (see ../testing.ts).
// Not part of the build.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { LoginGrant, Operation } from '../../../sdk/engine.js';
import { T0, type EngineHarness } from '../../../sdk/testing.js';
import { authHarness, loginOf } from '../testing.js';
import { createJwtEngine, type JwtEngine, type JwtEngineOptions } from './engine.js';

export { expectCoffer } from '../testing.js';
export { T0 };

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function newSigningKey(
  alg = 'RS256',
  kid = randomBytes(6).toString('hex'),
): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

/** Signs `claims` with `key` (kid in the header unless `noKid`). */
export async function signWith(
  key: SigningKey,
  claims: JWTPayload,
  options: { noKid?: boolean; alg?: string } = {},
): Promise<string> {
  const header = {
    alg: options.alg ?? key.alg,
    ...(options.noKid === true ? {} : { kid: key.kid }),
  };
  return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
}

/** A pending authorization at the provider, as the authorize endpoint recorded it. */
interface Grant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly nonce: string;
  readonly codeChallenge: string;
  readonly claims: JWTPayload;
}

export interface TokenRequestRecord {
  readonly form: Record<string, string>;
  readonly authorization: string | undefined;
}

export interface TestProvider {
  /** http://127.0.0.1:<port>: also the discovery base URL. */
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The key tokens are signed with now. */
  readonly currentKey: SigningKey;
  /** How many times the JWKS was served. */
  readonly jwksRequests: number;
  readonly tokenRequests: readonly TokenRequestRecord[];
  /** Claims the next authorization puts in its ID token (besides iss, aud, nonce, times). */
  user: JWTPayload;
  /** Applied to ID tokens after the standard claims (to forge wrong nonce, aud, ...). */
  idTokenOverrides: JWTPayload;
  /** Signs a token for `login` with the current key, iat/exp from the provider clock. */
  sign(
    claims: JWTPayload,
    options?: { expiresInSeconds?: number; noKid?: boolean },
  ): Promise<string>;
  /** Adds a new key and signs with it from now on; `dropOld` removes the old ones from the JWKS. */
  rotate(dropOld?: boolean): Promise<SigningKey>;
  /** Simulates the browser: opens the auth URL and returns the redirect's parameters. */
  authorize(authUrl: string): Promise<URLSearchParams>;
  close(): Promise<void>;
}

export interface TestProviderOptions {
  /** Provider clock, epoch ms (match the engine's). */
  readonly now?: () => number;
  /** Discovery's token_endpoint_auth_methods_supported. */
  readonly tokenAuthMethods?: readonly string[];
  /** Issuer to put in the discovery document instead of the real URL (mix-up tests). */
  readonly advertisedIssuer?: string;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

export async function startTestProvider(options: TestProviderOptions = {}): Promise<TestProvider> {
  const now = options.now ?? (() => T0);
  const keys: SigningKey[] = [await newSigningKey()];
  const grants = new Map<string, Grant>();
  const tokenRequests: TokenRequestRecord[] = [];
  let jwksRequests = 0;
  const clientId = 'coffer-client';
  const clientSecret = `secret-${randomBytes(8).toString('hex')}`;
  let issuer = '';

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      if (url.pathname === '/.well-known/openid-configuration') {
        sendJson(res, 200, {
          issuer: options.advertisedIssuer ?? issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: options.tokenAuthMethods ?? [
            'client_secret_basic',
          ],
        });
        return;
      }
      if (url.pathname === '/jwks') {
        jwksRequests += 1;
        sendJson(res, 200, { keys: keys.map((k) => k.publicJwk) });
        return;
      }
      if (url.pathname === '/authorize') {
        const q = url.searchParams;
        if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256') {
          sendJson(res, 400, { error: 'invalid_request' });
          return;
        }
        const code = randomBytes(12).toString('hex');
        grants.set(code, {
          clientId: q.get('client_id') ?? '',
          redirectUri: q.get('redirect_uri') ?? '',
          nonce: q.get('nonce') ?? '',
          codeChallenge: q.get('code_challenge') ?? '',
          claims: { ...provider.user },
        });
        const back = new URL(q.get('redirect_uri') ?? '');
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state') ?? '');
        res.statusCode = 302;
        res.setHeader('location', back.href);
        res.end();
        return;
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
        tokenRequests.push({ form, authorization: req.headers.authorization });
        const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
        const clientOk =
          req.headers.authorization === basic ||
          (form.client_id === clientId && form.client_secret === clientSecret);
        if (!clientOk) {
          sendJson(res, 401, { error: 'invalid_client' });
          return;
        }
        const grant = grants.get(form.code ?? '');
        grants.delete(form.code ?? '');
        const challenge = createHash('sha256')
          .update(form.code_verifier ?? '')
          .digest('base64url');
        if (
          form.grant_type !== 'authorization_code' ||
          grant === undefined ||
          grant.redirectUri !== form.redirect_uri ||
          grant.clientId !== clientId ||
          grant.codeChallenge !== challenge
        ) {
          sendJson(res, 400, { error: 'invalid_grant' });
          return;
        }
        const nowSeconds = Math.floor(now() / 1000);
        const idToken = await signWith(provider.currentKey, {
          iss: issuer,
          aud: clientId,
          nonce: grant.nonce,
          iat: nowSeconds,
          exp: nowSeconds + 300,
          ...grant.claims,
          ...provider.idTokenOverrides,
        });
        sendJson(res, 200, {
          access_token: randomBytes(12).toString('hex'),
          token_type: 'Bearer',
          expires_in: 300,
          id_token: idToken,
        });
        return;
      }
      sendJson(res, 404, { error: 'not_found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider: TestProvider = {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    clientId,
    clientSecret,
    get currentKey() {
      return keys[keys.length - 1]!;
    },
    get jwksRequests() {
      return jwksRequests;
    },
    tokenRequests,
    user: { sub: 'alice' },
    idTokenOverrides: {},
    sign(claims, signOptions = {}) {
      const nowSeconds = Math.floor(now() / 1000);
      return signWith(
        provider.currentKey,
        {
          iss: issuer,
          iat: nowSeconds,
          exp: nowSeconds + (signOptions.expiresInSeconds ?? 300),
          ...claims,
        },
        signOptions.noKid === true ? { noKid: true } : {},
      );
    },
    async rotate(dropOld = false) {
      const key = await newSigningKey();
      if (dropOld) keys.splice(0, keys.length);
      keys.push(key);
      return key;
    },
    async authorize(authUrl) {
      const res = await fetch(authUrl, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || location === null) {
        throw new Error(`authorize answered ${res.status}`);
      }
      return new URL(location).searchParams;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    },
  };
  return provider;
}

export interface Harness extends EngineHarness<JwtEngine> {
  login(path: string, data: Record<string, unknown>, operation?: Operation): Promise<LoginGrant>;
}

export function harness(options: JwtEngineOptions = {}): Harness {
  const h = authHarness(createJwtEngine(options), 'jwt');
  const jwt: Pick<Harness, 'login'> = {
    async login(path, data, operation = 'update') {
      return loginOf(await h.call(operation, path, data));
    },
  };
  return Object.assign(h, jwt);
}
