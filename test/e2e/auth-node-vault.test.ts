// node-vault 0.12.0 (npm) as an unmodified black-box client of Coffer's auth methods against the
// real dev server: each method is enabled and configured through node-vault's own commands,
// logged in to with node-vault's login command, and the token it hands out is used within its
// policies (a KV v2 read), refused beyond them (403), renewed with renew-self, revoked with
// revoke-self, and refused afterwards. userpass and approle always run; jwt and kubernetes run
// once src/engines/registry.ts registers them, and skip naming the missing registration until
// then.
import { createServer, type Server } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import vault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultError } from '../helpers/node-vault.js';
import { missingRegistration, skipUnlessCi } from '../helpers/skips.js';
import { builtinEngines } from '../../src/engines/registry.js';
import {
  encodedForms,
  findCanaries,
  killAllServers,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { vaultRequest } from './vault-http.js';

type Client = ReturnType<typeof vault>;

/** The `auth` block of a login or a renewal, as Vault renders it. */
interface AuthBlock {
  readonly client_token: string;
  readonly accessor: string;
  readonly policies: string[];
  readonly token_policies: string[];
  readonly metadata: Record<string, string> | null;
  readonly lease_duration: number;
  readonly renewable: boolean;
  readonly entity_id: string;
  readonly token_type: string;
  readonly orphan: boolean;
  readonly num_uses: number;
}

/** The `data` block of a token lookup. */
interface LookupData {
  readonly id: string;
  readonly accessor: string;
  readonly display_name: string;
  readonly path: string;
  readonly meta: Record<string, string> | null;
  readonly policies: string[];
  readonly ttl: number;
  readonly creation_ttl: number;
  readonly orphan: boolean;
  readonly renewable: boolean;
  readonly type: string;
}

async function expectPermissionDenied(call: Promise<unknown>): Promise<void> {
  const err = await vaultError(call);
  expect(err.status).toBe(403);
  expect(err.message).toBe('permission denied');
}

const ROOT_TOKEN = `nva-root-${randomBytes(16).toString('hex')}`;
const APP_SECRET = `nva-app-canary-${randomUUID()}`;
const FORBIDDEN_SECRET = `nva-forbidden-canary-${randomUUID()}`;
/** A space, a quote, a slash and a non-ASCII letter, so every encoded form differs. */
const PASSWORD = `nva pw "${randomUUID()}"/ü`;

const POLICY = 'nv-auth-app';
const APP_PATH = 'secret/data/nv-auth/app';
const FORBIDDEN_PATH = 'secret/data/nv-auth/forbidden';
const POLICY_HCL = [
  '# node-vault auth e2e: read one secret, nothing else',
  `path "${APP_PATH}" {`,
  '  capabilities = ["read"]',
  '}',
  '',
].join('\n');

const registered = builtinEngines();

/** What a login through one auth method must look like. */
interface LoginExpectation {
  /** The token's display name, "<mount>-<name>" (Vault's form). */
  readonly displayName: string;
  /** The token's path: the login path on the auth mount. */
  readonly path: string;
  /** Entries the token metadata must have (others may be present). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The lease duration of the login and of a renewal without increment. */
  readonly ttlSeconds: number;
}

let server: ServerProcess;
/** Every token and credential handed out; none may appear in the server's output. */
const secrets: Record<string, string> = {
  rootToken: ROOT_TOKEN,
  password: PASSWORD,
  appSecret: APP_SECRET,
  forbiddenSecret: FORBIDDEN_SECRET,
};

/** A client of its own per caller: node-vault's login commands replace `client.token`. */
function as(token?: string): Client {
  return vault({ endpoint: server.url, ...(token === undefined ? {} : { token }) });
}

/**
 * A login through `login` (on a fresh client) must fail with `status` and `message`, and leave
 * the client without a token.
 */
async function expectLoginRefused(
  login: (client: Client) => Promise<unknown>,
  status: number,
  message: string,
): Promise<void> {
  const client = as();
  const err = await vaultError(login(client));
  expect(err.status).toBe(status);
  expect(err.message).toBe(message);
  // The test environment sets VAULT_TOKEN to '' (vitest.config.ts), node-vault's default.
  expect(client.token ?? '').toBe('');
}

/** Logs in through `login` on a fresh client; returns the client and the login's auth block. */
async function loginWith(
  login: (client: Client) => Promise<unknown>,
): Promise<{ client: Client; auth: AuthBlock }> {
  const client = as();
  const res = (await login(client)) as { auth: AuthBlock };
  return { client, auth: res.auth };
}

/**
 * Skips an auth method's part (with a warning naming why) while src/engines/registry.ts does
 * not register `type`; under CI that fails the file instead. True when skipped.
 */
function skippedUnregistered(type: string): boolean {
  const missing = missingRegistration(registered, type);
  if (!skipUnlessCi(missing, `node-vault auth e2e: ${type}`)) return false;
  it.skip(`${type} login lifecycle (skipped: ${missing})`, () => {});
  return true;
}

beforeAll(async () => {
  server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
  const root = as(ROOT_TOKEN);
  await root.write(APP_PATH, { data: { value: APP_SECRET } });
  await root.write(FORBIDDEN_PATH, { data: { value: FORBIDDEN_SECRET } });
  await root.addPolicy({ name: POLICY, rules: POLICY_HCL });
});

afterAll(async () => {
  await killAllServers();
});

/**
 * The tests every auth method's token goes through, in order: the login itself (through
 * `login`, which must return a node-vault client now speaking as the new token), a read its
 * policy grants, 403s beyond it, renew-self, revoke-self and the 403s afterwards.
 */
function tokenLifecycle(
  method: string,
  login: () => Promise<{ client: Client; auth: AuthBlock }>,
  expected: () => LoginExpectation,
): void {
  let client: Client;
  let auth: AuthBlock;

  it(`${method}: the login hands out an orphan service token with the policy plus default`, async () => {
    ({ client, auth } = await login());
    secrets[`${method}Token`] = auth.client_token;
    const want = expected();
    expect(auth).toMatchObject({
      policies: ['default', POLICY],
      token_policies: ['default', POLICY],
      lease_duration: want.ttlSeconds,
      renewable: true,
      token_type: 'service',
      orphan: true,
      num_uses: 0,
    });
    expect(auth.metadata).toMatchObject(want.metadata);
    expect(auth.client_token).toMatch(/^cfs\./);
    expect(auth.accessor).not.toBe('');
    // node-vault's tokenSource: the logging-in client now speaks as the new token.
    expect(client.token).toBe(auth.client_token);

    const self = (await client.tokenLookupSelf()).data as LookupData;
    expect(self).toMatchObject({
      id: auth.client_token,
      accessor: auth.accessor,
      display_name: want.displayName,
      path: want.path,
      policies: ['default', POLICY],
      creation_ttl: want.ttlSeconds,
      orphan: true,
      renewable: true,
      type: 'service',
    });
    expect(self.meta).toMatchObject(want.metadata);
    expect(self.ttl).toBeLessThanOrEqual(want.ttlSeconds);
    expect(self.ttl).toBeGreaterThan(want.ttlSeconds - 60);
  });

  it(`${method}: the token reads the KV v2 secret its policy grants`, async () => {
    const read = (await client.read(APP_PATH)) as { data: { data: Record<string, string> } };
    expect(read.data.data).toEqual({ value: APP_SECRET });
  });

  it(`${method}: the token gets 403 beyond its policies (read, write, sys)`, async () => {
    await expectPermissionDenied(client.read(FORBIDDEN_PATH));
    await expectPermissionDenied(client.write(APP_PATH, { data: { value: 'overwrite' } }));
    await expectPermissionDenied(client.policies());
    const raw = await vaultRequest(server.url, 'GET', FORBIDDEN_PATH, { token: auth.client_token });
    expect(raw.status).toBe(403);
    expect(raw.text).not.toContain(FORBIDDEN_SECRET);
    // Nothing was overwritten through the refused write.
    const check = (await as(ROOT_TOKEN).read(APP_PATH)) as {
      data: { data: Record<string, string> };
    };
    expect(check.data.data).toEqual({ value: APP_SECRET });
  });

  it(`${method}: renew-self extends the token (auth/token/renew-self)`, async () => {
    const want = expected();
    const renewed = (await client.tokenRenewSelf({ increment: 120 })).auth as AuthBlock;
    expect(renewed).toMatchObject({
      client_token: auth.client_token,
      accessor: auth.accessor,
      lease_duration: 120,
      renewable: true,
      policies: ['default', POLICY],
    });
    const afterShort = (await client.tokenLookupSelf()).data as LookupData;
    expect(afterShort.ttl).toBeLessThanOrEqual(120);
    expect(afterShort.ttl).toBeGreaterThan(100);
    // Without an increment the token goes back to its TTL.
    const full = (await client.tokenRenewSelf()).auth as AuthBlock;
    expect(full.lease_duration).toBe(want.ttlSeconds);
    expect(client.token).toBe(auth.client_token);
  });

  it(`${method}: revoke-self; afterwards the token gets 403 everywhere`, async () => {
    await client.tokenRevokeSelf();
    await expectPermissionDenied(client.read(APP_PATH));
    await expectPermissionDenied(client.tokenLookupSelf());
    await expectPermissionDenied(client.tokenRenewSelf());
    const byAccessor = await vaultError(
      as(ROOT_TOKEN).tokenLookupAccessor({ accessor: auth.accessor }),
    );
    expect(byAccessor.status).toBe(400);
    expect(byAccessor.message).toContain('invalid accessor');
  });
}

describe('node-vault 0.12.0: userpass', () => {
  const MOUNT = 'nv-userpass';
  const USER = 'nv-alice';

  it('enableAuth enables it with options; auths lists it', async () => {
    const root = as(ROOT_TOKEN);
    // node-vault's enableAuth has no schema: all its arguments (mount_point too) are the body.
    await root.enableAuth({
      mount_point: MOUNT,
      type: 'userpass',
      description: 'node-vault e2e',
      options: { login_rate_burst: '100', login_rate_per_second: '50' },
    });
    const listed = (await root.auths()) as { data: Record<string, Record<string, unknown>> };
    expect(listed.data[`${MOUNT}/`]).toMatchObject({
      type: 'userpass',
      description: 'node-vault e2e',
      options: { login_rate_burst: '100', login_rate_per_second: '50' },
    });
    expect(listed.data['token/']).toMatchObject({ type: 'token' });
  });

  it('write users/:name creates the user; reading it never shows the password', async () => {
    const root = as(ROOT_TOKEN);
    await root.write(`auth/${MOUNT}/users/${USER}`, {
      password: PASSWORD,
      token_policies: [POLICY],
      token_ttl: '10m',
      token_max_ttl: '1h',
    });
    const read = (await root.read(`auth/${MOUNT}/users/${USER}`)) as {
      data: Record<string, unknown>;
    };
    expect(read.data).toMatchObject({
      token_policies: [POLICY],
      token_ttl: 600,
      token_max_ttl: 3600,
    });
    expect(JSON.stringify(read)).not.toContain(PASSWORD);
    expect(JSON.stringify(read)).not.toContain('argon2');
    const listed = (await root.list(`auth/${MOUNT}/users`)) as { data: { keys: string[] } };
    expect(listed.data.keys).toEqual([USER]);
  });

  it('userpassLogin with a wrong password is refused with 400 and switches no token', async () => {
    await expectLoginRefused(
      (client) => client.userpassLogin({ username: USER, password: 'not it', mount_point: MOUNT }),
      400,
      'invalid username or password',
    );
  });

  tokenLifecycle(
    'userpass',
    // Usernames are canonical (trimmed, lowercase): this names the same user.
    () =>
      loginWith((client) =>
        client.userpassLogin({
          username: USER.toUpperCase(),
          password: PASSWORD,
          mount_point: MOUNT,
        }),
      ),
    () => ({
      displayName: `${MOUNT}-${USER}`,
      // The path as requested, as Vault records it.
      path: `auth/${MOUNT}/login/${USER.toUpperCase()}`,
      metadata: { username: USER },
      ttlSeconds: 600,
    }),
  );
});

describe('node-vault 0.12.0: approle', () => {
  const MOUNT = 'nv-approle';
  const ROLE = 'nv-app';
  let roleId = '';
  let secretId = '';
  let secretIdAccessor = '';

  it('enableAuth enables it; addApproleRole and getApproleRole write and read the role', async () => {
    const root = as(ROOT_TOKEN);
    await root.enableAuth({ mount_point: MOUNT, type: 'approle' });
    // Only the fields in node-vault's schema are sent: the deprecated `policies` string among
    // them (token_policies is not in it).
    await root.addApproleRole({
      mount_point: MOUNT,
      role_name: ROLE,
      policies: POLICY,
      secret_id_num_uses: 5,
      secret_id_ttl: 3600,
      token_ttl: 600,
      token_max_ttl: 3600,
    });
    const role = (await root.getApproleRole({ mount_point: MOUNT, role_name: ROLE })) as {
      data: Record<string, unknown>;
    };
    expect(role.data).toMatchObject({
      bind_secret_id: true,
      secret_id_num_uses: 5,
      secret_id_ttl: 3600,
      token_policies: [POLICY],
      policies: [POLICY],
      token_ttl: 600,
      token_max_ttl: 3600,
    });
  });

  it("addApproleRole's deprecated period and bound_cidr_list are accepted as Vault's aliases", async () => {
    const root = as(ROOT_TOKEN);
    await root.addApproleRole({
      mount_point: MOUNT,
      role_name: 'nv-legacy',
      period: 3600,
      bound_cidr_list: '127.0.0.1/32',
    });
    const read = (await root.getApproleRole({ mount_point: MOUNT, role_name: 'nv-legacy' })) as {
      data: { token_period: number; secret_id_bound_cidrs: string[] };
    };
    expect(read.data.token_period).toBe(3600);
    // CIDRs read back exactly as written (issue 18: hvac and Terraform compare them).
    expect(read.data.secret_id_bound_cidrs).toEqual(['127.0.0.1/32']);
    await root.deleteApproleRole({ mount_point: MOUNT, role_name: 'nv-legacy' });
  });

  it('getApproleRoleId and getApproleRoleSecret (with and without a body) issue credentials', async () => {
    const root = as(ROOT_TOKEN);
    const id = (await root.getApproleRoleId({ mount_point: MOUNT, role_name: ROLE })) as {
      data: { role_id: string };
    };
    roleId = id.data.role_id;
    expect(roleId).toMatch(/^[0-9a-f-]{36}$/);
    secrets['roleId'] = roleId;

    // Only role_name: node-vault sends the POST without a body.
    const bare = (await root.getApproleRoleSecret({ mount_point: MOUNT, role_name: ROLE })) as {
      data: { secret_id: string };
    };
    secrets['bareSecretId'] = bare.data.secret_id;
    expect(bare.data.secret_id).not.toBe('');

    // metadata as node-vault's schema types it: a string holding a JSON object.
    const issued = (await root.getApproleRoleSecret({
      mount_point: MOUNT,
      role_name: ROLE,
      metadata: JSON.stringify({ team: 'e2e' }),
      cidr_list: ['127.0.0.1/32'],
    })) as {
      data: {
        secret_id: string;
        secret_id_accessor: string;
        secret_id_num_uses: number;
        secret_id_ttl: number;
      };
    };
    expect(issued.data).toMatchObject({ secret_id_num_uses: 5, secret_id_ttl: 3600 });
    secretId = issued.data.secret_id;
    secretIdAccessor = issued.data.secret_id_accessor;
    secrets['secretId'] = secretId;
    expect(secretId).not.toBe(secretIdAccessor);
  });

  it('approleLogin with a secret ID of no role is refused with 400 and switches no token', async () => {
    await expectLoginRefused(
      (client) =>
        client.approleLogin({ mount_point: MOUNT, role_id: roleId, secret_id: randomUUID() }),
      400,
      'invalid role or secret ID',
    );
  });

  tokenLifecycle(
    'approle',
    () =>
      loginWith((client) =>
        client.approleLogin({ mount_point: MOUNT, role_id: roleId, secret_id: secretId }),
      ),
    () => ({
      displayName: MOUNT,
      path: `auth/${MOUNT}/login`,
      metadata: { role_name: ROLE, team: 'e2e' },
      ttlSeconds: 600,
    }),
  );

  it('the login spent one use of the secret ID', async () => {
    const lookup = (await as(ROOT_TOKEN).write(
      `auth/${MOUNT}/role/${ROLE}/secret-id-accessor/lookup`,
      { secret_id_accessor: secretIdAccessor },
    )) as { data: { secret_id_num_uses: number; metadata: Record<string, string> } };
    expect(lookup.data.secret_id_num_uses).toBe(4);
    expect(lookup.data.metadata).toEqual({ team: 'e2e' });
  });

  it("tuning the mount's max_lease_ttl caps the TTL of the next login", async () => {
    const root = as(ROOT_TOKEN);
    await root.write(`sys/auth/${MOUNT}/tune`, { max_lease_ttl: '5m' });
    const tuned = (await root.read(`sys/auth/${MOUNT}/tune`)) as {
      data: { max_lease_ttl: number };
    };
    expect(tuned.data.max_lease_ttl).toBe(300);
    const client = as();
    const res = (await client.approleLogin({
      mount_point: MOUNT,
      role_id: roleId,
      secret_id: secretId,
    })) as { auth: AuthBlock };
    secrets['tunedToken'] = res.auth.client_token;
    expect(res.auth.lease_duration).toBe(300);
    const renewed = (await client.tokenRenewSelf({ increment: 3600 })).auth as AuthBlock;
    expect(renewed.lease_duration).toBeLessThanOrEqual(300);
    await client.tokenRevokeSelf();
  });
});

/** A signing key pair and its public key as PEM, for the jwt and kubernetes methods. */
async function signingKey(): Promise<{ privateKey: CryptoKey; publicPem: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicPem: await exportSPKI(publicKey) };
}

