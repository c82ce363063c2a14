// External test services (PostgreSQL, MariaDB/MySQL, Redis): their URLs from TEST_PG_URL,
// TEST_MYSQL_URL and TEST_REDIS_URL with loopback defaults; `requireService`, which makes a
// missing service fail the run under CI=true and skip (with the reason) elsewhere; and a
// TCP fault proxy that can cut a client off from a service mid-test.
import net from 'node:net';
import { isCi } from './skips.js';

export { isCi };

const env = process.env;

// `||`, not `??`: an empty variable (TEST_PG_URL=) means the default too.

export const TEST_PG_URL = env.TEST_PG_URL || 'postgresql://postgres@127.0.0.1:5432/test';
export const TEST_MYSQL_URL = env.TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306/test';
export const TEST_REDIS_URL = env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

export interface ServiceEndpoint {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** '' when the URL names none. */
  readonly username: string;
  readonly password: string;
  /** The path without its leading '/', '' when none. */
  readonly database: string;
}

const DEFAULT_PORTS: Record<string, number> = {
  'postgres:': 5432,
  'postgresql:': 5432,
  'mysql:': 3306,
  'redis:': 6379,
  'rediss:': 6379,
};

export function parseServiceUrl(url: string): ServiceEndpoint {
  const parsed = new URL(url);
  const port = parsed.port === '' ? DEFAULT_PORTS[parsed.protocol] : Number(parsed.port);
  if (port === undefined) throw new Error(`no default port for ${parsed.protocol}`);
  return {
    url,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')),
  };
}

export interface ServiceStatus {
  readonly name: string;
  readonly available: boolean;
  /** Why it is unavailable ('' when available). */
  readonly reason: string;
  readonly endpoint: ServiceEndpoint;
}

/** Resolves with '' when a TCP connection opens within the time limit, else the reason. */
function probe(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason: string): void => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => {
      done(`no answer from ${host}:${port} within ${timeoutMs} ms`);
    });
    socket.once('connect', () => {
      done('');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      done(`${host}:${port} unreachable (${err.code ?? err.message})`);
    });
  });
}

/**
 * Checks that a service answers on its port. Under CI=true an unreachable service throws
 * (the test file fails); elsewhere it returns `available: false` with the reason, for
 * `describe.skipIf(!status.available)` and `skipNote(status)`.
 */
export async function requireService(
  name: string,
  url: string,
  options: { timeoutMs?: number } = {},
): Promise<ServiceStatus> {
  let endpoint: ServiceEndpoint;
  try {
    endpoint = parseServiceUrl(url);
  } catch (err) {
    throw new Error(`${name}: cannot parse its URL (${(err as Error).message})`, { cause: err });
  }
  const reason = await probe(endpoint.host, endpoint.port, options.timeoutMs ?? 2000);
  if (reason !== '' && isCi()) {
    throw new Error(`${name} is required when CI=true, but ${reason}`);
  }
  if (reason !== '') console.warn(`skipping ${name} tests: ${reason}`);
  return { name, available: reason === '', reason, endpoint };
}

/** A suffix for a describe title that says why it was skipped ('' when it runs). */
export function skipNote(status: ServiceStatus): string {
  return status.available ? '' : ` [skipped: ${status.name} ${status.reason}]`;
}

// ---- fault proxy ---------------------------------------------------------------------

export type FaultMode = 'pass' | 'refuse';

export interface FaultProxy {
  /** The loopback port clients connect to (chosen by the OS). */
  readonly port: number;
  /**
   * 'pass' forwards to the service; 'refuse' drops every open connection at once and
   * closes each new one as soon as it is accepted (the service looks down).
   */
  setMode(mode: FaultMode): void;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 in front of host:port, driven by the test. */
export async function startFaultProxy(host: string, port: number): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  const open = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    track(client);
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host, port });
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    setMode(next) {
      mode = next;
      if (next === 'refuse') for (const socket of open) socket.destroy();
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
