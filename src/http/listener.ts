// Accepting connections: a TCP (optionally TLS) server whose connections, with the LIST-method
// rewriter in their read path, are handed to the application's HTTP server; the per-connection timeouts and
// the connection cap; and the graceful close: stop accepting, let in-flight requests finish,
// then drop idle connections. A client speaking the wrong protocol (TLS to the plain
// listener, plain HTTP to the TLS one) gets an answer at once instead of waiting for its
// timeout, and the TLS certificate can be replaced while running.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import {
  attachListMethod,
  detachFromHttpServer,
  listRequestStart,
  listenerSnapshot,
  claimParserError,
  restartReading,
} from './list-method.js';

export interface ListenOptions {
  readonly host: string;
  /** 0 = a port chosen by the OS. */
  readonly port: number;
  readonly tls?: TlsMaterial;
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

/** How a connection's request heads are parsed (see startListener). */
type Parsing = 'native' | 'rewriting';

interface ConnectionState {
  inFlight: number;
  idle: NodeJS.Timeout | undefined;
  /** Natively parsed: the clock for the first request head (cleared by its request). */
  head: NodeJS.Timeout | undefined;
  /** Run once no request is in flight (a LIST take-over waiting for earlier responses). */
  whenIdle: (() => void) | undefined;
}

/** Per-connection request, write and idle clocks, driven by the HTTP server's events. */
function trackRequests(
  httpServer: FastifyInstance['server'],
  limits: ConnectionLimits,
): {
  track(connection: Socket, parsing: Parsing): void;
  whenIdle(connection: Socket, fn: () => void): void;
} {
  const state = new WeakMap<object, ConnectionState>();
  const newState = (connection: Socket): ConnectionState => {
    const entry: ConnectionState = {
      inFlight: 0,
      idle: undefined,
      head: undefined,
      whenIdle: undefined,
    };
    state.set(connection, entry);
    connection.once('close', () => {
      clearTimeout(entry.idle);
      clearTimeout(entry.head);
      entry.whenIdle = undefined;
    });
    return entry;
  };
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const connection = req.socket;
    const entry = state.get(connection);
    if (entry === undefined) return;
    entry.inFlight++;
    clearTimeout(entry.idle);
    entry.idle = undefined;
    clearTimeout(entry.head);
    entry.head = undefined;
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
        const then = entry.whenIdle;
        entry.whenIdle = undefined;
        then?.();
      }
    });
  });
  return {
    track(connection, parsing) {
      // A connection taken over for LIST is tracked a second time: it keeps its state.
      const tracked = state.get(connection) ?? newState(connection);
      if (parsing === 'native') {
        // SECURITY: Node's own header clock never runs (its server never listens), and a
        // native parser's bytes are not seen here: the first head must be complete within
        // the header timeout, and a later one within the idle timeout after the last answer.
        tracked.head = timer(limits.readHeaderTimeoutMs, () => connection.destroy());
        return;
      }
      // A new request's first bytes end the idle wait; the header clock (in the rewriter) runs.
      connection.on('data', () => {
        clearTimeout(tracked.idle);
        tracked.idle = undefined;
        clearTimeout(tracked.head);
        tracked.head = undefined;
      });
    },
    whenIdle(connection, fn) {
      const entry = state.get(connection);
      if (entry === undefined || entry.inFlight === 0) fn();
      else entry.whenIdle = fn;
    },
  };
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The first byte of a TLS record carrying a handshake (a ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;
/**
 * What the plain listener answers to a ClientHello: not TLS, so the client's TLS library fails
 * at once ("wrong version number") instead of waiting for a ServerHello.
 */
const ANSWER_TO_TLS =
  'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
  'This server speaks plain HTTP; use http:// to reach it.\n';
/** What the TLS listener answers to plain HTTP (as Vault and Go do), in the clear. */
const ANSWER_TO_PLAIN = (() => {
  const body = `${JSON.stringify({ errors: ['Client sent an HTTP request to an HTTPS server; use https://'] })}\n`;
  return (
    'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
})();

function secureContextOf(tls: TlsMaterial) {
  return createSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
}

export interface RunningListener {
  /** e.g. "http://127.0.0.1:8200". */
  readonly url: string;
  readonly port: number;
  /**
   * Serves new connections with this certificate and key (SIGHUP). Throws, keeping the old one,
   * when they do not make a valid pair; existing connections keep theirs.
   */
  reloadTls(tls: TlsMaterial): void;
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
  // Node's keep-alive timer runs on these connections too; keep it in step with ours.
  httpServer.keepAliveTimeout = limits.idleTimeoutMs;
  let inFlight = 0;
  httpServer.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  let secureContext = options.tls === undefined ? undefined : secureContextOf(options.tls);
  const sockets = new Set<Socket>();
  /** Rewriting: every byte goes through the LIST rewriter (JavaScript), as before Node's parser. */
  const handOverRewriting = (stream: Socket, first?: Buffer) => {
    const rewriter = attachListMethod(stream, { headerTimeoutMs: limits.readHeaderTimeoutMs });
    if (first !== undefined) rewriter.unshift(first);
    httpServer.emit('connection', stream);
    rewriter.afterHandOver();
    track.track(stream, 'rewriting');
    // The sniff below (or a take-over) paused the socket; the HTTP server reads from here on.
    if (first !== undefined) stream.resume();
  };
  // Native: Node's HTTP parser reads the socket itself (in C++), the fast path; the first LIST
  // request it rejects turns the connection over to the rewriter (the clientError listener).
  // Without an idle timeout a partial head after an idle period would have no clock: rewrite
  // from the start.
  const nativeFirst = limits.idleTimeoutMs > 0 || limits.readHeaderTimeoutMs === 0;
  /** Connections parsed natively, with their listeners before the HTTP server added its own. */
  const native = new WeakMap<Socket, ReturnType<typeof listenerSnapshot>>();
  const handOver = (stream: Socket, first?: Buffer) => {
    if (!nativeFirst) {
      handOverRewriting(stream, first);
      return;
    }
    native.set(stream, listenerSnapshot(stream));
    if (first !== undefined) stream.unshift(first);
    httpServer.emit('connection', stream);
    track.track(stream, 'native');
    if (first !== undefined) stream.resume();
  };
  // Runs before the application's clientError handler, which leaves an error claimed here alone.
  httpServer.prependListener(
    'clientError',
    (err: Error & { code?: string; bytesParsed?: number; rawPacket?: unknown }, socket: Socket) => {
      const before = native.get(socket);
      const start = before === undefined ? undefined : listRequestStart(err);
      if (before === undefined || start === undefined || socket.destroyed) return;
      native.delete(socket);
      claimParserError(err);
      const replay = Buffer.from((err.rawPacket as Buffer).subarray(start));
      detachFromHttpServer(socket, before);
      // Responses to requests before the LIST are still being written: they go first.
      track.whenIdle(socket, () => {
        if (socket.destroyed) return;
        socket.setTimeout(0);
        handOverRewriting(socket, replay);
        restartReading(socket);
      });
    },
  );

  // noDelay: with Nagle on, a response written in two pieces waits ~40 ms for the client's
  // delayed ACK.
  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (secureContext === undefined) {
      // Look at the first bytes: a TLS ClientHello would otherwise wait for a line end forever.
      // A socket that never sends a byte is closed by the header timeout too.
      const silent = timer(limits.readHeaderTimeoutMs, () => socket.destroy());
      socket.once('data', (first: Buffer) => {
        clearTimeout(silent);
        socket.pause();
        if (first[0] === TLS_HANDSHAKE_RECORD) socket.end(ANSWER_TO_TLS);
        else handOver(socket, first);
      });
      return;
    }
    const stream = new TLSSocket(socket, { isServer: true, secureContext });
    stream.on('error', (error: Error & { code?: string }) => {
      // OpenSSL saw an HTTP request line where a ClientHello belongs: say so in the clear.
      if (error.code === 'ERR_SSL_HTTP_REQUEST') socket.end(ANSWER_TO_PLAIN);
      else socket.destroy();
    });
    handOver(stream);
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
    reloadTls(tls) {
      if (secureContext === undefined) throw new Error('the listener does not serve TLS');
      secureContext = secureContextOf(tls);
    },
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
