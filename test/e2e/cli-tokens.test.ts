// End to end: `coffer login`, `coffer token ...` and `coffer policy ...` as child processes of
// the built CLI against a real dev server: the token file, token lifecycle, policies written
// from HCL and JSON files, a limited token's 403s, capabilities, the explainer and fmt.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COFFER_BIN,
  createTempDir,
  killAllServers,
  runCoffer,
  startServer,
} from '../helpers/server-process.js';
import type { CliResult, ServerProcess, TempDir } from '../helpers/server-process.js';

const ROOT_TOKEN = `e2e-root-${randomBytes(12).toString('hex')}`;
const MOUNT = 'tok-kv';

/** Line 1: the data rule, line 5: the metadata rule, line 9: the explainer. */
const APP_POLICY = [
  `path "${MOUNT}/data/app/*" {`,
  '  capabilities = ["read", "list"]',
  '}',
  '',
  `path "${MOUNT}/metadata/app/*" {`,
  '  capabilities = ["list"]',
  '}',
  '',
  'path "sys/policies/explain" {',
  '  capabilities = ["update"]',
  '}',
  '',
].join('\n');

const JSON_POLICY = JSON.stringify({
  path: { [`${MOUNT}/data/json/*`]: { capabilities: ['read'] } },
});

let server: ServerProcess | undefined;
let home: TempDir | undefined;
/** Every stderr the CLI printed, checked at the end for tokens. */
const allStderr: string[] = [];

function homeDir(): string {
  if (home === undefined) throw new Error('beforeAll did not run');
  return home.path;
}

/**
 * Runs `node bin/coffer.js ...args`. No token is passed unless `env` has one, so commands
 * without it use the token file in the temporary HOME.
 */
function coffer(
  args: readonly string[],
  options: { readonly input?: string; readonly env?: Record<string, string> } = {},
): Promise<CliResult> {
  return runCoffer(args, {
    env: { HOME: homeDir(), COFFER_ADDR: server?.url ?? '', ...options.env },
    ...(options.input === undefined ? {} : { input: options.input }),
  }).then((result) => {
    allStderr.push(result.stderr);
    return result;
  });
}

const asRoot = { env: { COFFER_TOKEN: ROOT_TOKEN } };
function asToken(token: string) {
  return { env: { COFFER_TOKEN: token } };
}

