// Tests of the shared load generator against throwaway node:http servers on loopback port 0.
// Run with `node --test bench/` (vitest only collects src/ and test/).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { runLoad, runLoadInWorker } from './load.js';

/** @param {import('node:http').RequestListener} handler */
async function serve(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${port}`, server };
}

const SHORT = { connections: 4, warmupMs: 100, durationMs: 400 };

describe('runLoad', () => {
  it('counts only 2xx responses completed in the window and substitutes {i}', async () => {
    const seen = [];
    const bodies = [];
    const { url } = await serve((req, res) => {
      seen.push(req.url);
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
    });
    const started = performance.now();
    const result = await runLoad({
      ...SHORT,
      url,
      method: 'POST',
      path: '/v1/k{i}',
      headers: { 'x-test': 'yes' },
      body: '{"n":"{i}"}',
      firstIndex: 7,
    });
    const elapsed = performance.now() - started;
    assert.equal(result.errors, 0);
    assert.ok(result.requests > 0, 'some requests were measured');
    assert.ok(result.totalOk > result.requests, 'warm-up responses are not measured');
    assert.equal(result.perSecond, result.requests / 0.4);
    assert.ok(result.latencyMs.p50 <= result.latencyMs.p99);
    assert.ok(result.latencyMs.p99 <= result.latencyMs.max);
    assert.ok(elapsed < 500 + 2_000, `bounded by the window (took ${elapsed} ms)`);
    assert.equal(new Set(seen).size, seen.length, 'every request gets its own index');
    assert.ok(seen.includes('/v1/k7'));
    assert.ok(bodies.includes('{"n":"7"}'));
    assert.deepEqual(result.statuses, { 200: seen.length });
  });

  it('reports non-2xx responses as errors, never as throughput', async () => {
    const { url } = await serve((_req, res) => {
      res.statusCode = 500;
      res.end('{"errors":["boom"]}');
    });
    const result = await runLoad({ ...SHORT, url, method: 'GET', path: '/' });
    assert.equal(result.requests, 0);
    assert.ok(result.errors > 0);
    assert.match(result.firstError ?? '', /^HTTP 500: .*boom/);
  });

  it('reconnects when the server closes each connection', async () => {
    const { url } = await serve((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('x');
    });
    const result = await runLoad({ ...SHORT, url, method: 'GET', path: '/' });
    assert.equal(result.errors, 0);
    assert.ok(result.requests > 0);
  });

  it('times out a server that never answers and still ends', async () => {
    const { url } = await serve(() => {});
    const started = performance.now();
    const result = await runLoad({
      ...SHORT,
      connections: 2,
      url,
      method: 'GET',
      path: '/',
      requestTimeoutMs: 200,
    });
    assert.ok(performance.now() - started < 500 + 2_000);
    assert.equal(result.requests, 0);
    assert.ok(result.errors >= 2);
    assert.match(result.firstError ?? '', /no response within 200 ms/);
  });
});

describe('runLoadInWorker', () => {
  it('runs the load in a worker thread and adds the caller thread utilisation', async () => {
    const { url } = await serve((_req, res) => res.end('ok'));
    const result = await runLoadInWorker({ ...SHORT, url, method: 'GET', path: '/' });
    assert.equal(result.errors, 0);
    assert.ok(result.requests > 0);
    assert.ok(result.serverBusy > 0 && result.serverBusy <= 1);
    assert.ok(result.clientBusy > 0 && result.clientBusy <= 1);
  });
});
