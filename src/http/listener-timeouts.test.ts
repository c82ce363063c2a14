// Listener timeouts and the connection cap, with the LIST-verb rewriter in place: slow heads, idle
// keep-alive connections and slow bodies are closed within the configured time (2 s here).
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { startListener, type RunningListener } from './listener.js';

const TIMEOUT_MS = 2_000;
/** Timers, the event loop and a loaded CI machine: closes may come this much late. */
const SLACK_MS = 1_000;
const SLOW_CLIENTS = 10;

interface Conn {
  readonly socket: Socket;
  readonly openedAt: number;
  /** Resolves with the ms from `openedAt` to the server closing the connection. */
  readonly closedAfter: Promise<number>;
  received(): string;
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      const openedAt = Date.now();
      const closedAfter = new Promise<number>((done) => {
        socket.once('close', () => {
          done(Date.now() - openedAt);
        });
      });
      resolve({ socket, openedAt, closedAfter, received: () => data });
    });
    socket.once('error', reject);
  });
}

/** Sends `text` one byte at a time, every `everyMs`, until the socket closes (bounded). */
async function trickle(conn: Conn, text: string, everyMs: number): Promise<void> {
  for (const ch of text) {
    if (conn.socket.destroyed) return;
    conn.socket.write(ch);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('listener timeouts (2 s) with the LIST rewriter in place', () => {
  let listener: RunningListener;
  let token: string;

  beforeAll(async () => {
    const stack = await createUnsealedStack();
    token = stack.rootToken;
    listener = await startListener(stack.app, {
      host: '127.0.0.1',
      port: 0,
      limits: {
        readHeaderTimeoutMs: TIMEOUT_MS,
        readTimeoutMs: TIMEOUT_MS,
        writeTimeoutMs: 0,
        idleTimeoutMs: TIMEOUT_MS,
        maxConnections: 40,
      },
    });
  });
  afterAll(async () => {
    await listener.close(0);
  });

  it('closes slow-header, silent, idle and slow-body connections within the timeout', async () => {
    const slowHeads = await Promise.all(
      Array.from({ length: SLOW_CLIENTS }, () => open(listener.port)),
    );
    const slowLists = await Promise.all(
      Array.from({ length: SLOW_CLIENTS }, () => open(listener.port)),
    );
    const silent = await open(listener.port);
    const idle = await open(listener.port);
    const slowBody = await open(listener.port);

    const head =
      'GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n';
    for (const c of slowHeads) void trickle(c, head, 250);
    // A LIST's request line arrives whole (the listener hands the connection from Node's parser
    // to the rewriter), then its head trickles: the rewriter's clock cuts it.
    const listHead = head.replace(/^GET/, 'LIST');
    for (const c of slowLists) {
      c.socket.write(listHead.slice(0, 20));
      void trickle(c, listHead.slice(20), 250);
    }

    idle.socket.write(`GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n`);
    for (let i = 0; i < 100 && !idle.received().includes('\r\n\r\n'); i++) await sleep(20);
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200 /);
    const idleFrom = Date.now() - idle.openedAt;

    slowBody.socket.write(
      `POST /v1/secret/data/slow HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":{"v":"`,
    );
    void trickle(slowBody, 'x'.repeat(900), 250);

    const heads = await Promise.all([...slowHeads, ...slowLists].map((c) => c.closedAfter));
    const silentAfter = await silent.closedAfter;
    const idleAfter = (await idle.closedAfter) - idleFrom;
    const bodyAfter = await slowBody.closedAfter;
    console.log(
      `timeouts (2 s): slow heads closed after ${Math.min(...heads)}-${Math.max(...heads)} ms ` +
        `(${heads.length}), silent ${silentAfter} ms, idle ${idleAfter} ms, slow body ${bodyAfter} ms`,
    );
    for (const ms of [...heads, silentAfter, idleAfter, bodyAfter]) {
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
      expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    }
    // The slow heads never got a response: they were cut, not served.
    for (const c of [...slowHeads, ...slowLists]) expect(c.received()).toBe('');
  });

  it('a keep-alive client within the timeouts is served on one connection', async () => {
    const conn = await open(listener.port);
    for (let i = 0; i < 3; i++) {
      const before = conn.received().length;
      conn.socket.write(
        `LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n\r\n`,
      );
      for (let j = 0; j < 100 && conn.received().length === before; j++) await sleep(20);
      expect(conn.received().slice(before)).toMatch(/^HTTP\/1\.1 (200|404) /);
      await sleep(TIMEOUT_MS / 2);
    }
    expect(conn.socket.destroyed).toBe(false);
    conn.socket.destroy();
  });

  it('closes connections over max_connections as they are accepted', async () => {
    const conns = await Promise.all(Array.from({ length: 45 }, () => open(listener.port)));
    await sleep(300);
    const closed = conns.filter((c) => c.socket.destroyed || c.socket.readableEnded).length;
    expect(closed).toBeGreaterThanOrEqual(5);
    for (const c of conns) c.socket.destroy();
  });
});
