// End to end: `coffer auth ...` and `coffer login -method=...` as child processes of the built
// CLI against a real dev server with the real auth methods: userpass and AppRole logins (with
// the password from standard input), the token file, `auth list|tune|disable` (disabling
// revokes the method's tokens), JWT and Kubernetes logins with locally verified keys, and the
// whole OIDC browser flow against a loopback provider, with $BROWSER as the "browser".
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinEngines } from '../../src/engines/registry.js';
import { missingRegistration, skipUnlessCi } from '../helpers/skips.js';
import { startTestProvider } from '../../src/engines/auth/jwt/testing.js';
import type { TestProvider } from '../../src/engines/auth/jwt/testing.js';
import {
  COFFER_BIN,
  createTempDir,
  killAllServers,
  runCoffer,
  startServer,
} from '../helpers/server-process.js';
import type { CliResult, ServerProcess, TempDir } from '../helpers/server-process.js';

const ROOT_TOKEN = `e2e-root-${randomBytes(12).toString('hex')}`;
const PASSWORD = `CANARY-e2e-password-${randomBytes(6).toString('hex')}`;
const REGISTERED = builtinEngines();

/** True (skip) when `type` is not registered; under CI that fails the file instead. */
function unregistered(type: string): boolean {
  return skipUnlessCi(missingRegistration(REGISTERED, type), `cli-auth e2e: ${type}`);
}
const TOKEN_FILE = '.coffer-token';

let server: ServerProcess | undefined;
let temp: TempDir | undefined;
/** Every stdout and stderr the CLI printed, checked at the end for the password. */
const printed: string[] = [];

function tempDir(): string {
  if (temp === undefined) throw new Error('beforeAll did not run');
  return temp.path;
}

/** A fresh HOME for one login, so each test sees only its own token file. */
function freshHome(name: string): string {
  const home = join(tempDir(), `home-${name}-${randomBytes(3).toString('hex')}`);
  mkdirSync(home);
  return home;
}

function coffer(
  args: readonly string[],
  options: { readonly input?: string; readonly env?: Record<string, string> } = {},
): Promise<CliResult> {
  return runCoffer(args, {
    env: { COFFER_ADDR: server?.url ?? '', HOME: tempDir(), ...options.env },
    ...(options.input === undefined ? {} : { input: options.input }),
  }).then((result) => {
    printed.push(result.stdout, result.stderr);
    return result;
  });
}

const asRoot = { env: { COFFER_TOKEN: ROOT_TOKEN } };

