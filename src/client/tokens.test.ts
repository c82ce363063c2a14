import { describe, expect, it } from 'vitest';
import { CofferClient } from './client.js';
import { ApiError, ClientError } from './errors.js';
import { routeFetch } from './testing.js';
import type { CannedReply, Responder } from './testing.js';
import { capabilitiesOf, tokenCreateRequest } from './tokens.js';

const TOKEN = 'hvs.caller-token';
const OTHER = 'hvs.other-token-value';

const AUTH = {
  client_token: 'hvs.new',
  accessor: 'acc-new',
  policies: ['default', 'ops'],
  token_policies: ['default', 'ops'],
  metadata: { team: 'a' },
  lease_duration: 3600,
  renewable: true,
};

const LOOKUP = {
  data: {
    accessor: 'acc-1',
    creation_time: 1714557600,
    creation_ttl: 3600,
    display_name: 'token',
    expire_time: '2024-05-01T11:00:00Z',
    explicit_max_ttl: 0,
    id: OTHER,
    policies: ['default'],
    renewable: true,
    ttl: 3599,
    type: 'service',
  },
};

function client(routes: Readonly<Record<string, CannedReply | Responder>>) {
  const rec = routeFetch(routes);
  return {
    rec,
    client: new CofferClient({ address: 'http://127.0.0.1:8200', token: TOKEN, fetch: rec.fetch }),
  };
}

describe('tokenCreateRequest', () => {
  it('sends only the fields given, in Vault wire names', () => {
    expect(tokenCreateRequest({})).toEqual({ path: 'auth/token/create', body: {} });
    expect(
      tokenCreateRequest({
        policies: ['ops'],
        ttl: '1h',
        explicitMaxTtl: 7200,
        period: '24h',
        numUses: 3,
        displayName: 'ci',
        meta: { team: 'a' },
        noParent: true,
        noDefaultPolicy: true,
        renewable: false,
        type: 'batch',
        id: 'chosen',
      }).body,
    ).toEqual({
      policies: ['ops'],
      ttl: '1h',
      explicit_max_ttl: 7200,
      period: '24h',
      num_uses: 3,
      display_name: 'ci',
      meta: { team: 'a' },
      no_parent: true,
      no_default_policy: true,
      renewable: false,
      type: 'batch',
      id: 'chosen',
    });
  });

  it('routes orphans and roles to their endpoints, not both', () => {
    expect(tokenCreateRequest({ orphan: true }).path).toBe('auth/token/create-orphan');
    expect(tokenCreateRequest({ role: 'ci' }).path).toBe('auth/token/create/ci');
    expect(() => tokenCreateRequest({ orphan: true, role: 'ci' })).toThrow(ClientError);
    expect(() => tokenCreateRequest({ role: 'a/b' })).toThrow(ClientError);
    expect(() => tokenCreateRequest({ numUses: -1 })).toThrow(ClientError);
  });
});

