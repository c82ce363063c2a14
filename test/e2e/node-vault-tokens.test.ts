// node-vault 0.12.0 (npm) as an unmodified black-box client of tokens and ACL policies against
// the real dev server: policies in HCL and JSON through the legacy sys/policy routes, a limited
// token's lifecycle (lookup, accessor, renew, revoke), its 403s, child and orphan tokens,
// num_uses, capabilities-self, root-like policy names, live policy edits and revoke-self.
import { randomBytes, randomUUID } from 'node:crypto';
import vault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultError } from '../helpers/node-vault.js';
import {
  findCanaries,
  killAllServers,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { vaultRequest } from './vault-http.js';

type Client = ReturnType<typeof vault>;

/** What node-vault's ApiResponseError carries, plus the message it derived from `errors[0]`. */
/** The `auth` block of a token creation or renewal. */
interface AuthBlock {
  readonly client_token: string;
  readonly accessor: string;
  readonly policies: string[];
  readonly token_policies: string[];
  readonly lease_duration: number;
  readonly renewable: boolean;
  readonly token_type: string;
  readonly orphan: boolean;
  readonly num_uses: number;
}

/** The `data` block of a token lookup. */
interface LookupData {
  readonly id: string;
  readonly accessor: string;
  readonly policies: string[];
  readonly ttl: number;
  readonly creation_ttl: number;
  readonly expire_time: string | null;
  readonly type: string;
  readonly path: string;
  readonly renewable: boolean;
  readonly orphan: boolean;
  readonly num_uses: number;
}

/**
 * Coffer's documented error body for a 403 (docs/errors.md): Vault's `{"errors": [...]}` plus
 * our stable `code` and the request id, and nothing else (no path, no token).
 */
const PERMISSION_DENIED_BODY = {
  errors: ['permission denied'],
  code: 'permission_denied',
  request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
};

async function expectPermissionDenied(call: Promise<unknown>): Promise<void> {
  const err = await vaultError(call);
  expect(err.status).toBe(403);
  expect(err.message).toBe('permission denied');
  expect(err.body).toEqual(PERMISSION_DENIED_BODY);
}

const ROOT_TOKEN = `nvt-root-${randomBytes(16).toString('hex')}`;
const APP_SECRET = `nvt-app-canary-${randomUUID()}`;
const OTHER_SECRET = `nvt-other-canary-${randomUUID()}`;
const FORBIDDEN_SECRET = `nvt-forbidden-canary-${randomUUID()}`;
const RW_SECRET = `nvt-rw-canary-${randomUUID()}`;

const APP_POLICY = 'nv-app';
const JSON_POLICY = 'nv-json-other';

/** `readable` false drops `read` from the main rule (the live-edit step). */
function appPolicyHcl(readable: boolean): string {
  const dataCaps = readable ? '["read", "list"]' : '["list"]';
  return [
    '# node-vault e2e: read-only app secrets, a writable rw/ corner, token creation',
    `path "secret/data/app/*" {`,
    `  capabilities = ${dataCaps}`,
    '}',
    '',
    'path "secret/metadata/app/*" {',
    '  capabilities = ["read", "list"]',
    '}',
    '',
    'path "secret/data/app/rw/*" {',
    '  capabilities = ["create", "update"]',
    '}',
    '',
    '// children of a limited token need this (the default policy does not grant it)',
    'path "auth/token/create" {',
    '  capabilities = ["update"]',
    '}',
    '',
  ].join('\n');
}

const JSON_POLICY_TEXT = JSON.stringify({
  path: { 'secret/data/other/*': { capabilities: ['read'] } },
});

describe('node-vault 0.12.0: tokens and ACL policies against a coffer dev server', () => {
  let server: ServerProcess;
  /** Every token handed out during the run; none may appear in the server's log. */
  const tokens: Record<string, string> = { rootToken: ROOT_TOKEN };
  let limited = '';
  let limitedAccessor = '';

  /**
   * A fresh client per caller: node-vault's create, renew and login commands replace
   * `client.token` with the token in the response, so a shared client would drift.
   */
  function as(token: string): Client {
    return vault({ endpoint: server.url, token });
  }

  async function createToken(creator: string, args: Record<string, unknown>): Promise<AuthBlock> {
    const res = await as(creator).tokenCreate(args);
    const auth = res.auth as AuthBlock;
    tokens[`token${Object.keys(tokens).length}`] = auth.client_token;
    return auth;
  }

  async function lookup(token: string): Promise<LookupData> {
    return (await as(ROOT_TOKEN).tokenLookup({ token })).data as LookupData;
  }

  beforeAll(async () => {
    server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
    const root = as(ROOT_TOKEN);
    await root.write('secret/data/app/config', { data: { password: APP_SECRET } });
    await root.write('secret/data/other/thing', { data: { value: OTHER_SECRET } });
    await root.write('secret/data/forbidden', { data: { value: FORBIDDEN_SECRET } });
  });

  afterAll(async () => {
    await killAllServers();
  });

  it('root token looks up as root: no TTL, no expiry', async () => {
    const self = (await as(ROOT_TOKEN).tokenLookupSelf()).data as LookupData;
    expect(self).toMatchObject({
      id: ROOT_TOKEN,
      policies: ['root'],
      ttl: 0,
      expire_time: null,
      path: 'auth/token/root',
      type: 'service',
    });
  });

  it('writes an HCL policy and a JSON policy, reads them back and lists them', async () => {
    const root = as(ROOT_TOKEN);
    // node-vault's addPolicy has no schema: the whole argument object is the PUT body.
    await root.addPolicy({ name: APP_POLICY, rules: appPolicyHcl(true) });
    await root.addPolicy({ name: JSON_POLICY, rules: JSON_POLICY_TEXT });

    const hcl = await root.getPolicy({ name: APP_POLICY });
    expect(hcl.data).toEqual({ name: APP_POLICY, rules: appPolicyHcl(true) });
    expect(hcl.rules).toBe(appPolicyHcl(true));
    const json = await root.getPolicy({ name: JSON_POLICY });
    expect(json.data).toEqual({ name: JSON_POLICY, rules: JSON_POLICY_TEXT });

    // The newer route sees the same document.
    const acl = await root.read(`sys/policies/acl/${APP_POLICY}`);
    expect(acl.data).toEqual({ name: APP_POLICY, policy: appPolicyHcl(true) });

    const list = await root.policies();
    for (const view of [list.data, list]) {
      expect(view.keys).toEqual(
        expect.arrayContaining(['root', 'default', APP_POLICY, JSON_POLICY]),
      );
      expect(view.policies).toEqual(view.keys);
    }
    const acls = await root.list('sys/policies/acl');
    expect(acls.data.keys).toEqual(expect.arrayContaining(['default', APP_POLICY, JSON_POLICY]));
  });

  it('a JSON-policy token reads its path; deleting the policy takes the access away', async () => {
    const auth = await createToken(ROOT_TOKEN, { policies: [JSON_POLICY], ttl: '10m' });
    expect(auth.policies).toEqual(['default', JSON_POLICY].sort());
    const client = as(auth.client_token);
    expect((await client.read('secret/data/other/thing')).data.data).toEqual({
      value: OTHER_SECRET,
    });
    await expectPermissionDenied(client.read('secret/data/app/config'));

    await as(ROOT_TOKEN).removePolicy({ name: JSON_POLICY });
    expect((await vaultError(as(ROOT_TOKEN).getPolicy({ name: JSON_POLICY }))).status).toBe(404);
    const list = await as(ROOT_TOKEN).policies();
    expect(list.keys).not.toContain(JSON_POLICY);
    expect(list.keys).toEqual(expect.arrayContaining(['root', 'default', APP_POLICY]));
    await expectPermissionDenied(client.read('secret/data/other/thing'));
  });

  it('creates a renewable 1h service token with the HCL policy (and takes over client.token)', async () => {
    const creator = as(ROOT_TOKEN);
    const res = await creator.tokenCreate({
      policies: [APP_POLICY],
      ttl: '1h',
      renewable: true,
      meta: { team: 'e2e' },
    });
    const auth = res.auth as AuthBlock;
    expect(auth).toMatchObject({
      policies: ['default', APP_POLICY].sort(),
      token_policies: ['default', APP_POLICY].sort(),
      lease_duration: 3600,
      renewable: true,
      token_type: 'service',
      orphan: false,
      num_uses: 0,
    });
    expect(auth.client_token).not.toBe('');
    expect(auth.accessor).not.toBe('');
    expect(auth.accessor).not.toBe(auth.client_token);
    // node-vault quirk (tokenSource): the creating client now speaks as the new token.
    expect(creator.token).toBe(auth.client_token);
    limited = auth.client_token;
    limitedAccessor = auth.accessor;
    tokens['limited'] = limited;
  });

  it('looks the token up by id, as itself and by accessor', async () => {
    const before = Date.now();
    const data = await lookup(limited);
    expect(data).toMatchObject({
      id: limited,
      accessor: limitedAccessor,
      type: 'service',
      renewable: true,
      orphan: false,
      num_uses: 0,
      path: 'auth/token/create',
      creation_ttl: 3600,
    });
    expect(data.policies).toEqual(expect.arrayContaining(['default', APP_POLICY]));
    expect(data.ttl).toBeLessThanOrEqual(3600);
    expect(data.ttl).toBeGreaterThan(3500);
    expect(typeof data.expire_time).toBe('string');
    const expiresInSeconds = (Date.parse(data.expire_time!) - before) / 1000;
    expect(expiresInSeconds).toBeGreaterThan(3500);
    expect(expiresInSeconds).toBeLessThanOrEqual(3601);

    const self = (await as(limited).tokenLookupSelf()).data as LookupData;
    expect(self).toMatchObject({ id: limited, accessor: limitedAccessor, type: 'service' });

    const byAccessor = (await as(ROOT_TOKEN).tokenLookupAccessor({ accessor: limitedAccessor }))
      .data as LookupData;
    expect(byAccessor).toMatchObject({ id: '', accessor: limitedAccessor, type: 'service' });
    expect(byAccessor.policies).toEqual(data.policies);
  });

  it('renews it with an increment (by root) and renews itself', async () => {
    const renewed = (await as(ROOT_TOKEN).tokenRenew({ token: limited, increment: '30m' }))
      .auth as AuthBlock;
    expect(renewed).toMatchObject({ accessor: limitedAccessor, lease_duration: 1800 });
    expect(renewed.renewable).toBe(true);
    const afterRenew = await lookup(limited);
    expect(afterRenew.ttl).toBeLessThanOrEqual(1800);
    expect(afterRenew.ttl).toBeGreaterThan(1700);

    const self = (await as(limited).tokenRenewSelf({ increment: 3000 })).auth as AuthBlock;
    expect(self.lease_duration).toBe(3000);
    expect((await lookup(limited)).ttl).toBeGreaterThan(2900);
  });

  it('reads an allowed secret, lists its folder and creates under rw/', async () => {
    const client = as(limited);
    const read = await client.read('secret/data/app/config');
    expect(read.data.data).toEqual({ password: APP_SECRET });
    expect((await client.list('secret/metadata/app')).data.keys).toEqual(['config']);
    const created = await client.write('secret/data/app/rw/one', { data: { v: RW_SECRET } });
    expect(created.data.version).toBe(1);
    // create+update on rw/* but no read there.
    await expectPermissionDenied(client.read('secret/data/app/rw/one'));
  });

  it('forbidden read and read-only write raise permission denied (client and raw body)', async () => {
    const client = as(limited);
    await expectPermissionDenied(client.read('secret/data/forbidden'));
    await expectPermissionDenied(client.write('secret/data/app/x', { data: { a: 'b' } }));
    await expectPermissionDenied(client.write('secret/data/app/config', { data: { a: 'b' } }));

    const rawRead = await vaultRequest(server.url, 'GET', 'secret/data/forbidden', {
      token: limited,
    });
    const rawWrite = await vaultRequest(server.url, 'POST', 'secret/data/app/x', {
      token: limited,
      body: { data: { a: 'b' } },
    });
    for (const raw of [rawRead, rawWrite]) {
      expect(raw.status).toBe(403);
      expect(raw.body).toEqual(PERMISSION_DENIED_BODY);
      expect(raw.text).not.toContain(FORBIDDEN_SECRET);
      expect(raw.text).not.toContain(limited);
    }
    // Nothing was written through the denied request.
    const check = await vaultError(as(ROOT_TOKEN).read('secret/data/app/x'));
    expect(check.status).toBe(404);
  });

  it('a child of a limited token works until its parent is revoked', async () => {
    const parent = await createToken(ROOT_TOKEN, { policies: [APP_POLICY], ttl: '1h' });
    const child = await createToken(parent.client_token, { policies: [APP_POLICY], ttl: '10m' });
    expect(child.policies).toEqual(['default', APP_POLICY].sort());
    expect(child.orphan).toBe(false);
    expect((await as(child.client_token).read('secret/data/app/config')).data.data).toEqual({
      password: APP_SECRET,
    });
    // A child's policies must be a subset of its parent's.
    const notSubset = await vaultError(
      as(parent.client_token).tokenCreate({ policies: [APP_POLICY, 'not-held'] }),
    );
    expect(notSubset.status).toBe(400);

    await as(ROOT_TOKEN).tokenRevoke({ token: parent.client_token });
    await expectPermissionDenied(as(child.client_token).read('secret/data/app/config'));
    await expectPermissionDenied(as(parent.client_token).tokenLookupSelf());
    const gone = await vaultError(as(ROOT_TOKEN).tokenLookup({ token: child.client_token }));
    // Vault answers a lookup of a revoked token with 403 ("bad token").
    expect(gone.status).toBe(403);
  });

  it('an orphan made with create-orphan by a root token survives that token’s revocation', async () => {
    const secondRoot = await createToken(ROOT_TOKEN, { policies: ['root'], ttl: '1h' });
    expect(secondRoot.policies).toEqual(['root']);
    const orphan = (await as(secondRoot.client_token).tokenCreateOrphan({ policies: [APP_POLICY] }))
      .auth as AuthBlock;
    tokens['orphan'] = orphan.client_token;
    expect(orphan.orphan).toBe(true);
    const sibling = await createToken(secondRoot.client_token, { policies: [APP_POLICY] });
    expect(sibling.orphan).toBe(false);

    await as(ROOT_TOKEN).tokenRevokeAccessor({ accessor: secondRoot.accessor });
    await expectPermissionDenied(as(secondRoot.client_token).tokenLookupSelf());
    await expectPermissionDenied(as(sibling.client_token).read('secret/data/app/config'));

    const survivor = as(orphan.client_token);
    expect((await survivor.read('secret/data/app/config')).data.data).toEqual({
      password: APP_SECRET,
    });
    const self = (await survivor.tokenLookupSelf()).data as LookupData;
    expect(self).toMatchObject({ orphan: true, path: 'auth/token/create-orphan' });
  });

  it('a token with num_uses 2 works twice, then gets 403', async () => {
    const auth = await createToken(ROOT_TOKEN, { policies: [APP_POLICY], num_uses: 2 });
    expect(auth.num_uses).toBe(2);
    const client = as(auth.client_token);
    expect((await client.read('secret/data/app/config')).data.data).toEqual({
      password: APP_SECRET,
    });
    // Lookups by another token do not spend uses.
    expect((await lookup(auth.client_token)).num_uses).toBe(1);
    expect((await client.read('secret/data/app/config')).data.data).toEqual({
      password: APP_SECRET,
    });
    await expectPermissionDenied(client.read('secret/data/app/config'));
  });

  it('capabilities-self for the limited token: allowed, rw corner and forbidden paths', async () => {
    const paths = ['secret/data/app/config', 'secret/data/app/rw/one', 'secret/data/forbidden'];
    const res = await as(limited).write('sys/capabilities-self', { paths });
    for (const view of [res.data, res]) {
      expect([...view['secret/data/app/config']].sort()).toEqual(['list', 'read']);
      expect([...view['secret/data/app/rw/one']].sort()).toEqual(['create', 'update']);
      expect(view['secret/data/forbidden']).toEqual(['deny']);
    }
  });

  it('policy names like root are refused, and so is a ROOT token from a non-root parent', async () => {
    const root = as(ROOT_TOKEN);
    for (const name of ['ROOT', ' root']) {
      const err = await vaultError(root.addPolicy({ name, rules: appPolicyHcl(true) }));
      expect(err.status).toBe(400);
    }
    const list = await root.policies();
    expect(list.keys.filter((k: string) => k.trim().toLowerCase() === 'root')).toEqual(['root']);

    const limitedCreator = as(limited);
    const refused = await vaultError(limitedCreator.tokenCreate({ policies: ['ROOT'] }));
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).not.toContain('client_token');
    // The failed create did not switch the client to another token.
    expect(limitedCreator.token).toBe(limited);
    const refusedRaw = await vaultRequest(server.url, 'POST', 'auth/token/create', {
      token: limited,
      body: { policies: [' Root '] },
    });
    expect(refusedRaw.status).toBe(400);
  });

  it('an edit to the HCL policy (read removed) applies on the very next request', async () => {
    const client = as(limited);
    expect((await client.read('secret/data/app/config')).data.data).toEqual({
      password: APP_SECRET,
    });
    await as(ROOT_TOKEN).addPolicy({ name: APP_POLICY, rules: appPolicyHcl(false) });
    await expectPermissionDenied(client.read('secret/data/app/config'));
    const caps = await client.write('sys/capabilities-self', { paths: ['secret/data/app/config'] });
    expect(caps.data['secret/data/app/config']).toEqual(['list']);
  });

  it('revoke-self: afterwards the token gets 403', async () => {
    const client = as(limited);
    await client.tokenRevokeSelf();
    await expectPermissionDenied(client.tokenLookupSelf());
    await expectPermissionDenied(client.list('secret/metadata/app'));
    const byAccessor = await vaultError(
      as(ROOT_TOKEN).tokenLookupAccessor({ accessor: limitedAccessor }),
    );
    // Vault answers an unknown accessor with 400 "invalid accessor".
    expect(byAccessor.status).toBe(400);
    expect(byAccessor.message).toContain('invalid accessor');
  });

  it('never logs a token or a secret value', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    const log = server.stderr();
    expect(log.length).toBeGreaterThan(0);
    const canaries: Record<string, string> = {
      ...tokens,
      appSecret: APP_SECRET,
      otherSecret: OTHER_SECRET,
      forbiddenSecret: FORBIDDEN_SECRET,
      rwSecret: RW_SECRET,
    };
    expect(Object.keys(canaries).length).toBeGreaterThan(8);
    expect(findCanaries(log, canaries)).toEqual([]);
  });
});
