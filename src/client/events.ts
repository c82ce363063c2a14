// Change events from `GET /v1/sys/events/stream` (text/event-stream): an incremental SSE parser
// that copes with any chunk boundary, and a subscription that reconnects with bounded backoff.
// Events carry paths and versions, never values.
import type { ReadableStreamReadResult } from 'node:stream/web';
import { ConnectionError } from './errors.js';
import { isRecord } from './kv-path.js';

/** One dispatched server-sent event (the fields of the spec's event dispatch). */
export interface SseMessage {
  /** "message" when the stream gave no `event:` line. */
  readonly event: string;
  readonly data: string;
  /** The last `id:` seen so far on the stream ("" when none). */
  readonly id: string;
}

/**
 * An incremental parser for the SSE wire format (WHATWG HTML §9.2.6): lines end in CRLF, LF or
 * CR (a CR at the end of a chunk may be the first half of a CRLF), UTF-8 may be split anywhere,
 * `:` lines are comments (heartbeats), `retry:` is reported through `retryMs`.
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  #buffer = '';
  /** The previous chunk ended with "\r": a "\n" opening the next one belongs to it. */
  #pendingCr = false;
  #event = '';
  #data: string[] = [];
  #hasData = false;
  #lastId = '';
  /** The server's `retry:` advice in milliseconds, once it sent one. */
  retryMs: number | undefined;

  /** Feeds bytes (or text) and returns the events completed by them. */
  push(chunk: Uint8Array | string): SseMessage[] {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const ch = this.#buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      const line = this.#buffer.slice(start, i);
      if (ch === 13) {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#pendingCr = true;
        }
      }
      start = i + 1;
      const message = this.#line(line);
      if (message !== undefined) out.push(message);
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  /** The stream ended: an event without its closing blank line is dropped (as the spec says). */
  end(): void {
    this.#buffer = '';
    this.#data = [];
    this.#hasData = false;
    this.#event = '';
  }

  /** The id to send as Last-Event-ID when reconnecting ("" for none). */
  get lastEventId(): string {
    return this.#lastId;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  #dispatch(): SseMessage | undefined {
    const event = this.#event === '' ? 'message' : this.#event;
    const hasData = this.#hasData;
    const data = this.#data.join('\n');
    this.#event = '';
    this.#data = [];
    this.#hasData = false;
    if (!hasData) return undefined;
    return { event, data, id: this.#lastId };
  }
}

/** A secret change as the server announces it. */
export interface ChangeEvent {
  /** The SSE id ("" when none). */
  readonly id: string;
  /** Logical path written, e.g. "secret/data/app". */
  readonly path: string;
  /** The mount, e.g. "secret/". */
  readonly mount: string;
  readonly operation: string;
  readonly version?: number;
  /** Engine-announced events: the door's event type (Google's "SECRET_ROTATE"). */
  readonly eventType?: string;
  /** Engine-announced events: the door's name of the secret. */
  readonly secretId?: string;
  /** RFC 3339, as sent. */
  readonly time?: string;
}

/** Decodes a `change` event's data; undefined when it is not the expected JSON object. */
export function parseChangeEvent(message: SseMessage): ChangeEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message.data);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value['path'] !== 'string') return undefined;
  const version = value['version'];
  const time = value['time'];
  const eventType = value['eventType'];
  const secretId = value['secretId'];
  return {
    id: message.id,
    path: value['path'],
    mount: typeof value['mount'] === 'string' ? value['mount'] : '',
    operation: typeof value['operation'] === 'string' ? value['operation'] : '',
    ...(typeof version === 'number' ? { version } : {}),
    ...(typeof eventType === 'string' ? { eventType } : {}),
    ...(typeof secretId === 'string' ? { secretId } : {}),
    ...(typeof time === 'string' ? { time } : {}),
  };
}

export interface ChangeStreamOptions {
  /** Normalised server address (CofferClient.address). */
  readonly address: string;
  readonly token?: string;
  /** Logical path prefixes to hear about; the server filters, callers still match exactly. */
  readonly prefixes: readonly string[];
  readonly onChange: (event: ChangeEvent) => void;
  /**
   * The stream is open (`event: ready`). `reconnected` is true after a drop: changes made while
   * disconnected were missed, so callers should re-read what they watch.
   */
  readonly onReady?: (info: { readonly reconnected: boolean }) => void;
  /**
   * A connection failed or dropped. `fatal` means the subscription stopped for good: the server
   * has no event stream (404/405) or refuses the token (401/403, e.g. it was revoked).
   */
  readonly onError?: (error: Error, info: { readonly fatal: boolean }) => void;
  readonly fetch?: typeof fetch;
  /** First reconnect delay; doubles per failure up to `maxBackoffMs`. Default 250. */
  readonly initialBackoffMs?: number;
  /** Ceiling of the reconnect delay. Default 10 000. */
  readonly maxBackoffMs?: number;
  /** No byte for this long (heartbeats come every 15 s) means a dead connection. Default 45 000. */
  readonly idleTimeoutMs?: number;
}

