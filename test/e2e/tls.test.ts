// End to end: the CLI and the SDK talk to a real TLS server whose certificate comes from a
// private CA made in this test (by flag, by variable, by CA folder); mismatched schemes and
// untrusted certificates fail at once with a clear message; SIGHUP reloads the certificate.
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CofferClient, ConnectionError, tlsFetch } from '../../src/client/index.js';
import type { TlsSettings } from '../../src/client/index.js';
import { connectionMessage } from '../../src/cli/command.js';
import {
  createTempDir,
  killAllServers,
  runCoffer,
  startServer,
} from '../helpers/server-process.js';
import type { ServerProcess, TempDir } from '../helpers/server-process.js';
import { createTestPki, tlsConfig } from '../helpers/tls.js';
import type { TestPki } from '../helpers/tls.js';

let tmp: TempDir;
let pki: TestPki;
let other: TestPki;
let tlsServer: ServerProcess;
let plainServer: ServerProcess;
let doorPort: number;
let grpcPort: number;

/** A port chosen by the OS (bound, read, released), for a listener address in a config. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

/**
 * Whether a TLS handshake with 127.0.0.1:`port` verifies against `caFile` (bounded); `alpn`
 * offers those protocols (HTTP/2's `h2` for the gRPC door).
 */
function handshakeVerifies(port: number, caFile: string, alpn?: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(caFile),
      servername: 'coffer.test',
      timeout: 2_000,
      ...(alpn === undefined ? {} : { ALPNProtocols: alpn }),
    });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * The gRPC status of an unauthenticated ListSecrets on the gRPC door over TLS, trusting only
 * `caFile`: UNAUTHENTICATED means the RPC reached the door; UNAVAILABLE, that TLS failed.
 */
function grpcStatus(port: number, caFile: string): Promise<grpc.status> {
  const client = new grpc.Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createSsl(readFileSync(caFile)),
    { 'grpc.ssl_target_name_override': 'coffer.test', 'grpc.default_authority': 'coffer.test' },
  );
  const bytes = (b: Buffer) => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/google.cloud.secretmanager.v1.SecretManagerService/ListSecrets',
      bytes,
      bytes,
      Buffer.alloc(0),
      { deadline: Date.now() + 5_000 },
      (err) => {
        client.close();
        resolve(err?.code ?? grpc.status.OK);
      },
    );
  });
}

beforeAll(async () => {
  tmp = createTempDir('coffer-tls-e2e-');
  pki = createTestPki(tmp.path, 'one');
  other = createTestPki(tmp.path, 'two');
  // The served files are copies, so the reload test can replace them.
  copyFileSync(pki.serverCert, tmp.file('served-cert.pem'));
  copyFileSync(pki.serverKey, tmp.file('served-key.pem'));
  // The Google doors (REST and gRPC) listen with the main listener's certificate; SIGHUP
  // reloads all three.
  doorPort = await freePort();
  grpcPort = await freePort();
  [tlsServer, plainServer] = await Promise.all([
    startServer({
      configText:
        tlsConfig({
          ...pki,
          serverCert: tmp.file('served-cert.pem'),
          serverKey: tmp.file('served-key.pem'),
        }) +
        `gcp_door {\n  rest_address = "127.0.0.1:${doorPort}"\n` +
        `  grpc_address = "127.0.0.1:${grpcPort}"\n}\n`,
    }),
    startServer({ dev: true }),
  ]);
}, 60_000);

afterAll(async () => {
  await killAllServers();
  tmp.remove();
});

/** `coffer status` with only `env` (no token needed: seal status is unauthenticated). */
function status(args: string[], env: Record<string, string> = {}) {
  return runCoffer(['status', ...args], { env: { HOME: tmp.path, ...env } });
}

/** The in-process client with a 1 s deadline: a hang shows as "no answer within 1000 ms". */
async function sdkError(address: string, settings: TlsSettings = {}): Promise<string> {
  const client = new CofferClient({ address, timeoutMs: 1_000, fetch: tlsFetch(settings) });
  const error = await client.request('GET', 'sys/seal-status').catch((e: unknown) => e);
  if (error instanceof ConnectionError) return connectionMessage(error);
  return error instanceof Error ? error.message : 'no error';
}

