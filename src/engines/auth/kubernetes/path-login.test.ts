// Tests for Kubernetes `login` with real keys: through a loopback TokenReview endpoint, and with
// local pem_keys. Covers the grant, bound names and namespaces (globs), audience, revoked
// tokens, a TokenReview answer that disagrees with the token, outages and the metadata address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  account,
  expectCoffer,
  harness,
  newClusterKey,
  saToken,
  startTokenReviewServer,
  T0,
  type Account,
  type ClusterKey,
  type Harness,
  type TokenReviewServer,
} from './testing.js';

let key: ClusterKey;
let api: TokenReviewServer;

beforeAll(async () => {
  key = await newClusterKey();
  api = await startTokenReviewServer();
});

afterAll(async () => {
  await api.close();
});

const ROLE = {
  bound_service_account_names: 'app,web-*',
  bound_service_account_namespaces: 'prod,team-*',
  audience: 'coffer',
  token_policies: 'app-read',
  token_ttl: '20m',
};

/** A live projected token for `sa` with audience "coffer". */
async function liveToken(sa: Account, audience = 'coffer'): Promise<string> {
  const jwt = await saToken(key, sa, { audience });
  api.live.set(jwt, { account: sa, audiences: [audience] });
  return jwt;
}

/** A compact JWS, as token_reviewer_jwt must be. */
const REVIEWER_JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXZpZXdlciJ9.reviewer-sig';

async function reviewSetUp(config: Record<string, unknown> = {}): Promise<Harness> {
  const h = harness();
  api.reviewerJwt = REVIEWER_JWT;
  api.failStatus = undefined;
  api.overrideAccount = undefined;
  await h.call('update', 'config', {
    kubernetes_host: api.url,
    token_reviewer_jwt: REVIEWER_JWT,
    ...config,
  });
  await h.call('create', 'role/app', ROLE);
  return h;
}

describe('kubernetes login through TokenReview', () => {
  it('grants a login with the service account in metadata and its uid as alias', async () => {
    const h = await reviewSetUp();
    const sa = account('app', 'prod');
    const jwt = await liveToken(sa);
    const before = api.reviews.length;
    const grant = await h.login({ role: 'App', jwt });
    expect(grant).toMatchObject({
      policies: ['app-read'],
      displayName: 'prod-app',
      ttlSeconds: 1200,
      metadata: {
        role: 'app',
        service_account_name: 'app',
        service_account_namespace: 'prod',
        service_account_secret_name: '',
        service_account_uid: sa.uid,
      },
      alias: { name: sa.uid },
    });
    expect(grant.alias.metadata).not.toHaveProperty('role');
    const review = api.reviews[before]!;
    expect(api.reviews.length).toBe(before + 1);
    expect(review.authorization).toBe(`Bearer ${REVIEWER_JWT}`);
    expect(review.body).toMatchObject({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: jwt, audiences: ['coffer'] },
    });
  });

  it('uses the presented JWT as bearer when no reviewer JWT is configured', async () => {
    const h = await reviewSetUp({ token_reviewer_jwt: '' });
    api.reviewerJwt = '';
    const jwt = await liveToken(account('app', 'prod'));
    await h.login({ role: 'app', jwt });
    expect(api.reviews[api.reviews.length - 1]!.authorization).toBe(`Bearer ${jwt}`);
  });

  it('refuses a service account outside the bound names, without calling the API', async () => {
    const h = await reviewSetUp();
    const jwt = await liveToken(account('intruder', 'prod'));
    const before = api.reviews.length;
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'permission_denied',
      /service account name not authorized/,
    );
    expect(api.reviews.length).toBe(before);
  });

  it('refuses a service account outside the bound namespaces', async () => {
    const h = await reviewSetUp();
    const jwt = await liveToken(account('app', 'staging'));
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'permission_denied',
      /namespace not authorized/,
    );
  });

  it('matches prefix globs and "*"', async () => {
    const h = await reviewSetUp();
    const globbed = await h.login({
      role: 'app',
      jwt: await liveToken(account('web-frontend', 'team-blue')),
    });
    expect(globbed.metadata).toMatchObject({
      service_account_name: 'web-frontend',
      service_account_namespace: 'team-blue',
    });
    await h.call('create', 'role/any', {
      ...ROLE,
      bound_service_account_names: '*',
      bound_service_account_namespaces: '*',
    });
    const any = await h.login({
      role: 'any',
      jwt: await liveToken(account('whatever', 'anywhere')),
    });
    expect(any.metadata).toMatchObject({
      role: 'any',
      service_account_name: 'whatever',
      service_account_namespace: 'anywhere',
    });
  });

  it('refuses a token for another audience before calling the API', async () => {
    const h = await reviewSetUp();
    const jwt = await liveToken(account('app', 'prod'), 'someone-else');
    const before = api.reviews.length;
    await expectCoffer(h.call('update', 'login', { role: 'app', jwt }), 'permission_denied', /aud/);
    expect(api.reviews.length).toBe(before);
  });

  it('refuses a token the API server no longer accepts', async () => {
    const h = await reviewSetUp();
    const sa = account('app', 'prod');
    const jwt = await liveToken(sa);
    await h.login({ role: 'app', jwt });
    api.live.delete(jwt);
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'permission_denied',
      /lookup failed/,
    );
    // Without a reviewer JWT the API server refuses the bearer itself (401).
    await h.call('update', 'config', { kubernetes_host: api.url });
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'permission_denied',
      /service account unauthorized/,
    );
  });

  it('refuses an expired token without asking the API server', async () => {
    const h = await reviewSetUp();
    const jwt = await liveToken(account('app', 'prod'));
    h.nowMs = T0 + 3_600_000 + 61_000;
    const before = api.reviews.length;
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'permission_denied',
      /expired/,
    );
    expect(api.reviews.length).toBe(before);
  });

  it('refuses a token whose claims name another account than the API server', async () => {
    const h = await reviewSetUp();
    const jwt = await liveToken(account('app', 'prod'));
    api.overrideAccount = account('app', 'prod');
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'permission_denied',
      /do not match the TokenReview result/,
    );
  });

  it('reports an API server error as an upstream failure', async () => {
    const h = await reviewSetUp();
    const jwt = await liveToken(account('app', 'prod'));
    api.failStatus = 500;
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'upstream_failure',
      /^tokenreview: unexpected HTTP status 500$/,
    );
  });

  it('refuses alg none even though TokenReview would check the signature', async () => {
    const h = await reviewSetUp();
    const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = `${encode({ alg: 'none' })}.${encode({
      aud: 'coffer',
      'kubernetes.io': { namespace: 'prod', serviceaccount: { name: 'app', uid: 'u' } },
    })}.`;
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'permission_denied',
      /algorithm is not allowed/,
    );
  });

  it('names the alias namespace/name when asked, and reads legacy tokens', async () => {
    const h = await reviewSetUp();
    await h.call('update', 'role/app', { alias_name_source: 'serviceaccount_name', audience: '' });
    const sa = account('app', 'prod');
    const legacy = await saToken(key, sa, { projected: false });
    api.live.set(legacy, { account: sa, audiences: ['https://kubernetes.default.svc'] });
    const grant = await h.login({ role: 'app', jwt: legacy });
    expect(grant.alias.name).toBe('prod/app');
    expect(grant.metadata.service_account_secret_name).toBe('app-token-abcde');
  });

  it('refuses a login from outside token_bound_cidrs and an unknown role', async () => {
    const h = await reviewSetUp();
    await h.call('update', 'role/app', { token_bound_cidrs: '10.0.0.0/8' });
    const jwt = await liveToken(account('app', 'prod'));
    await expectCoffer(h.call('update', 'login', { role: 'app', jwt }), 'permission_denied');
    await expectCoffer(
      h.call('update', 'login', { role: 'nope', jwt }),
      'invalid_request',
      /^role: /,
    );
  });

  it('refuses to call a kubernetes_host at the cloud metadata address', async () => {
    const h = harness({ outbound: { connectTimeoutMs: 500, timeoutMs: 1_000 } });
    await h.call('update', 'config', { kubernetes_host: 'http://169.254.169.254' });
    await h.call('create', 'role/app', ROLE);
    const jwt = await saToken(key, account('app', 'prod'), { audience: 'coffer' });
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt }),
      'upstream_failure',
      /^tokenreview: refused/,
    );
  });
});

