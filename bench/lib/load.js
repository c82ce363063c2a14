// The shared HTTP load generator: N keep-alive HTTP/1.1 connections, each with one request in
// flight, for a warm-up then a fixed measured window; runs in a worker thread so it never shares
// an event loop with the server under test.
import { connect } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/**
 * @typedef {object} LoadSpec
 * @property {string} url         Origin of the server, e.g. "http://127.0.0.1:41234" (loopback).
 * @property {string} method      "GET", "POST", ...
 * @property {string} path        Request path; every "{i}" becomes a per-request counter.
 * @property {Record<string, string>} [headers]  Extra request headers.
 * @property {string} [body]      Request body (UTF-8); every "{i}" becomes the counter.
 * @property {number} connections Concurrent keep-alive connections (one request in flight each).
 * @property {number} warmupMs    Requests completed in the warm-up are not measured.
 * @property {number} durationMs  Length of the measured window.
 * @property {number} [firstIndex] First value of the "{i}" counter (default 0).
 * @property {number} [indexModulo] "{i}" cycles through firstIndex .. firstIndex+indexModulo-1.
 * @property {number} [maxRequests] No request starts once this many have been sent (the window
 *                                  still bounds the run); absent = only the window limits it.
 * @property {number} [requestTimeoutMs] A request slower than this is an error (default 10000).
 */

/**
 * @typedef {object} LoadResult
 * @property {number} requests      2xx responses completed inside the measured window (a request
 *                                  sent during the warm-up counts if it completes inside).
 * @property {number} totalOk       2xx responses over warm-up plus window (for storage stats).
 * @property {number} windowMs      Length of the measured window (ms).
 * @property {number} perSecond     requests / window.
 * @property {{ mean: number, p50: number, p90: number, p99: number, max: number }} latencyMs
 * @property {number} errors        Non-2xx responses, timeouts and socket errors (whole run).
 * @property {Record<string, number>} statuses  Response count per status code (whole run).
 * @property {string | undefined} firstError  Short description of the first error, if any.
 * @property {number} connections
 * @property {number} clientBusy    Event-loop utilisation (0..1) of the thread running the load;
 *                                  near 1 means the load generator, not the server, is the limit.
 * @property {number} [serverBusy]  Event-loop utilisation (0..1) of the thread that started the
 *                                  worker (the in-process server), over the worker's lifetime.
 */

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * One keep-alive connection with at most one request in flight. A tiny HTTP/1.1 client
 * (status line + Content-Length framing) instead of node:http: on a 2-core machine the client's
 * per-request CPU cost would otherwise cap the baseline and flatter the ratios.
 */
