// Tests for the outbound HTTP chokepoint: metadata-address refusal (literal, by name, after
// resolution), pinning, TLS verification with a custom CA, timeouts, size cap, JSON errors.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipOrFail } from '../../test/helpers/skips.js';
import {
  checkCaPem,
  checkOutboundUrl,
  createOutbound,
  isBlockedAddress,
  outboundRequest,
  type Resolver,
} from './outbound.js';

const servers: { close(): void }[] = [];

afterAll(() => {
  for (const s of servers) s.close();
});

async function listen(
  handler: http.RequestListener,
  tls?: { key: string; cert: string },
): Promise<number> {
  const server = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => server.close() });
  return (server.address() as net.AddressInfo).port;
}

function fixedResolver(map: Record<string, string[]>): Resolver {
  return (hostname) => {
    const found = map[hostname];
    if (found === undefined) return Promise.reject(new Error('ENOTFOUND'));
    return Promise.resolve(
      found.map((address) => ({ address, family: net.isIP(address) === 6 ? 6 : 4 }) as const),
    );
  };
}

const QUICK = { connectTimeoutMs: 500, timeoutMs: 1_000 } as const;

describe('isBlockedAddress', () => {
  it.each([
    '169.254.169.254',
    '169.254.0.1',
    '100.100.100.200',
    '192.0.0.192',
    '0.0.0.0',
    'fe80::1',
    'FE80::abcd%eth0',
    'febf::1',
    'fd00:ec2::254',
    '::',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::169.254.169.254',
    '64:ff9b::169.254.169.254',
    '2002:a9fe:a9fe::1',
    'not-an-ip',
  ])('blocks %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(true);
  });

  it.each([
    '127.0.0.1',
    '::1',
    '::ffff:127.0.0.1',
    '10.0.0.1',
    '192.168.1.10',
    '8.8.8.8',
    '169.253.255.255',
    '169.255.0.0',
    '2001:db8::1',
    'fec0::1',
    'fd00:ec2::253',
  ])('allows %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(false);
  });
});

describe('outbound refuses link-local and metadata addresses', () => {
  it('refuses 169.254.169.254 without connecting', async () => {
    const started = Date.now();
    await expect(
      outboundRequest(
        { url: 'http://169.254.169.254/latest/meta-data/', label: 'jwks_url' },
        QUICK,
      ),
    ).rejects.toMatchObject({
      code: 'upstream_failure',
      message: expect.stringContaining('refused'),
    });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('refuses the AWS IPv6 metadata address and IPv4-mapped forms', async () => {
    for (const url of [
      'http://[fd00:ec2::254]/',
      'http://[::ffff:169.254.169.254]/',
      'http://100.100.100.200/',
    ]) {
      await expect(outboundRequest({ url, label: 'x' }, QUICK)).rejects.toMatchObject({
        code: 'upstream_failure',
        message: expect.stringContaining('refused'),
      });
    }
  });

  it('refuses metadata host names before resolving them', async () => {
    let resolved = false;
    const resolver: Resolver = () => {
      resolved = true;
      return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    };
    await expect(
      outboundRequest(
        { url: 'http://metadata.google.internal./computeMetadata/v1/', label: 'x' },
        { ...QUICK, resolver },
      ),
    ).rejects.toMatchObject({ message: expect.stringContaining('refused') });
    expect(resolved).toBe(false);
  });

  it('checks the resolved address, not just the name (DNS rebinding)', async () => {
    const resolver = fixedResolver({
      'evil.test': ['169.254.169.254'],
      'mixed.test': ['127.0.0.1', '169.254.169.254'],
    });
    for (const host of ['evil.test', 'mixed.test']) {
      await expect(
        outboundRequest({ url: `http://${host}/`, label: 'x' }, { ...QUICK, resolver }),
      ).rejects.toMatchObject({ message: expect.stringContaining('refused') });
    }
  });

  it('lets the allow option through, and connects to the checked address', async () => {
    const port = await listen((req, res) => {
      res.end(JSON.stringify({ host: req.headers.host }));
    });
    const resolver = fixedResolver({ 'metadata.google.internal': ['127.0.0.1'] });
    const out = createOutbound({ ...QUICK, resolver, allowMetadataAddresses: true });
    const res = await out.json({ url: `http://metadata.google.internal:${port}/`, label: 'x' });
    expect(res.json).toEqual({ host: `metadata.google.internal:${port}` });
  });
});

describe('outbound requests', () => {
  it('pins the connection to the resolved address and keeps the Host header', async () => {
    const port = await listen((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ host: req.headers.host, method: req.method }));
    });
    const out = createOutbound({
      ...QUICK,
      resolver: fixedResolver({ 'idp.test': ['127.0.0.1'] }),
    });
    const res = await out.json({
      url: `http://idp.test:${port}/x`,
      label: 'x',
      method: 'POST',
      body: '{}',
    });
    expect(res.json).toEqual({ host: `idp.test:${port}`, method: 'POST' });
  });

  it('reports a body that is not JSON as an upstream failure', async () => {
    const port = await listen((_req, res) => res.end('<html>'));
    await expect(
      createOutbound(QUICK).json({ url: `http://127.0.0.1:${port}/`, label: 'jwks_url' }),
    ).rejects.toMatchObject({
      code: 'upstream_failure',
      message: 'jwks_url: response is not valid JSON',
    });
  });

  it('does not follow redirects; json() refuses a non-2xx status', async () => {
    const port = await listen((_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', 'http://169.254.169.254/');
      res.end();
    });
    const raw = await outboundRequest({ url: `http://127.0.0.1:${port}/`, label: 'x' }, QUICK);
    expect(raw.status).toBe(302);
    await expect(
      createOutbound(QUICK).json({ url: `http://127.0.0.1:${port}/`, label: 'x' }),
    ).rejects.toMatchObject({ code: 'upstream_failure', message: 'x: unexpected HTTP status 302' });
  });

  it('caps the response size, declared or streamed', async () => {
    const big = 'a'.repeat(64 * 1024);
    const declared = await listen((_req, res) => {
      res.setHeader('content-length', String(10 * 1024 * 1024));
      res.write(big);
    });
    const streamed = await listen((_req, res) => {
      for (let i = 0; i < 4; i += 1) res.write(big);
      res.end();
    });
    for (const port of [declared, streamed]) {
      await expect(
        outboundRequest(
          { url: `http://127.0.0.1:${port}/`, label: 'x' },
          { ...QUICK, maxResponseBytes: 100_000 },
        ),
      ).rejects.toMatchObject({ message: 'x: response larger than 100000 bytes' });
    }
  });

  it('times out a server that never answers', async () => {
    const port = await listen(() => {
      // never responds
    });
    await expect(
      outboundRequest({ url: `http://127.0.0.1:${port}/`, label: 'x' }, { timeoutMs: 300 }),
    ).rejects.toMatchObject({ message: 'x: timed out after 300 ms' });
  });

  it('times out a connection whose TLS handshake never completes', async () => {
    const server = net.createServer(() => {
      // accepts TCP, never speaks TLS
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => server.close() });
    const { port } = server.address() as net.AddressInfo;
    await expect(
      outboundRequest(
        { url: `https://127.0.0.1:${port}/`, label: 'x' },
        { connectTimeoutMs: 200, timeoutMs: 2_000 },
      ),
    ).rejects.toMatchObject({ message: 'x: timed out connecting after 200 ms' });
  });

  it('reports a refused connection', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    await expect(
      outboundRequest({ url: `http://127.0.0.1:${port}/`, label: 'x' }, QUICK),
    ).rejects.toMatchObject({ code: 'upstream_failure', message: 'x: connection refused' });
  });
});

