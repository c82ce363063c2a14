// End to end: `coffer agent` against a real dev server, as a child process: init mode renders and
// exits, files get mode 0600 or their configured perms, a running agent renders again when a
// secret changes (and runs the template command only when the file changed), exec mode restarts
// the program with new env_template values, and a reader polling a file during many re-renders
// never sees partial content. AppRole login with a wrapped secret-id runs when the server has it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  runCoffer,
  startServer,
} from '../helpers/server-process.js';
import type { CliResult, ServerProcess, TempDir } from '../helpers/server-process.js';
import { startLiveCli, type LiveCli } from '../helpers/live-cli.js';
import { missingRegistration, skipOrFail } from '../helpers/skips.js';
import { builtinEngines } from '../../src/engines/registry.js';
import { vaultOk, vaultRequest } from './vault-http.js';

const ROOT_TOKEN = `agent-e2e-root-${randomBytes(8).toString('hex')}`;
const PASSWORD = `agent-pw-${randomBytes(8).toString('hex')}`;

let server: ServerProcess;
let tmp: TempDir;
const agentStderr: string[] = [];
const live = new Set<ChildProcess>();

async function kvPut(path: string, data: Record<string, string>): Promise<void> {
  await vaultOk(server.url, 'POST', `secret/data/${path}`, { token: ROOT_TOKEN, body: { data } });
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { HOME: tmp.path, COFFER_ADDR: server.url, ...extra };
}

/**
 * Writes <name>.hcl: an auto_auth block with `method` (its lines) and `inAutoAuth` (sinks), then
 * `blocks` at the top level.
 */
function agentConfig(name: string, method: readonly string[], blocks: string, inAutoAuth = '') {
  const file = tmp.file(`${name}.hcl`);
  writeFileSync(file, ['auto_auth {', ...method, inAutoAuth, '}', blocks].join('\n'));
  return file;
}

/** An agent config that logs in with the root token from a token file (see agentConfig). */
function config(name: string, blocks: string, inAutoAuth = ''): string {
  const tokenFile = tmp.file(`${name}.token`);
  writeFileSync(tokenFile, `${ROOT_TOKEN}\n`);
  const method = [
    '  method "token_file" {',
    `    config = { token_file_path = ${JSON.stringify(tokenFile)} }`,
    '  }',
  ];
  return agentConfig(name, method, blocks, inAutoAuth);
}

function template(source: string, destination: string, extra = ''): string {
  return [
    'template {',
    `  contents = ${JSON.stringify(source)}`,
    `  destination = ${JSON.stringify(destination)}`,
    extra,
    '}',
  ].join('\n');
}

function startAgent(configFile: string, extraEnv: Record<string, string> = {}): LiveCli {
  return startLiveCli(['agent', `-config=${configFile}`], {
    env: env(extraEnv),
    live,
    onExit: (stderr) => agentStderr.push(stderr),
  });
}

/** `coffer agent -config=<file> -exit-after-auth`; its stderr is kept for the final check. */
async function runAgentOnce(file: string): Promise<CliResult> {
  const result = await runCoffer(['agent', `-config=${file}`, '-exit-after-auth'], {
    env: env(),
  });
  agentStderr.push(result.stderr);
  return result;
}

/**
 * Enables the auth method `type`. Only a type the registry lacks skips the test (and fails it
 * under CI); any refusal by the server fails it everywhere.
 */
async function enableAuth(ctx: TestContext, type: string): Promise<void> {
  const missing = missingRegistration(builtinEngines(), type);
  if (missing !== '') skipOrFail(ctx, missing);
  const enabled = await vaultRequest(server.url, 'POST', `sys/auth/${type}`, {
    token: ROOT_TOKEN,
    body: { type },
  });
  expect(enabled.status, `enabling the ${type} auth method`).toBe(204);
}