class Connection {
  /** @param {string} host @param {number} port @param {number} timeoutMs @param {boolean} tls */
  constructor(host, port, timeoutMs, tls) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.tls = tls;
    /** @type {import('node:net').Socket | undefined} */
    this.socket = undefined;
    /** @type {Buffer} */
    this.pending = Buffer.alloc(0);
    /** @type {{ resolve: (r: { status: number, body: Buffer, close: boolean }) => void, reject: (e: Error) => void } | undefined} */
    this.waiter = undefined;
  }

  /** @returns {import('node:net').Socket} */
  #open() {
    // TLS: the bench's own self-signed certificate on loopback, so no verification.
    const socket = this.tls
      ? connectTls({ host: this.host, port: this.port, noDelay: true, rejectUnauthorized: false })
      : connect({ host: this.host, port: this.port, noDelay: true });
    socket.setTimeout(this.timeoutMs);
    // Events of a socket this connection already dropped are ignored.
    const current = () => this.socket === socket;
    socket.on('data', (chunk) => {
      if (!current()) return;
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.#parse();
    });
    socket.on('timeout', () => {
      if (current()) this.#fail(new Error(`no response within ${this.timeoutMs} ms`));
    });
    socket.on('error', (err) => {
      if (current()) this.#fail(err);
    });
    socket.on('close', () => {
      if (current()) this.#fail(new Error('connection closed by the server'));
    });
    this.socket = socket;
    this.pending = Buffer.alloc(0);
    return socket;
  }

  /** @param {Error} err */
  #fail(err) {
    const waiter = this.waiter;
    this.waiter = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    waiter?.reject(err);
  }

  #parse() {
    if (this.waiter === undefined) return;
    const buf = this.pending;
    const headEnd = buf.indexOf(HEADER_END);
    if (headEnd === -1) {
      if (buf.length > MAX_HEAD_BYTES) this.#fail(new Error('response head too large'));
      return;
    }
    const head = buf.toString('latin1', 0, headEnd);
    const status = Number.parseInt(head.slice(9, 12), 10);
    const match = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
    // 204 and 304 responses carry no body and may omit Content-Length.
    const length =
      match === null ? (status === 204 || status === 304 ? 0 : undefined) : Number(match[1]);
    if (length === undefined || Number.isNaN(status)) {
      this.#fail(new Error('response without a status or Content-Length (unsupported framing)'));
      return;
    }
    const total = headEnd + HEADER_END.length + length;
    if (buf.length < total) return;
    const body = buf.subarray(headEnd + HEADER_END.length, total);
    this.pending = buf.subarray(total);
    const close = /\r\nconnection:[ \t]*close/i.test(head);
    const waiter = this.waiter;
    this.waiter = undefined;
    if (close && this.socket !== undefined) {
      const socket = this.socket;
      this.socket = undefined;
      socket.destroy();
    }
    waiter.resolve({ status, body, close });
  }

  /**
   * Sends one request and resolves with its response; rejects on a socket error or timeout
   * (the connection is then dropped and the next request opens a new one).
   * @param {Buffer} request complete request bytes
   * @returns {Promise<{ status: number, body: Buffer, close: boolean }>}
   */
  send(request) {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      const socket = this.socket ?? this.#open();
      socket.write(request);
    });
  }

  close() {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

/** @param {Float64Array} sorted @param {number} q in [0, 1] */
function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

/**
 * Runs the load in the calling thread. Bounded: no request starts after the window ends, and a
 * request in flight then finishes or times out (requestTimeoutMs).
 * @param {LoadSpec} spec
 * @returns {Promise<LoadResult>}
 */
export async function runLoad(spec) {
  const origin = new URL(spec.url);
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') {
    throw new Error('the load generator speaks http and https only');
  }
  const tls = origin.protocol === 'https:';
  const host = origin.hostname.replace(/^\[|\]$/g, '');
  const port = Number(origin.port);
  const timeoutMs = spec.requestTimeoutMs ?? 10_000;
  const extra = Object.entries(spec.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const head = `Host: ${origin.host}\r\n${extra}`;
  const hasBody = spec.body !== undefined;
  /** @param {number} i */
  const build = (i) => {
    const path = spec.path.replaceAll('{i}', String(i));
    if (!hasBody) return Buffer.from(`${spec.method} ${path} HTTP/1.1\r\n${head}\r\n`, 'latin1');
    const body = Buffer.from(spec.body.replaceAll('{i}', String(i)), 'utf8');
    const start = `${spec.method} ${path} HTTP/1.1\r\n${head}content-length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(start, 'latin1'), body]);
  };

  const firstIndex = spec.firstIndex ?? 0;
  const modulo = spec.indexModulo ?? Number.POSITIVE_INFINITY;
  const maxRequests = spec.maxRequests ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  let errors = 0;
  let totalOk = 0;
  /** @type {string | undefined} */
  let firstError;
  /** @type {Record<string, number>} */
  const statuses = {};
  /** @type {number[]} */
  const latencies = [];

  const busyBefore = performance.eventLoopUtilization();
  const started = performance.now();
  const measureFrom = started + spec.warmupMs;
  const measureTo = measureFrom + spec.durationMs;

  /** @param {Connection} conn */
  const client = async (conn) => {
    while (performance.now() < measureTo && sent < maxRequests) {
      const request = build(firstIndex + (sent++ % modulo));
      const sentAt = performance.now();
      try {
        const response = await conn.send(request);
        const doneAt = performance.now();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (response.status < 200 || response.status > 299) {
          errors++;
          firstError ??= `HTTP ${response.status}: ${response.body.toString('utf8').slice(0, 200)}`;
          continue;
        }
        totalOk++;
        // Completions inside the window count, whenever they started: no edge bias.
        if (doneAt >= measureFrom && doneAt <= measureTo) latencies.push(doneAt - sentAt);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        // A refused or reset connection: pause briefly instead of spinning (still time-bounded).
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    conn.close();
  };

  const connections = Array.from(
    { length: spec.connections },
    () => new Connection(host, port, timeoutMs, tls),
  );
  await Promise.all(connections.map(client));

  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    requests: latencies.length,
    totalOk,
    windowMs: spec.durationMs,
    perSecond: latencies.length / (spec.durationMs / 1000),
    latencyMs: {
      mean: latencies.length === 0 ? Number.NaN : sum / latencies.length,
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max: quantile(sorted, 1),
    },
    errors,
    statuses,
    firstError,
    connections: spec.connections,
    clientBusy: performance.eventLoopUtilization(busyBefore).utilization,
  };
}

/**
 * Runs the load in a worker thread (its own event loop and, on a 2-core machine, in effect its
 * own core) and resolves with its result. A watchdog terminates a worker that overruns.
 * @param {LoadSpec} spec
 * @returns {Promise<LoadResult>}
 */
export function runLoadInWorker(spec) {
  const limitMs = spec.warmupMs + spec.durationMs + (spec.requestTimeoutMs ?? 10_000) + 10_000;
  const busyBefore = performance.eventLoopUtilization();
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
      workerData: spec,
      // --input-type (node -e) would make the worker's file entry fail to load.
      execArgv: process.execArgv.filter((arg) => !arg.startsWith('--input-type')),
    });
    let settled = false;
    const watchdog = setTimeout(() => {
      settled = true;
      void worker.terminate();
      reject(new Error(`load worker overran its ${limitMs} ms budget`));
    }, limitMs);
    worker.once('message', (result) => {
      settled = true;
      clearTimeout(watchdog);
      resolve({ ...result, serverBusy: performance.eventLoopUtilization(busyBefore).utilization });
    });
    worker.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      reject(err);
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      reject(new Error(`load worker exited with code ${code} before reporting`));
    });
  });
}
