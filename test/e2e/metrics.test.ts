// GET /v1/sys/metrics against the real server: the Prometheus text parses with the Prometheus
// project's own parser (Debian's python3-prometheus-client), it carries the promised metrics,
// it needs `read` on sys/metrics unless configured otherwise, and no canary (secret value,
// secret path, token, accessor, password) appears in it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  createTempDir,
  killAllServers,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { isCi } from '../helpers/services.js';
import { initAndUnseal, vaultOk, vaultRequest } from './vault-http.js';

const PYTHON = '/usr/bin/python3';
const PARSER = join(REPO_ROOT, 'test', 'e2e', 'prometheus_parse.py');
const probe = spawnSync(PYTHON, ['-c', 'import prometheus_client.parser'], {
  encoding: 'utf8',
  timeout: 20_000,
});
const parserMissing =
  probe.status === 0
    ? undefined
    : `${PYTHON} cannot import prometheus_client; install the Debian package python3-prometheus-client`;

interface Sample {
  readonly family: string;
  readonly type: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parsePrometheus(text: string): Sample[] {
  const run = spawnSync(PYTHON, [PARSER], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (run.status !== 0) throw new Error(`the Prometheus parser rejected the text:\n${run.stderr}`);
  return JSON.parse(run.stdout) as Sample[];
}

async function scrape(url: string, token?: string, format = 'prometheus'): Promise<Response> {
  return fetch(`${url}/v1/sys/metrics${format === '' ? '' : `?format=${format}`}`, {
    headers: token === undefined ? {} : { 'X-Vault-Token': token },
    signal: AbortSignal.timeout(10_000),
  });
}

function sum(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

// Locally a missing parser skips (with the reason); under CI=true the tests run and fail.
if (parserMissing !== undefined && !isCi()) console.warn(`[metrics e2e] skipped: ${parserMissing}`);
const skipReason = isCi() ? undefined : parserMissing;

describe.skipIf(skipReason !== undefined)('sys/metrics on a dev server', () => {
  const dir = createTempDir('coffer-metrics-');
  const root = `root-${randomBytes(12).toString('hex')}`;
  const canaryValue = `canary-value-${randomBytes(12).toString('hex')}`;
  const canaryPath = `canary-path-${randomBytes(6).toString('hex')}`;
  const canaryPassword = `canary-pw-${randomBytes(12).toString('hex')}`;
  let server: ServerProcess;
  let reader: { token: string; accessor: string };
  let plain: { token: string; accessor: string };
  let login: { token: string; accessor: string };

  beforeAll(async () => {
    server = await startServer({
      dev: { rootTokenId: root, storagePath: dir.file('dev.db') },
    });
    const url = server.url;
    await vaultOk(url, 'POST', `secret/data/app/${canaryPath}`, {
      token: root,
      body: { data: { password: canaryValue } },
    });
    await vaultOk(url, 'GET', `secret/data/app/${canaryPath}`, { token: root });
    await vaultOk(url, 'POST', 'sys/policies/acl/metrics-reader', {
      token: root,
      body: { policy: 'path "sys/metrics" { capabilities = ["read"] }' },
    });
    const create = async (policies: string[]): Promise<{ token: string; accessor: string }> => {
      const res = await vaultOk(url, 'POST', 'auth/token/create', {
        token: root,
        body: { policies, ttl: '30m' },
      });
      const auth = (res.body as { auth: { client_token: string; accessor: string } }).auth;
      return { token: auth.client_token, accessor: auth.accessor };
    };
    reader = await create(['metrics-reader']);
    plain = await create(['default']);
    await vaultOk(url, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' } });
    await vaultOk(url, 'POST', 'auth/userpass/users/alice', {
      token: root,
      body: { password: canaryPassword },
    });
    const res = await vaultOk(url, 'POST', 'auth/userpass/login/alice', {
      body: { password: canaryPassword },
    });
    const auth = (res.body as { auth: { client_token: string; accessor: string } }).auth;
    login = { token: auth.client_token, accessor: auth.accessor };
    // A refused read and an unknown path, so error outcomes are counted too.
    await vaultRequest(url, 'GET', `secret/data/app/${canaryPath}`, { token: plain.token });
    await vaultRequest(url, 'GET', `secret/data/missing-${canaryPath}`, { token: root });
  }, 60_000);

  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  it('refuses a scrape without a token or without read on sys/metrics', async () => {
    expect((await scrape(server.url)).status).toBe(403);
    expect((await scrape(server.url, plain.token)).status).toBe(403);
    expect((await scrape(server.url, reader.token)).status).toBe(200);
  });

  it('rejects an unknown format naming the field', async () => {
    const res = await scrape(server.url, root, 'xml');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('format');
  });

  it('serves Prometheus text that parses and holds the promised metrics', async () => {
    const res = await scrape(server.url, reader.token);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const samples = parsePrometheus(text);
    const kvReads = sum(samples, 'coffer_request_duration_seconds_count', {
      mount: 'secret/',
      mount_type: 'kv',
      operation: 'read',
    });
    expect(kvReads).toBeGreaterThanOrEqual(3);
    expect(
      sum(samples, 'coffer_request_duration_seconds_count', {
        mount: 'secret/',
        outcome: 'permission_denied',
      }),
    ).toBe(1);
    expect(
      sum(samples, 'coffer_request_duration_seconds_count', {
        mount: 'auth/userpass/',
        mount_type: 'userpass',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(sum(samples, 'coffer_core_sealed')).toBe(0);
    expect(sum(samples, 'coffer_core_initialized')).toBe(1);
    // Two tokens with a 30-minute TTL, and the login's token (the default TTL, 32 days).
    expect(sum(samples, 'coffer_leases', { expires_in: '1h' })).toBe(2);
    expect(sum(samples, 'coffer_leases', { expires_in: 'later' })).toBe(1);
    expect(
      sum(samples, 'coffer_storage_commit_duration_seconds_count', { backend: 'sqlite' }),
    ).toBeGreaterThan(0);
    // Declared even before anything happened (labelled counters have no sample until then).
    for (const family of [
      'coffer_audit_refused_total counter',
      'coffer_audit_device_failures_total counter',
      'coffer_rotations_total counter',
      'coffer_scheduled_jobs_total counter',
    ]) {
      expect(text).toContain(`# TYPE ${family}`);
    }
    expect(sum(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sum(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('serves the JSON form without a format', async () => {
    const res = await scrape(server.url, reader.token, '');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown[]>;
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining(['Timestamp', 'Gauges', 'Counters', 'Samples']),
    );
    expect(body.Gauges).toContainEqual(
      expect.objectContaining({ Name: 'coffer_core_sealed', Value: 0 }),
    );
  });

  it('puts no secret, secret path, token, accessor or password in any metric', async () => {
    const texts = [
      await (await scrape(server.url, reader.token)).text(),
      await (await scrape(server.url, reader.token, '')).text(),
    ];
    const canaries = [
      canaryValue,
      canaryPath,
      canaryPassword,
      root,
      reader.token,
      reader.accessor,
      plain.token,
      plain.accessor,
      login.token,
      login.accessor,
      'app/',
    ];
    for (const text of texts) {
      for (const canary of canaries) {
        for (const form of [canary, Buffer.from(canary).toString('base64')]) {
          expect(text.includes(form), `metrics contain ${form}`).toBe(false);
        }
      }
    }
  });
});

describe.skipIf(skipReason !== undefined)('sys/metrics with unauthenticated access', () => {
  const dir = createTempDir('coffer-metrics-open-');
  let server: ServerProcess;
  let peer: Server;
  const peerSockets = new Set<Socket>();

  beforeAll(async () => {
    const config = [
      'storage "sqlite" {',
      `  path = ${JSON.stringify(dir.file('coffer.db'))}`,
      '}',
      'listener "tcp" {',
      '  address = "127.0.0.1:0"',
      '  tls_disable = true',
      '}',
      'telemetry {',
      '  unauthenticated_metrics_access = true',
      '  prometheus_retention_time = "24h"',
      '}',
      '',
    ].join('\n');
    server = await startServer({ configText: config });
    peer = createServer((socket) => {
      peerSockets.add(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  }, 60_000);

  afterAll(async () => {
    for (const socket of peerSockets) socket.destroy();
    peer.close();
    await killAllServers();
    dir.remove();
  });

  it('serves metrics without a token, even while sealed', async () => {
    const res = await scrape(server.url);
    expect(res.status).toBe(200);
    const samples = parsePrometheus(await res.text());
    expect(sum(samples, 'coffer_core_sealed')).toBe(1);
    expect(sum(samples, 'coffer_core_initialized')).toBe(0);
  });

  it('counts audit device failures and the requests refused for them', async () => {
    const init = await initAndUnseal(server.url, 1, 1);
    const address = peer.address();
    if (address === null || typeof address === 'string') throw new Error('no peer address');
    await vaultOk(server.url, 'PUT', 'sys/audit/siem', {
      token: init.root_token,
      body: {
        type: 'socket',
        options: { address: `127.0.0.1:${address.port}`, socket_type: 'tcp' },
      },
    });
    // The audit peer goes away: requests are refused (fail closed) and counted.
    for (const socket of peerSockets) socket.destroy();
    await new Promise<void>((resolve) =>
      peer.close(() => {
        resolve();
      }),
    );
    const refused = await vaultRequest(server.url, 'GET', 'sys/mounts', {
      token: init.root_token,
    });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    const samples = parsePrometheus(await (await scrape(server.url)).text());
    expect(sum(samples, 'coffer_audit_refused_total')).toBeGreaterThanOrEqual(1);
    expect(
      sum(samples, 'coffer_audit_device_failures_total', { device_type: 'socket' }),
    ).toBeGreaterThanOrEqual(1);
    const text = await (await scrape(server.url)).text();
    expect(text.includes(init.root_token)).toBe(false);
  });
});
