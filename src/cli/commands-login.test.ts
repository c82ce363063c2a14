import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../client/testing.js';
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

  it('refuses other auth methods and a missing HOME', async () => {
    const method = await run(['login', '-method=userpass', 'x'], { routes: ROUTES });
    expect(method.code).toBe(2);
    expect(method.stderr).toContain('auth method "userpass" is not supported yet');
    expect(method.requests).toHaveLength(0);
    const noHome = await run(['login', NEW_TOKEN], { routes: ROUTES, env: { HOME: undefined } });
    expect(noHome.code).toBe(2);
    expect(noHome.stderr).toContain('HOME is not set');
  });
});
