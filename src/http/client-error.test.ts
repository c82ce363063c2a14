// A request Node's HTTP parser rejects is answered with `Connection: close` before the
// connection ends, so a keep-alive client does not send its next request into a closing
// socket. (Fastify's default answer left the header out; a fuzz run then lost about one
// request in 40,000 to "other side closed".)
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { startListener, type RunningListener } from './listener.js';

/**
 * Writes `raw` (then `next`, once the first answer has begun to arrive) and collects
 * everything the server sends until it closes (bounded).
 */
function exchange(port: number, raw: string, next?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 5 s; received: ${data}`));
    }, 5_000);
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (next !== undefined && data.includes('\r\n\r\n')) {
        socket.write(next);
        next = undefined;
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(guard);
      resolve(data);
    });
    socket.once('connect', () => socket.write(raw));
  });
}

function parse(response: string): { status: number; headers: string[]; body: string } {
  const [head = '', body = ''] = response.split('\r\n\r\n');
  const [statusLine = '', ...headers] = head.split('\r\n');
  return {
    status: Number(statusLine.split(' ')[1]),
    headers: headers.map((h) => h.toLowerCase()),
    body,
  };
}

describe('requests the HTTP parser rejects', () => {
  let listener: RunningListener;

  beforeAll(async () => {
    const stack = await createUnsealedStack();
    listener = await startListener(stack.app, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await listener.close(100);
  });

  it('an unknown method gets 405 in Vault shape, with Connection: close, then the close', async () => {
    const got = parse(
      await exchange(listener.port, 'FOO /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    expect(got.status).toBe(405);
    expect(got.headers).toContain('connection: close');
    expect(JSON.parse(got.body)).toEqual({ errors: ['unsupported HTTP method'] });
  });

  it('a malformed head after a good keep-alive request gets 400 and Connection: close', async () => {
    const response = await exchange(
      listener.port,
      'GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n',
    );
    const second = response.slice(response.indexOf('HTTP/1.1', 1));
    expect(response.startsWith('HTTP/1.1 200')).toBe(true);
    const got = parse(second);
    expect(got.status).toBe(400);
    expect(got.headers).toContain('connection: close');
    expect(JSON.parse(got.body)).toEqual({ errors: ['malformed HTTP request'] });
  });
});
