// Tests for JWT `login` with real keys: a JWKS served by the loopback test provider, and static
// PEM keys. Covers the grant, every refusal (expired, tampered, wrong audience or issuer, alg
// none, unsupported algorithms, bindings), key rotation and the rate limit.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectCoffer,
  harness,
  newSigningKey,
  signWith,
  startTestProvider,
  T0,
  type Harness,
  type TestProvider,
} from './testing.js';
import { JWKS_REFRESH_COOLDOWN_MS } from './key-source.js';

let provider: TestProvider;

beforeAll(async () => {
  provider = await startTestProvider();
});

afterAll(async () => {
  await provider.close();
});

const ROLE = {
  role_type: 'jwt',
  user_claim: 'email',
  bound_audiences: 'coffer',
  bound_claims: { department: 'eng' },
  claim_mappings: { email: 'email', '/org/team': 'team' },
  token_policies: 'dev',
  token_ttl: '30m',
};

const CLAIMS = {
  sub: 'user-1',
  aud: 'coffer',
  email: 'alice@example.com',
  department: 'eng',
  org: { team: 'blue' },
};

async function setUp(config: Record<string, unknown> = {}): Promise<Harness> {
  const h = harness();
  await h.call('update', 'config', {
    jwks_url: provider.jwksUrl,
    bound_issuer: provider.issuer,
    ...config,
  });
  await h.call('create', 'role/dev', ROLE);
  return h;
}

function tamper(jwt: string): string {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as object;
  const forged = Buffer.from(JSON.stringify({ ...claims, email: 'mallory@example.com' })).toString(
    'base64url',
  );
  return `${header}.${forged}.${signature}`;
}

