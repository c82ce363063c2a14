// A login's audit lines, as Vault writes them: the request line has no `auth` (no token made
// it), the response line's `auth` names the token the login made (HMAC'd like every token),
// so a search by display name or entity finds who logged in.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

interface Line {
  type: string;
  auth?: Record<string, unknown>;
  request?: { path: string };
  response?: { auth?: Record<string, unknown> };
}

describe('the audit lines of a login', () => {
  let s: Stack;
  let dir: string;

  beforeAll(async () => {
    s = await createUnsealedStack();
    dir = mkdtempSync(join(tmpdir(), 'coffer-audit-login-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (token: string | undefined, url: string, payload: object) =>
    s.app.inject({
      method: 'POST',
      url: `/v1/${url}`,
      headers: token === undefined ? {} : { 'x-vault-token': token },
      payload,
    });

  it("names the token the login made in the response line's auth block", async () => {
    const file = join(dir, 'audit.log');
    expect(
      (await call(s.rootToken, 'sys/audit/file', { type: 'file', options: { file_path: file } }))
        .statusCode,
    ).toBe(204);
    expect((await call(s.rootToken, 'sys/auth/userpass', { type: 'userpass' })).statusCode).toBe(
      204,
    );
    const password = 'canary-login-Hq7-password';
    expect(
      (
        await call(s.rootToken, 'auth/userpass/users/alice', {
          password,
          token_policies: 'default,reader',
        })
      ).statusCode,
    ).toBe(204);
    const login = await call(undefined, 'auth/userpass/login/alice', { password });
    expect(login.statusCode).toBe(200);
    const made = login.json<{ auth: { client_token: string; accessor: string } }>().auth;

    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line)
      .filter((l) => l.request?.path === 'auth/userpass/login/alice');
    expect(lines.map((l) => l.type)).toEqual(['request', 'response']);
    const [request, response] = lines as [Line, Line];
    expect(request.auth ?? {}).toEqual({});
    const auth = response.auth!;
    expect(auth).toMatchObject({
      display_name: 'userpass-alice',
      policies: ['default', 'reader'],
      token_policies: ['default', 'reader'],
      // Metadata values are HMAC'd like the response block's (docs/audit.md).
      metadata: { username: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/) as unknown },
      token_type: 'service',
    });
    expect(auth['entity_id']).toMatch(/^[0-9a-f-]{36}$/);
    // The token and its accessor, HMAC'd as in the response block; never in clear.
    expect(auth['client_token']).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(auth['client_token']).toBe(response.response?.auth?.['client_token']);
    expect(auth['accessor']).toBe(response.response?.auth?.['accessor']);
    const text = readFileSync(file, 'utf8');
    for (const secret of [made.client_token, password]) expect(text).not.toContain(secret);
  });
});
