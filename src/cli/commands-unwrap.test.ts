import { describe, expect, it } from 'vitest';
import { runCliForTest as run, TEST_TOKEN } from './testing.js';

const WRAPPING = 'hvs.wrapping-token-value';
const DATA = { data: { password: 's3cret', ttl: 90 }, lease_duration: 0 };
const AUTH = {
  auth: {
    client_token: 'hvs.unwrapped',
    accessor: 'acc-1',
    policies: ['default', 'app'],
    token_policies: ['default', 'app'],
    metadata: null,
    lease_duration: 3600,
    renewable: true,
  },
};

describe('unwrap', () => {
  it('sends TOKEN in the body with the CLI token as caller, and prints the data table', async () => {
    const result = await run(['unwrap', WRAPPING], {
      routes: { 'POST sys/wrapping/unwrap': { body: DATA } },
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]).toMatchObject({
      method: 'POST',
      path: 'sys/wrapping/unwrap',
      body: { token: WRAPPING },
    });
    expect(result.requests[0]!.headers['x-vault-token']).toBe(TEST_TOKEN);
    expect(result.stdout).toMatch(/^Key\s+Value\n-+\s+-+\npassword\s+s3cret\nttl\s+1m30s\n$/);
  });

  it('without TOKEN uses the CLI token as the wrapping token and sends no body', async () => {
    const result = await run(['unwrap'], {
      routes: { 'POST sys/wrapping/unwrap': { body: DATA } },
      env: { COFFER_TOKEN: WRAPPING },
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]!.body).toBeUndefined();
    expect(result.requests[0]!.headers['x-vault-token']).toBe(WRAPPING);
  });

  it('reads TOKEN from standard input with "-"', async () => {
    const result = await run(['unwrap', '-'], {
      routes: { 'POST sys/wrapping/unwrap': { body: DATA } },
      stdin: `${WRAPPING}\n`,
    });
    expect(result.requests[0]!.body).toEqual({ token: WRAPPING });
  });

  it('prints the auth table of a wrapped token, and -field=token', async () => {
    const routes = { 'POST sys/wrapping/unwrap': { body: AUTH } };
    const table = await run(['unwrap', WRAPPING], { routes });
    expect(table.stdout).toMatch(/\ntoken\s+hvs\.unwrapped\n/);
    expect(table.stdout).toMatch(/\ntoken_policies\s+\["default" "app"\]\n/);
    const field = await run(['unwrap', '-field=token', WRAPPING], { routes });
    expect(field).toMatchObject({ code: 0, stdout: 'hvs.unwrapped' });
  });

  it('prints the whole response with -format=json and one data key with -field', async () => {
    const routes = { 'POST sys/wrapping/unwrap': { body: DATA } };
    const json = await run(['unwrap', '-format=json', WRAPPING], { routes });
    expect(JSON.parse(json.stdout)).toEqual(DATA);
    const field = await run(['unwrap', '-field=password', WRAPPING], { routes });
    expect(field.stdout).toBe('s3cret');
  });

  it('exits 1 on an invalid wrapping token without echoing it, 2 on usage errors', async () => {
    const invalid = await run(['unwrap', WRAPPING], {
      routes: {
        'POST sys/wrapping/unwrap': {
          status: 400,
          body: { errors: ['wrapping token is not valid or does not exist'] },
        },
      },
    });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toBe('Error: wrapping token is not valid or does not exist (400)\n');
    expect(invalid.stderr).not.toContain(WRAPPING);
    expect((await run(['unwrap', 'a', 'b'])).code).toBe(2);
    const empty = await run(['unwrap', '-'], { stdin: '\n' });
    expect(empty.code).toBe(2);
    expect(empty.requests).toHaveLength(0);
  });

  it('exits 2 when the wrapped response was empty', async () => {
    const result = await run(['unwrap', WRAPPING], {
      routes: { 'POST sys/wrapping/unwrap': { status: 204 } },
    });
    expect(result).toMatchObject({ code: 2, stderr: 'Error: could not find a wrapped response\n' });
  });
});
