import { startAuthTestServer, type AuthTestServer } from '../../test/helpers/test-auth-method.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CofferClient, KUBERNETES_SA_TOKEN_PATH, startOidcListener } from '../client/index.js';
import type { RecordedRequest } from '../client/testing.js';
import { runCli } from './main.js';
import { runCliForTest as run, TEST_TOKEN } from './testing.js';

const temp = mkdtempSync(join(tmpdir(), 'coffer-login-cli-'));
afterAll(() => {
  rmSync(temp, { recursive: true, force: true });
});

const NEW_TOKEN = 'hvs.login-token-value';

const LOOKUP = {
  data: {
    accessor: 'acc-login',
    id: NEW_TOKEN,
    policies: ['default', 'ops'],
    identity_policies: ['team'],
    meta: { owner: 'me' },
    renewable: true,
    ttl: 7200,
    type: 'service',
  },
};

/** lookup-self answers only for NEW_TOKEN; any other token gets a 403. */
const ROUTES = {
  'GET auth/token/lookup-self': (request: RecordedRequest) =>
    request.headers['x-vault-token'] === NEW_TOKEN
      ? { body: LOOKUP }
      : { status: 403, body: { errors: ['permission denied'] } },
  'GET sys/seal-status': { body: { sealed: false } },
};

function freshHome(): string {
  return mkdtempSync(join(temp, 'home-'));
}