describe('node-vault 0.12.0: jwt', () => {
  if (skippedUnregistered('jwt')) return;
  const MOUNT = 'nv-jwt';
  const ROLE = 'nv-jwt-role';
  const ISSUER = 'https://issuer.nv-e2e.invalid';
  const AUDIENCE = 'coffer-nv-e2e';
  const SUBJECT = 'nv-workload';
  let key: { privateKey: CryptoKey; publicPem: string };

  async function jwtFor(claims: { aud: string; sub: string }): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(ISSUER)
      .setAudience(claims.aud)
      .setSubject(claims.sub)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
  }

  it('enableAuth, then config (a static public key) and a jwt role through write', async () => {
    key = await signingKey();
    const root = as(ROOT_TOKEN);
    await root.enableAuth({ mount_point: MOUNT, type: 'jwt' });
    await root.write(`auth/${MOUNT}/config`, {
      jwt_validation_pubkeys: [key.publicPem],
      bound_issuer: ISSUER,
    });
    await root.write(`auth/${MOUNT}/role/${ROLE}`, {
      role_type: 'jwt',
      bound_audiences: [AUDIENCE],
      user_claim: 'sub',
      token_policies: [POLICY],
      token_ttl: '10m',
    });
    const role = (await root.read(`auth/${MOUNT}/role/${ROLE}`)) as { data: object };
    expect(role.data).toMatchObject({
      role_type: 'jwt',
      bound_audiences: [AUDIENCE],
      user_claim: 'sub',
      token_policies: [POLICY],
    });
  });

  it('jwtLogin with a token for another audience is refused (403) and switches no token', async () => {
    const jwt = await jwtFor({ aud: 'someone-else', sub: SUBJECT });
    await expectLoginRefused(
      (client) => client.jwtLogin({ mount_point: MOUNT, role: ROLE, jwt }),
      403,
      'error validating token: aud claim does not match any bound audience',
    );
  });

  tokenLifecycle(
    'jwt',
    async () => {
      const jwt = await jwtFor({ aud: AUDIENCE, sub: SUBJECT });
      secrets['jwt'] = jwt;
      return loginWith((client) => client.jwtLogin({ mount_point: MOUNT, role: ROLE, jwt }));
    },
    () => ({
      displayName: `${MOUNT}-${SUBJECT}`,
      path: `auth/${MOUNT}/login`,
      metadata: { role: ROLE },
      ttlSeconds: 600,
    }),
  );
});

