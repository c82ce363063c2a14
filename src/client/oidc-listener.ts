// The CLI's loopback HTTP listener for the OIDC provider's redirect (Node only; the web UI
// receives the redirect on its own page). Split from auth.ts so that file stays browser-safe.
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OidcCallbackParams } from './auth.js';
import { ClientError } from './errors.js';

/** Where the provider sends the browser back, on the CLI's loopback listener (as Vault's CLI). */
export const OIDC_CALLBACK_PATH = '/oidc/callback';
/** Vault's CLI defaults: it listens on localhost:8250. */
export const OIDC_DEFAULT_LISTEN_ADDRESS = 'localhost';
export const OIDC_DEFAULT_PORT = 8250;
/** How long the CLI waits for the browser to come back (Vault: 2 minutes). */
export const OIDC_CALLBACK_TIMEOUT_MS = 120_000;

/** The loopback HTTP listener the provider redirects the browser to. */
export interface OidcListener {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /**
   * Waits for the first request to OIDC_CALLBACK_PATH, hands its state and code to `exchange`,
   * shows the browser whether that worked, and closes the listener. Rejects when the provider
   * reported an error, when `exchange` fails, or after `timeoutMs`.
   */
  waitForCallback<T>(
    exchange: (params: OidcCallbackParams) => Promise<T>,
    timeoutMs?: number,
  ): Promise<T>;
  /** Stops listening (idempotent). */
  close(): Promise<void>;
}

const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  // The callback URL holds a code: it must not leak to another site through a Referer.
  'Referrer-Policy': 'no-referrer',
  Connection: 'close',
} as const;

function page(title: string, text: string): string {
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><h1>${title}</h1><p>${text}</p></body></html>\n`
  );
}

/** An OAuth error code is a short token ("access_denied"); anything else is not repeated. */
function safeErrorCode(value: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : 'unrecognised error';
}

/**
 * Starts the callback listener on `host`:`port` (port 0 picks a free one). Nothing happens on
 * it until waitForCallback; requests to other paths get a 404.
 */
export async function startOidcListener(options: {
  readonly host: string;
  readonly port: number;
}): Promise<OidcListener> {
  let onCallback: ((params: URLSearchParams, res: ServerResponse) => void) | undefined;
  let handled = false;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://callback.invalid');
    if (req.method !== 'GET' || url.pathname !== OIDC_CALLBACK_PATH) {
      res.writeHead(404, PAGE_HEADERS).end(page('Not found', 'Nothing here.'));
      return;
    }
    if (handled || onCallback === undefined) {
      res
        .writeHead(409, PAGE_HEADERS)
        .end(page('Coffer login', 'This login was already handled or is not expected.'));
      return;
    }
    handled = true;
    onCallback(url.searchParams, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: unknown) => {
    const code = (error as { code?: unknown }).code;
    throw new ClientError(
      `cannot listen for the OIDC callback on ${options.host}:${options.port} ` +
        `(${typeof code === 'string' ? code : 'error'})`,
    );
  });
  const port = (server.address() as AddressInfo).port;

  /** The page being sent; close() lets it finish so the browser sees the outcome. */
  let responding: Promise<void> = Promise.resolve();
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= responding.then(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
          server.closeAllConnections();
        }),
    );
    return closed;
  };

  return {
    port,
    close,
    waitForCallback<T>(
      exchange: (params: OidcCallbackParams) => Promise<T>,
      timeoutMs = OIDC_CALLBACK_TIMEOUT_MS,
    ): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          handled = true;
          reject(new ClientError(`no OIDC callback arrived within ${timeoutMs} ms`));
          void close();
        }, timeoutMs);
        /** Settles, then shows the browser a page and closes once it is sent. */
        const finish = (res: ServerResponse, status: number, body: string, settle: () => void) => {
          clearTimeout(timer);
          responding = new Promise<void>((done) => {
            res.once('close', done);
          });
          res.writeHead(status, PAGE_HEADERS).end(body);
          settle();
          void close();
        };
        onCallback = (params, res) => {
          const error = params.get('error');
          if (error !== null) {
            finish(res, 400, page('Coffer login failed', 'The provider refused the login.'), () => {
              reject(
                new ClientError(`the OIDC provider refused the login (${safeErrorCode(error)})`),
              );
            });
            return;
          }
          const state = params.get('state') ?? '';
          const code = params.get('code') ?? '';
          if (state === '' || code === '') {
            finish(res, 400, page('Coffer login failed', 'The redirect had no code.'), () => {
              reject(new ClientError('the OIDC callback carried no state or code'));
            });
            return;
          }
          exchange({ state, code }).then(
            (value) => {
              finish(
                res,
                200,
                page('Coffer login succeeded', 'You can close this window and return to the CLI.'),
                () => {
                  resolve(value);
                },
              );
            },
            (reason: unknown) => {
              finish(
                res,
                400,
                page('Coffer login failed', 'See the terminal for the reason.'),
                () => {
                  reject(reason instanceof Error ? reason : new ClientError('OIDC login failed'));
                },
              );
            },
          );
        };
      });
    },
  };
}
