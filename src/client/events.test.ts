import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { parseChangeEvent, SseParser, subscribeChanges } from './events.js';
import type { ChangeEvent, SseMessage } from './events.js';

const STREAM = [
  ': comment at the start',
  'event: ready',
  'data: {}',
  '',
  ': ping',
  '',
  'event: change',
  'id: 7',
  'data: {"path":"secret/data/app","mount":"secret/","operation":"update","version":3,"time":"2026-01-02T03:04:05Z"}',
  '',
  'data: line one',
  'data:line two',
  'retry: 1500',
  '',
  'event: change',
  'data: {"path":"secret/data/ünïcödé €","mount":"secret/","operation":"delete"}',
  '',
  'event: partial',
  'data: never finished',
].join('\n');

function parseAll(chunks: readonly Uint8Array[]): { messages: SseMessage[]; retry?: number } {
  const parser = new SseParser();
  const messages = chunks.flatMap((c) => parser.push(c));
  parser.end();
  return { messages, ...(parser.retryMs === undefined ? {} : { retry: parser.retryMs }) };
}

const EXPECTED: SseMessage[] = [
  { event: 'ready', data: '{}', id: '' },
  {
    event: 'change',
    data: '{"path":"secret/data/app","mount":"secret/","operation":"update","version":3,"time":"2026-01-02T03:04:05Z"}',
    id: '7',
  },
  { event: 'message', data: 'line one\nline two', id: '7' },
  {
    event: 'change',
    data: '{"path":"secret/data/ünïcödé €","mount":"secret/","operation":"delete"}',
    id: '7',
  },
];

describe('the SSE parser', () => {
  for (const eol of ['\n', '\r\n', '\r']) {
    it(`gives the same events for every split into two chunks (line ends ${JSON.stringify(eol)})`, () => {
      const bytes = Buffer.from(STREAM.replaceAll('\n', eol), 'utf8');
      for (let cut = 0; cut <= bytes.length; cut++) {
        const result = parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
        expect(result.messages, `cut at byte ${cut}`).toEqual(EXPECTED);
        expect(result.retry).toBe(1500);
      }
    });
  }

  it('gives the same events fed one byte at a time (UTF-8 split inside characters)', () => {
    const bytes = Buffer.from(STREAM.replaceAll('\n', '\r\n'), 'utf8');
    const chunks = [...bytes].map((b) => Uint8Array.of(b));
    expect(parseAll(chunks).messages).toEqual(EXPECTED);
  });

  it('gives the same events for random chunkings (seed 20261125)', () => {
    let seed = 20261125;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const bytes = Buffer.from(STREAM.replaceAll('\n', '\r\n'), 'utf8');
    for (let round = 0; round < 200; round++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length;) {
        const size = 1 + Math.floor(random() * 12);
        chunks.push(bytes.subarray(i, i + size));
        i += size;
      }
      expect(parseAll(chunks).messages, `round ${round} (seed 20261125)`).toEqual(EXPECTED);
    }
  });

  it('keeps a CR at a chunk end from doubling a line break', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r')).toEqual([]);
    expect(parser.push('\n\r')).toEqual([{ event: 'message', data: 'a', id: '' }]);
    expect(parser.push('\ndata: b\n\n')).toEqual([{ event: 'message', data: 'b', id: '' }]);
  });

  it('decodes change events and ignores ones that are not JSON objects with a path', () => {
    expect(parseChangeEvent(EXPECTED[1]!)).toEqual({
      id: '7',
      path: 'secret/data/app',
      mount: 'secret/',
      operation: 'update',
      version: 3,
      time: '2026-01-02T03:04:05Z',
    });
    expect(parseChangeEvent({ event: 'change', data: 'nope', id: '' })).toBeUndefined();
    expect(parseChangeEvent({ event: 'change', data: '{"x":1}', id: '' })).toBeUndefined();
  });
});

// ---- the subscription, against a real loopback HTTP server -----------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;
let server: Server | undefined;

