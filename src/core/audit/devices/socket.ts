// The socket audit device: streams batches of lines over one kept-open TCP or unix socket
// connection, reconnecting on demand. A batch the socket has not flushed to the kernel within
// the write timeout fails, and the connection is dropped (a peer that stopped reading must not
// stall every request).
import { createConnection, type Socket } from 'node:net';
import type { SocketDeviceConfig } from '../device-config.js';
import { type AuditDevice, withTimeout } from './device.js';

function connectOptions(config: Pick<SocketDeviceConfig, 'address' | 'socketType'>) {
  if (config.socketType === 'unix') return { path: config.address };
  const colon = config.address.lastIndexOf(':');
  const host = config.address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number.parseInt(config.address.slice(colon + 1), 10) };
}

export class SocketAuditDevice implements AuditDevice {
  readonly #config: Pick<SocketDeviceConfig, 'address' | 'socketType' | 'writeTimeoutMs'>;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #closed = false;

  constructor(config: Pick<SocketDeviceConfig, 'address' | 'socketType' | 'writeTimeoutMs'>) {
    this.#config = config;
  }

  /** Connects now (within the write timeout); rejects with the errno code when it cannot. */
  async open(): Promise<void> {
    this.#closed = false;
    await withTimeout(this.#connected(), this.#config.writeTimeoutMs, () => {
      this.#drop();
    });
  }

  #connected(): Promise<Socket> {
    const current = this.#socket;
    if (current !== undefined && !current.destroyed && !current.connecting) {
      return Promise.resolve(current);
    }
    if (this.#connecting !== undefined) return this.#connecting;
    this.#drop();
    const socket = createConnection(connectOptions(this.#config));
    this.#socket = socket;
    // Whatever the peer sends is ignored; an error just marks the connection dead (a listener
    // must exist, or Node would throw it as an uncaught exception).
    socket.on('data', () => undefined);
    socket.on('error', () => {
      if (this.#socket === socket) this.#socket = undefined;
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
    });
    const connecting = new Promise<Socket>((resolve, reject) => {
      const settle = (error: Error | undefined) => {
        socket.off('connect', onConnect);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (error === undefined) resolve(socket);
        else reject(error);
      };
      const onConnect = () => {
        socket.setNoDelay(true);
        socket.setKeepAlive(true);
        settle(undefined);
      };
      const onError = (error: Error) => {
        settle(error);
      };
      const onClose = () => {
        settle(Object.assign(new Error('audit socket closed'), { code: 'ECONNRESET' }));
      };
      socket.once('connect', onConnect);
      socket.once('error', onError);
      socket.once('close', onClose);
    }).finally(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    this.#connecting = connecting;
    return connecting;
  }

  /** Forgets the current connection; bytes it had not sent are lost with it. */
  #drop(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#connecting = undefined;
    socket?.destroy();
  }

  async write(payload: Buffer): Promise<void> {
    if (this.#closed) throw Object.assign(new Error('audit socket is closed'), { code: 'ECLOSED' });
    const op = (async () => {
      const socket = await this.#connected();
      await new Promise<void>((resolve, reject) => {
        // The callback runs once the bytes are handed to the kernel (or with the error).
        socket.write(payload, (error) => {
          if (error === undefined || error === null) resolve();
          else reject(error);
        });
      });
    })();
    try {
      await withTimeout(op, this.#config.writeTimeoutMs, () => {
        this.#drop();
      });
    } catch (error) {
      // A connection that failed mid-batch may hold half a line: start the next batch afresh.
      this.#drop();
      op.catch(() => undefined);
      throw error;
    }
  }

  async reopen(): Promise<void> {
    this.#drop();
    await this.open();
  }

  close(): Promise<void> {
    this.#closed = true;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined || socket.destroyed) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => {
        socket.end(() => {
          resolve();
        });
      }),
      this.#config.writeTimeoutMs,
    )
      .catch(() => undefined)
      .finally(() => socket.destroy());
  }

  /** A socket cannot be read back; the chain resumes from the persisted state. */
  lastLine(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
}
