import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { createInmemBackend } from '../physical/inmem.js';
import type { PhysicalBackend } from '../physical/physical.js';
import { ListMethodRewriter } from './list-method.js';
import { startListener, type RunningListener } from './listener.js';

function selfSignedCert(dir: string): { cert: Buffer; key: Buffer } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
}

describe('TLS listener', () => {
  let dir: string;
  let listener: RunningListener;
  let cert: Buffer;
  let token: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-tls-'));
    const pair = selfSignedCert(dir);
    cert = pair.cert;
    const stack = await createUnsealedStack();
    token = stack.rootToken;
    await stack.core.handleRequest({
      operation: 'update',
      path: 'secret/data/tls/a',
      data: { data: { k: 'v' } },
      token,
      requestId: 'setup',
    });
    listener = await startListener(stack.app, { host: '127.0.0.1', port: 0, tls: pair });
  });
  afterAll(async () => {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function get(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: listener.port,
          path,
          method: method === 'LIST' ? 'GET' : method,
          ca: cert,
          headers: { 'x-vault-token': token },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      if (method === 'LIST') (req as unknown as { method: string }).method = 'LIST';
      req.on('error', reject);
      req.end();
    });
  }

  it('serves HTTPS with a verified certificate, including the LIST verb', async () => {
    expect(listener.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await get('/v1/sys/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).sealed).toBe(false);
    const list = await get('/v1/secret/metadata/', 'LIST');
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body).data.keys).toEqual(['tls/']);
  });
});

/**
 * Sends `requests` on one connection (all at once: pipelined) and resolves with the bodies of
 * the first `count` responses, framed by Content-Length.
 */
function exchange(socket: Socket, requests: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const bodies: string[] = [];
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.subarray(0, end).toString('latin1');
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? '0');
        if (buffered.length < end + 4 + length) return;
        bodies.push(buffered.subarray(end + 4, end + 4 + length).toString('utf8'));
        buffered = buffered.subarray(end + 4 + length);
        if (bodies.length === count) {
          socket.destroy();
          resolve(bodies);
          return;
        }
      }
    });
    socket.write(requests);
  });
}

/** An unsealed stack holding `{k: "v"}` at the KV v2 data path `path`. */
async function stackWithSecret(
  path: string,
): Promise<Awaited<ReturnType<typeof createUnsealedStack>>> {
  const stack = await createUnsealedStack();
  await stack.core.handleRequest({
    operation: 'update',
    path,
    data: { data: { k: 'v' } },
    token: stack.rootToken,
    requestId: 'setup',
  });
  return stack;
}