describe('kubernetes login with pem_keys', () => {
  async function localSetUp(config: Record<string, unknown> = {}): Promise<Harness> {
    const h = harness();
    await h.call('update', 'config', { pem_keys: [key.publicPem], ...config });
    await h.call('create', 'role/app', ROLE);
    return h;
  }

  it('verifies the signature locally and makes no TokenReview call', async () => {
    const h = await localSetUp();
    const before = api.reviews.length;
    const sa = account('app', 'prod');
    const grant = await h.login({
      role: 'app',
      jwt: await saToken(key, sa, { audience: 'coffer' }),
    });
    expect(grant.alias.name).toBe(sa.uid);
    expect(api.reviews.length).toBe(before);
  });

  it('refuses a token signed by another key, a tampered one and an expired one', async () => {
    const h = await localSetUp();
    const sa = account('app', 'prod');
    const other = await newClusterKey();
    await expectCoffer(
      h.call('update', 'login', {
        role: 'app',
        jwt: await saToken(other, sa, { audience: 'coffer' }),
      }),
      'permission_denied',
      /no known key/,
    );
    const good = await saToken(key, sa, { audience: 'coffer' });
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const forged = Buffer.from(
      JSON.stringify({
        ...claims,
        'kubernetes.io': { namespace: 'prod', serviceaccount: { name: 'app', uid: 'x' } },
      }),
    ).toString('base64url');
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt: `${header}.${forged}.${signature}` }),
      'permission_denied',
      /no known key/,
    );
    h.nowMs = T0 + 3_600_000 + 61_000;
    await expectCoffer(
      h.call('update', 'login', { role: 'app', jwt: good }),
      'permission_denied',
      /expired/,
    );
  });

  it('checks the issuer when issuer validation is on', async () => {
    const h = await localSetUp({ disable_iss_validation: false, issuer: 'https://issuer.example' });
    const sa = account('app', 'prod');
    await expectCoffer(
      h.call('update', 'login', {
        role: 'app',
        jwt: await saToken(key, sa, { audience: 'coffer' }),
      }),
      'permission_denied',
      /"iss"/,
    );
    await h.login({
      role: 'app',
      jwt: await saToken(key, sa, { audience: 'coffer', issuer: 'https://issuer.example' }),
    });
  });
});