describe('token methods', () => {
  it('creates and returns the auth block', async () => {
    const { rec, client: c } = client({ 'POST auth/token/create': { body: { auth: AUTH } } });
    const created = await c.createToken({ policies: ['ops'] });
    expect(created.auth.client_token).toBe('hvs.new');
    expect(rec.requests[0]).toMatchObject({ method: 'POST', body: { policies: ['ops'] } });
  });

  it('refuses an answer without an auth block', async () => {
    const { client: c } = client({ 'POST auth/token/create': { body: { data: {} } } });
    await expect(c.createToken()).rejects.toThrow(/no auth block/);
  });

  it('looks up self, a token and an accessor; the token travels in the body only', async () => {
    const { rec, client: c } = client({
      'GET auth/token/lookup-self': { body: LOOKUP },
      'POST auth/token/lookup': { body: LOOKUP },
      'POST auth/token/lookup-accessor': { body: { data: { ...LOOKUP.data, id: '' } } },
    });
    const self = await c.lookupSelf();
    expect(self.info).toMatchObject({ accessor: 'acc-1', ttl: 3599, policies: ['default'] });
    await c.lookupToken(` ${OTHER} `);
    expect(rec.requests[1]!.body).toEqual({ token: OTHER });
    expect(rec.requests[1]!.url.href).not.toContain(OTHER);
    const byAccessor = await c.lookupAccessor('acc-1');
    expect(rec.requests[2]!.body).toEqual({ accessor: 'acc-1' });
    expect(byAccessor.info.id).toBe('');
    await expect(c.lookupToken('  ')).rejects.toThrow('token must not be empty');
  });

  it('renews with an increment in seconds', async () => {
    const { rec, client: c } = client({ 'POST auth/token/*': { body: { auth: AUTH } } });
    await c.renewSelf();
    await c.renewSelf(3600);
    await c.renewToken(OTHER, 60);
    await c.renewAccessor('acc-1');
    expect(rec.requests.map((r) => [r.path, r.body])).toEqual([
      ['auth/token/renew-self', {}],
      ['auth/token/renew-self', { increment: 3600 }],
      ['auth/token/renew', { token: OTHER, increment: 60 }],
      ['auth/token/renew-accessor', { accessor: 'acc-1' }],
    ]);
    await expect(c.renewSelf(1.5)).rejects.toThrow(ClientError);
  });

  it('revokes self, a token, an accessor and an orphan', async () => {
    const { rec, client: c } = client({ 'POST auth/token/*': { status: 204 } });
    await c.revokeSelf();
    await c.revokeToken(OTHER);
    await c.revokeAccessor('acc-1');
    await c.revokeOrphan(OTHER);
    expect(rec.requests.map((r) => [r.path, r.body])).toEqual([
      ['auth/token/revoke-self', undefined],
      ['auth/token/revoke', { token: OTHER }],
      ['auth/token/revoke-accessor', { accessor: 'acc-1' }],
      ['auth/token/revoke-orphan', { token: OTHER }],
    ]);
  });

  it('asks capabilities of self, a token or an accessor', async () => {
    const reply = {
      body: { data: { 'secret/a': ['read', 'list'], capabilities: ['read', 'list'] } },
    };
    const { rec, client: c } = client({
      'POST sys/capabilities-self': reply,
      'POST sys/capabilities': reply,
      'POST sys/capabilities-accessor': reply,
    });
    expect(await c.capabilities(['/secret/a'])).toEqual({ 'secret/a': ['read', 'list'] });
    await c.capabilities(['secret/a'], { kind: 'token', token: OTHER });
    await c.capabilities(['secret/a'], { kind: 'accessor', accessor: 'acc-1' });
    expect(rec.requests.map((r) => [r.path, r.body])).toEqual([
      ['sys/capabilities-self', { paths: ['/secret/a'] }],
      ['sys/capabilities', { paths: ['secret/a'], token: OTHER }],
      ['sys/capabilities-accessor', { paths: ['secret/a'], accessor: 'acc-1' }],
    ]);
    await expect(c.capabilities([])).rejects.toThrow(ClientError);
  });

  it('passes a 403 on as an ApiError', async () => {
    const { client: c } = client({
      'GET auth/token/lookup-self': { status: 403, body: { errors: ['permission denied'] } },
    });
    const error = await c.lookupSelf().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(403);
  });
});

describe('capabilitiesOf', () => {
  it('falls back to the single-path "capabilities" key and keeps only strings', () => {
    expect(capabilitiesOf({ data: { capabilities: ['deny'] } }, ['x'])).toEqual({ x: ['deny'] });
    expect(capabilitiesOf({ data: { x: ['read', 3] } }, ['x', 'y'])).toEqual({
      x: ['read'],
      y: [],
    });
    expect(() => capabilitiesOf({}, ['x'])).toThrow(ClientError);
  });
});
