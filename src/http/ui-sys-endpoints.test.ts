// The sys endpoints the web UI added: sys/internal/ui/resultant-acl, sys/audit-log/:device
// (verification against the server's chain head, recent entries, search, sudo) and
// sys/policies/explain for an accessor or a policy list (with its permission checks).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { verifyAuditFile } from '../core/audit/log-view.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

const CANARY = 'CANARY-ui-sys-value-7f1e';

let s: Stack;
let dir: string;

async function call(token: string, method: string, path: string, payload?: object) {
  const res = await s.app.inject({
    method: method as 'GET',
    url: `/v1/${path}`,
    headers: { 'x-vault-token': token },
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: res.statusCode, body: res.body === '' ? {} : res.json() };
}

async function tokenWith(policies: string[]): Promise<{ token: string; accessor: string }> {
  const res = await call(s.rootToken, 'POST', 'auth/token/create', { policies });
  return { token: res.body.auth.client_token, accessor: res.body.auth.accessor };
}

beforeAll(async () => {
  s = await createUnsealedStack();
  dir = mkdtempSync(join(tmpdir(), 'coffer-ui-sys-'));
  await call(s.rootToken, 'PUT', 'sys/policies/acl/app', {
    policy: [
      'path "secret/data/app/*" {',
      '  capabilities = ["read", "create", "update"]',
      '}',
      'path "secret/metadata/app/+/keys" {',
      '  capabilities = ["list"]',
      '}',
      'path "secret/data/app/private" {',
      '  capabilities = ["deny"]',
      '}',
    ].join('\n'),
  });
  await call(s.rootToken, 'PUT', 'sys/policies/acl/explainer', {
    policy: [
      'path "sys/policies/acl/app" {',
      '  capabilities = ["read"]',
      '}',
      'path "sys/policies/explain" {',
      '  capabilities = ["update"]',
      '}',
    ].join('\n'),
  });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sys/internal/ui/resultant-acl', () => {
  it("reports the caller's rules merged across policies, deny winning", async () => {
    const { token } = await tokenWith(['app']);
    const res = await call(token, 'GET', 'sys/internal/ui/resultant-acl');
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data.root).toBe(false);
    expect(data.glob_paths['secret/data/app/']).toEqual({
      capabilities: ['create', 'read', 'update'],
    });
    expect(data.glob_paths['secret/metadata/app/+/keys']).toEqual({ capabilities: ['list'] });
    expect(data.exact_paths['secret/data/app/private']).toEqual({ capabilities: ['deny'] });
    // The default policy is part of every token's set.
    expect(data.exact_paths['sys/internal/ui/resultant-acl']).toEqual({ capabilities: ['read'] });
  });

  it('says root for a root token', async () => {
    const res = await call(s.rootToken, 'GET', 'sys/internal/ui/resultant-acl');
    expect(res.body.data).toEqual({ root: true, exact_paths: {}, glob_paths: {} });
  });
});

