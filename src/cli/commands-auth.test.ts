import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAuthMethod } from '../../test/helpers/test-auth-method.js';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import type { Stack } from '../../test/helpers/stack.js';
import { CofferClient, listAuthMethods, readAuthTune } from '../client/index.js';
import { kvEngineFactory } from '../engines/kv/engine.js';
import { runCli } from './main.js';

const PASSWORD = 'CANARY-auth-cli-password';

const testAuthFactory = testAuthMethod({
  password: PASSWORD,
  secretId: 'unused',
  jwt: 'unused',
  code: 'unused',
  ttlSeconds: 0,
});

let stack: (Stack & { rootToken: string }) | undefined;
let address = '';

beforeAll(async () => {
  stack = await createUnsealedStack({
    engines: new Map([
      [kvEngineFactory.type, kvEngineFactory],
      [testAuthFactory.type, testAuthFactory],
    ]),
  });
  address = await stack.app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  if (stack === undefined) return;
  await stack.core.sealForShutdown();
  await stack.app.close();
});

function rootClient(): CofferClient {
  return new CofferClient({ address, token: stack!.rootToken });
}

/** Runs the CLI against the in-process server as root (or with `token`). */
async function cli(argv: string[], token?: string) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, {
    env: { COFFER_ADDR: address, COFFER_TOKEN: token ?? stack!.rootToken, HOME: undefined },
    stdout: (s) => stdout.push(s),
    stderr: (s) => stderr.push(s),
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

describe('auth enable|list|tune|disable', () => {
  it('enables a method at its type name or at -path with description, TTLs and options', async () => {
    expect(await cli(['auth', 'enable', 'testauth'])).toEqual({
      code: 0,
      stdout: 'Success! Enabled testauth auth method at: testauth/\n',
      stderr: '',
    });
    const custom = await cli([
      'auth',
      'enable',
      '-path=team/',
      '-description=Team logins',
      '-default-lease-ttl=1h',
      '-max-lease-ttl=2h',
      '-options=flavour=x',
      'testauth',
    ]);
    expect(custom.stdout).toBe('Success! Enabled testauth auth method at: team/\n');
    const methods = await listAuthMethods(rootClient());
    expect(methods['team/']).toMatchObject({
      type: 'testauth',
      description: 'Team logins',
      config: { default_lease_ttl: 3600, max_lease_ttl: 7200 },
      options: { flavour: 'x' },
    });
    const again = await cli(['auth', 'enable', '-path=team', 'testauth']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
  });

  it('lists the methods as Vault’s table, -detailed, and as JSON', async () => {
    await cli(['auth', 'enable', '-path=listed', '-description=Listed one', 'testauth']);
    const table = await cli(['auth', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^Path\s+Type\s+Accessor\s+Description$/);
    expect(lines[1]).toMatch(/^----\s+----\s+--------\s+-----------$/);
    expect(table.stdout).toMatch(/^listed\/\s+testauth\s+auth_testauth_\S+\s+Listed one$/m);
    expect(table.stdout).toMatch(/^token\/\s+token\s+auth_token_\S+\s+token based credentials$/m);

    const detailed = await cli(['auth', 'list', '-detailed']);
    expect(detailed.stdout.split('\n')[0]).toMatch(
      /^Path\s+Plugin\s+Accessor\s+Default TTL\s+Max TTL\s+Token Type\s+Replication\s+Seal Wrap\s+External Entropy Access\s+Options\s+Description\s+UUID$/,
    );
    expect(detailed.stdout).toMatch(
      /^token\/\s+token\s+\S+\s+system\s+system\s+default-service\s+replicated\s+false\s+false\s+n\/a\s+token based credentials/m,
    );

    const json = await cli(['auth', 'list', '-format=json']);
    const parsed = JSON.parse(json.stdout) as Record<string, { type: string }>;
    expect(parsed['listed/']?.type).toBe('testauth');
  });

  it('tunes TTLs, description and options', async () => {
    await cli(['auth', 'enable', '-path=tuned', 'testauth']);
    const tuned = await cli([
      'auth',
      'tune',
      '-default-lease-ttl=30m',
      '-max-lease-ttl=3600',
      '-description=Tuned',
      '-options=a=b',
      'tuned',
    ]);
    expect(tuned).toEqual({
      code: 0,
      stdout: 'Success! Tuned the auth method at: tuned/\n',
      stderr: '',
    });
    expect(await readAuthTune(rootClient(), 'tuned')).toMatchObject({
      default_lease_ttl: 1800,
      max_lease_ttl: 3600,
      description: 'Tuned',
      options: { a: 'b' },
    });
    const missing = await cli(['auth', 'tune', '-description=x', 'nowhere']);
    expect(missing.code).toBe(1);
  });

  it('disables a method and revokes the tokens its logins issued', async () => {
    await cli(['auth', 'enable', '-path=gone', 'testauth']);
    const client = new CofferClient({ address });
    const response = await client.write('auth/gone/login/alice', { password: PASSWORD });
    const token = response?.auth?.client_token ?? '';
    expect(token).not.toBe('');
    expect((await cli(['token', 'lookup'], token)).code).toBe(0);

    expect(await cli(['auth', 'disable', '/gone/'])).toEqual({
      code: 0,
      stdout: 'Success! Disabled the auth method (if it existed) at: gone/\n',
      stderr: '',
    });
    expect((await listAuthMethods(rootClient()))['gone/']).toBeUndefined();
    const revoked = await cli(['token', 'lookup'], token);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain('(403)');
  });

  it('rejects usage mistakes before sending anything, and needs a privileged token', async () => {
    const cases: [string[], string][] = [
      [['auth', 'enable', '-path=/', 'testauth'], 'the auth method path must not be empty'],
      [['auth', 'enable', ' '], 'TYPE must not be empty'],
      [['auth', 'enable', '-options=novalue', 'testauth'], 'expected key=value'],
      [['auth', 'disable', '/'], 'the auth method path must not be empty'],
      [['auth', 'tune', 'testauth'], 'nothing to tune'],
      [['auth', 'list', 'extra'], 'too many arguments'],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
    }
    const child = await rootClient().createToken({ policies: ['reader'] });
    const refused = await cli(['auth', 'list'], child.auth.client_token);
    expect(refused).toMatchObject({ code: 1, stderr: 'Error: permission denied (403)\n' });
    const unknown = await cli(['auth', 'enable', 'no-such-method']);
    expect(unknown.code).toBe(1);
  });

  it('shows the auth group in the help', async () => {
    const help = await cli(['auth', '-h']);
    expect(help.stdout).toContain('Usage: coffer auth <subcommand>');
    expect(help.stdout).toMatch(/^ {4}tune {7}Change the token TTLs/m);
    const root = await cli(['help']);
    expect(root.stdout).toMatch(/^ {4}auth {7}Enable, disable, list and tune auth methods$/m);
  });
});
