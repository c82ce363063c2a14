// Aborted client requests are not server errors (no error-level line, no stack), and
// X-Vault-Wrap-TTL is bounded by the maximum TTL.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { startListener, type RunningListener } from './listener.js';

describe('client aborts and wrap TTL bound', () => {
  let stack: Awaited<ReturnType<typeof createUnsealedStack>>;
  let listener: RunningListener;

  beforeAll(async () => {
    stack = await createUnsealedStack();
    listener = await startListener(stack.app, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await listener.close(0);
  });

  it('a client that disconnects mid-body leaves no error-level log line and no stack', async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(listener.port, '127.0.0.1', () => {
          socket.write(
            `POST /v1/secret/data/abort HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${stack.rootToken}\r\n` +
              `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":{"v":"`,
          );
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
        socket.on('error', () => undefined);
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    const bad = stack.logs.filter((l) => {
      const entry = JSON.parse(l) as { level: number; err?: { stack?: string } };
      return entry.level >= 50 || entry.err?.stack !== undefined;
    });
    expect(bad).toEqual([]);
    // The server still answers.
    const res = await fetch(`${listener.url}/v1/sys/health`);
    expect(res.status).toBe(200);
  });

  it('X-Vault-Wrap-TTL above the maximum TTL is a 400 naming the header', async () => {
    const wrap = (ttl: string) =>
      stack.app.inject({
        method: 'GET',
        url: '/v1/sys/mounts',
        headers: { 'x-vault-token': stack.rootToken, 'x-vault-wrap-ttl': ttl },
      });
    for (const ttl of ['9007199254740991', '2764801', '800h']) {
      const res = await wrap(ttl);
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('X-Vault-Wrap-TTL: must be at most 2764800 seconds');
    }
    expect((await wrap('2764800')).statusCode).toBe(200);
    expect((await wrap('5m')).statusCode).toBe(200);
  });
});
