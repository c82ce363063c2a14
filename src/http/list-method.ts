// Vault clients send the non-standard `LIST` HTTP method, which Node's HTTP parser rejects
// before any JavaScript runs. This stream sits between each TCP (or TLS) connection and the
// HTTP server: it follows HTTP/1.1 request framing and rewrites a request line
// `LIST /path HTTP/1.1` into `GET /path HTTP/1.1` plus the header `X-Coffer-Method: LIST`.
// Every other byte passes through untouched.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** Header set on rewritten requests; equivalent to `?list=true` (it grants nothing more). */
export const METHOD_HEADER = 'x-coffer-method';

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const LIST_PREFIX = Buffer.from('LIST ');
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

export interface ListMethodSocketOptions {
  readonly encrypted: boolean;
  /**
   * SECURITY: a request head must be complete this long after the connection opened or after
   * its first byte arrived, else the connection is destroyed. Node's own headersTimeout never
   * sees a head this stream holds back, so the wrapper keeps the clock. 0 or absent = none.
   */
  readonly headerTimeoutMs?: number;
}

/**
 * Wraps a connection so the HTTP server reads rewritten bytes and writes straight to the
 * real socket. The socket-level methods the HTTP server calls are forwarded.
 */
export class ListMethodSocket extends Duplex {
  readonly #socket: Socket;
  readonly #rewriter = new ListMethodRewriter();
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Set by tls wrappers; read by Fastify to decide the protocol. */
  readonly encrypted: boolean;

  #headerTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, options: ListMethodSocketOptions) {
    super({ allowHalfOpen: true });
    const headerTimeoutMs = options.headerTimeoutMs ?? 0;
    const armHeaderTimer = (): void => {
      if (headerTimeoutMs <= 0 || this.#headerTimer !== undefined) return;
      this.#headerTimer = setTimeout(() => this.destroy(), headerTimeoutMs);
      this.#headerTimer.unref();
    };
    armHeaderTimer();
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.remoteFamily = socket.remoteFamily;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
    this.encrypted = options.encrypted;
    socket.on('data', (chunk: Buffer) => {
      const headsBefore = this.#rewriter.headsSeen;
      for (const piece of this.#rewriter.push(chunk)) {
        if (!this.push(piece)) socket.pause();
      }
      if (this.#rewriter.headsSeen !== headsBefore) this.#clearHeaderTimer();
      if (this.#rewriter.partialHead) armHeaderTimer();
    });
    socket.on('end', () => {
      for (const piece of this.#rewriter.flush()) this.push(piece);
      this.push(null);
    });
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    socket.on('timeout', () => this.emit('timeout'));
    socket.on('drain', () => this.emit('drain'));
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(
    chunk: Buffer,
    encoding: BufferEncoding,
    callback: (err?: Error | null) => void,
  ): void {
    this.#socket.write(chunk, encoding, callback);
  }

  /** Corked writes (a response head and body) leave as one segment, not two. */
  override _writev(
    chunks: { chunk: Buffer | string; encoding: BufferEncoding }[],
    callback: (err?: Error | null) => void,
  ): void {
    const buffers = chunks.map(({ chunk, encoding }) =>
      typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk,
    );
    this.#socket.write(Buffer.concat(buffers), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  #clearHeaderTimer(): void {
    clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#clearHeaderTimer();
    this.#socket.destroy(err ?? undefined);
    callback(err);
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.#socket.setTimeout(ms);
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelayMs?: number): this {
    this.#socket.setKeepAlive(enable, initialDelayMs);
    return this;
  }
}
