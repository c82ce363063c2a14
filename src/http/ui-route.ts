// The web UI's static files at `/ui/`: the Vite build in dist/ui (built by `npm run build`),
// read once into memory on first use, served with a strict content security policy and
// companion headers. Unknown paths under /ui/ get index.html (the app routes them itself);
// nothing here ever touches the core, a token or a secret.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** dist/ui, from both dist/http/ (built) and src/http/ (tests run from source). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

/**
 * SECURITY: only this server's own files run, style and connect; no inline script or style, no
 * framing, no plugins, no forms posting elsewhere, no <base> rewriting, and DOM sinks that take
 * HTML need Trusted Types (the app uses none).
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': UI_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  // The share page's URL fragment never leaves the browser, and no path leaks in a Referer.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

/** Hashed build output: safe to cache for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Bounds on what is read into memory (the build is well under both). */
const MAX_FILES = 500;
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

interface UiFile {
  readonly body: Buffer;
  readonly type: string;
  readonly immutable: boolean;
}

/** Reads every file under `dir` (relative paths with "/"); undefined when there is no build. */
export function loadUiFiles(dir: string): Map<string, UiFile> | undefined {
  let index: Buffer;
  try {
    index = readFileSync(join(dir, 'index.html'));
  } catch {
    return undefined;
  }
  const files = new Map<string, UiFile>();
  let total = index.length;
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.isDirectory()) {
        walk(full);
        continue;
      }
      if (!entry.isFile()) continue;
      const type = TYPES[extname(entry.name).toLowerCase()];
      if (type === undefined) continue;
      total += statSync(full).size;
      if (files.size >= MAX_FILES || total > MAX_TOTAL_BYTES) {
        throw new Error(`the web UI build in ${dir} is larger than expected`);
      }
      const name = relative(dir, full).split(sep).join('/');
      files.set(name, { body: readFileSync(full), type, immutable: name.startsWith('assets/') });
    }
  };
  walk(dir);
  files.set('index.html', { body: index, type: TYPES['.html']!, immutable: false });
  return files;
}

export interface UiRouteOptions {
  /** Where the built UI is; default dist/ui of this package. */
  readonly dir?: string;
}

export function registerUiRoute(app: FastifyInstance, options: UiRouteOptions = {}): void {
  const dir = options.dir ?? DEFAULT_UI_DIR;
  let cache: Map<string, UiFile> | undefined;
  let loaded = false;
  const files = (): Map<string, UiFile> | undefined => {
    if (!loaded) {
      cache = loadUiFiles(dir);
      loaded = true;
    }
    return cache;
  };

  const send = (reply: FastifyReply, status: number, file: UiFile, head: boolean) => {
    void reply.code(status).headers(SECURITY_HEADERS).header('content-type', file.type);
    // Set again in onSend below: the app-wide hook makes every answer no-store.
    if (file.immutable) void reply.header('x-coffer-ui-cache', IMMUTABLE);
    return head ? reply.header('content-length', file.body.length).send() : reply.send(file.body);
  };

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const head = req.method === 'HEAD';
    const url = (req.raw.url ?? '/ui/').split('?')[0]!;
    if (url === '/ui') return reply.code(308).header('location', '/ui/').send();
    const all = files();
    if (all === undefined) {
      const missing = 'The web UI has not been built: run `npm run build`.\n';
      return reply
        .code(404)
        .headers(SECURITY_HEADERS)
        .header('content-type', 'text/plain; charset=utf-8')
        .send(missing);
    }
    let name: string;
    try {
      name = decodeURIComponent(url.slice('/ui/'.length));
    } catch {
      name = '';
    }
    const file = all.get(name);
    if (file !== undefined) return send(reply, 200, file, head);
    // A missing build asset is a 404; any other path is a screen of the app.
    if (name.startsWith('assets/') || extname(name) !== '') {
      return reply
        .code(404)
        .headers(SECURITY_HEADERS)
        .header('content-type', 'text/plain; charset=utf-8')
        .send('Not found.\n');
    }
    return send(reply, 200, all.get('index.html')!, head);
  };

  const onSend = (
    _req: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: (err: null, payload: unknown) => void,
  ) => {
    const cache = reply.getHeader('x-coffer-ui-cache');
    if (typeof cache === 'string') {
      reply.removeHeader('x-coffer-ui-cache');
      void reply.header('cache-control', cache);
    }
    done(null, payload);
  };

  for (const url of ['/ui', '/ui/', '/ui/*']) {
    app.route({ method: ['GET', 'HEAD'], url, handler, onSend, exposeHeadRoute: false });
  }
}
