// The Vault CLI habits scripts rely on (issue 18), through bin/coffer.js against a real dev
// server: -field reading the response's top level (lease_id, lease_duration, renewable,
// request_id, data), -wrap-ttl, kv rollback, -format=yaml and print token.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  createTempDir,
  killAllServers,
  runCoffer,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

const rootToken = `clip-root-${randomBytes(12).toString('hex')}`;

describe('CLI: the Vault CLI habits scripts rely on', () => {
  const home = createTempDir('coffer-e2e-cli-parity-home-');
  let server: ServerProcess;
  const cli = (args: string[]) =>
    runCoffer(args, { env: { HOME: home.path, COFFER_ADDR: server.url, COFFER_TOKEN: rootToken } });

  beforeAll(async () => {
    server = await startServer({ dev: { rootTokenId: rootToken } });
    const put = await cli(['kv', 'put', 'secret/app', 'pw=one']);
    expect(put.code, put.stderr).toBe(0);
    expect((await cli(['kv', 'put', 'secret/app', 'pw=two'])).code).toBe(0);
  });

  afterAll(async () => {
    await killAllServers();
    home.remove();
  });

  it('-field reads the top level like Vault: request_id, lease_duration, renewable, data', async () => {
    const id = await cli(['read', '-field=request_id', 'secret/data/app']);
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout).toMatch(/^[0-9a-f-]{36}$/);
    expect((await cli(['read', '-field=lease_duration', 'secret/data/app'])).stdout).toBe('0');
    expect((await cli(['read', '-field=renewable', 'secret/data/app'])).stdout).toBe('false');
    expect((await cli(['read', '-field=lease_id', 'secret/data/app'])).stdout).toBe('');
    // `data` of a KV v2 read is the inner data, as Vault's CLI gives it.
    const data = await cli(['read', '-format=json', '-field=data', 'secret/data/app']);
    expect(JSON.parse(data.stdout)).toEqual({ pw: 'two' });
    // A data key still wins over nothing at the top level.
    const ttl = await cli(['read', '-field=ttl', 'auth/token/lookup-self']);
    expect(ttl.code, ttl.stderr).toBe(0);
  });

  it('-wrap-ttl wraps the response; unwrap returns it once', async () => {
    const wrapped = await cli([
      'read',
      '-wrap-ttl=60s',
      '-field=wrapping_token',
      'secret/data/app',
    ]);
    expect(wrapped.code, wrapped.stderr).toBe(0);
    const token = wrapped.stdout.trim();
    expect(token).not.toBe('');
    const unwrapped = await cli(['unwrap', '-format=json', token]);
    expect(unwrapped.code, unwrapped.stderr).toBe(0);
    expect(JSON.parse(unwrapped.stdout).data.data).toEqual({ pw: 'two' });
    expect((await cli(['unwrap', token])).code).not.toBe(0);
    expect((await cli(['read', '-wrap-ttl=soon', 'secret/data/app'])).code).not.toBe(0);
  });

  it('kv rollback writes an old version again as the newest', async () => {
    const rolled = await cli(['kv', 'rollback', '-version=1', 'secret/app']);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain('version');
    const now = await cli(['kv', 'get', '-format=json', 'secret/app']);
    const body = JSON.parse(now.stdout);
    expect(body.data.data).toEqual({ pw: 'one' });
    expect(body.data.metadata.version).toBe(3);
    expect((await cli(['kv', 'rollback', '-version=9', 'secret/app'])).code).toBe(2);
    expect((await cli(['kv', 'rollback', 'secret/app'])).code).not.toBe(0);
  });

  it('-format=yaml prints the response as YAML', async () => {
    const yaml = await cli(['kv', 'get', '-format=yaml', 'secret/app']);
    expect(yaml.code, yaml.stderr).toBe(0);
    const parsed = parseYaml(yaml.stdout) as { data: { data: unknown } };
    expect(parsed.data.data).toEqual({ pw: 'one' });
    expect((await cli(['read', '-format=xml', 'secret/data/app'])).code).not.toBe(0);
  });

  it('print token prints the token the CLI would use', async () => {
    const printed = await cli(['print', 'token']);
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toBe(rootToken);
    const empty = createTempDir('coffer-e2e-cli-parity-empty-');
    try {
      const none = await runCoffer(['print', 'token'], {
        env: { HOME: empty.path, COFFER_ADDR: server.url },
      });
      expect(none.code).toBe(0);
      expect(none.stdout).toBe('');
    } finally {
      empty.remove();
    }
  });
});
