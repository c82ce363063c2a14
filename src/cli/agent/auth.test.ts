import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { routeFetch } from '../../client/testing.js';
import type { CannedReply } from '../../client/testing.js';
import { Authenticator, TokenKeeper } from './auth.js';
import type { AuthMethodConfig } from './config.js';

const ADDR = 'http://127.0.0.1:8200';
const dir = mkdtempSync(join(tmpdir(), 'coffer-agent-auth-test-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const LOGIN: CannedReply = {
  body: {
    auth: {
      client_token: 'hvs.new-token',
      accessor: 'a',
      policies: ['app'],
      lease_duration: 1800,
      renewable: true,
    },
  },
};

function method(
  type: AuthMethodConfig['type'],
  config: AuthMethodConfig['config'],
  mountPath?: string,
) {
  return { type, mountPath: mountPath ?? `auth/${type}`, config };
}

describe('auto-auth methods', () => {
  it('token_file: reads the token and learns its TTL from lookup-self', async () => {
    const rec = routeFetch({
      'GET auth/token/lookup-self': {
        body: { data: { id: 'hvs.file-token', ttl: 600, renewable: true, policies: [] } },
      },
    });
    const path = file('token', 'hvs.file-token\n');
    const auth = new Authenticator(method('token_file', { token_file_path: path }), {
      address: ADDR,
      fetch: rec.fetch,
    });
    expect(await auth.login()).toEqual({
      token: 'hvs.file-token',
      ttlSeconds: 600,
      renewable: true,
    });
    expect(rec.requests[0]!.headers['x-vault-token']).toBe('hvs.file-token');
    expect(existsSync(path)).toBe(true);
  });

  it('token_file: a refused token is reported by file, not by value', async () => {
    const rec = routeFetch({
      'GET auth/token/lookup-self': { status: 403, body: { errors: ['permission denied'] } },
    });
    const path = file('bad-token', 'hvs.revoked-value');
    const auth = new Authenticator(method('token_file', { token_file_path: path }), {
      address: ADDR,
      fetch: rec.fetch,
    });
    const error = (await auth.login().catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(`the token in ${path} is not valid (403)`);
  });

  it('approle: logs in with role-id and secret-id, removes the secret-id file by default and reuses it', async () => {
    const rec = routeFetch({ 'POST auth/apps/login': LOGIN });
    const roleFile = file('role-id', 'role-1\n');
    const secretFile = file('secret-id', 'secret-1\n');
    const auth = new Authenticator(
      method(
        'approle',
        { role_id_file_path: roleFile, secret_id_file_path: secretFile },
        'auth/apps',
      ),
      { address: ADDR, fetch: rec.fetch },
    );
    expect(await auth.login()).toEqual({
      token: 'hvs.new-token',
      ttlSeconds: 1800,
      renewable: true,
    });
    expect(rec.requests[0]!.body).toEqual({ role_id: 'role-1', secret_id: 'secret-1' });
    expect(rec.requests[0]!.headers['x-vault-token']).toBeUndefined();
    expect(existsSync(secretFile)).toBe(false);
    await auth.login();
    expect(rec.requests[1]!.body).toEqual({ role_id: 'role-1', secret_id: 'secret-1' });
  });

  it('approle: unwraps a response-wrapped secret-id after checking where it was made', async () => {
    const rec = routeFetch({
      'POST sys/wrapping/lookup': {
        body: { data: { creation_path: 'auth/approle/role/app/secret-id', creation_ttl: 60 } },
      },
      'POST sys/wrapping/unwrap': {
        body: { data: { secret_id: 'unwrapped-secret', secret_id_accessor: 'acc' } },
      },
      'POST auth/approle/login': LOGIN,
    });
    const auth = new Authenticator(
      method('approle', {
        role_id_file_path: file('role-id-2', 'role-2'),
        secret_id_file_path: file('wrapped', 'hvs.wrapping-token'),
        secret_id_response_wrapping_path: 'auth/approle/role/app/secret-id',
        remove_secret_id_file_after_reading: false,
      }),
      { address: ADDR, fetch: rec.fetch },
    );
    await auth.login();
    const [lookup, unwrap, login] = rec.requests;
    expect(lookup!.body).toEqual({ token: 'hvs.wrapping-token' });
    expect(unwrap!.headers['x-vault-token']).toBe('hvs.wrapping-token');
    expect(unwrap!.body).toBeUndefined();
    expect(login!.body).toEqual({ role_id: 'role-2', secret_id: 'unwrapped-secret' });
  });

  it('approle: refuses a wrapping token made elsewhere, without unwrapping it', async () => {
    const rec = routeFetch({
      'POST sys/wrapping/lookup': { body: { data: { creation_path: 'secret/data/evil' } } },
    });
    const auth = new Authenticator(
      method('approle', {
        role_id_file_path: file('role-id-3', 'role-3'),
        secret_id_file_path: file('wrapped-3', 'hvs.other-wrapping'),
        secret_id_response_wrapping_path: 'auth/approle/role/app/secret-id',
      }),
      { address: ADDR, fetch: rec.fetch },
    );
    await expect(auth.login()).rejects.toThrow(/not created at secret_id_response_wrapping_path/);
    expect(rec.requests.map((r) => r.path)).toEqual(['sys/wrapping/lookup']);
  });

  it('jwt and kubernetes: send the role and the token read from the file', async () => {
    const rec = routeFetch({ 'POST auth/jwt/login': LOGIN, 'POST auth/k8s/login': LOGIN });
    const jwtFile = file('jwt', 'eyJ.jwt.value\n');
    await new Authenticator(
      method('jwt', { path: jwtFile, role: 'ci', remove_jwt_after_reading: false }),
      {
        address: ADDR,
        fetch: rec.fetch,
      },
    ).login();
    expect(rec.requests[0]!.body).toEqual({ role: 'ci', jwt: 'eyJ.jwt.value' });
    expect(existsSync(jwtFile)).toBe(true);
    await new Authenticator(
      method('kubernetes', { role: 'web', token_path: file('sa', 'eyJ.sa') }, 'auth/k8s'),
      {
        address: ADDR,
        fetch: rec.fetch,
      },
    ).login();
    expect(rec.requests[1]!.path).toBe('auth/k8s/login');
    expect(rec.requests[1]!.body).toEqual({ role: 'web', jwt: 'eyJ.sa' });
  });

  it('names a missing setting or file', async () => {
    const rec = routeFetch({});
    await expect(
      new Authenticator(method('jwt', { path: join(dir, 'none') }), {
        address: ADDR,
        fetch: rec.fetch,
      }).login(),
    ).rejects.toThrow(/cannot read the JWT file .*none \(ENOENT\)/);
    await expect(
      new Authenticator(method('approle', {}), { address: ADDR, fetch: rec.fetch }).login(),
    ).rejects.toThrow('approle: config role_id_file_path is required');
  });
});

describe('keeping the agent token', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews at 2/3 of the TTL and asks for a new login when the max TTL caps it', async () => {
    vi.useFakeTimers();
    let granted = 900;
    const rec = routeFetch({
      'POST auth/token/renew-self': () => ({
        body: {
          auth: {
            client_token: 't',
            accessor: 'a',
            policies: [],
            lease_duration: granted,
            renewable: true,
          },
        },
      }),
    });
    let expiring = 0;
    const keeper = new TokenKeeper({
      address: ADDR,
      fetch: rec.fetch,
      onExpiring: () => expiring++,
      log: () => undefined,
    });
    keeper.track({ token: 't', ttlSeconds: 900, renewable: true });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(rec.requests).toHaveLength(1);
    expect(rec.requests[0]!.body).toEqual({ increment: 900 });
    granted = 300;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(rec.requests).toHaveLength(2);
    expect(expiring).toBe(0);
    await vi.advanceTimersByTimeAsync(200_000);
    expect(expiring).toBe(1);
    keeper.close();
  });
});