describe('the CLI over TLS with a private CA', () => {
  it('trusts the CA given by -ca-cert', async () => {
    expect(tlsServer.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await status([`-address=${tlsServer.url}`, `-ca-cert=${pki.caCert}`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/Initialized\s+false/);
  });

  it('trusts the CA given by VAULT_CACERT, COFFER_CACERT and a CA folder (COFFER_CAPATH)', async () => {
    const folder = tmp.file('cas');
    mkdirSync(folder);
    copyFileSync(other.caCert, join(folder, 'a.pem'));
    copyFileSync(pki.caCert, join(folder, 'b.pem'));
    for (const env of [
      { VAULT_ADDR: tlsServer.url, VAULT_CACERT: pki.caCert },
      { COFFER_ADDR: tlsServer.url, COFFER_CACERT: pki.caCert, VAULT_CACERT: other.caCert },
      { COFFER_ADDR: tlsServer.url, COFFER_CAPATH: folder },
      { VAULT_ADDR: tlsServer.url, VAULT_CAPATH: folder },
    ]) {
      const r = await status([], env);
      expect(r.stderr, JSON.stringify(Object.keys(env))).toBe('');
      expect(r.stdout).toMatch(/Initialized\s+false/);
    }
  });

  it('refuses a server certificate from another CA, naming the reason', async () => {
    const r = await status([`-address=${tlsServer.url}`, `-ca-cert=${other.caCert}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^Error: cannot reach Coffer at https:\/\/127\.0\.0\.1:\d+: .*certificate/,
    );
    const noCa = await status([`-address=${tlsServer.url}`]);
    expect(noCa.stderr).toMatch(/certificate/);
  });

  it('verifies the name given by -tls-server-name / VAULT_TLS_SERVER_NAME', async () => {
    const good = await status([
      `-address=${tlsServer.url}`,
      `-ca-cert=${pki.caCert}`,
      '-tls-server-name=coffer.test',
    ]);
    expect(good.stderr).toBe('');
    const bad = await status([], {
      VAULT_ADDR: tlsServer.url,
      VAULT_CACERT: pki.caCert,
      VAULT_TLS_SERVER_NAME: 'elsewhere.test',
    });
    expect(bad.stderr).toMatch(/the server certificate is for another host name/);
  });

  it('skips verification only when asked (-tls-skip-verify, VAULT_SKIP_VERIFY=true)', async () => {
    expect((await status([`-address=${tlsServer.url}`, '-tls-skip-verify'])).stderr).toBe('');
    expect(
      (await status([], { VAULT_ADDR: tlsServer.url, VAULT_SKIP_VERIFY: 'true' })).stderr,
    ).toBe('');
    const off = await status([], { VAULT_ADDR: tlsServer.url, VAULT_SKIP_VERIFY: 'false' });
    expect(off.stderr).toMatch(/certificate/);
    const typo = await status([], { VAULT_ADDR: tlsServer.url, VAULT_SKIP_VERIFY: 'yes please' });
    expect(typo.stderr).toBe('Error: VAULT_SKIP_VERIFY must be true or false\n');
  });

  it('presents a client certificate, and wants both of its files', async () => {
    const ok = await status([
      `-address=${tlsServer.url}`,
      `-ca-cert=${pki.caCert}`,
      `-client-cert=${pki.clientCert}`,
      `-client-key=${pki.clientKey}`,
    ]);
    expect(ok.stderr).toBe('');
    const half = await status([`-address=${tlsServer.url}`, `-client-cert=${pki.clientCert}`]);
    expect(half.stderr).toBe(
      'Error: a client certificate needs both -client-cert and -client-key\n',
    );
    const missing = await status([`-address=${tlsServer.url}`, `-ca-cert=${tmp.file('nope.pem')}`]);
    expect(missing.stderr).toMatch(/^Error: cannot read the CA file .*nope\.pem \(ENOENT\)\n$/);
  });
});

describe('a scheme that does not match the server', () => {
  it('https:// against plain HTTP says so at once (CLI and SDK)', async () => {
    const address = plainServer.url.replace('http://', 'https://');
    const r = await status([`-address=${address}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is the server serving plain HTTP\?/);
    expect(await sdkError(address)).toMatch(/is the server serving plain HTTP\?/);
  });

  it('http:// against TLS says so at once (CLI and SDK)', async () => {
    const address = tlsServer.url.replace('https://', 'http://');
    const r = await status([`-address=${address}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Client sent an HTTP request to an HTTPS server; use https:\/\//);
    expect(await sdkError(address)).toMatch(/HTTP request to an HTTPS server/);
  });
});

describe('the server', () => {
  it('reloads its certificate on SIGHUP and keeps serving', async () => {
    // Before: every listener serves the first certificate (the gRPC door over HTTP/2's ALPN).
    expect(await handshakeVerifies(grpcPort, pki.caCert, ['h2'])).toBe(true);
    expect(await handshakeVerifies(grpcPort, other.caCert, ['h2'])).toBe(false);
    expect(await grpcStatus(grpcPort, pki.caCert)).toBe(grpc.status.UNAUTHENTICATED);
    copyFileSync(other.serverCert, tmp.file('served-cert.pem'));
    copyFileSync(other.serverKey, tmp.file('served-key.pem'));
    tlsServer.proc.kill('SIGHUP');
    let reloaded = false;
    for (let i = 0; i < 50 && !reloaded; i++) {
      await new Promise((r) => setTimeout(r, 100));
      reloaded = /reloaded the TLS certificate/.test(tlsServer.stderr());
    }
    expect(reloaded).toBe(true);
    expect(await sdkError(tlsServer.url, { caCert: other.caCert })).toBe('no error');
    expect(await sdkError(tlsServer.url, { caCert: pki.caCert })).toMatch(/certificate/);
    // The Google REST door serves the new certificate too.
    expect(await handshakeVerifies(doorPort, other.caCert)).toBe(true);
    expect(await handshakeVerifies(doorPort, pki.caCert)).toBe(false);
    // And the gRPC door.
    expect(await handshakeVerifies(grpcPort, other.caCert, ['h2'])).toBe(true);
    expect(await handshakeVerifies(grpcPort, pki.caCert, ['h2'])).toBe(false);
    expect(await grpcStatus(grpcPort, other.caCert)).toBe(grpc.status.UNAUTHENTICATED);
    expect(await grpcStatus(grpcPort, pki.caCert)).toBe(grpc.status.UNAVAILABLE);
    expect(tlsServer.hasExited()).toBe(false);
  });
});