/** A policy `name` that may read secret/data/app and nothing else. */
async function putAppReadPolicy(name: string): Promise<void> {
  await vaultOk(server.url, 'PUT', `sys/policies/acl/${name}`, {
    token: ROOT_TOKEN,
    body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' },
  });
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

beforeAll(async () => {
  tmp = createTempDir('coffer-agent-e2e-');
  server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
  await kvPut('app', { password: PASSWORD, user: 'admin' });
}, 60_000);

afterAll(async () => {
  for (const proc of live) proc.kill('SIGKILL');
  await killAllServers();
  tmp.remove();
});

describe('coffer agent', () => {
  it('init mode renders every template once, with mode 0600 or its perms, and exits 0', async () => {
    const secretFile = tmp.file('init-app.conf');
    const publicFile = tmp.file('init-public.conf');
    const sink = tmp.file('init-sink');
    const file = config(
      'init',
      [
        template(
          'user={{secret "secret/data/app" "user"}}\npassword={{secret "coffer://secret/app#password"}}\n',
          secretFile,
        ),
        template(
          '{{#with (secret "secret/data/app")}}u={{user}}{{/with}}',
          publicFile,
          'perms = "0644"',
        ),
      ].join('\n'),
      `  sink "file" { config = { path = ${JSON.stringify(sink)} } }`,
    );
    const result = await runAgentOnce(file);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(secretFile, 'utf8')).toBe(`user=admin\npassword=${PASSWORD}\n`);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(publicFile, 'utf8')).toBe('u=admin');
    expect(statSync(publicFile).mode & 0o777).toBe(0o644);
    expect(readFileSync(sink, 'utf8')).toBe(ROOT_TOKEN);
    expect(statSync(sink).mode & 0o777).toBe(0o600);
    expect(result.stderr).toMatch(/exiting \(exit_after_auth\)/);
  });

  it('fails at start, in one line, on a template naming a missing key', async () => {
    const file = config(
      'badkey',
      template('{{secret "secret/data/app" "nope"}}', tmp.file('bad.out')),
    );
    const result = await runAgentOnce(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^Error: .*badkey\.hcl:\d+: no key "nope" in the secret at secret\/data\/app$/m,
    );
    expect(existsSync(tmp.file('bad.out'))).toBe(false);
  });

  it('renders again on change, keeps the mode, and runs the command only after a change', async () => {
    await kvPut('live', { value: 'one', other: 'x' });
    const dest = tmp.file('live.conf');
    const log = tmp.file('live.log');
    const file = config(
      'live',
      template(
        'value={{secret "secret/data/live" "value"}}',
        dest,
        `perms = "0640"\n  command = ${JSON.stringify(`echo rendered >> ${log}`)}`,
      ),
    );
    const agent = startAgent(file);
    await agent.waitUntil(() => readIfExists(dest) === 'value=one', 'first render');
    expect(statSync(dest).mode & 0o777).toBe(0o640);
    await agent.waitUntil(() => readIfExists(log) === 'rendered\n', 'first command');

    const written = Date.now();
    await kvPut('live', { value: 'two', other: 'x' });
    await agent.waitUntil(() => readIfExists(dest) === 'value=two', 're-render', 5_000);
    expect(Date.now() - written).toBeLessThan(1_000);
    expect(statSync(dest).mode & 0o777).toBe(0o640);
    await agent.waitUntil(() => readIfExists(log) === 'rendered\nrendered\n', 'second command');

    // A change that leaves the rendered text the same does not rewrite or run the command.
    await kvPut('live', { value: 'two', other: 'changed' });
    await new Promise((r) => setTimeout(r, 500));
    expect(readFileSync(log, 'utf8')).toBe('rendered\nrendered\n');

    agent.proc.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('exec mode runs the program with env_template values and restarts it on change', async () => {
    await kvPut('exec', { password: 'first' });
    const file = config(
      'exec',
      [
        'env_template "APP_PASSWORD" {',
        '  contents = "{{secret \\"secret/data/exec\\" \\"password\\"}}"',
        '}',
        'exec {',
        // SECURITY: the token the agent was started with must not reach the program.
        '  command = ["node", "-e", "console.log(\'pw=\' + process.env.APP_PASSWORD + \' token=\' + (process.env.COFFER_TOKEN ?? process.env.VAULT_TOKEN ?? \'none\')); setInterval(() => {}, 1000)"]',
        '}',
      ].join('\n'),
    );
    const agent = startAgent(file, { COFFER_TOKEN: ROOT_TOKEN, VAULT_TOKEN: ROOT_TOKEN });
    await agent.waitUntil(() => agent.stdout().includes('pw=first token=none\n'), 'exec start');
    await kvPut('exec', { password: 'second' });
    await agent.waitUntil(
      () => agent.stdout().includes('pw=second token=none\n'),
      'exec restart',
      5_000,
    );
    expect(agent.stdout()).toBe('pw=first token=none\npw=second token=none\n');
    agent.proc.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('never shows a reader partial content across many re-renders', async () => {
    const content = (n: number) => `BEGIN ${n}\n${String(n % 10).repeat(100_000)}\nEND ${n}\n`;
    await kvPut('big', { v: content(0) });
    const dest = tmp.file('big.conf');
    const agent = startAgent(config('big', template('{{secret "secret/data/big" "v"}}', dest)));
    await agent.waitUntil(() => readIfExists(dest) === content(0), 'first render');
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `
        const fs = require('node:fs');
        let reads = 0, bad = 0;
        const seen = new Set();
        const check = () => {
          let text;
          try { text = fs.readFileSync(process.argv[1], 'utf8'); } catch { bad++; return; }
          reads++;
          const m = /^BEGIN (\\d+)\\n/.exec(text);
          const n = m ? Number(m[1]) : -1;
          if (n < 0 || text !== 'BEGIN ' + n + '\\n' + String(n % 10).repeat(100000) + '\\nEND ' + n + '\\n') bad++;
          else seen.add(n);
        };
        process.stdin.on('data', () => { process.stdout.write(JSON.stringify({ reads, bad, versions: seen.size })); process.exit(0); });
        (function loop() { for (let i = 0; i < 10; i++) check(); setImmediate(loop); })();
        `,
        dest,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    live.add(reader);
    let out = '';
    reader.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const closed = new Promise<void>((resolve) =>
      reader.once('close', () => {
        resolve();
      }),
    );
    for (let n = 1; n <= 60; n++) {
      await kvPut('big', { v: content(n) });
      await new Promise((r) => setTimeout(r, 60));
    }
    await agent.waitUntil(() => readIfExists(dest) === content(60), 'last render', 5_000);
    reader.stdin.write('done\n');
    await closed;
    live.delete(reader);
    const result = JSON.parse(out) as { reads: number; bad: number; versions: number };
    expect(result.bad).toBe(0);
    expect(result.reads).toBeGreaterThan(100);
    expect(result.versions).toBeGreaterThan(10);
    expect((agent.stderr().match(/rendered /g) ?? []).length).toBeGreaterThan(10);
    agent.proc.kill('SIGTERM');
    await agent.exited;
  }, 60_000);

  it('logs in with AppRole and a response-wrapped secret-id (when the server has AppRole)', async (ctx) => {
    await enableAuth(ctx, 'approle');
    await putAppReadPolicy('agent-app');
    await vaultOk(server.url, 'POST', 'auth/approle/role/app', {
      token: ROOT_TOKEN,
      body: { token_policies: ['agent-app'], token_ttl: '1h' },
    });
    const roleId = (
      (await vaultOk(server.url, 'GET', 'auth/approle/role/app/role-id', { token: ROOT_TOKEN }))
        .body as { data: { role_id: string } }
    ).data.role_id;
    const wrapped = await fetch(`${server.url}/v1/auth/approle/role/app/secret-id`, {
      method: 'POST',
      headers: { 'X-Vault-Token': ROOT_TOKEN, 'X-Vault-Wrap-TTL': '60s' },
      signal: AbortSignal.timeout(10_000),
    });
    expect(wrapped.status).toBe(200);
    const wrapToken = ((await wrapped.json()) as { wrap_info: { token: string } }).wrap_info.token;
    const roleFile = tmp.file('role-id');
    const secretFile = tmp.file('wrapped-secret-id');
    writeFileSync(roleFile, roleId);
    writeFileSync(secretFile, wrapToken);
    const dest = tmp.file('approle.conf');
    const method = [
      '  method "approle" {',
      '    config = {',
      `      role_id_file_path = ${JSON.stringify(roleFile)}`,
      `      secret_id_file_path = ${JSON.stringify(secretFile)}`,
      '      secret_id_response_wrapping_path = "auth/approle/role/app/secret-id"',
      '    }',
      '  }',
    ];
    const block = template('pw={{secret "secret/data/app" "password"}}', dest);
    const result = await runAgentOnce(agentConfig('approle', method, block));
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(dest, 'utf8')).toBe(`pw=${PASSWORD}`);
    expect(existsSync(secretFile)).toBe(false); // removed after reading, as Vault does
    expect(result.stderr).toMatch(/authenticated with approle/);
  });

  it('logs in with a JWT from a file (when the server has the JWT method)', async (ctx) => {
    await enableAuth(ctx, 'jwt');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await vaultOk(server.url, 'POST', 'auth/jwt/config', {
      token: ROOT_TOKEN,
      body: { jwt_validation_pubkeys: [publicKey.export({ type: 'spki', format: 'pem' })] },
    });
    await putAppReadPolicy('agent-jwt');
    await vaultOk(server.url, 'POST', 'auth/jwt/role/agent', {
      token: ROOT_TOKEN,
      body: {
        role_type: 'jwt',
        bound_audiences: ['coffer-agent'],
        user_claim: 'sub',
        token_policies: ['agent-jwt'],
      },
    });
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('ci-job')
      .setAudience('coffer-agent')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const jwtFile = tmp.file('ci.jwt');
    writeFileSync(jwtFile, jwt);
    const dest = tmp.file('jwt.conf');
    const method = [
      '  method "jwt" {',
      `    config = { path = ${JSON.stringify(jwtFile)}, role = "agent", remove_jwt_after_reading = false }`,
      '  }',
    ];
    const block = template('user={{secret "secret/data/app" "user"}}', dest);
    const result = await runAgentOnce(agentConfig('jwt', method, block));
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(dest, 'utf8')).toBe('user=admin');
    expect(existsSync(jwtFile)).toBe(true);
  });

  it('printed no secret or token on its own stderr', () => {
    expect(findCanaries(agentStderr.join('\n'), { PASSWORD, ROOT_TOKEN })).toEqual([]);
  });
});
