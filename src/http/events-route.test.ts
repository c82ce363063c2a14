// The server-sent event stream over a real socket: frames, filtering by the token's read
// capability, the JSON error for a bad token, and the end of the stream on revocation.
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createUnsealedStack, type Stack } from '../../test/helpers/stack.js';

const stacks: Stack[] = [];

afterEach(async () => {
  for (const stack of stacks.splice(0)) {
    await stack.core.sealForShutdown();
    await stack.app.close();
  }
});

/** Opens the stream and collects its text until `done` says so or 5 s pass. */
function stream(
  port: number,
  token: string,
  query: string,
): { text: () => string; status: Promise<number>; ended: Promise<void>; close: () => void } {
  let text = '';
  let closeFn = (): void => undefined;
  let resolveStatus: (n: number) => void = () => undefined;
  const status = new Promise<number>((resolve) => (resolveStatus = resolve));
  const ended = new Promise<void>((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/v1/sys/events/stream${query}`,
        headers: { 'x-vault-token': token },
      },
      (res) => {
        resolveStatus(res.statusCode ?? 0);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve();
        });
        res.on('close', () => {
          resolve();
        });
      },
    );
    req.on('error', () => {
      resolve();
    });
    req.end();
    closeFn = () => req.destroy();
  });
  return { text: () => text, status, ended, close: closeFn };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('GET /v1/sys/events/stream', () => {
  it('streams change events the token may read, never values, and ends on revocation', async () => {
    const stack = await createUnsealedStack();
    stacks.push(stack);
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = stack.app.server.address() as AddressInfo;
    const call = (method: 'POST' | 'PUT', url: string, payload: object) =>
      stack.app.inject({ method, url, payload, headers: { 'x-vault-token': stack.rootToken } });
    await call('PUT', '/v1/sys/policies/acl/app', {
      policy: 'path "secret/data/app" { capabilities = ["read"] }',
    });
    const created = await call('POST', '/v1/auth/token/create', { policies: ['app'] });
    const token = (JSON.parse(created.body) as { auth: { client_token: string } }).auth
      .client_token;

    const s = stream(port, token, '?prefix=secret/');
    expect(await s.status).toBe(200);
    await until(() => s.text().includes('event: ready'));
    const started = Date.now();
    await call('POST', '/v1/secret/data/other', { data: { v: 'CANARY-other' } });
    await call('POST', '/v1/secret/data/app', { data: { v: 'CANARY-app' } });
    await until(() => s.text().includes('event: change'));
    const latencyMs = Date.now() - started;
    console.log(`change event reached the subscriber ${latencyMs} ms after the writes began`);
    const frames = s
      .text()
      .split('\n\n')
      .filter((f) => f.startsWith('event: change'));
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatch(/^event: change\nid: \d+\ndata: \{/);
    const data = JSON.parse(frames[0]!.split('data: ')[1]!) as Record<string, unknown>;
    expect(data).toMatchObject({
      path: 'secret/data/app',
      mount: 'secret/',
      operation: 'create',
      version: 1,
    });
    expect(s.text()).not.toContain('CANARY');

    await call('POST', '/v1/auth/token/revoke', { token });
    await call('POST', '/v1/secret/data/app', { data: { v: 'again' } });
    await s.ended;
    expect(s.text()).toContain('event: end');
  });

  it('KV v2 delete, undelete, destroy and metadata events need read on the data path', async () => {
    const stack = await createUnsealedStack();
    stacks.push(stack);
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = stack.app.server.address() as AddressInfo;
    const call = (method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
      stack.app.inject({
        method,
        url,
        ...(payload === undefined ? {} : { payload }),
        headers: { 'x-vault-token': stack.rootToken },
      });
    // Everything under secret/ except the data of other/*: the version actions and
    // metadata of other/* are allowed by path, but they name a secret the token cannot read.
    await call('PUT', '/v1/sys/policies/acl/mine', {
      policy:
        'path "secret/*" { capabilities = ["read", "update", "delete", "list"] }\n' +
        'path "secret/data/other/*" { capabilities = ["deny"] }',
    });
    const created = await call('POST', '/v1/auth/token/create', { policies: ['mine'] });
    const token = (JSON.parse(created.body) as { auth: { client_token: string } }).auth
      .client_token;
    await call('POST', '/v1/secret/data/other/evt1', { data: { v: 'x' } });
    await call('POST', '/v1/secret/data/mine/evt1', { data: { v: 'x' } });

    const s = stream(port, token, '?prefix=secret/');
    await until(() => s.text().includes('event: ready'));
    for (const key of ['other/evt1', 'mine/evt1']) {
      await call('POST', `/v1/secret/delete/${key}`, { versions: [1] });
      await call('POST', `/v1/secret/undelete/${key}`, { versions: [1] });
      await call('POST', `/v1/secret/metadata/${key}`, { max_versions: 5 });
      await call('POST', `/v1/secret/destroy/${key}`, { versions: [1] });
      await call('DELETE', `/v1/secret/data/${key}`);
      await call('DELETE', `/v1/secret/metadata/${key}`);
    }
    await until(() => s.text().split('event: change').length - 1 >= 6);
    await new Promise((r) => setTimeout(r, 100));
    s.close();
    const paths = s
      .text()
      .split('\n\n')
      .filter((f) => f.startsWith('event: change'))
      .map((f) => (JSON.parse(f.split('data: ')[1]!) as { path: string }).path);
    expect(paths).toEqual([
      'secret/delete/mine/evt1',
      'secret/undelete/mine/evt1',
      'secret/metadata/mine/evt1',
      'secret/destroy/mine/evt1',
      'secret/data/mine/evt1',
      'secret/metadata/mine/evt1',
    ]);
    expect(s.text()).not.toContain('other/evt1');
  });

  it('answers a bad token with the usual JSON 403 and no stream', async () => {
    const stack = await createUnsealedStack();
    stacks.push(stack);
    const res = await stack.app.inject({
      method: 'GET',
      url: '/v1/sys/events/stream',
      headers: { 'x-vault-token': 'bogus' },
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
  });
});