/** An open subscription. `close()` stops it for good; `closed` resolves once it has stopped. */
export interface ChangeSubscription {
  close(): void;
  readonly closed: Promise<void>;
}

/** An HTTP status the event stream refused with. */
export class EventStreamError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`the event stream answered HTTP ${status}`);
    this.name = 'EventStreamError';
    this.status = status;
  }
}

const FATAL_STATUSES = new Set([400, 401, 403, 404, 405]);

/**
 * Subscribes to change events under `prefixes` and keeps the subscription alive: after a drop or
 * a failed connection it waits (250 ms doubling to 10 s, with jitter; the server's `retry:` is
 * honoured within those bounds) and reconnects with Last-Event-ID. The delay resets once a
 * stream is ready again.
 * SECURITY: the token travels only in the X-Vault-Token header; errors never include it.
 */
export function subscribeChanges(options: ChangeStreamOptions): ChangeSubscription {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const initialMs = options.initialBackoffMs ?? 250;
  const maxMs = options.maxBackoffMs ?? 10_000;
  const idleMs = options.idleTimeoutMs ?? 45_000;
  const controller = new AbortController();
  let stopped = false;
  let wake: (() => void) | undefined;

  const url = new URL(`${options.address}/v1/sys/events/stream`);
  for (const prefix of new Set(options.prefixes)) url.searchParams.append('prefix', prefix);

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function connectOnce(parser: SseParser, onOpen: () => void): Promise<void> {
    const headers = new Headers({ Accept: 'text/event-stream', 'X-Vault-Request': 'true' });
    if (options.token !== undefined && options.token !== '') {
      headers.set('X-Vault-Token', options.token);
    }
    if (parser.lastEventId !== '') headers.set('Last-Event-ID', parser.lastEventId);
    const attempt = new AbortController();
    /** Cancels the response body once there is one (see stopAttempt). */
    let cancelBody: (() => void) | undefined;
    let idleExpired = false;
    // Aborting the fetch alone is not enough: undici follows the caller's signal through a
    // WeakRef, and once the Request is garbage-collected an abort no longer reaches a response
    // that is still streaming, leaving the connection open (and the process alive). Cancelling
    // the body stream always closes it.
    const stopAttempt = () => {
      attempt.abort();
      cancelBody?.();
    };
    controller.signal.addEventListener('abort', stopAttempt);
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idleExpired = true;
        stopAttempt();
      }, idleMs);
    };
    try {
      armIdle();
      let response: Response;
      try {
        // SECURITY: no redirects; fetch would carry X-Vault-Token to wherever they point.
        response = await fetchImpl(url, { headers, signal: attempt.signal, redirect: 'error' });
      } catch (error) {
        throw new ConnectionError(options.address, reasonOf(error), { cause: error });
      }
      if (response.status !== 200 || response.body === null) {
        await response.body?.cancel().catch(() => undefined);
        throw new EventStreamError(response.status);
      }
      const reader = response.body.getReader();
      let finished = false;
      cancelBody = () => {
        reader.cancel().catch(() => undefined);
      };
      if (attempt.signal.aborted) cancelBody();
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (error) {
            throw new ConnectionError(options.address, reasonOf(error), { cause: error });
          }
          if (chunk.done) break;
          armIdle();
          for (const message of parser.push(chunk.value)) {
            if (message.event === 'ready') onOpen();
            else if (message.event === 'change') {
              const event = parseChangeEvent(message);
              if (event !== undefined) options.onChange(event);
            }
          }
        }
        finished = true;
      } finally {
        // Whatever ended the loop (a callback that threw included), the response must not
        // stay open behind us.
        if (!finished) await reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
      parser.end();
      throw new ConnectionError(
        options.address,
        idleExpired ? 'no data within the idle timeout' : 'the event stream ended',
      );
    } finally {
      clearTimeout(idleTimer);
      controller.signal.removeEventListener('abort', stopAttempt);
    }
  }

  async function loop(): Promise<void> {
    const parser = new SseParser();
    let failures = 0;
    let everReady = false;
    while (!stopped) {
      try {
        await connectOnce(parser, () => {
          failures = 0;
          options.onReady?.({ reconnected: everReady });
          everReady = true;
        });
      } catch (error) {
        if (stopped) break;
        const fatal = error instanceof EventStreamError && FATAL_STATUSES.has(error.status);
        const reported = error instanceof Error ? error : new Error('event stream failed');
        options.onError?.(reported, { fatal });
        if (fatal) break;
      }
      if (stopped) break;
      const base = Math.min(maxMs, Math.max(initialMs, parser.retryMs ?? 0) * 2 ** failures);
      failures = Math.min(failures + 1, 30);
      await sleep(Math.round(base / 2 + (Math.random() * base) / 2));
    }
  }

  const closed = loop();
  return {
    close() {
      if (stopped) return;
      stopped = true;
      controller.abort();
      wake?.();
    },
    closed,
  };
}

function reasonOf(error: unknown): string {
  if (error instanceof Error && error.name === 'AbortError')
    return 'no data within the idle timeout';
  const cause = error instanceof Error ? error.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error && error.message !== '' ? error.message : 'network error';
}
