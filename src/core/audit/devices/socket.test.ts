import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listenAt, startServer, tempDir } from '../testing.js';
import { SocketAuditDevice } from './socket.js';

const temp = tempDir('coffer-audit-sock-');
afterAll(temp.cleanup);

describe('socket audit device', () => {
  it('streams batches to a loopback TCP server over one connection', async () => {
    const server = await startServer();
    const device = new SocketAuditDevice({
      address: server.address,
      socketType: 'tcp',
      writeTimeoutMs: 2000,
    });
    try {
      await device.open();
      await device.write(Buffer.from('{"a":1}\n'));
      await device.write(Buffer.from('{"b":2}\n'));
      expect(await server.waitFor((t) => t.endsWith('{"b":2}\n'))).toBe('{"a":1}\n{"b":2}\n');
      expect(await device.lastLine()).toBeUndefined();
    } finally {
      await device.close();
      await server.close();
    }
  });

  it('reconnects on reopen and after the server dropped the connection', async () => {
    const server = await startServer();
    const device = new SocketAuditDevice({
      address: server.address,
      socketType: 'tcp',
      writeTimeoutMs: 2000,
    });
    try {
      await device.write(Buffer.from('one\n'));
      await server.waitFor((t) => t === 'one\n');
      await device.reopen();
      await device.write(Buffer.from('two\n'));
      expect(await server.waitFor((t) => t.endsWith('two\n'))).toBe('one\ntwo\n');
      server.dropConnections();
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the close reach the client
      await device.write(Buffer.from('three\n'));
      expect(await server.waitFor((t) => t.endsWith('three\n'))).toBe('one\ntwo\nthree\n');
    } finally {
      await device.close();
      await server.close();
    }
  });

  it('fails a write within its timeout when the peer never reads (TCP)', async () => {
    const server = await startServer({ reading: false });
    const device = new SocketAuditDevice({
      address: server.address,
      socketType: 'tcp',
      writeTimeoutMs: 300,
    });
    try {
      // Larger than every loopback buffer (tcp_rmem max is 32 MiB on common kernels).
      const started = Date.now();
      await expect(device.write(Buffer.alloc(96 * 1024 * 1024, 0x61))).rejects.toMatchObject({
        code: 'ETIMEDOUT',
      });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await device.close();
      await server.close();
    }
  });

  it('writes to a unix socket, and refuses to connect where nothing listens', async () => {
    const path = join(temp.dir, 'audit.sock');
    const server = await startServer({ unixPath: path });
    const device = new SocketAuditDevice({
      address: path,
      socketType: 'unix',
      writeTimeoutMs: 2000,
    });
    try {
      await device.write(Buffer.from('unix\n'));
      expect(await server.waitFor((t) => t === 'unix\n')).toBe('unix\n');
    } finally {
      await device.close();
      await server.close();
    }
    const nobody = new SocketAuditDevice({
      address: join(temp.dir, 'none.sock'),
      socketType: 'unix',
      writeTimeoutMs: 2000,
    });
    await expect(nobody.open()).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(nobody.write(Buffer.from('x\n'))).rejects.toMatchObject({ code: 'ENOENT' });
    await nobody.close();
    await expect(nobody.write(Buffer.from('x\n'))).rejects.toMatchObject({ code: 'ECLOSED' });
  });

  it('opens again after close() and writes on a fresh connection', async () => {
    const server = await startServer();
    const device = new SocketAuditDevice({
      address: server.address,
      socketType: 'tcp',
      writeTimeoutMs: 2000,
    });
    try {
      await device.write(Buffer.from('first\n'));
      await device.close();
      await expect(device.write(Buffer.from('x\n'))).rejects.toMatchObject({
        code: 'ECLOSED',
        message: 'audit socket is closed',
      });
      await device.open();
      await device.write(Buffer.from('second\n'));
      expect(await server.waitFor((t) => t.endsWith('second\n'))).toBe('first\nsecond\n');
    } finally {
      await device.close();
      await server.close();
    }
  });

  it('reopen closes the old connection and opens a new one', async () => {
    const connections: { ended: boolean }[] = [];
    const server = createServer((socket) => {
      const state = { ended: false };
      connections.push(state);
      socket.resume();
      socket.on('close', () => {
        state.ended = true;
      });
    });
    const device = new SocketAuditDevice({
      address: await listenAt(server),
      socketType: 'tcp',
      writeTimeoutMs: 2000,
    });
    try {
      await device.write(Buffer.from('a\n'));
      await device.reopen();
      await device.write(Buffer.from('b\n'));
      for (let i = 0; i < 200 && connections[0]?.ended !== true; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(connections.map((c) => c.ended)).toEqual([true, false]);
    } finally {
      await device.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a connection the peer resets is dropped without an uncaught error, and the next batch reconnects', async () => {
    const received: string[] = [];
    const server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk.toString());
        // The first connection is reset (RST): the client sees ECONNRESET after connecting.
        if (received.length === 1) socket.resetAndDestroy();
      });
      socket.on('error', () => undefined);
    });
    const device = new SocketAuditDevice({
      address: await listenAt(server),
      socketType: 'tcp',
      writeTimeoutMs: 2000,
    });
    try {
      await device.write(Buffer.from('one\n'));
      for (let i = 0; i < 200 && received.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the reset reach the client
      await device.write(Buffer.from('two\n'));
      for (let i = 0; i < 200 && !received.includes('two\n'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(received).toEqual(['one\n', 'two\n']);
    } finally {
      await device.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('connects to a bracketed IPv6 address', async (context) => {
    const received: Buffer[] = [];
    const server = createServer((socket) =>
      socket.on('data', (chunk: Buffer) => received.push(chunk)),
    );
    const port = await new Promise<number | undefined>((resolve) => {
      server.once('error', () => {
        resolve(undefined);
      });
      server.listen(0, '::1', () => {
        const info = server.address();
        resolve(typeof info === 'object' && info !== null ? info.port : undefined);
      });
    });
    if (port === undefined) {
      context.skip('no IPv6 loopback on this machine');
      return;
    }
    const device = new SocketAuditDevice({
      address: `[::1]:${port}`,
      socketType: 'tcp',
      writeTimeoutMs: 2000,
    });
    try {
      await device.open();
      await device.write(Buffer.from('six\n'));
      for (let i = 0; i < 200 && Buffer.concat(received).toString() !== 'six\n'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(Buffer.concat(received).toString()).toBe('six\n');
    } finally {
      await device.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
