// Accepting connections: a TCP (optionally TLS) server whose connections pass through the
// LIST-method rewriter into the application's HTTP server. Also the graceful close: stop
// accepting, let in-flight requests finish, then drop idle connections.
import { createServer as createTcpServer, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { ListMethodSocket } from './list-method.js';

export interface ListenOptions {
  readonly host: string;
  /** 0 = a port chosen by the OS. */
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
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
    httpServer.emit('connection', new ListMethodSocket(stream, { encrypted: stream !== socket }));
  });

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
