// Test helpers for the audit subsystem (excluded from the build): temp dirs, a broker over
// memory storage that records its warnings, sample records, and loopback socket servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryStorage } from '../../sdk/testing.js';
import { AuditBroker } from './audit-broker.js';
import type { AuditResponseRecord } from './format.js';

export const FIXED_NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 670);

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Warning {
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

export function makeBroker(storage = memoryStorage()) {
  const warnings: Warning[] = [];
  const broker = new AuditBroker({
    storage,
    now: () => FIXED_NOW,
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
  });
  return { broker, storage, warnings };
}

export function sampleRecord(overrides: Partial<AuditResponseRecord> = {}): AuditResponseRecord {
  return {
    auth: {
      clientToken: 'cfs.sampletoken',
      accessor: 'sampleaccessor',
      displayName: 'token-app',
      policies: ['default', 'app'],
      tokenPolicies: ['default', 'app'],
      metadata: { team: 'ops' },
      entityId: '',
      tokenType: 'service',
      tokenTtlSeconds: 3600,
    },
    request: {
      id: 'req-1',
      operation: 'update',
      path: 'secret/data/app',
      data: { data: { password: 'hunter2' } },
      clientToken: 'cfs.sampletoken',
      clientTokenAccessor: 'sampleaccessor',
      mountType: 'kv',
      mountAccessor: 'kv_12345678',
      remoteAddress: '127.0.0.1',
    },
    ...overrides,
  };
}

/**
 * Listens on `at` (a Unix socket path) or on a loopback TCP port from the OS; the address a
 * socket device takes for it.
 */
export async function listenAt(server: Server, at?: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (at === undefined) server.listen(0, '127.0.0.1', resolve);
    else server.listen(at, resolve);
  });
  const info = server.address();
  return at ?? (typeof info === 'object' && info !== null ? `127.0.0.1:${info.port}` : '');
}

export interface TestServer {
  /** "127.0.0.1:<port>" or the unix socket path. */
  readonly address: string;
  /** Everything received so far, all connections in order. */
  received(): string;
  /** Resolves once `predicate(received())` holds (polling, bounded). */
  waitFor(predicate: (text: string) => boolean): Promise<string>;
  /** Closes every accepted connection from the server side. */
  dropConnections(): void;
  close(): Promise<void>;
}

/**
 * A loopback server. `reading: false` accepts connections but never reads from them, so the
 * kernel buffers fill and the sender's writes stall.
 */
export async function startServer(
  options: { reading?: boolean; unixPath?: string } = {},
): Promise<TestServer> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (options.reading === false) socket.pause();
    else socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  });
  const address = await listenAt(server, options.unixPath);
  const received = () => Buffer.concat(chunks).toString('utf8');
  return {
    address,
    received,
    async waitFor(predicate) {
      for (let i = 0; i < 200; i++) {
        const text = received();
        if (predicate(text)) return text;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error('the test server did not receive the expected data in time');
    },
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