async function ok(
  args: readonly string[],
  options?: { readonly input?: string; readonly env?: Record<string, string> },
): Promise<string> {
  const result = await coffer(args, options);
  expect(result.code, `coffer ${args.slice(0, 2).join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/** Logs in with `args` in a fresh HOME and returns the token it stored. */
async function loginStored(
  name: string,
  args: readonly string[],
  input?: string,
): Promise<{ token: string; stdout: string; home: string }> {
  const home = freshHome(name);
  const stdout = await ok(['login', ...args], {
    env: { HOME: home },
    ...(input === undefined ? {} : { input }),
  });
  const file = join(home, TOKEN_FILE);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  return { token: readFileSync(file, 'utf8').trim(), stdout, home };
}

/** `token lookup -field=F` with `token`. */
function lookupField(token: string, field: string): Promise<string> {
  return ok(['token', 'lookup', `-field=${field}`], { env: { COFFER_TOKEN: token } });
}

beforeAll(async () => {
  if (!existsSync(COFFER_BIN)) throw new Error(`${COFFER_BIN} is missing; run npm run build`);
  temp = createTempDir('coffer-e2e-auth-');
  server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
}, 90_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  await killAllServers();
  temp?.remove();
});

describe.skipIf(unregistered('userpass'))('coffer auth and login -method=userpass', () => {
  it('enables userpass, logs in with the password from stdin and stores the token', async () => {
    expect(await ok(['auth', 'enable', '-description=People', 'userpass'], asRoot)).toBe(
      'Success! Enabled userpass auth method at: userpass/\n',
    );
    await ok(
      ['write', 'auth/userpass/users/alice', `password=${PASSWORD}`, 'token_policies=reader'],
      asRoot,
    );
    const list = await ok(['auth', 'list'], asRoot);
    expect(list).toMatch(/^userpass\/\s+userpass\s+auth_userpass_\S+\s+People$/m);

    const login = await loginStored(
      'alice',
      ['-method=userpass', 'username=alice'],
      `${PASSWORD}\n`,
    );
    expect(login.stdout).toMatch(/^Success! You are now authenticated\./);
    expect(login.stdout).toMatch(/^token_policies\s+\["default" "reader"\]$/m);
    expect(login.stdout).toMatch(/^token_meta_username\s+alice$/m);
    expect(login.stdout).not.toContain(login.token);
    expect(await lookupField(login.token, 'display_name')).toBe('userpass-alice');
    // Later commands in that HOME use the stored token.
    expect(await ok(['token', 'lookup', '-field=path'], { env: { HOME: login.home } })).toBe(
      'auth/userpass/login/alice',
    );

    const refused = await coffer(['login', '-method=userpass', 'username=alice', 'password=no'], {
      env: { HOME: freshHome('refused') },
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/invalid username or password.*\(400\)/);
  });

  it('logs in through the generic write, and with -token-only / -format=json', async () => {
    const written = await ok(['write', 'auth/userpass/login/alice', `password=${PASSWORD}`]);
    const token = /^token\s+(\S+)$/m.exec(written)?.[1] ?? '';
    expect(await lookupField(token, 'display_name')).toBe('userpass-alice');

    const only = await coffer(['login', '-token-only', '-method=userpass', 'username=alice'], {
      input: PASSWORD,
      env: { HOME: freshHome('only') },
    });
    expect(only.code, only.stderr).toBe(0);
    expect(await lookupField(only.stdout, 'display_name')).toBe('userpass-alice');

    const json = await coffer(
      ['login', '-format=json', '-no-store', '-method=userpass', 'username=alice'],
      { input: PASSWORD },
    );
    const parsed = JSON.parse(json.stdout) as { auth: { client_token: string } };
    expect(await lookupField(parsed.auth.client_token, 'display_name')).toBe('userpass-alice');
  });

  it('tunes the method and revokes its tokens when it is disabled', async () => {
    await ok(['auth', 'enable', '-path=staff', 'userpass'], asRoot);
    await ok(['write', 'auth/staff/users/bob', `password=${PASSWORD}`], asRoot);
    expect(await ok(['auth', 'tune', '-default-lease-ttl=20m', 'staff'], asRoot)).toBe(
      'Success! Tuned the auth method at: staff/\n',
    );
    const login = await loginStored('bob', [
      '-method=userpass',
      '-path=staff',
      'username=bob',
      `password=${PASSWORD}`,
    ]);
    expect(login.stdout).toMatch(/^token_duration\s+20m$/m);

    expect(await ok(['auth', 'disable', 'staff'], asRoot)).toBe(
      'Success! Disabled the auth method (if it existed) at: staff/\n',
    );
    const gone = await coffer(['token', 'lookup'], { env: { COFFER_TOKEN: login.token } });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('(403)');
  });
});

describe.skipIf(unregistered('approle'))('coffer login -method=approle', () => {
  it('logs in with a role id and a secret id read from the API', async () => {
    await ok(['auth', 'enable', 'approle'], asRoot);
    await ok(['write', 'auth/approle/role/ci', 'token_policies=ci'], asRoot);
    const roleId = await ok(['read', '-field=role_id', 'auth/approle/role/ci/role-id'], asRoot);
    const secretId = await ok(
      ['write', '-force', '-field=secret_id', 'auth/approle/role/ci/secret-id'],
      asRoot,
    );
    const login = await loginStored('ci', [
      '-method=approle',
      `role_id=${roleId}`,
      `secret_id=${secretId}`,
    ]);
    expect(login.stdout).toMatch(/^token_policies\s+\["ci" "default"\]$/m);
    expect(login.stdout).toMatch(/^token_meta_role_name\s+ci$/m);
    expect(await lookupField(login.token, 'path')).toBe('auth/approle/login');
  });
});

describe.skipIf(unregistered('jwt'))('coffer login -method=jwt', () => {
  it('logs in with a JWT verified by a configured public key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    await ok(['auth', 'enable', 'jwt'], asRoot);
    await ok(['write', 'auth/jwt/config', '-'], {
      ...asRoot,
      input: JSON.stringify({ jwt_validation_pubkeys: [await exportSPKI(publicKey)] }),
    });
    await ok(['write', 'auth/jwt/role/svc', '-'], {
      ...asRoot,
      input: JSON.stringify({
        role_type: 'jwt',
        bound_audiences: ['coffer'],
        user_claim: 'sub',
        token_policies: ['svc'],
      }),
    });
    const jwt = await new SignJWT({ sub: 'svc-1' })
      .setProtectedHeader({ alg: 'RS256' })
      .setAudience('coffer')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const file = join(tempDir(), 'svc.jwt');
    writeFileSync(file, jwt);
    const login = await loginStored('jwt', ['-method=jwt', 'role=svc', `jwt=@${file}`]);
    expect(login.stdout).toMatch(/^token_policies\s+\["default" "svc"\]$/m);
    expect(await lookupField(login.token, 'path')).toBe('auth/jwt/login');
  });
});

describe.skipIf(unregistered('kubernetes'))('coffer login -method=kubernetes', () => {
  it('logs in with a service account JWT verified by pem_keys', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    await ok(['auth', 'enable', 'kubernetes'], asRoot);
    await ok(['write', 'auth/kubernetes/config', '-'], {
      ...asRoot,
      input: JSON.stringify({
        pem_keys: [await exportSPKI(publicKey)],
        disable_local_ca_jwt: true,
      }),
    });
    await ok(['write', 'auth/kubernetes/role/app', '-'], {
      ...asRoot,
      input: JSON.stringify({
        bound_service_account_names: ['app'],
        bound_service_account_namespaces: ['prod'],
        token_policies: ['app'],
      }),
    });
    const jwt = await new SignJWT({
      'kubernetes.io/serviceaccount/namespace': 'prod',
      'kubernetes.io/serviceaccount/secret.name': 'app-token-abcde',
      'kubernetes.io/serviceaccount/service-account.name': 'app',
      'kubernetes.io/serviceaccount/service-account.uid': '0b7a9e3c-1111-2222-3333-444455556666',
    })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('kubernetes/serviceaccount')
      .setSubject('system:serviceaccount:prod:app')
      .sign(privateKey);
    const login = await loginStored('k8s', ['-method=kubernetes', 'role=app', `jwt=${jwt}`]);
    expect(login.stdout).toMatch(/^token_meta_service_account_name\s+app$/m);
    expect(await lookupField(login.token, 'path')).toBe('auth/kubernetes/login');
  });
});

describe.skipIf(unregistered('oidc'))('coffer login -method=oidc', () => {
  let provider: TestProvider | undefined;
  afterAll(async () => {
    await provider?.close();
  });

  it('runs the browser flow: $BROWSER follows the provider redirect to the CLI listener', async () => {
    provider = await startTestProvider({ now: () => Date.now() });
    provider.user = { sub: 'oidc-alice' };
    await ok(['auth', 'enable', 'oidc'], asRoot);
    await ok(['write', 'auth/oidc/config', '-'], {
      ...asRoot,
      input: JSON.stringify({
        oidc_discovery_url: provider.issuer,
        oidc_client_id: provider.clientId,
        oidc_client_secret: provider.clientSecret,
        default_role: 'web',
      }),
    });
    await ok(['write', 'auth/oidc/role/web', '-'], {
      ...asRoot,
      input: JSON.stringify({
        role_type: 'oidc',
        user_claim: 'sub',
        allowed_redirect_uris: ['http://127.0.0.1:8250/oidc/callback'],
        token_policies: ['web'],
      }),
    });
    // The "browser": follows the auth URL; the provider's 302 leads to the CLI's listener.
    const browser = join(tempDir(), 'browser');
    writeFileSync(
      browser,
      `#!${process.execPath}\nfetch(process.argv[2]).then((r) => r.text()).catch(() => {});\n`,
      { mode: 0o755 },
    );
    const home = freshHome('oidc');
    const result = await coffer(['login', '-method=oidc', '-listenaddress=127.0.0.1', '-port=0'], {
      env: { HOME: home, BROWSER: browser },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('Launching browser to:');
    expect(result.stdout).toMatch(/^token_policies\s+\["default" "web"\]$/m);
    const token = readFileSync(join(home, TOKEN_FILE), 'utf8').trim();
    expect(await lookupField(token, 'path')).toBe('auth/oidc/oidc/callback');
  });
});

describe('nothing printed a password', () => {
  it('kept the password out of every table output and error', () => {
    for (const text of printed) expect(text).not.toContain(PASSWORD);
  });
});
