// Accepting connections: a TCP (optionally TLS) server whose connections pass through the
// LIST-method rewriter into the application's HTTP server; the per-connection timeouts and
// the connection cap; and the graceful close: stop accepting, let in-flight requests finish,
// then drop idle connections.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { ListMethodSocket } from './list-method.js';

export interface ListenOptions {
  readonly host: string;
  /** 0 = a port chosen by the OS. */
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly limits?: ConnectionLimits;
}

/**
 * Vault's listener timeouts (`http_*_timeout`), enforced here because the application's HTTP
 * server never listens itself and so never runs Node's own timeout checks. 0 = no limit.
 */
export interface ConnectionLimits {
  /** Connection open (or first byte of a request) until its head is complete. */
  readonly readHeaderTimeoutMs: number;
  /** Request head complete until its body has been read. */
  readonly readTimeoutMs: number;
  /** Request head complete until its response has been written (cuts event streams too). */
  readonly writeTimeoutMs: number;
  /** Keep-alive connection with no request in flight, waiting for the next one. */
  readonly idleTimeoutMs: number;
  /** Open connections at most; more are closed as they are accepted. */
  readonly maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  readHeaderTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
  writeTimeoutMs: 0,
  idleTimeoutMs: 300_000,
  maxConnections: 4096,
};

/** A timer that does not keep the process alive; 0 ms = never. */
function timer(ms: number, fn: () => void): NodeJS.Timeout | undefined {
  if (ms <= 0) return undefined;
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

/** Per-connection request, write and idle clocks, driven by the HTTP server's events. */
function trackRequests(
  httpServer: FastifyInstance['server'],
  limits: ConnectionLimits,
): (connection: ListMethodSocket, stream: Socket) => void {
  const state = new WeakMap<object, { inFlight: number; idle: NodeJS.Timeout | undefined }>();
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const connection = req.socket;
    const entry = state.get(connection);
    if (entry === undefined) return;
    entry.inFlight++;
    clearTimeout(entry.idle);
    entry.idle = undefined;
    const read = timer(limits.readTimeoutMs, () => {
      if (!req.complete) connection.destroy();
    });
    const write = timer(limits.writeTimeoutMs, () => {
      if (!res.writableFinished) connection.destroy();
    });
    res.once('close', () => {
      clearTimeout(read);
      clearTimeout(write);
      entry.inFlight--;
      if (entry.inFlight === 0 && !connection.destroyed) {
        entry.idle = timer(limits.idleTimeoutMs, () => connection.destroy());
      }
    });
  });
  return (connection, stream) => {
    const entry = { inFlight: 0, idle: undefined as NodeJS.Timeout | undefined };
    state.set(connection, entry);
    // A new request's first bytes end the idle wait; the header clock (in the wrapper) runs.
    stream.on('data', () => {
      clearTimeout(entry.idle);
      entry.idle = undefined;
    });
    connection.once('close', () => {
      clearTimeout(entry.idle);
    });
  };
}

export interface RunningListener {
  /** e.g. "http://127.0.0.1:8200". */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, waits up to `graceMs` for in-flight requests, then closes everything. */
  close(graceMs?: number): Promise<void>;
}

export async function startListener(
  app: FastifyInstance,
  options: ListenOptions,
): Promise<RunningListener> {
  await app.ready();
  const httpServer = app.server;
  const limits = options.limits ?? DEFAULT_CONNECTION_LIMITS;
  const track = trackRequests(httpServer, limits);
  // Node's keep-alive timer runs through the wrapper too; keep it in step with ours.
  httpServer.keepAliveTimeout = limits.idleTimeoutMs;
  let inFlight = 0;
  httpServer.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  const secureContext =
    options.tls === undefined
      ? undefined
      : createSecureContext({
          cert: options.tls.cert,
          key: options.tls.key,
          minVersion: 'TLSv1.2',
        });
  const sockets = new Set<Socket>();

  // noDelay: Node's HTTP server cannot set TCP_NODELAY through the wrapper socket, and with
  // Nagle on, a response written in two pieces waits ~40 ms for the client's delayed ACK.
  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const stream =
      secureContext === undefined
        ? socket
        : new TLSSocket(socket, { isServer: true, secureContext });
    if (stream !== socket) stream.on('error', () => socket.destroy());
    const connection = new ListMethodSocket(stream, {
      encrypted: stream !== socket,
      headerTimeoutMs: limits.readHeaderTimeoutMs,
    });
    track(connection, stream);
    httpServer.emit('connection', connection);
  });
  if (limits.maxConnections > 0) tcp.maxConnections = limits.maxConnections;

  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(options.port, options.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  const address = tcp.address();
  if (address === null || typeof address === 'string') throw new Error('listener has no address');
  const scheme = secureContext === undefined ? 'http' : 'https';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `${scheme}://${host}:${address.port}`,
    port: address.port,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) =>
        tcp.close(() => {
          resolve();
        }),
      );
      const deadline = Date.now() + graceMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      httpServer.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
      await app.close();
    },
  };
}
