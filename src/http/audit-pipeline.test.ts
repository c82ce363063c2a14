// The audit trail through the whole pipeline: every request gets a request and a response
// line, no secret or token is written in any form, and requests fail closed when no device
// can record them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { AUDIT_FAILED_MESSAGE } from '../core/audit/audit-broker.js';
import { createInmemBackend } from '../physical/inmem.js';
import type { PhysicalBackend } from '../physical/physical.js';
import { verifyAuditLog } from '../shared/audit-verify.js';
import { encodedForms, findCanaries } from '../../test/helpers/server-process.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

const CANARY = 'canary-Zq8Xw3Lp9Vn2';

/** Names of the secrets (and forms) found in `text`; never the values themselves. */
function leaks(text: string, secrets: readonly string[]): string[] {
  return findCanaries(text, encodedForms(Object.fromEntries(secrets.map((v, i) => [`s${i}`, v]))));
}

function breakFile(path: string): void {
  rmSync(path, { force: true });
  mkdirSync(path);
}

describe('audit trail through the pipeline', () => {
  let s: Stack;
  let dir: string;
  const bodies: string[] = [];

  const call = async (
    token: string,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: object,
  ) => {
    const res = await s.app.inject({
      method,
      url: `/v1/${url}`,
      headers: { 'x-vault-token': token },
      ...(payload === undefined ? {} : { payload }),
    });
    bodies.push(res.body);
    return res;
  };

  beforeAll(async () => {
    s = await createUnsealedStack();
    dir = mkdtempSync(join(tmpdir(), 'coffer-audit-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a request and a response line for every request of a session, with no secret in any form', async () => {
    const file = join(dir, 'audit.log');
    const enable = await call(s.rootToken, 'POST', 'sys/audit/file', {
      type: 'file',
      options: { file_path: file },
    });
    expect(enable.statusCode).toBe(204);

    await call(s.rootToken, 'POST', 'secret/data/app', { data: { password: CANARY } });
    const read = await call(s.rootToken, 'GET', 'secret/data/app');
    expect(read.json().data.data.password).toBe(CANARY);
    await call(s.rootToken, 'GET', 'secret/metadata/?list=true');
    await call(s.rootToken, 'GET', 'secret/data/missing');
    await call('cfs.not-a-real-token', 'GET', 'secret/data/app');
    const created = await call(s.rootToken, 'POST', 'auth/token/create', { policies: ['default'] });
    const child = created.json().auth.client_token as string;
    await call(child, 'GET', 'auth/token/lookup-self');
    await call(child, 'GET', 'secret/data/app');
    const hash = await call(s.rootToken, 'POST', 'sys/audit-hash/file', { input: CANARY });
    expect(hash.json().hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);

    const text = readFileSync(file, 'utf8');
    const entries = text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { type: string; request?: { id: string; path: string } });
    const byId = new Map<string, string[]>();
    for (const entry of entries) {
      if (entry.type !== 'request' && entry.type !== 'response') continue;
      const types = byId.get(entry.request!.id) ?? [];
      types.push(entry.type);
      byId.set(entry.request!.id, types);
    }
    // The enable request ran before the device existed: only its response line is there.
    const onlyResponse = [...byId].filter(([, types]) => types.length === 1);
    expect(onlyResponse.map(([, types]) => types)).toEqual([['response']]);
    const enableLine = entries.find((e) => e.request?.id === onlyResponse[0]![0]);
    expect(enableLine?.request?.path).toBe('sys/audit/file');
    expect(byId.size).toBe(10);
    for (const [id, types] of byId) {
      if (id !== onlyResponse[0]![0]) expect(types).toEqual(['request', 'response']);
    }
    const paths = entries.map((e) => e.request?.path);
    expect(paths).toContain('secret/data/missing');
    expect(paths).toContain('auth/token/lookup-self');
    // The HMAC of the canary is in the log (the read's response), the canary is not.
    expect(text).toContain(hash.json().hash);
    const secrets = [CANARY, s.rootToken, child, 'cfs.not-a-real-token'];
    expect(leaks(text, secrets)).toEqual([]);
    expect(leaks(s.logs.join('\n'), secrets)).toEqual([]);
    expect(leaks(bodies.filter((b) => b.includes('"errors"')).join('\n'), secrets)).toEqual([]);

    expect(verifyAuditLog(text)).toMatchObject({ ok: true });
    const lines = text.split('\n');
    const edited = [...lines];
    edited[3] = edited[3]!.replace('"read"', '"delete"');
    const result = verifyAuditLog(edited.join('\n'));
    expect(result.ok).toBe(false);
    expect(result.firstBadLine).toBe(4);
  });

  it('with one of two devices failing, requests succeed and the other device has them', async () => {
    const good = join(dir, 'good.log');
    const bad = join(dir, 'bad.log');
    await call(s.rootToken, 'POST', 'sys/audit/good', {
      type: 'file',
      options: { file_path: good },
    });
    await call(s.rootToken, 'POST', 'sys/audit/bad', { type: 'file', options: { file_path: bad } });
    await call(s.rootToken, 'DELETE', 'sys/audit/file');
    breakFile(bad);
    await s.core.reopenAudit();
    const res = await call(s.rootToken, 'GET', 'secret/data/app');
    expect(res.statusCode).toBe(200);
    const lastId = res.json().request_id as string;
    expect(readFileSync(good, 'utf8')).toContain(lastId);
  });

  it('with every device failing, requests are refused and no secret is returned', async () => {
    breakFile(join(dir, 'good.log'));
    await s.core.reopenAudit();
    const res = await call(s.rootToken, 'GET', 'secret/data/app');
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain(CANARY);
    expect(res.json().errors).toEqual([AUDIT_FAILED_MESSAGE]);
  });
});

describe('audit fail-closed on the response side', () => {
  it('a device that fails after the request line is written refuses the read and returns no secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coffer-audit-resp-'));
    const file = join(dir, 'audit.log');
    const inner = createInmemBackend();
    let armed = false;
    let broke = false;
    let s: Stack | undefined;
    // The physical read of the secret happens between the request line and the response
    // line: once the request line for the read is in the file, the device is broken there.
    const physical: PhysicalBackend = {
      type: inner.type,
      put: (key, value) => inner.put(key, value),
      delete: (key) => inner.delete(key),
      list: (prefix) => inner.list(prefix),
      batch: (ops) => inner.batch(ops),
      close: () => inner.close(),
      get: async (key) => {
        if (armed && !broke && s !== undefined) {
          const logged = readFileSync(file, 'utf8').split('\n');
          const requestLine = logged.some(
            (line) =>
              line.includes('"type":"request"') && line.includes('"path":"secret/data/app"'),
          );
          if (requestLine) {
            broke = true;
            breakFile(file);
            await s.core.reopenAudit();
          }
        }
        return inner.get(key);
      },
    };
    try {
      s = await createUnsealedStack({ physical });
      const headers = { 'x-vault-token': s.rootToken };
      const enable = await s.app.inject({
        method: 'POST',
        url: '/v1/sys/audit/file',
        headers,
        payload: { type: 'file', options: { file_path: file } },
      });
      expect(enable.statusCode).toBe(204);
      const write = await s.app.inject({
        method: 'POST',
        url: '/v1/secret/data/app',
        headers,
        payload: { data: { password: CANARY } },
      });
      expect(write.statusCode).toBe(200);

      armed = true;
      const res = await s.app.inject({ method: 'GET', url: '/v1/secret/data/app', headers });
      expect(broke).toBe(true);
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain(CANARY);
      expect(res.json().errors).toEqual([AUDIT_FAILED_MESSAGE]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
