// The /ui/ static route on its own: security headers on every answer, index.html for screen
// paths, immutable caching for hashed assets only, 404 for missing assets, a clear answer when
// the UI was not built, and nothing read outside the build folder.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUiFiles, registerUiRoute, UI_CONTENT_SECURITY_POLICY } from './ui-route.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-ui-route-'));
  const build = join(dir, 'ui');
  mkdirSync(join(build, 'assets'), { recursive: true });
  writeFileSync(join(build, 'index.html'), '<!doctype html><title>Coffer</title>');
  writeFileSync(join(build, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(build, 'favicon.svg'), '<svg/>');
  writeFileSync(join(build, 'notes.unknown'), 'not served');
  writeFileSync(join(dir, 'secret.txt'), 'outside the build');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function app(uiDir: string) {
  const instance = Fastify();
  // Like the real app: every answer is no-store unless the UI route says otherwise.
  instance.addHook('onSend', (_req, reply, payload, done) => {
    void reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  registerUiRoute(instance, { dir: uiDir });
  return instance;
}

describe('the /ui/ route', () => {
  it('serves index.html with the CSP and companion headers, never cached', async () => {
    const res = await app(join(dir, 'ui')).inject({ method: 'GET', url: '/ui/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
    expect(UI_CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(UI_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(UI_CONTENT_SECURITY_POLICY).not.toContain('unsafe');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers every screen path with the app, and hashed assets as immutable', async () => {
    const ui = app(join(dir, 'ui'));
    for (const url of ['/ui/secrets', '/ui/policies/default?line=3', '/ui/share']) {
      const res = await ui.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('<title>Coffer</title>');
    }
    const asset = await ui.inject({ method: 'GET', url: '/ui/assets/index-abc123.js' });
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['x-coffer-ui-cache']).toBeUndefined();
    const icon = await ui.inject({ method: 'GET', url: '/ui/favicon.svg' });
    expect(icon.headers['cache-control']).toBe('no-store');
    const head = await ui.inject({ method: 'HEAD', url: '/ui/assets/index-abc123.js' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
  });

  it('404s missing assets and files of unknown types, and never leaves the build folder', async () => {
    const ui = app(join(dir, 'ui'));
    for (const url of [
      '/ui/assets/missing.js',
      '/ui/notes.unknown',
      '/ui/../secret.txt',
      '/ui/%2e%2e/secret.txt',
      '/ui/assets/%2e%2e/%2e%2e/secret.txt',
    ]) {
      const res = await ui.inject({ method: 'GET', url });
      expect(res.body, url).not.toContain('outside the build');
      if (url.endsWith('.js') || url.endsWith('.unknown')) {
        expect(res.statusCode, url).toBe(404);
        expect(res.headers['content-security-policy'], url).toBe(UI_CONTENT_SECURITY_POLICY);
      }
    }
    expect([...(loadUiFiles(join(dir, 'ui'))?.keys() ?? [])].sort()).toEqual([
      'assets/index-abc123.js',
      'favicon.svg',
      'index.html',
    ]);
  });

  it('redirects /ui to /ui/ and says so plainly when the UI was not built', async () => {
    const ui = app(join(dir, 'nothing-here'));
    const redirect = await ui.inject({ method: 'GET', url: '/ui' });
    expect(redirect.statusCode).toBe(308);
    expect(redirect.headers.location).toBe('/ui/');
    const missing = await ui.inject({ method: 'GET', url: '/ui/' });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toContain('npm run build');
  });
});