describe('sys/policies/explain for someone else', () => {
  it('explains for the token behind an accessor, naming its deciding rule', async () => {
    const { accessor } = await tokenWith(['app']);
    const res = await call(s.rootToken, 'POST', 'sys/policies/explain', {
      path: 'secret/data/app/private',
      operation: 'read',
      accessor,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.allowed).toBe(false);
    expect(res.body.data.policies).toEqual(['app', 'default']);
    const used = res.body.data.matches.find((m: { used: boolean }) => m.used);
    expect(used).toMatchObject({ policy: 'app', pattern: 'secret/data/app/private', line: 7 });
  });

  it('explains for a policy list only when the caller may read each policy', async () => {
    const { token } = await tokenWith(['explainer']);
    const ok = await call(token, 'POST', 'sys/policies/explain', {
      path: 'secret/data/app/x',
      operation: 'update',
      policies: ['app'],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.data.allowed).toBe(true);
    expect(ok.body.data.policies).toEqual(['app']);
    const refused = await call(token, 'POST', 'sys/policies/explain', {
      path: 'secret/data/app/x',
      policies: ['app', 'default'],
    });
    expect(refused.status).toBe(403);
    expect(refused.body.errors[0]).toContain('sys/policies/acl/default');
  });

  it('refuses an accessor without update on sys/capabilities-accessor, and both targets at once', async () => {
    const { token } = await tokenWith(['explainer']);
    const { accessor } = await tokenWith(['app']);
    const refused = await call(token, 'POST', 'sys/policies/explain', { path: 'x', accessor });
    expect(refused.status).toBe(403);
    expect(refused.body.errors[0]).toContain('sys/capabilities-accessor');
    const both = await call(s.rootToken, 'POST', 'sys/policies/explain', {
      path: 'x',
      accessor,
      policies: ['app'],
    });
    expect(both.status).toBe(400);
    expect(both.body.errors[0]).toContain('accessor');
    const unknown = await call(s.rootToken, 'POST', 'sys/policies/explain', {
      path: 'x',
      accessor: 'nope',
    });
    expect(unknown.status).toBe(400);
  });
});

describe('sys/audit-log/:device', () => {
  let file: string;
  /** The file's lines before the tamper test changed it. */
  let pristine: string[] = [];

  beforeAll(async () => {
    file = join(dir, 'audit.log');
    const enabled = await call(s.rootToken, 'PUT', 'sys/audit/file', {
      type: 'file',
      options: { file_path: file, checkpoint_interval: '5' },
    });
    expect(enabled.status).toBe(204);
    await call(s.rootToken, 'PUT', 'secret/data/ui/one', { data: { password: CANARY } });
    await call(s.rootToken, 'GET', 'secret/data/ui/one');
  });

  it('verifies the whole file against the server head and lists recent entries, HMACd', async () => {
    const res = await call(s.rootToken, 'GET', 'sys/audit-log/file');
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data.type).toBe('file');
    expect(data.verification.ok).toBe(true);
    expect(data.verification.signatures_checked).toBe(true);
    expect(data.verification.matches_server_head).toBe(true);
    expect(data.verification.checkpoints).toBeGreaterThan(0);
    expect(data.entries.length).toBeGreaterThan(3);
    // Newest first; the value written is only ever present as an HMAC.
    expect(JSON.stringify(res.body)).not.toContain(CANARY);
    const write = data.entries.find(
      (e: { request?: { path: string; operation: string }; type: string }) =>
        e.type === 'request' &&
        e.request?.path === 'secret/data/ui/one' &&
        e.request.operation !== 'read',
    );
    expect(write.request.data.data.password).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  });

  it('filters entries by text, including an HMAC from sys/audit-hash', async () => {
    const hash = (await call(s.rootToken, 'POST', 'sys/audit-hash/file', { input: CANARY })).body
      .data.hash as string;
    const res = await call(
      s.rootToken,
      'GET',
      `sys/audit-log/file?filter=${encodeURIComponent(hash)}&limit=5`,
    );
    expect(res.status).toBe(200);
    const entries = res.body.data.entries as unknown[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.length).toBeLessThanOrEqual(5);
    for (const entry of entries) expect(JSON.stringify(entry)).toContain(hash);
    const none = await call(s.rootToken, 'GET', 'sys/audit-log/file?filter=no-such-thing-here');
    expect(none.body.data.entries).toEqual([]);
  });

  it('points at a cut tail and at an edited line', async () => {
    const current = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    pristine = current;
    // Cut the last two lines: the lines this request appends no longer link to the file.
    writeFileSync(file, `${current.slice(0, -2).join('\n')}\n`);
    const cut = (await call(s.rootToken, 'GET', 'sys/audit-log/file')).body.data.verification;
    expect(cut.ok).toBe(false);
    expect(cut.first_bad_line).toBe(current.length - 1);
    // An edit in the middle is pointed at by its line number.
    const tampered = current.map((l, i) => (i === 2 ? l.replace('"request"', '"requesT"') : l));
    writeFileSync(file, `${tampered.join('\n')}\n`);
    const edited = (await call(s.rootToken, 'GET', 'sys/audit-log/file')).body.data.verification;
    expect(edited.ok).toBe(false);
    expect(edited.first_bad_line).toBe(3);
  });

  it('reports a file that verifies alone but ends before the server head', async () => {
    const good = join(dir, 'alone.log');
    const lines = pristine.slice(0, 6);
    writeFileSync(good, `${lines.join('\n')}\n`);
    const publicKey = (await call(s.rootToken, 'GET', 'sys/audit')).body.data['file/'].options
      .checkpoint_public_key as string;
    const alone = await verifyAuditFile({
      path: 'file/',
      type: 'file',
      filePath: good,
      sizeBytes: readFileSync(good).length,
      publicKey,
      head: { seq: 999, lastHash: 'f'.repeat(64) },
    });
    expect(alone.ok).toBe(false);
    expect(alone.matches_server_head).toBe(false);
    expect(alone.problem).toContain('the file ends at seq 6 but the server has written seq 999');
  });

  it('needs sudo, validates its fields, and 404s an unknown device', async () => {
    for (const [name, caps] of [
      ['audit-read', '["read"]'],
      ['audit-sudo', '["read", "sudo"]'],
    ] as const) {
      await call(s.rootToken, 'PUT', `sys/policies/acl/${name}`, {
        policy: `path "sys/audit-log/*" {\n  capabilities = ${caps}\n}\n`,
      });
    }
    const reader = await tokenWith(['audit-read']);
    const refused = await call(reader.token, 'GET', 'sys/audit-log/file');
    expect(refused.status).toBe(403);
    const sudoer = await tokenWith(['audit-sudo']);
    expect((await call(sudoer.token, 'GET', 'sys/audit-log/file')).status).toBe(200);
    const limit = await call(s.rootToken, 'GET', 'sys/audit-log/file?limit=100000');
    expect(limit.status).toBe(400);
    expect(limit.body.errors[0]).toContain('limit');
    const missing = await call(s.rootToken, 'GET', 'sys/audit-log/nothing');
    expect(missing.status).toBe(404);
  });
});
