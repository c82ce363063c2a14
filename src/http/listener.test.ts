import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
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