describe('outbound TLS', () => {
  let dir = '';
  let tls: { key: string; cert: string } | undefined;
  let skipReason = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-outbound-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
        ],
        { stdio: 'ignore', timeout: 10_000 },
      );
      tls = {
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      };
    } catch {
      skipReason = 'openssl is not available to make a test certificate';
    }
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an untrusted certificate and accepts it with its CA given', async (ctx) => {
    if (tls === undefined) {
      skipOrFail(ctx, skipReason);
    }
    const port = await listen((_req, res) => res.end('{"ok":true}'), tls);
    const url = `https://localhost:${port}/`;
    const resolver = fixedResolver({ localhost: ['127.0.0.1'] });
    await expect(
      outboundRequest({ url, label: 'jwks_url' }, { ...QUICK, resolver }),
    ).rejects.toMatchObject({ message: 'jwks_url: TLS certificate verification failed' });
    const res = await createOutbound({ ...QUICK, resolver }).json({
      url,
      label: 'jwks_url',
      caPem: tls.cert,
    });
    expect(res.json).toEqual({ ok: true });
    expect(() => {
      checkCaPem(tls!.cert, 'jwks_ca_pem');
    }).not.toThrow();
  });
});

describe('configuration checks', () => {
  it('accepts http(s) URLs and refuses others without echoing them', () => {
    expect(checkOutboundUrl('https://idp.example/', 'oidc_discovery_url').hostname).toBe(
      'idp.example',
    );
    for (const bad of ['ftp://x/', 'not a url', 'https://user:secret@idp.example/']) {
      let message = '';
      try {
        checkOutboundUrl(bad, 'jwks_url');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^jwks_url: /);
      expect(message).not.toContain('secret');
    }
  });

  it('refuses a CA bundle that holds no certificate', () => {
    expect(() => {
      checkCaPem('nope', 'jwks_ca_pem');
    }).toThrow('jwks_ca_pem: must contain PEM certificates');
    expect(() => {
      checkCaPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'x');
    }).toThrow('x: contains a certificate that cannot be parsed');
  });
});