async function serve(handler: Handler): Promise<{ address: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  server = createServer((req, res) => {
    requests.push(req);
    handler(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { address: `http://127.0.0.1:${port}`, requests };
}

afterEach(async () => {
  const current = server;
  server = undefined;
  if (current === undefined) return;
  current.closeAllConnections();
  await new Promise<void>((resolve) => {
    current.close(() => {
      resolve();
    });
  });
});

function openStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('event: ready\ndata: {}\n\n');
}

function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

describe('subscribing to change events', () => {
  it('sends the token and prefixes, delivers changes, and reconnects with Last-Event-ID', async () => {
    const { address, requests } = await serve((_req, res, attempt) => {
      openStream(res);
      if (attempt === 1) {
        res.write(
          'event: change\nid: 4\ndata: {"path":"secret/data/a","mount":"secret/","operation":"update"}\n\n',
        );
        res.end(); // the server drops the stream
      }
    });
    const changes: ChangeEvent[] = [];
    const readies: boolean[] = [];
    const errors: boolean[] = [];
    const sub = subscribeChanges({
      address,
      token: 'tok-1',
      prefixes: ['secret/data/a', 'secret/data/b', 'secret/data/a'],
      initialBackoffMs: 10,
      onChange: (e) => changes.push(e),
      onReady: ({ reconnected }) => readies.push(reconnected),
      onError: (_e, { fatal }) => errors.push(fatal),
    });
    await waitFor(() => readies.length === 2);
    sub.close();
    await sub.closed;
    expect(changes.map((c) => c.path)).toEqual(['secret/data/a']);
    expect(readies).toEqual([false, true]);
    expect(errors).toEqual([false]);
    const first = requests[0]!;
    expect(first.headers['x-vault-token']).toBe('tok-1');
    expect(new URL(first.url!, address).searchParams.getAll('prefix')).toEqual([
      'secret/data/a',
      'secret/data/b',
    ]);
    expect(first.headers['last-event-id']).toBeUndefined();
    expect(requests[1]!.headers['last-event-id']).toBe('4');
  });

  it('closes the connection on close() even after the fetch Request was garbage-collected', async () => {
    // Regression: undici follows an AbortSignal through a WeakRef; after a GC an abort alone
    // left the stream open and kept `coffer agent` alive after SIGTERM.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let serverSawClose = false;
    const { address } = await serve((req, res) => {
      req.on('close', () => (serverSawClose = true));
      openStream(res);
    });
    let ready = false;
    const sub = subscribeChanges({
      address,
      prefixes: ['x'],
      onChange: () => undefined,
      onReady: () => (ready = true),
    });
    await waitFor(() => ready);
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    sub.close();
    await sub.closed;
    await waitFor(() => serverSawClose, 2_000);
    expect(serverSawClose).toBe(true);
  });

  it('stops for good when the server refuses the token (it was revoked)', async () => {
    const { address, requests } = await serve((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"errors":["permission denied"]}');
    });
    const errors: { message: string; fatal: boolean }[] = [];
    const sub = subscribeChanges({
      address,
      token: 'revoked-token-value',
      prefixes: ['x'],
      initialBackoffMs: 10,
      onChange: () => undefined,
      onError: (e, { fatal }) => errors.push({ message: e.message, fatal }),
    });
    await sub.closed;
    expect(requests).toHaveLength(1);
    expect(errors).toEqual([{ message: 'the event stream answered HTTP 403', fatal: true }]);
  });

  it('reconnects when the connection goes silent past the idle timeout', async () => {
    const { address, requests } = await serve((_req, res) => {
      openStream(res); // ...and then nothing, not even heartbeats
    });
    const readies: boolean[] = [];
    const sub = subscribeChanges({
      address,
      prefixes: ['x'],
      idleTimeoutMs: 150,
      initialBackoffMs: 10,
      onChange: () => undefined,
      onReady: ({ reconnected }) => readies.push(reconnected),
    });
    await waitFor(() => readies.length >= 2);
    sub.close();
    await sub.closed;
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(readies.slice(0, 2)).toEqual([false, true]);
  });

  it('backs off with growing, bounded delays while the server is down', async () => {
    const times: number[] = [];
    const { address, requests } = await serve((_req, res) => {
      times.push(performance.now());
      res.writeHead(500);
      res.end();
    });
    const sub = subscribeChanges({
      address,
      prefixes: ['x'],
      initialBackoffMs: 20,
      maxBackoffMs: 80,
      onChange: () => undefined,
    });
    await waitFor(() => requests.length >= 8);
    sub.close();
    await sub.closed;
    const count = requests.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(requests.length).toBe(count); // closed means closed
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Delays are base/2..base with base 20, 40, 80, 80...: later ones at least 40 ms (timers
    // never fire early; less a little slack). The upper bounds are loose, for a loaded machine,
    // yet tight enough to fail without the ceiling: uncapped, the 7th delay would be >= 640 ms.
    expect(gaps[0]!).toBeLessThan(20 + 100);
    for (const gap of gaps.slice(2)) expect(gap).toBeGreaterThanOrEqual(35);
    expect(Math.max(...gaps.slice(0, 7))).toBeLessThan(80 + 220);
  });
});
