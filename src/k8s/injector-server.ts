// The webhook's HTTPS server: `POST /mutate` (AdmissionReview v1), `GET /healthz`. Bodies are
// capped and every request is bounded in time, so a caller that is not the API server costs
// little; the certificate files are re-read when they change (cert-manager rotates them).
import { readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionFormatError, reviewAdmission } from './admission.js';
import type { InjectorSettings } from './injector.js';

/** AdmissionReviews of pods are rarely above 100 KiB; the API server caps objects at 3 MiB. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;
const CERT_CHECK_MS = 30_000;

export interface InjectorServerOptions {
  readonly settings: InjectorSettings;
  readonly host: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** One line per event; never a pod's content. */
  readonly log: (line: string) => void;
}

export interface RunningInjector {
  /** e.g. "https://127.0.0.1:8443". */
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_BODY_BYTES) {
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: InjectorServerOptions,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://injector');
  if (url.pathname === '/healthz' && req.method === 'GET') {
    send(res, 200, { ok: true });
    return;
  }
  if (url.pathname !== '/mutate') {
    send(res, 404, { error: 'not found: the injector serves POST /mutate and GET /healthz' });
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, { error: 'method not allowed: use POST /mutate' });
    return;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    send(res, 415, { error: 'content-type must be application/json' });
    return;
  }
  const body = await readBody(req);
  if (body === undefined) {
    send(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    send(res, 400, { error: 'the body is not valid JSON' });
    return;
  }
  try {
    const review = reviewAdmission(parsed, options.settings);
    const r = review.response;
    options.log(
      `admission ${r.uid}: ${r.allowed ? (r.patch === undefined ? 'allowed unchanged' : 'injected') : `refused: ${r.status?.message ?? ''}`}`,
    );
    send(res, 200, review);
  } catch (error) {
    if (error instanceof AdmissionFormatError) {
      send(res, 400, { error: error.message });
      return;
    }
    throw error;
  }
}

export async function startInjectorServer(
  options: InjectorServerOptions,
): Promise<RunningInjector> {
  const load = () => ({ cert: readFileSync(options.certFile), key: readFileSync(options.keyFile) });
  const stamp = () => {
    try {
      return `${statSync(options.certFile).mtimeMs}:${statSync(options.keyFile).mtimeMs}`;
    } catch {
      return '';
    }
  };
  let lastStamp = stamp();
  const server = https.createServer(
    { ...load(), minVersion: 'TLSv1.2', requestTimeout: REQUEST_TIMEOUT_MS },
    (req, res) => {
      handle(req, res, options).catch(() => {
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    },
  );
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  const certTimer = setInterval(() => {
    const now = stamp();
    if (now === '' || now === lastStamp) return;
    try {
      server.setSecureContext(load());
      lastStamp = now;
      options.log('reloaded the TLS certificate');
    } catch {
      options.log('cannot reload the TLS certificate; keeping the current one');
    }
  }, CERT_CHECK_MS);
  certTimer.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `https://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(certTimer);
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