describe('LIST on a keep-alive connection that started with other methods', () => {
  let dir: string;
  let token: string;
  let plain: RunningListener;
  let tls: RunningListener;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-keepalive-'));
    const stack = await stackWithSecret('secret/data/ka/a');
    token = stack.rootToken;
    plain = await startListener(stack.app, { host: '127.0.0.1', port: 0 });
    tls = await startListener(stack.app, { host: '127.0.0.1', port: 0, tls: selfSignedCert(dir) });
  });
  afterAll(async () => {
    await tls.close();
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // The POST's body holds "LIST " too: only request lines may be rewritten.
  const body = '{"data":{"k":"LIST /v1/x HTTP/1.1"}}';
  const requests = (): string =>
    [
      `GET /v1/secret/data/ka/a HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n\r\n`,
      `POST /v1/secret/data/ka/b HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      `LIST /v1/secret/metadata/ka HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n\r\n`,
      `GET /v1/secret/data/ka/a HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n\r\n`,
    ].join('');

  it('rewrites a later LIST, pipelined or not, over plain TCP and TLS', async () => {
    const sockets = [
      () => connectTcp(plain.port, '127.0.0.1'),
      () => connectTls({ host: '127.0.0.1', port: tls.port, rejectUnauthorized: false }),
    ];
    for (const open of sockets) {
      const bodies = await exchange(open(), requests(), 4);
      expect(JSON.parse(bodies[0]!).data.data).toEqual({ k: 'v' });
      expect(JSON.parse(bodies[1]!).data.version).toBeGreaterThan(0);
      // Node runs pipelined requests' handlers concurrently: the list may not show b yet.
      expect(JSON.parse(bodies[2]!).data.keys).toContain('a');
      expect(JSON.parse(bodies[3]!).data.data).toEqual({ k: 'v' });
    }
  });
});

describe('native parsing until a connection sends LIST', () => {
  let token: string;
  let listener: RunningListener;

  beforeAll(async () => {
    const stack = await stackWithSecret('secret/data/native/a');
    token = stack.rootToken;
    listener = await startListener(stack.app, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await listener.close();
  });

  /** Sends `request` on `socket` and resolves with the status line of its answer. */
  const statusOf = (socket: Socket, request: string): Promise<string> =>
    new Promise((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString('latin1');
        const end = seen.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = Number(/content-length: *(\d+)/i.exec(seen.slice(0, end))?.[1] ?? '0');
        if (seen.length < end + 4 + length) return;
        socket.off('data', onData);
        resolve(seen.slice(0, seen.indexOf('\r\n')));
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.write(request);
    });

  it('keeps a connection that never sends LIST off the rewriter, and hands one that does to it', async () => {
    const push = vi.spyOn(ListMethodRewriter.prototype, 'push');
    try {
      const socket = connectTcp(listener.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const get = `GET /v1/secret/data/native/a HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n\r\n`;
      const body = '{"data":{"k":"w"}}';
      const post =
        `POST /v1/secret/data/native/b HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      expect(await statusOf(socket, get)).toBe('HTTP/1.1 200 OK');
      expect(await statusOf(socket, post)).toBe('HTTP/1.1 200 OK');
      expect(await statusOf(socket, get)).toBe('HTTP/1.1 200 OK');
      // Node's parser read those three itself: no byte of them went through the rewriter.
      expect(push).not.toHaveBeenCalled();
      const list = `LIST /v1/secret/metadata/native HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n\r\n`;
      expect(await statusOf(socket, list)).toBe('HTTP/1.1 200 OK');
      expect(push).toHaveBeenCalled();
      // The same connection goes on, now through the rewriter, LIST or not.
      expect(await statusOf(socket, get)).toBe('HTTP/1.1 200 OK');
      expect(await statusOf(socket, list)).toBe('HTTP/1.1 200 OK');
      expect(socket.destroyed).toBe(false);
      // A later parser error on the taken-over connection is answered like any other.
      const closed = new Promise((r) => socket.once('close', r));
      expect(await statusOf(socket, `FOO /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n`)).toBe(
        'HTTP/1.1 405 Method Not Allowed',
      );
      await closed;
    } finally {
      push.mockRestore();
    }
  });

  it('refuses at once a LIST whose method name is split between reads (it cannot be located)', async () => {
    const socket = connectTcp(listener.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const get = `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n`;
    expect(await statusOf(socket, get)).toMatch(/^HTTP\/1\.1 200 /);
    socket.write('L');
    await new Promise((r) => setTimeout(r, 100));
    const closed = new Promise((r) => socket.once('close', r));
    const status = await statusOf(socket, `IST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(status).toBe('HTTP/1.1 405 Method Not Allowed');
    await closed;
  });
});

describe('graceful close', () => {
  it('lets in-flight writes finish before closing connections', async () => {
    // A store whose writes take a while, so requests are provably in flight at close().
    const inner = createInmemBackend();
    let putsStarted = 0;
    const slow: PhysicalBackend = {
      ...inner,
      type: inner.type,
      get: (key) => inner.get(key),
      list: (prefix) => inner.list(prefix),
      put: (key, value) => inner.put(key, value),
      delete: (key) => inner.delete(key),
      close: () => inner.close(),
      batch: async (ops) => {
        if (ops.some((op) => op.key.includes('/value/'))) {
          putsStarted++;
          await new Promise((r) => setTimeout(r, 300));
        }
        await inner.batch(ops);
      },
    };
    const stack = await createUnsealedStack({ physical: slow });
    const listener = await startListener(stack.app, { host: '127.0.0.1', port: 0 });
    const writes = Array.from({ length: 8 }, (_, i) =>
      fetch(`${listener.url}/v1/secret/data/k${i}`, {
        method: 'POST',
        headers: { 'x-vault-token': stack.rootToken, 'content-type': 'application/json' },
        body: JSON.stringify({ data: { i: String(i) } }),
      }).then((res) => res.status),
    );
    for (let i = 0; i < 200 && putsStarted < 8; i++) await new Promise((r) => setTimeout(r, 5));
    expect(putsStarted).toBe(8);
    await listener.close();
    expect(await Promise.all(writes)).toEqual(Array(8).fill(200));
    for (let i = 0; i < 8; i++) {
      const result = await stack.core.handleRequest({
        operation: 'read',
        path: `secret/data/k${i}`,
        data: {},
        token: stack.rootToken,
        requestId: 'check',
      });
      expect(result.kind === 'data' && result.data.data).toEqual({ i: String(i) });
    }
    await expect(fetch(`${listener.url}/v1/sys/health`)).rejects.toThrow();
  });
});
