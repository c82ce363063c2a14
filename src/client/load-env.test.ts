import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnv } from './load-env.js';
import { kvV2Probe, routeFetch } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-loadenv-test-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function server() {
  return routeFetch({
    'GET sys/internal/ui/mounts/secret/*': kvV2Probe('secret/'),
    'GET secret/data/app': {
      body: { data: { data: { 'api-key': 'k-1', 'db-user': 'svc' }, metadata: { version: 1 } } },
    },
  });
}

describe('loadEnv', () => {
  it('fills the environment without replacing what is set, and returns every variable', async () => {
    const rec = server();
    const env: Record<string, string | undefined> = {
      COFFER_ADDR: 'http://127.0.0.1:9999',
      COFFER_TOKEN: 'env-token',
      DB_USER: 'already-set',
    };
    const vars = await loadEnv({
      paths: ['secret/app'],
      refs: { KEY_AGAIN: 'coffer://secret/app#api-key', MODE: 'literal' },
      env,
      fetch: rec.fetch,
    });
    expect(vars).toEqual({ API_KEY: 'k-1', DB_USER: 'svc', KEY_AGAIN: 'k-1', MODE: 'literal' });
    expect(env['API_KEY']).toBe('k-1');
    expect(env['DB_USER']).toBe('already-set');
    expect(rec.requests[0]!.url.origin).toBe('http://127.0.0.1:9999');
    expect(rec.requests.every((r) => r.headers['x-vault-token'] === 'env-token')).toBe(true);
    // One read of the path for both the whole-path keys and the reference.
    expect(rec.requests.filter((r) => r.path === 'secret/data/app')).toHaveLength(1);
  });

  it('replaces set variables with override, and takes address and token from options', async () => {
    const rec = server();
    const env: Record<string, string | undefined> = { DB_USER: 'old', VAULT_TOKEN: 'ignored' };
    await loadEnv({
      paths: ['secret/app'],
      address: 'http://127.0.0.1:8300',
      token: 'option-token',
      override: true,
      env,
      fetch: rec.fetch,
    });
    expect(env['DB_USER']).toBe('svc');
    expect(rec.requests[0]!.url.origin).toBe('http://127.0.0.1:8300');
    expect(rec.requests[0]!.headers['x-vault-token']).toBe('option-token');
  });

  it('reads an env template file and the token stored by coffer login', async () => {
    const rec = server();
    const home = join(dir, 'home');
    const file = join(dir, '.env.tpl');
    writeFileSync(file, 'TPL_KEY=coffer://secret/app#api-key\nGREETING="hi there"\n');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.coffer-token'), 'file-token\n');
    const env: Record<string, string | undefined> = { HOME: home };
    expect(await loadEnv({ envFile: file, env, fetch: rec.fetch })).toEqual({
      TPL_KEY: 'k-1',
      GREETING: 'hi there',
    });
    expect(rec.requests[0]!.headers['x-vault-token']).toBe('file-token');
  });

  it('changes nothing when a secret is missing', async () => {
    const env: Record<string, string | undefined> = {};
    await expect(
      loadEnv({ paths: ['secret/app', 'secret/none'], env, fetch: server().fetch, token: 't' }),
    ).rejects.toThrow('no secret at secret/none');
    expect(env).toEqual({});
  });
});

describe('loadEnv and protected variables', () => {
  function pathServer() {
    return routeFetch({
      'GET sys/internal/ui/mounts/secret/*': kvV2Probe('secret/'),
      'GET secret/data/app': {
        body: { data: { data: { path: '/tmp/evil', token: 't' }, metadata: { version: 1 } } },
      },
    });
  }

  it('refuses a key of a whole path that would set PATH, naming the key, changing nothing', async () => {
    const env: Record<string, string | undefined> = { PATH: '/usr/bin' };
    const error = await loadEnv({
      paths: ['secret/app'],
      env,
      token: 't',
      override: true,
      fetch: pathServer().fetch,
    }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('EnvClashError');
    expect((error as Error).message).toMatch(/secret key secret\/app#path would set PATH/);
    expect((error as Error).message).not.toContain('/tmp/evil');
    expect(env).toEqual({ PATH: '/usr/bin' });
  });

  it('sets a protected variable named explicitly in refs', async () => {
    const env: Record<string, string | undefined> = { PATH: '/usr/bin' };
    await loadEnv({
      refs: { PATH: 'coffer://secret/app#path' },
      env,
      token: 't',
      override: true,
      fetch: pathServer().fetch,
    });
    expect(env['PATH']).toBe('/tmp/evil');
  });
});