describe('node-vault 0.12.0: kubernetes', () => {
  if (skippedUnregistered('kubernetes')) return;
  const MOUNT = 'nv-k8s';
  const ROLE = 'nv-k8s-role';
  const NAMESPACE = 'nv-e2e-ns';
  const ACCOUNT = 'nv-e2e-sa';
  const UID = randomUUID();
  let key: { privateKey: CryptoKey; publicPem: string };
  let accountJwt = '';
  /**
   * A stand-in for the Kubernetes API server's TokenReview endpoint (no cluster runs here):
   * it vouches for exactly the one service account JWT this test made.
   */
  let apiServer: Server | undefined;
  let reviews = 0;

  /** A legacy (secret-based) service account JWT of the test's account, with `uid`. */
  function accountJwtFor(uid: string): SignJWT {
    return new SignJWT({
      'kubernetes.io/serviceaccount/namespace': NAMESPACE,
      'kubernetes.io/serviceaccount/service-account.name': ACCOUNT,
      'kubernetes.io/serviceaccount/service-account.uid': uid,
    })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('kubernetes/serviceaccount');
  }

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      if (apiServer === undefined) resolve();
      else
        apiServer.close(() => {
          resolve();
        });
    });
  });

  it('enableAuth, then config (TokenReview at a local API server) and a role through write', async () => {
    key = await signingKey();
    accountJwt = await accountJwtFor(UID)
      .setSubject(`system:serviceaccount:${NAMESPACE}:${ACCOUNT}`)
      .sign(key.privateKey);
    secrets['serviceAccountJwt'] = accountJwt;
    apiServer = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        reviews += 1;
        const parsed = JSON.parse(body) as { spec?: { token?: string } };
        const ok = parsed.spec?.token === accountJwt;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            status: ok
              ? {
                  authenticated: true,
                  user: { username: `system:serviceaccount:${NAMESPACE}:${ACCOUNT}`, uid: UID },
                }
              : { authenticated: false },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => apiServer!.listen(0, '127.0.0.1', resolve));
    const port = (apiServer.address() as { port: number }).port;

    const root = as(ROOT_TOKEN);
    await root.enableAuth({ mount_point: MOUNT, type: 'kubernetes' });
    await root.write(`auth/${MOUNT}/config`, {
      kubernetes_host: `http://127.0.0.1:${port}`,
      pem_keys: [key.publicPem],
    });
    await root.write(`auth/${MOUNT}/role/${ROLE}`, {
      bound_service_account_names: [ACCOUNT],
      bound_service_account_namespaces: [NAMESPACE],
      token_policies: [POLICY],
      token_ttl: '10m',
    });
    const role = (await root.read(`auth/${MOUNT}/role/${ROLE}`)) as { data: object };
    expect(role.data).toMatchObject({
      bound_service_account_names: [ACCOUNT],
      bound_service_account_namespaces: [NAMESPACE],
      token_policies: [POLICY],
    });
  });

  it('kubernetesLogin with a token the API server does not vouch for is refused (403)', async () => {
    const stranger = await accountJwtFor(randomUUID()).sign(key.privateKey);
    const before = reviews;
    await expectLoginRefused(
      (client) => client.kubernetesLogin({ mount_point: MOUNT, role: ROLE, jwt: stranger }),
      403,
      'lookup failed: service account jwt not valid',
    );
    expect(reviews).toBe(before + 1);
  });

  tokenLifecycle(
    'kubernetes',
    async () => {
      const login = await loginWith((client) =>
        client.kubernetesLogin({ mount_point: MOUNT, role: ROLE, jwt: accountJwt }),
      );
      expect(reviews).toBeGreaterThan(0);
      return login;
    },
    () => ({
      displayName: `${MOUNT}-${NAMESPACE}-${ACCOUNT}`,
      path: `auth/${MOUNT}/login`,
      metadata: {
        role: ROLE,
        service_account_name: ACCOUNT,
        service_account_namespace: NAMESPACE,
      },
      ttlSeconds: 600,
    }),
  );
});

describe('node-vault 0.12.0: what the server wrote', () => {
  it('never logs a password, a token, a credential or a secret value, in any encoding', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    const output = `${server.stdout()}\n${server.stderr()}`;
    expect(server.stderr().length).toBeGreaterThan(0);
    // The root token, the password, the secrets, role and secret IDs, and one token per login.
    expect(Object.keys(secrets).length).toBeGreaterThanOrEqual(4 + 3 + 3);
    // The dev server prints its root token once on stdout, by design; nothing else may appear.
    const others = Object.fromEntries(
      Object.entries(secrets).filter(([name]) => name !== 'rootToken'),
    );
    expect(findCanaries(output, encodedForms(others))).toEqual([]);
    expect(findCanaries(server.stderr(), encodedForms({ rootToken: ROOT_TOKEN }))).toEqual([]);
  });
});
