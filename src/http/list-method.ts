// Vault clients send the non-standard `LIST` HTTP method, which Node's HTTP parser rejects
// before any JavaScript runs. The rewriter sits in each TCP (or TLS) connection's read path,
// before the HTTP server's parser: it follows HTTP/1.1 request framing and rewrites a request
// line `LIST /path HTTP/1.1` into `GET /path HTTP/1.1` plus the header `X-Coffer-Method: LIST`.
// Every other byte passes through untouched.
import type { Socket } from 'node:net';

/** Header set on rewritten requests; equivalent to `?list=true` (it grants nothing more). */
export const METHOD_HEADER = 'x-coffer-method';

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const LIST_PREFIX = Buffer.from('LIST ');
/** A head that may declare a body (the walk below decides exactly). */
const FRAMING_HEADER = /content-length|transfer-encoding/i;
/** Heads larger than this are passed through for the HTTP parser to reject. */
const MAX_HEAD_BYTES = 64 * 1024;

type State =
  | { readonly kind: 'head' }
  | { readonly kind: 'body'; remaining: number }
  | { readonly kind: 'chunk-size' }
  | { readonly kind: 'chunk-data'; remaining: number }
  | { readonly kind: 'trailer' }
  | { readonly kind: 'passthrough' };

/** Incremental request-framing rewriter; `push` returns the bytes to hand to the parser. */
export class ListMethodRewriter {
  #state: State = { kind: 'head' };
  #pending: Buffer = Buffer.alloc(0);
  #heads = 0;

  /** Complete request heads passed on so far. */
  get headsSeen(): number {
    return this.#heads;
  }

  /** Part of a request head has arrived and is held back until the rest comes. */
  get partialHead(): boolean {
    return this.#state.kind === 'head' && this.#pending.length > 0;
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = Buffer.alloc(0);
    while (buf.length > 0) {
      const state = this.#state;
      switch (state.kind) {
        case 'passthrough':
          out.push(buf);
          return out;
        case 'body':
        case 'chunk-data': {
          const take = Math.min(state.remaining, buf.length);
          out.push(buf.subarray(0, take));
          state.remaining -= take;
          buf = buf.subarray(take);
          if (state.remaining === 0) {
            this.#state = state.kind === 'body' ? { kind: 'head' } : { kind: 'chunk-size' };
          }
          break;
        }
        case 'chunk-size':
        case 'trailer': {
          const end = buf.indexOf(CRLF);
          if (end === -1) {
            if (buf.length > MAX_HEAD_BYTES) return this.#giveUp(out, buf);
            this.#pending = buf;
            return out;
          }
          const line = buf.subarray(0, end).toString('latin1');
          out.push(buf.subarray(0, end + 2));
          buf = buf.subarray(end + 2);
          if (state.kind === 'trailer') {
            if (line === '') this.#state = { kind: 'head' };
          } else {
            const size = Number.parseInt(line.split(';')[0]!.trim(), 16);
            if (!Number.isFinite(size) || size < 0) return this.#giveUp(out, buf);
            this.#state =
              size === 0 ? { kind: 'trailer' } : { kind: 'chunk-data', remaining: size + 2 };
          }
          break;
        }
        case 'head': {
          // Tolerate stray CRLFs between requests, as HTTP parsers do.
          while (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
            out.push(buf.subarray(0, 2));
            buf = buf.subarray(2);
          }
          if (buf.length === 0) return out;
          const end = buf.indexOf(HEAD_END);
          if (end === -1) {
            if (buf.length > MAX_HEAD_BYTES) return this.#giveUp(out, buf);
            this.#pending = buf;
            return out;
          }
          const head = buf.subarray(0, end + 4);
          buf = buf.subarray(end + 4);
          out.push(this.#rewriteHead(head));
          this.#heads++;
          this.#state = this.#bodyState(head);
          break;
        }
      }
    }
    return out;
  }

  /** Anything still buffered when the connection ends (an incomplete head). */
  flush(): Buffer[] {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return rest.length > 0 ? [rest] : [];
  }

  #giveUp(out: Buffer[], buf: Buffer): Buffer[] {
    this.#state = { kind: 'passthrough' };
    out.push(buf);
    return out;
  }

