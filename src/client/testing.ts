// Test helper (excluded from the build): a fetch that records each request the client builds
// and answers with canned Responses, so tests check our request building, not a fake server.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: URL;
  /** The logical path after "/v1/", decoded. */
  readonly path: string;
  readonly query: Record<string, string>;
  /** Header names lower-cased. */
  readonly headers: Record<string, string>;
  /** The JSON body parsed, or undefined when none was sent. */
  readonly body: unknown;
}

export interface CannedReply {
  readonly status?: number;
  /** Sent as JSON; omitted (or a 204) means an empty body. */
  readonly body?: unknown;
  /** Sent verbatim instead of `body` (for non-JSON answers). */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
}

export type Responder = (request: RecordedRequest) => CannedReply | Promise<CannedReply>;

export interface RecordingFetch {
  readonly fetch: typeof fetch;
  readonly requests: RecordedRequest[];
}

export function recordingFetch(respond: Responder): RecordingFetch {
  const requests: RecordedRequest[] = [];
  const impl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const rawBody = typeof init?.body === 'string' ? init.body : undefined;
    const query: Record<string, string> = {};
    url.searchParams.forEach((value, name) => {
      query[name] = value;
    });
    const request: RecordedRequest = {
      method: init?.method ?? 'GET',
      url,
      path: decodeURIComponent(url.pathname.replace(/^\/v1\//, '')),
      query,
      headers,
      body: rawBody === undefined ? undefined : (JSON.parse(rawBody) as unknown),
    };
    requests.push(request);
    const reply = await respond(request);
    const status = reply.status ?? 200;
    const text =
      reply.rawBody ??
      (reply.body === undefined || status === 204 ? null : JSON.stringify(reply.body));
    return new Response(status === 204 ? null : text, {
      status,
      headers: { 'Content-Type': 'application/json', ...reply.headers },
    });
  };
  return { fetch: impl, requests };
}

/**
 * A recording fetch answering from a table keyed "METHOD path" (path after /v1/, with a
 * trailing "*" for a prefix). A `list=true` GET is looked up as "LIST path". Unknown routes
 * get Vault's 404 `{"errors":[]}`.
 */
export function routeFetch(
  routes: Readonly<Record<string, CannedReply | Responder>>,
): RecordingFetch {
  return recordingFetch((request) => {
    const method =
      request.method === 'GET' && request.query['list'] === 'true' ? 'LIST' : request.method;
    const key = `${method} ${request.path}`;
    let entry = routes[key];
    if (entry === undefined) {
      const prefix = Object.keys(routes)
        .filter((k) => k.endsWith('*') && key.startsWith(k.slice(0, -1)))
        .sort((a, b) => b.length - a.length)[0];
      entry = prefix === undefined ? undefined : routes[prefix];
    }
    if (entry === undefined) return { status: 404, body: { errors: [] } };
    return typeof entry === 'function' ? entry(request) : entry;
  });
}

/** The probe answer for a KV v2 mount at `path` ("secret/"). */
export function kvV2Probe(path: string): CannedReply {
  return { body: { data: { path, type: 'kv', options: { version: '2' } } } };
}

/** A loopback port nothing listens on (bound, then released), for connection-refused tests. */
export async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}