describe('login', () => {
  it('verifies the token, stores it with mode 0600 and never prints it', async () => {
    const home = freshHome();
    const result = await run(['login', NEW_TOKEN], {
      routes: ROUTES,
      env: { HOME: home, COFFER_TOKEN: undefined },
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]!.headers['x-vault-token']).toBe(NEW_TOKEN);
    const file = join(home, '.coffer-token');
    expect(readFileSync(file, 'utf8')).toBe(`${NEW_TOKEN}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(result.stdout).toMatch(/^Success! You are now authenticated\./);
    expect(result.stdout).toMatch(/^token_accessor {7}acc-login$/m);
    expect(result.stdout).toMatch(/^token_duration {7}2h$/m);
    expect(result.stdout).toMatch(/^token_policies {7}\["default" "ops"\]$/m);
    expect(result.stdout).toMatch(/^identity_policies {4}\["team"\]$/m);
    expect(result.stdout).toMatch(/^policies {13}\["default" "ops" "team"\]$/m);
    expect(result.stdout).toMatch(/^token_meta_owner {5}me$/m);
    expect(result.stdout).not.toMatch(/^token /m);
    expect(result.stdout + result.stderr).not.toContain(NEW_TOKEN);

    // A later command finds the stored token.
    const later = await run(['status'], {
      routes: ROUTES,
      env: { HOME: home, COFFER_TOKEN: undefined },
    });
    expect(later.requests[0]!.headers['x-vault-token']).toBe(NEW_TOKEN);
  });

  it('reads the token from standard input, with a prompt on a terminal', async () => {
    const home = freshHome();
    const env = { HOME: home, COFFER_TOKEN: undefined };
    const piped = await run(['login'], { routes: ROUTES, env, stdin: `${NEW_TOKEN}\n` });
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(readFileSync(join(home, '.coffer-token'), 'utf8')).toBe(`${NEW_TOKEN}\n`);
    const dash = await run(['login', '-'], { routes: ROUTES, env, stdin: NEW_TOKEN });
    expect(dash.code).toBe(0);
    const tty = await run(['login'], { routes: ROUTES, env, stdin: NEW_TOKEN, stdinIsTty: true });
    expect(tty.stderr).toBe('Token (will be hidden): ');
    const keyValue = await run(['login', `token=${NEW_TOKEN}`], { routes: ROUTES, env });
    expect(keyValue.requests[0]!.headers['x-vault-token']).toBe(NEW_TOKEN);
    const empty = await run(['login'], { routes: ROUTES, env, stdin: '\n' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('missing token');
  });

  it('stores nothing for a rejected token and does not echo it', async () => {
    const home = freshHome();
    const result = await run(['login', 'hvs.wrong-token'], {
      routes: ROUTES,
      env: { HOME: home, COFFER_TOKEN: undefined },
    });
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: permission denied (403)\n',
    });
    expect(existsSync(join(home, '.coffer-token'))).toBe(false);
  });

  it('skips the file with -no-store and prints nothing with -no-print', async () => {
    const home = freshHome();
    const env = { HOME: home, COFFER_TOKEN: undefined };
    const noStore = await run(['login', '-no-store', NEW_TOKEN], { routes: ROUTES, env });
    expect(noStore.code).toBe(0);
    expect(noStore.stdout).toContain('was NOT stored');
    expect(existsSync(join(home, '.coffer-token'))).toBe(false);
    const noPrint = await run(['login', '-no-print', NEW_TOKEN], { routes: ROUTES, env });
    expect(noPrint).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(existsSync(join(home, '.coffer-token'))).toBe(true);
  });

  it('warns when an environment token overrides the stored one', async () => {
    const result = await run(['login', NEW_TOKEN], {
      routes: ROUTES,
      env: { HOME: freshHome() },
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('WARNING! The COFFER_TOKEN environment variable is set');
    expect(result.stderr).not.toContain(TEST_TOKEN);
  });

  it('prints JSON without the token', async () => {
    const result = await run(['login', '-format=json', NEW_TOKEN], {
      routes: ROUTES,
      env: { HOME: freshHome(), COFFER_TOKEN: undefined },
    });
    const parsed = JSON.parse(result.stdout) as { data: Record<string, unknown> };
    expect(parsed.data['accessor']).toBe('acc-login');
    expect(result.stdout).not.toContain(NEW_TOKEN);
  });

  it('refuses an unknown auth method and a missing HOME', async () => {
    const method = await run(['login', '-method=ldap', 'x'], { routes: ROUTES });
    expect(method.code).toBe(2);
    expect(method.stderr).toContain(
      'unknown auth method "ldap"; use one of token, userpass, approle, jwt, kubernetes, oidc',
    );
    expect(method.requests).toHaveLength(0);
    const noHome = await run(['login', NEW_TOKEN], { routes: ROUTES, env: { HOME: undefined } });
    expect(noHome.code).toBe(2);
    expect(noHome.stderr).toContain('HOME is not set');
  });

  it('prints only the token with -token-only, without storing it', async () => {
    const home = freshHome();
    const env = { HOME: home, COFFER_TOKEN: undefined };
    const result = await run(['login', '-token-only', NEW_TOKEN], { routes: ROUTES, env });
    expect(result).toMatchObject({ code: 0, stdout: NEW_TOKEN, stderr: '' });
    expect(existsSync(join(home, '.coffer-token'))).toBe(false);
    const tty = await run(['login', '-token-only', NEW_TOKEN], {
      routes: ROUTES,
      env,
      stdoutIsTty: true,
    });
    expect(tty.stdout).toBe(`${NEW_TOKEN}\n`);
    const both = await run(['login', '-token-only', '-no-print', NEW_TOKEN], {
      routes: ROUTES,
      env,
    });
    expect(both.code).toBe(2);
  });
});

// ---- auth method logins against a real in-process server ------------------------------------

const PASSWORD = 'CANARY-cli-password';
const SECRET_ID = 'CANARY-cli-secret-id';
const JWT = 'CANARY.cli.jwt';
const CODE = 'CANARY-cli-oidc-code';

let server: AuthTestServer | undefined;
let address = '';

beforeAll(async () => {
  server = await startAuthTestServer(
    { password: PASSWORD, secretId: SECRET_ID, jwt: JWT, code: CODE },
    ['userpass', 'approle', 'jwt', 'kubernetes', 'oidc', 'corp-pass'],
  );
  address = server.address;
});

afterAll(async () => {
  await server?.close();
});

interface LiveOptions {
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: string;
  readonly stdinIsTty?: boolean;
  /** Called with the stderr written so far, each time it grows (the OIDC "browser"). */
  readonly onStderr?: (text: string) => void;
}

/** Runs the CLI against the in-process server with a fresh HOME and no token. */
async function live(argv: string[], options: LiveOptions = {}) {
  const home = options.env?.['HOME'] ?? freshHome();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const stdin = options.stdin;
  const code = await runCli(argv, {
    env: { COFFER_ADDR: address, HOME: home, USER: undefined, LOGNAME: undefined, ...options.env },
    stdout: (s) => stdout.push(s),
    stderr: (s) => {
      stderr.push(s);
      options.onStderr?.(stderr.join(''));
    },
    ...(stdin === undefined ? {} : { stdin: () => Promise.resolve(stdin) }),
    ...(options.stdinIsTty === undefined ? {} : { stdinIsTty: options.stdinIsTty }),
  });
  const file = join(home, '.coffer-token');
  return {
    code,
    stdout: stdout.join(''),
    stderr: stderr.join(''),
    home,
    stored: existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined,
  };
}

/** What the stored token says about itself (its metadata names the method and login). */
async function lookupStored(token: string | undefined): Promise<Record<string, string>> {
  expect(token).toBeDefined();
  const client = new CofferClient({ address, token: token! });
  return (await client.lookupSelf()).info.meta ?? {};
}

describe('login -method=userpass|approle|jwt|kubernetes', () => {
  it('logs in with userpass, stores a working token and prints the table without it', async () => {
    const result = await live([
      'login',
      '-method=userpass',
      'username=alice',
      `password=${PASSWORD}`,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await lookupStored(result.stored)).toEqual({ method: 'userpass', name: 'alice' });
    expect(result.stdout).toMatch(/^Success! You are now authenticated\./);
    expect(result.stdout).toMatch(/^token_duration {7}10m$/m);
    expect(result.stdout).toMatch(/^token_policies {7}\["default" "reader"\]$/m);
    expect(result.stdout).toMatch(/^token_meta_name {6}alice$/m);
    expect(result.stdout).not.toMatch(/^token /m);
    expect(result.stdout).not.toContain(result.stored);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);

    // A later command uses the stored token.
    const later = await live(['token', 'lookup', '-field=display_name'], {
      env: { HOME: result.home },
    });
    expect(later.stdout).toBe('userpass-alice');
  });

  it('reads a missing password from standard input, hidden after a prompt on a terminal', async () => {
    const piped = await live(['login', '-method=userpass', 'username=bob'], {
      stdin: `${PASSWORD}\n`,
    });
    expect(piped).toMatchObject({ code: 0, stderr: '' });
    expect(await lookupStored(piped.stored)).toEqual({ method: 'userpass', name: 'bob' });
    const tty = await live(['login', '-method=userpass', 'username=bob'], {
      stdin: PASSWORD,
      stdinIsTty: true,
    });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toBe('Password (will be hidden): ');
    const dash = await live(['login', '-method=userpass', 'username=bob', 'password=-'], {
      stdin: PASSWORD,
    });
    expect(dash.code).toBe(0);
    const empty = await live(['login', '-method=userpass', 'username=bob'], { stdin: '\n' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('Error: missing password');
  });

  it('takes the login name from USER when username= is missing, as Vault does', async () => {
    const result = await live(['login', '-method=userpass', `password=${PASSWORD}`], {
      env: { USER: 'carol' },
    });
    expect(result.code).toBe(0);
    expect(await lookupStored(result.stored)).toEqual({ method: 'userpass', name: 'carol' });
    const nobody = await live(['login', '-method=userpass', `password=${PASSWORD}`]);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('missing username=...');
  });

  it('stores nothing for a refused login and does not echo the password', async () => {
    const result = await live(['login', '-method=userpass', 'username=alice', 'password=CANARY-x']);
    expect(result).toMatchObject({ code: 1, stdout: '', stored: undefined });
    expect(result.stderr).toBe('Error: invalid credentials (400)\n');
  });

  it('logs in with AppRole, with or without a secret id', async () => {
    const both = await live(['login', '-method=approle', 'role_id=rid', `secret_id=${SECRET_ID}`]);
    expect(both.code).toBe(0);
    expect(await lookupStored(both.stored)).toEqual({ method: 'approle', name: 'given' });
    // Off a terminal a missing secret_id is not asked for (roles with bind_secret_id=false).
    const none = await live(['login', '-method=approle', 'role_id=rid'], { stdin: 'unused' });
    expect(await lookupStored(none.stored)).toEqual({ method: 'approle', name: 'none' });
    const tty = await live(['login', '-method=approle', 'role_id=rid'], {
      stdin: SECRET_ID,
      stdinIsTty: true,
    });
    expect(tty.stderr).toBe('SecretID (will be hidden): ');
    expect(await lookupStored(tty.stored)).toEqual({ method: 'approle', name: 'given' });
    const noRole = await live(['login', '-method=approle', `secret_id=${SECRET_ID}`]);
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toContain('missing role_id=...');
  });

  it('logs in with a JWT given, from a file, or from standard input', async () => {
    const given = await live(['login', '-method=jwt', 'role=dev', `jwt=${JWT}`]);
    expect(await lookupStored(given.stored)).toEqual({ method: 'jwt', name: 'dev' });
    const file = join(temp, 'jwt.txt');
    writeFileSync(file, `${JWT}\n`);
    const fromFile = await live(['login', '-method=jwt', `jwt=@${file}`]);
    expect(await lookupStored(fromFile.stored)).toEqual({ method: 'jwt', name: 'default' });
    const piped = await live(['login', '-method=jwt', 'role=dev'], { stdin: JWT });
    expect(piped.code).toBe(0);
  });

  it('logs in with Kubernetes, defaulting the JWT to the service account token file', async () => {
    const given = await live(['login', '-method=kubernetes', 'role=dev', `jwt=${JWT}`]);
    expect(await lookupStored(given.stored)).toEqual({ method: 'jwt', name: 'dev' });
    if (!existsSync(KUBERNETES_SA_TOKEN_PATH)) {
      const missing = await live(['login', '-method=kubernetes', 'role=dev']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(
        `no jwt=... given and the service account token ${KUBERNETES_SA_TOKEN_PATH} cannot be read (ENOENT)`,
      );
    }
  });

  it('logs in at another mount with -path', async () => {
    const result = await live([
      'login',
      '-method=userpass',
      '-path=corp-pass',
      'username=dan',
      `password=${PASSWORD}`,
    ]);
    expect(result.code).toBe(0);
    const lookup = await new CofferClient({ address, token: result.stored! }).lookupSelf();
    expect(lookup.info.path).toBe('auth/corp-pass/login/dan');
    const missing = await live([
      'login',
      '-method=userpass',
      '-path=nowhere',
      'username=dan',
      `password=${PASSWORD}`,
    ]);
    expect(missing.code).toBe(1);
  });

  it('prints the whole auth block with -format=json and only the token with -token-only', async () => {
    const json = await live([
      'login',
      '-format=json',
      '-method=userpass',
      'username=erin',
      `password=${PASSWORD}`,
    ]);
    const parsed = JSON.parse(json.stdout) as { auth: { client_token: string; accessor: string } };
    expect(parsed.auth.client_token).toBe(json.stored);
    expect(parsed.auth.accessor).not.toBe('');

    const only = await live(['login', '-token-only', '-method=jwt', `jwt=${JWT}`]);
    expect(only).toMatchObject({ code: 0, stderr: '', stored: undefined });
    expect(await lookupStored(only.stdout)).toEqual({ method: 'jwt', name: 'default' });

    const noStoreJson = await live([
      'login',
      '-no-store',
      '-format=json',
      '-method=jwt',
      `jwt=${JWT}`,
    ]);
    expect(noStoreJson.stored).toBeUndefined();
    expect(noStoreJson.stdout).toContain('client_token');
  });

  it('refuses flag combinations that would lose the token, and unknown keys, before logging in', async () => {
    const lost = await live(['login', '-no-store', '-method=jwt', `jwt=${JWT}`]);
    expect(lost.code).toBe(2);
    expect(lost.stderr).toContain('with -no-store the token is only printed by -token-only');
    const silent = await live(['login', '-no-store', '-no-print', '-method=jwt', `jwt=${JWT}`]);
    expect(silent.code).toBe(2);
    const typo = await live(['login', '-method=userpass', 'username=a', 'passwrd=CANARY-typo']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('-method=userpass does not take "passwrd"');
    expect(typo.stderr).not.toContain('CANARY');
    const noHome = await live(['login', '-method=jwt', `jwt=${JWT}`], { env: { HOME: '' } });
    expect(noHome.code).toBe(2);
    expect(noHome.stderr).toContain('HOME is not set');
  });

  it('warns when an environment token overrides the stored one', async () => {
    const result = await live(['login', '-method=jwt', `jwt=${JWT}`], {
      env: { COFFER_TOKEN: 'hvs.some-env-token' },
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('WARNING! The COFFER_TOKEN environment variable is set');
  });

  it('leaves the generic write working for logins (it prints the token, as Vault does)', async () => {
    const result = await live(['write', 'auth/userpass/login/frank', `password=${PASSWORD}`]);
    expect(result.code).toBe(0);
    const token = /^token\s+(\S+)$/m.exec(result.stdout)?.[1];
    expect(await lookupStored(token)).toEqual({ method: 'userpass', name: 'frank' });
  });
});

describe('login -method=oidc', () => {
  /** Plays the browser: once the CLI printed the URL, follows it (the provider redirects). */
  function browser(seen: { page?: Promise<Response> }) {
    return (text: string) => {
      const url = /^ {4}(http\S+)$/m.exec(text)?.[1];
      if (url !== undefined && seen.page === undefined) seen.page = fetch(url);
    };
  }

  it('prints the provider URL, takes the redirect on its listener and stores the token', async () => {
    const seen: { page?: Promise<Response> } = {};
    const result = await live(
      ['login', '-method=oidc', '-listenaddress=127.0.0.1', '-port=0', 'role=dev'],
      { onStderr: browser(seen) },
    );
    expect(result.stderr).toMatch(
      /^Complete the login via your OIDC provider\. Open this URL in a browser:\n\n {4}http:\/\/127\.0\.0\.1:\d+\/oidc\/callback\?state=st-\d+&code=/,
    );
    expect(result.stderr).toContain('Waiting for OIDC authentication to complete...');
    expect(result.code).toBe(0);
    expect(await lookupStored(result.stored)).toEqual({ method: 'oidc', name: 'dev' });
    const page = await seen.page!;
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Coffer login succeeded');
    expect(result.stdout).toMatch(/^Success! You are now authenticated\./);
  });

  it('opens $BROWSER with the URL when it is set', async () => {
    const script = join(temp, 'fake-browser');
    writeFileSync(
      script,
      `#!${process.execPath}\nfetch(process.argv[2]).then((r) => r.text()).catch(() => {});\n`,
      { mode: 0o755 },
    );
    const result = await live(['login', '-method=oidc', 'listenaddress=127.0.0.1', 'port=0'], {
      env: { BROWSER: script },
    });
    expect(result.stderr).toContain('Launching browser to:');
    expect(result.code).toBe(0);
    expect(await lookupStored(result.stored)).toEqual({ method: 'oidc', name: 'oidc-user' });
  });

  it('fails when the callback is refused, and when the port is taken', async () => {
    const seen: { page?: Promise<Response> } = {};
    const refused = await live(
      ['login', '-method=oidc', '-path=userpass', '-listenaddress=127.0.0.1', '-port=0'],
      {
        onStderr: (text) => {
          // The userpass-shaped mount is the same test method: tamper with the code.
          const url = /^ {4}(http\S+)$/m.exec(text)?.[1];
          if (url !== undefined && seen.page === undefined) {
            seen.page = fetch(url.replace('code=', 'code=x'));
          }
        },
      },
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Error: invalid credentials (400)');
    expect(refused.stored).toBeUndefined();
    expect((await seen.page!).status).toBe(400);

    const blocker = await startOidcListener({ host: '127.0.0.1', port: 0 });
    try {
      const taken = await live([
        'login',
        '-method=oidc',
        '-listenaddress=127.0.0.1',
        `-port=${blocker.port}`,
      ]);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain('(EADDRINUSE)');
    } finally {
      await blocker.close();
    }
  });
});