  #rewriteHead(head: Buffer): Buffer {
    if (!head.subarray(0, LIST_PREFIX.length).equals(LIST_PREFIX)) return head;
    const lineEnd = head.indexOf(CRLF);
    return Buffer.concat([
      Buffer.from('GET '),
      head.subarray(LIST_PREFIX.length, lineEnd + 2),
      Buffer.from(`${METHOD_HEADER}: LIST\r\n`),
      head.subarray(lineEnd + 2),
    ]);
  }

  #bodyState(head: Buffer): State {
    const text = head.toString('latin1');
    // Most heads (every GET) name neither framing header: skip the per-line walk.
    if (!FRAMING_HEADER.test(text)) return { kind: 'head' };
    let chunked = false;
    let length = 0;
    for (const line of text.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'transfer-encoding' && /chunked/i.test(value)) chunked = true;
      if (name === 'content-length') {
        const n = Number.parseInt(value, 10);
        if (!Number.isSafeInteger(n) || n < 0) return { kind: 'passthrough' };
        length = n;
      }
    }
    if (chunked) return { kind: 'chunk-size' };
    return length > 0 ? { kind: 'body', remaining: length } : { kind: 'head' };
  }
}

/**
 * Where a LIST request starts in the chunk Node's native HTTP parser rejected, or undefined
 * when the error is not that. llhttp matches methods by prefix and "LI" is LINK's, so `LIST`
 * fails at its "S": the request starts two bytes before `bytesParsed`. A LIST whose first
 * bytes came in an earlier chunk cannot be located and is refused like any unknown method.
 */
export function listRequestStart(err: {
  readonly code?: string;
  readonly bytesParsed?: number;
  readonly rawPacket?: unknown;
}): number | undefined {
  const raw = err.rawPacket;
  const at = err.bytesParsed;
  if (err.code !== 'HPE_INVALID_METHOD' || !Buffer.isBuffer(raw) || typeof at !== 'number') {
    return undefined;
  }
  if (at < 2 || at >= raw.length) return undefined;
  return raw[at - 2] === 0x4c && raw[at - 1] === 0x49 && raw[at] === 0x53 ? at - 2 : undefined;
}

/** The events whose listeners Node's HTTP server adds to a connection it is handed. */
const HTTP_SERVER_EVENTS = ['data', 'error', 'end', 'close', 'drain', 'timeout', 'resume', 'pause'];

type Listener = (...args: unknown[]) => void;

/** The listeners a connection has now, per event Node's HTTP server uses. */
export function listenerSnapshot(socket: Socket): Map<string, readonly Listener[]> {
  return new Map(HTTP_SERVER_EVENTS.map((e) => [e, socket.listeners(e) as Listener[]]));
}

/** Node's internal per-connection HTTP parser, as much of it as detaching needs. */
interface NativeParser {
  _consumed?: boolean;
  unconsume(): void;
  socket: unknown;
}

/**
 * Takes a connection back from Node's HTTP server after its native parser rejected a request
 * (the steps Node itself takes when it hands a socket to an `upgrade` handler): removes the
 * listeners the server added since `before` was taken, stops the parser reading the socket's
 * handle, and restores the socket's own methods. The socket stays paused and open; what it
 * had already answered is untouched.
 */
export function detachFromHttpServer(
  socket: Socket,
  before: ReadonlyMap<string, readonly Listener[]>,
): void {
  socket.pause();
  for (const [event, had] of before) {
    for (const fn of socket.listeners(event) as Listener[]) {
      if (!had.includes(fn)) socket.removeListener(event, fn);
    }
  }
  const held = socket as unknown as { parser?: NativeParser | null } & Record<string, unknown>;
  const parser = held.parser;
  if (parser !== undefined && parser !== null) {
    if (parser._consumed === true) parser.unconsume();
    parser._consumed = false;
    parser.socket = null;
  }
  held.parser = null;

  // The server's listener-adding wrappers and setEncoding guard are own properties.
  for (const name of ['on', 'addListener', 'prependListener', 'setEncoding']) {
    if (Object.hasOwn(held, name)) Reflect.deleteProperty(held, name);
  }
}