/** Runs a command that must succeed; the failure message shows stderr (never stdout). */
async function ok(
  args: readonly string[],
  options?: { readonly input?: string; readonly env?: Record<string, string> },
): Promise<string> {
  const result = await coffer(args, options);
  expect(result.code, `coffer ${args.slice(0, 2).join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

async function json(
  args: readonly string[],
  options?: { readonly env?: Record<string, string> },
): Promise<Record<string, unknown>> {
  return JSON.parse(await ok([...args, '-format=json'], options)) as Record<string, unknown>;
}

function record(value: unknown): Record<string, unknown> {
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
  return value as Record<string, unknown>;
}

/** A child token of root with the given policies (plus "default") and a 1 h TTL. */
async function childToken(...policies: string[]): Promise<{ token: string; accessor: string }> {
  const created = await json(
    ['token', 'create', ...policies.map((p) => `-policy=${p}`), '-ttl=1h'],
    asRoot,
  );
  const auth = record(created['auth']);
  expect(typeof auth['client_token']).toBe('string');
  return { token: auth['client_token'] as string, accessor: auth['accessor'] as string };
}

beforeAll(async () => {
  if (!existsSync(COFFER_BIN)) throw new Error(`${COFFER_BIN} is missing; run npm run build`);
  home = createTempDir('coffer-e2e-tokens-');
  server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
  await ok(['secrets', 'enable', `-path=${MOUNT}`, 'kv-v2'], asRoot);
  await ok(['kv', 'put', `${MOUNT}/app/db`, 'password=inside-value'], asRoot);
  await ok(['kv', 'put', `${MOUNT}/other/x`, 'password=outside-value'], asRoot);
}, 90_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  await killAllServers();
  home?.remove();
});

describe('coffer login, token and policy against a dev server', () => {
  it('login stores the token in a 0600 file that later commands use', async () => {
    const file = `${homeDir()}/.coffer-token`;
    const login = await coffer(['login', '-'], { input: `${ROOT_TOKEN}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/^Success! You are now authenticated\./);
    expect(login.stdout).toMatch(/^token_policies\s+\["root"\]$/m);
    expect(login.stdout).toMatch(/^token_duration\s+∞$/m);
    expect(login.stdout).not.toContain(ROOT_TOKEN);
    expect(readFileSync(file, 'utf8')).toBe(`${ROOT_TOKEN}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // No COFFER_TOKEN: the file is used.
    const self = await json(['token', 'lookup']);
    expect(record(self['data'])['policies']).toEqual(['root']);
    expect(await ok(['token', 'capabilities', 'sys/mounts'])).toBe('root\n');

    // A rejected token leaves the file alone.
    const bad = await coffer(['login', 'not-a-real-token-value']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/permission denied.*\(403\)\n$/);
    expect(bad.stderr).not.toContain('not-a-real-token-value');
    expect(readFileSync(file, 'utf8')).toBe(`${ROOT_TOKEN}\n`);
  }, 60_000);

  it('writes policies from HCL and JSON files, reads, lists and deletes them', async () => {
    const hclFile = `${homeDir()}/app.hcl`;
    const jsonFile = `${homeDir()}/json.json`;
    writeFileSync(hclFile, APP_POLICY);
    writeFileSync(jsonFile, JSON_POLICY);
    expect(await ok(['policy', 'write', 'app', hclFile], asRoot)).toBe(
      'Success! Uploaded policy: app\n',
    );
    expect(await ok(['policy', 'write', 'json-pol', jsonFile], asRoot)).toBe(
      'Success! Uploaded policy: json-pol\n',
    );
    expect(await ok(['policy', 'read', 'app'], asRoot)).toBe(`${APP_POLICY.trim()}\n`);
    expect(record(await json(['policy', 'read', 'json-pol'], asRoot))['policy']).toBe(JSON_POLICY);
    const names = (await ok(['policy', 'list'], asRoot)).split('\n');
    expect(names).toEqual(expect.arrayContaining(['app', 'default', 'json-pol', 'root']));

    expect(await ok(['policy', 'delete', 'json-pol'], asRoot)).toBe(
      'Success! Deleted policy: json-pol\n',
    );
    expect(await ok(['policy', 'list'], asRoot)).not.toMatch(/^json-pol$/m);
    const gone = await coffer(['policy', 'read', 'json-pol'], asRoot);
    expect(gone).toMatchObject({ code: 2, stderr: 'Error: no policy named: json-pol\n' });

    const broken = `${homeDir()}/broken.hcl`;
    writeFileSync(broken, 'path "x" {\n  capabilities = ["read"\n}\n');
    const invalid = await coffer(['policy', 'write', 'broken', broken], asRoot);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^Error: .*broken\.hcl: 3:1: /);
    expect(await ok(['policy', 'list'], asRoot)).not.toMatch(/^broken$/m);
  }, 60_000);

  it('creates, looks up, renews and revokes a token; a revoked token gets 403', async () => {
    const created = await ok(['token', 'create', '-policy=app', '-ttl=1h'], asRoot);
    expect(created).toMatch(/^token\s+\S+$/m);
    expect(created).toMatch(/^token_duration\s+1h$/m);
    expect(created).toMatch(/^token_renewable\s+true$/m);
    expect(created).toMatch(/^token_policies\s+\[("app" "default"|"default" "app")\]$/m);
    const token = /^token\s+(\S+)$/m.exec(created)![1]!;
    const accessor = /^token_accessor\s+(\S+)$/m.exec(created)![1]!;

    const field = await ok(['token', 'create', '-field=token', '-policy=app'], asRoot);
    expect(field).toMatch(/^\S+$/);
    expect(field).not.toBe(token);

    const looked = await ok(['token', 'lookup', token], asRoot);
    expect(looked).toMatch(new RegExp(`^accessor\\s+${accessor}$`, 'm'));
    expect(looked).toMatch(/^policies\s+\[(app default|default app)\]$/m);
    expect(looked).toMatch(/^ttl\s+(59m\d+s|1h)$/m);
    const byAccessor = record(
      (await json(['token', 'lookup', '-accessor', accessor], asRoot))['data'],
    );
    expect(byAccessor['accessor']).toBe(accessor);
    expect(byAccessor['id'] ?? '').toBe('');
    const self = record((await json(['token', 'lookup'], asToken(token)))['data']);
    expect(self['accessor']).toBe(accessor);

    const renewed = record(
      (await json(['token', 'renew', '-increment=30m', token], asRoot))['auth'],
    );
    expect(renewed['lease_duration']).toBeGreaterThan(0);
    expect(renewed['lease_duration']).toBeLessThanOrEqual(1800);
    const renewedSelf = await ok(['token', 'renew', '-increment=20m'], asToken(token));
    expect(renewedSelf).toMatch(/^token_duration\s+(19m\d+s|20m)$/m);

    expect(await ok(['token', 'revoke', token], asRoot)).toBe(
      'Success! Revoked token (if it existed)\n',
    );
    const after = await coffer(['token', 'lookup'], asToken(token));
    expect(after).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: permission denied (403)\n',
    });

    const bySelf = await childToken('app');
    expect(await ok(['token', 'revoke', '-self'], asToken(bySelf.token))).toBe(
      'Success! Revoked token (if it existed)\n',
    );
    expect((await coffer(['token', 'lookup'], asToken(bySelf.token))).code).toBe(1);

    const byAcc = await childToken('app');
    await ok(['token', 'revoke', '-accessor', byAcc.accessor], asRoot);
    expect((await coffer(['token', 'lookup'], asToken(byAcc.token))).stderr).toContain('(403)');
  }, 90_000);

  it('a limited token reads inside its policy and gets 403 outside it', async () => {
    const { token } = await childToken('app');
    expect(await ok(['kv', 'get', '-field=password', `${MOUNT}/app/db`], asToken(token))).toBe(
      'inside-value',
    );
    const outside = await coffer(['read', `${MOUNT}/data/other/x`], asToken(token));
    expect(outside).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: permission denied (403)\n',
    });
    const write = await coffer(['kv', 'put', `${MOUNT}/app/db`, 'password=nope'], asToken(token));
    expect(write.code).toBe(1);
    expect(write.stderr).toContain('(403)');
    expect(await ok(['kv', 'get', '-field=password', `${MOUNT}/app/db`], asRoot)).toBe(
      'inside-value',
    );
  }, 60_000);

  it('token capabilities reports self, another token and an accessor', async () => {
    const { token, accessor } = await childToken('app');
    expect(await ok(['token', 'capabilities', `${MOUNT}/data/app/db`], asToken(token))).toBe(
      'list, read\n',
    );
    expect(await ok(['token', 'capabilities', token, `${MOUNT}/data/app/db`], asRoot)).toBe(
      'list, read\n',
    );
    expect(await ok(['token', 'capabilities', token, `${MOUNT}/data/other/x`], asRoot)).toBe(
      'deny\n',
    );
    expect(
      await ok(
        ['token', 'capabilities', '-accessor', accessor, `${MOUNT}/metadata/app/db`],
        asRoot,
      ),
    ).toBe('list\n');
    expect(
      JSON.parse(await ok(['token', 'capabilities', '-format=json', 'sys/mounts'], asRoot)),
    ).toEqual(['root']);
  }, 60_000);

  it('policy explain names the rule that decided', async () => {
    const { token } = await childToken('app');
    const allowed = await ok(
      ['policy', 'explain', '-operation=read', `${MOUNT}/data/app/db`],
      asToken(token),
    );
    expect(allowed).toMatch(/^Verdict\s+allowed$/m);
    expect(allowed).toMatch(
      /^Capabilities\s+\["list" "read"\]$|^Capabilities\s+\["read" "list"\]$/m,
    );
    expect(allowed).toMatch(
      new RegExp(`^\\*\\s+app\\s+1\\s+${MOUNT}/data/app/\\*\\s+glob\\s+`, 'm'),
    );

    const denied = await ok(
      ['policy', 'explain', '-operation=update', `${MOUNT}/data/app/db`],
      asToken(token),
    );
    expect(denied).toMatch(/^Verdict\s+denied$/m);
    expect(denied).toMatch(new RegExp(`^\\*\\s+app\\s+1\\s+${MOUNT}/data/app/\\*`, 'm'));

    const nothing = await ok(
      ['policy', 'explain', '-operation=read', `${MOUNT}/data/other/x`],
      asToken(token),
    );
    expect(nothing).toMatch(/^Verdict\s+denied$/m);
    expect(nothing).toContain('No rule matches this path.');

    const data = await json(['policy', 'explain', `${MOUNT}/data/app/db`], asToken(token));
    const matches = data['matches'] as Record<string, unknown>[];
    expect(matches.filter((m) => m['used'] === true)).toEqual([
      expect.objectContaining({ policy: 'app', pattern: `${MOUNT}/data/app/*`, line: 1 }),
    ]);
    expect(record(await json(['policy', 'explain', 'sys/mounts'], asRoot))['is_root']).toBe(true);
  }, 60_000);

  it('login with another token switches the token file', async () => {
    const { token, accessor } = await childToken('app');
    const login = await coffer(['login', token]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(new RegExp(`^token_accessor\\s+${accessor}$`, 'm'));
    expect(login.stdout).not.toContain(token);
    expect(readFileSync(`${homeDir()}/.coffer-token`, 'utf8')).toBe(`${token}\n`);
    expect(record((await json(['token', 'lookup']))['data'])['accessor']).toBe(accessor);
    expect((await coffer(['policy', 'list'])).stderr).toBe('Error: permission denied (403)\n');
  }, 60_000);

  it('policy fmt rewrites a messy file', async () => {
    const file = `${homeDir()}/messy.hcl`;
    writeFileSync(
      file,
      `path "${MOUNT}/data/*"{capabilities=["read","list"]}\n\n\n   path "sys/*" {\ncapabilities = [ "deny" ]\n}`,
    );
    expect(await ok(['policy', 'fmt', file])).toBe(`Success! Formatted policy: ${file}\n`);
    expect(readFileSync(file, 'utf8')).toBe(
      `path "${MOUNT}/data/*" {\n  capabilities = ["read", "list"]\n}\n\npath "sys/*" {\n  capabilities = ["deny"]\n}\n`,
    );
    // The formatted file is still accepted by the server.
    await ok(['policy', 'write', 'fmt-check', file], asRoot);
  }, 60_000);

  it('never printed the root token on stderr', () => {
    expect(allStderr.join('\n')).not.toContain(ROOT_TOKEN);
  });
});
