// What a connection gets when Node's HTTP parser rejects its request (an unknown method, a
// malformed head, a head too large, a head that took too long). Fastify's default answer has
// no `Connection: close` and then destroys the socket, so an HTTP/1.1 client may take the
// connection as reusable and send its next request into the closing socket, where it fails
// ("other side closed"). This answer says the connection is closing, ends it after the
// answer, and destroys it if the peer does not finish within a second.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { isClaimedParserError } from './list-method.js';

/** Renders an error body in the door's own shape. */
export type ClientErrorBody = (status: number, message: string) => string;

/** Vault's error shape. */
export const vaultClientErrorBody: ClientErrorBody = (_status, message) =>
  JSON.stringify({ errors: [message] });

function classify(code: string): { status: number; message: string } {
  switch (code) {
    case 'HPE_INVALID_METHOD':
      return { status: 405, message: 'unsupported HTTP method' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'request head is too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'request head not received in time' };
    default:
      return { status: 400, message: 'malformed HTTP request' };
  }
}

export function clientErrorHandler(render: ClientErrorBody) {
  return (err: Error & { code?: string }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    // The listener took the connection back to serve a LIST Node's parser refused.
    if (isClaimedParserError(err)) return;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const { status, message } = classify(err.code ?? '');
    const body = render(status, message);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), 1_000).unref();
  };
}