/**
 * Starts the socket's handle reading into the stream again after a take-over, as Node's HTTP
 * server does when a consumed socket resumes: the stream still believes a read is pending
 * from before the native parser took the handle, so it would never ask again by itself.
 */
export function restartReading(socket: Socket): void {
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStart(): number } })
    ._handle;
  if (handle === undefined || handle === null || handle.reading === true) return;
  handle.reading = true;
  handle.readStart();
}

/** Parser errors the listener answered by taking the connection over (see listener.ts). */
const claimed = new WeakSet<object>();

/** Marks a parser error as handled by a take-over: the application's handler leaves it be. */
export function claimParserError(err: object): void {
  claimed.add(err);
}

/** Whether this parser error was a LIST the listener is now serving. */
export function isClaimedParserError(err: object): boolean {
  return claimed.has(err);
}

export interface ListMethodOptions {
  /**
   * SECURITY: a request head must be complete this long after the connection opened or after
   * its first byte arrived, else the connection is destroyed. Node's own headersTimeout never
   * sees a head the rewriter holds back, so the rewriter keeps the clock. 0 or absent = none.
   */
  readonly headerTimeoutMs?: number;
}

/** What attachListMethod leaves on the connection. */
export interface ListMethodAttachment {
  /**
   * Feeds bytes the caller already took off the socket (the listener's first-byte sniff) back
   * in front of whatever comes next, rewritten like the rest.
   */
  unshift(chunk: Buffer): void;
  /**
   * Called right after the socket was handed to the HTTP server: keeps the server reading
   * through JavaScript (where the rewriter sits) instead of letting its parser consume the
   * socket's handle directly.
   */
  afterHandOver(): void;
}

/**
 * Puts the rewriter in the socket's own read path, with no stream in between: every chunk the
 * socket reads (from the kernel, or decrypted by TLS) is rewritten before the socket buffers
 * or emits it, so the HTTP server reads rewritten bytes from the real socket and writes its
 * responses straight to it. A connection that never sends LIST pays one header scan per
 * request head; a later request on a keep-alive connection may still be LIST, so the rewriter
 * stays for the connection's life.
 */
export function attachListMethod(
  socket: Socket,
  options: ListMethodOptions = {},
): ListMethodAttachment {
  const rewriter = new ListMethodRewriter();
  const headerTimeoutMs = options.headerTimeoutMs ?? 0;
  let headerTimer: NodeJS.Timeout | undefined;
  const armHeaderTimer = (): void => {
    if (headerTimeoutMs <= 0 || headerTimer !== undefined) return;
    headerTimer = setTimeout(() => socket.destroy(), headerTimeoutMs);
    headerTimer.unref();
  };
  const clearHeaderTimer = (): void => {
    clearTimeout(headerTimer);
    headerTimer = undefined;
  };
  armHeaderTimer();
  socket.once('close', clearHeaderTimer);

  /** Rewrites `chunk`; the pieces go to `deliver` in order; tracks the header clock. */
  const rewrite = (chunk: Buffer): Buffer[] => {
    const headsBefore = rewriter.headsSeen;
    const pieces = rewriter.push(chunk);
    if (rewriter.headsSeen !== headsBefore) clearHeaderTimer();
    if (rewriter.partialHead) armHeaderTimer();
    return pieces;
  };

  // The socket's read side calls push() with each chunk it read and with null at the end.
  const push = socket.push.bind(socket);
  socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) {
      for (const piece of rewriter.flush()) push(piece);
      return push(null);
    }
    if (!Buffer.isBuffer(chunk)) return push(chunk, encoding);
    let more = true;
    for (const piece of rewrite(chunk)) more = push(piece) && more;
    return more;
  };

  return {
    unshift(chunk) {
      const pieces = rewrite(chunk);
      for (let i = pieces.length - 1; i >= 0; i--) socket.unshift(pieces[i]!);
    },
    afterHandOver() {
      // Node's HTTP server lets its parser read the socket's handle in C++ ("consume"),
      // bypassing push(); a 'data' listener added after the hand-over makes the server undo
      // that and read through the stream (its socket listener wrapper in _http_server.js).
      // SECURITY: without this, LIST would be refused and the header clock would never stop.
      socket.on('data', noop);
    },
  };
}

function noop(): void {}