describe('jwt login', () => {
  it('grants a login with the role’s token settings, metadata and alias', async () => {
    const h = await setUp();
    const grant = await h.login('login', { role: 'dev', jwt: await provider.sign(CLAIMS) });
    expect(grant).toMatchObject({
      policies: ['dev'],
      displayName: 'alice@example.com',
      metadata: { role: 'dev', email: 'alice@example.com', team: 'blue' },
      ttlSeconds: 1800,
      tokenType: 'default',
      alias: { name: 'alice@example.com', metadata: { email: 'alice@example.com', team: 'blue' } },
    });
  });

  it('uses default_role when the login names none', async () => {
    const h = await setUp({ default_role: 'dev' });
    const grant = await h.login('login', { jwt: await provider.sign(CLAIMS) });
    expect(grant.metadata.role).toBe('dev');
  });

  it('refuses an expired token beyond the leeways, accepts one within them', async () => {
    const h = await setUp();
    const jwt = await provider.sign(CLAIMS, { expiresInSeconds: 60 });
    // exp + 150s expiration leeway + 60s clock skew leeway
    h.nowMs = T0 + (60 + 210) * 1000;
    await h.login('login', { role: 'dev', jwt });
    h.nowMs = T0 + (60 + 211) * 1000;
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt }),
      'permission_denied',
      /expired/,
    );
    await h.call('update', 'role/dev', { expiration_leeway: -1, clock_skew_leeway: -1 });
    h.nowMs = T0 + 61 * 1000;
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt }),
      'permission_denied',
      /expired/,
    );
  });

  it('refuses a token without exp, and one not yet valid', async () => {
    const h = await setUp();
    const noExp = await signWith(provider.currentKey, { ...CLAIMS, iss: provider.issuer });
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: noExp }),
      'permission_denied',
      /"exp"/,
    );
    const future = await provider.sign({ ...CLAIMS, nbf: T0 / 1000 + 3600 });
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: future }),
      'permission_denied',
      /not yet valid|"nbf"/,
    );
  });

  it('refuses a tampered token', async () => {
    const h = await setUp();
    const jwt = tamper(await provider.sign(CLAIMS));
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt }),
      'permission_denied',
      /signature verification failed/,
    );
  });

  it('refuses a wrong audience, and any audience on a role without bound audiences', async () => {
    const h = await setUp();
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: await provider.sign({ ...CLAIMS, aud: 'x' }) }),
      'permission_denied',
      /aud claim does not match/,
    );
    await h.call('create', 'role/noaud', { ...ROLE, bound_audiences: [] });
    await expectCoffer(
      h.call('update', 'login', { role: 'noaud', jwt: await provider.sign(CLAIMS) }),
      'permission_denied',
      /audience claim found in JWT but no audiences bound/,
    );
  });

  it('refuses a wrong issuer', async () => {
    const h = await setUp();
    const jwt = await provider.sign({ ...CLAIMS, iss: 'https://elsewhere.example' });
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt }),
      'permission_denied',
      /"iss"/,
    );
  });

  it('refuses alg none and symmetric algorithms', async () => {
    const h = await setUp();
    const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { ...CLAIMS, iss: provider.issuer, exp: T0 / 1000 + 300 };
    const none = `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: none }),
      'permission_denied',
      /algorithm is not allowed/,
    );
    // HS256 keyed with the public JWK's modulus: the classic RS/HS confusion attempt.
    const header = encode({ alg: 'HS256', kid: provider.currentKey.kid });
    const body = encode(claims);
    const mac = createHmac('sha256', String(provider.currentKey.publicJwk.n))
      .update(`${header}.${body}`)
      .digest('base64url');
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: `${header}.${body}.${mac}` }),
      'permission_denied',
      /algorithm is not allowed/,
    );
  });

  it('refuses an algorithm outside jwt_supported_algs', async () => {
    const h = await setUp({ jwt_supported_algs: ['ES256'] });
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: await provider.sign(CLAIMS) }),
      'permission_denied',
      /algorithm is not allowed/,
    );
  });

  it('refuses a token signed by a key the JWKS does not hold', async () => {
    const h = await setUp();
    const stranger = await newSigningKey();
    const jwt = await signWith(stranger, {
      ...CLAIMS,
      iss: provider.issuer,
      exp: T0 / 1000 + 300,
    });
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt }),
      'permission_denied',
      /no key/,
    );
  });

  it('checks bound subject and bound claims (string and glob)', async () => {
    const h = await setUp();
    await expectCoffer(
      h.call('update', 'login', {
        role: 'dev',
        jwt: await provider.sign({ ...CLAIMS, department: 'ops' }),
      }),
      'permission_denied',
      /claim "department" does not match/,
    );
    await h.call('update', 'role/dev', { bound_subject: 'user-2' });
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: await provider.sign(CLAIMS) }),
      'permission_denied',
      /sub claim does not match bound subject/,
    );
    await h.call('update', 'role/dev', {
      bound_subject: '',
      bound_claims_type: 'glob',
      bound_claims: { department: ['e*', 'ops'] },
    });
    await h.login('login', { role: 'dev', jwt: await provider.sign(CLAIMS) });
  });

  it('refuses an oidc role, an unknown role and a login from outside token_bound_cidrs', async () => {
    const h = await setUp();
    const jwt = await provider.sign(CLAIMS);
    await h.call('create', 'role/browser', {
      user_claim: 'sub',
      allowed_redirect_uris: 'http://localhost:8250/oidc/callback',
    });
    await expectCoffer(
      h.call('update', 'login', { role: 'browser', jwt }),
      'invalid_request',
      /oidc role_type/,
    );
    await expectCoffer(
      h.call('update', 'login', { role: 'nope', jwt }),
      'invalid_request',
      /^role: /,
    );
    await h.call('update', 'role/dev', { token_bound_cidrs: '10.0.0.0/8' });
    await expectCoffer(h.call('update', 'login', { role: 'dev', jwt }), 'permission_denied');
    h.remoteAddress = '10.1.2.3';
    const grant = await h.login('login', { role: 'dev', jwt });
    expect(grant.boundCidrs).toEqual(['10.0.0.0/8']);
  });

  it('takes the identity only from verified claims', async () => {
    const h = await setUp();
    // A body field is never a claim: ignored with Vault's warning.
    const result = await h.call('update', 'login', {
      role: 'dev',
      jwt: await provider.sign(CLAIMS),
      email: 'x',
    });
    expect(result.warnings).toEqual(['Endpoint ignored these unrecognized parameters: [email]']);
    const withoutEmail: Record<string, unknown> = { ...CLAIMS };
    delete withoutEmail.email;
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: await provider.sign(withoutEmail) }),
      'permission_denied',
      /claim "email" not found/,
    );
  });

  it('refetches the JWKS for an unknown key id after rotation, at most once per cooldown', async () => {
    const rotating = await startTestProvider();
    try {
      const h = harness();
      await h.call('update', 'config', { jwks_url: rotating.jwksUrl });
      await h.call('create', 'role/dev', ROLE);
      await h.login('login', { role: 'dev', jwt: await rotating.sign(CLAIMS) });
      const afterFirst = rotating.jwksRequests;
      await rotating.rotate(true);
      const rotatedJwt = await rotating.sign(CLAIMS);
      // Within the cooldown an unknown kid does not trigger a fetch.
      await expectCoffer(
        h.call('update', 'login', { role: 'dev', jwt: rotatedJwt }),
        'permission_denied',
        /no key/,
      );
      expect(rotating.jwksRequests).toBe(afterFirst);
      h.nowMs += JWKS_REFRESH_COOLDOWN_MS;
      await h.login('login', { role: 'dev', jwt: rotatedJwt });
      expect(rotating.jwksRequests).toBe(afterFirst + 1);
      // A known kid is served from the cache.
      await h.login('login', { role: 'dev', jwt: rotatedJwt });
      expect(rotating.jwksRequests).toBe(afterFirst + 1);
    } finally {
      await rotating.close();
    }
  });

  it('verifies under the discovery document’s keys and issuer', async () => {
    const h = harness();
    await h.call('update', 'config', { oidc_discovery_url: provider.issuer });
    await h.call('create', 'role/dev', ROLE);
    await h.login('login', { role: 'dev', jwt: await provider.sign(CLAIMS) });
    await expectCoffer(
      h.call('update', 'login', {
        role: 'dev',
        jwt: await provider.sign({ ...CLAIMS, iss: `${provider.issuer}/other` }),
      }),
      'permission_denied',
      /"iss"/,
    );
  });

  it('reports an unreachable JWKS as an upstream failure', async () => {
    const gone = await startTestProvider();
    const h = harness();
    await h.call('update', 'config', { jwks_url: gone.jwksUrl, skip_jwks_validation: true });
    await h.call('create', 'role/dev', ROLE);
    const jwt = await gone.sign(CLAIMS);
    await gone.close();
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt }),
      'upstream_failure',
      /^jwks_url: /,
    );
  });

  it('verifies against static keys, trying each', async () => {
    const first = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const second = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const h = harness();
    await h.call('update', 'config', {
      jwt_validation_pubkeys: [first, second].map((k) =>
        k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ),
    });
    await h.call('create', 'role/dev', ROLE);
    const jwt = await new SignJWT({ ...CLAIMS })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuedAt(T0 / 1000)
      .setExpirationTime(T0 / 1000 + 300)
      .sign(second.privateKey);
    const grant = await h.login('login', { role: 'dev', jwt });
    expect(grant.alias.name).toBe('alice@example.com');
    await expectCoffer(
      h.call('update', 'login', { role: 'dev', jwt: tamper(jwt) }),
      'permission_denied',
      /no known key/,
    );
  });

  it('limits login attempts per client address', async () => {
    const h = harness({ rateLimit: { burst: 2, perSecond: 1 } });
    await h.call('update', 'config', { jwks_url: provider.jwksUrl });
    await h.call('create', 'role/dev', ROLE);
    const bad = tamper(await provider.sign(CLAIMS));
    for (let i = 0; i < 2; i += 1) {
      await expectCoffer(h.call('update', 'login', { role: 'dev', jwt: bad }), 'permission_denied');
    }
    await expectCoffer(h.call('update', 'login', { role: 'dev', jwt: bad }), 'rate_limited');
    h.remoteAddress = '127.0.0.2';
    await expectCoffer(h.call('update', 'login', { role: 'dev', jwt: bad }), 'permission_denied');
  });
});
