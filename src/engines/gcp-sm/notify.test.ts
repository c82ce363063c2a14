// Google notifications delivered by Coffer, over a real server and a loopback webhook receiver:
// a secret with a topic and a rotation schedule produces SECRET_ROTATE at the topic's webhook
// (Pub/Sub push shape, valid HMAC), at the attached rotation function and on the change-event
// stream; a token that may not read the secret sees none of its events; no payload value is in
// any delivered message.
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createUnsealedStack, type Stack } from '../../../test/helpers/stack.js';

const CANARY = 'canary-gcp-notify-Qz7Lm2Vx';
const HMAC_KEY = randomBytes(24).toString('hex');
const P = 'projects/proj';

interface Received {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(status = 204): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received };
}

function stream(port: number, token: string): { text: () => string } {
  let text = '';
  const req = request(
    {
      host: '127.0.0.1',
      port,
      path: '/v1/sys/events/stream?prefix=gcp/',
      headers: { 'x-vault-token': token },
    },
    (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
    },
  );
  req.on('error', () => undefined);
  req.end();
  cleanups.push(() => {
    req.destroy();
    return Promise.resolve();
  });
  return { text: () => text };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function frames(text: string): Record<string, unknown>[] {
  return text
    .split('\n\n')
    .filter((f) => f.startsWith('event: change'))
    .map((f) => JSON.parse(f.split('data: ')[1]!) as Record<string, unknown>);
}

describe('gcp-sm notifications', () => {
  it('delivers SECRET_ROTATE to the topic webhook, the rotation function and the stream', async () => {
    let offset = 0;
    const stack: Stack & { rootToken: string } = await createUnsealedStack({
      now: () => Date.now() + offset,
    });
    cleanups.push(async () => {
      await stack.core.sealForShutdown();
      await stack.app.close();
    });
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = stack.app.server.address() as AddressInfo;
    const call = async (method: 'POST' | 'PUT', url: string, payload: object) => {
      const res = await stack.app.inject({
        method,
        url,
        payload,
        headers: { 'x-vault-token': stack.rootToken },
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
      return res.body === '' ? {} : (JSON.parse(res.body) as Record<string, unknown>);
    };
    const hook = await receiver();
    await call('POST', '/v1/sys/mounts/gcp', { type: 'gcp-sm' });
    await call('PUT', '/v1/gcp/topics/proj/rot', {
      url: `${hook.url}/topic`,
      hmac_key: HMAC_KEY,
      retries: 0,
      timeout_ms: 5_000,
    });
    await call('PUT', '/v1/gcp/rotation-functions/rotator', {
      type: 'webhook',
      url: `${hook.url}/rotate`,
      hmac_key: HMAC_KEY,
      retries: 0,
    });
    const read = await stack.app.inject({
      method: 'GET',
      url: '/v1/gcp/topics/proj/rot',
      headers: { 'x-vault-token': stack.rootToken },
    });
    expect(read.body).not.toContain(HMAC_KEY);

    const tokenFor = async (name: string, path: string) => {
      await call('PUT', `/v1/sys/policies/acl/${name}`, {
        policy: `path "${path}" { capabilities = ["read"] }`,
      });
      const created = await call('POST', '/v1/auth/token/create', { policies: [name] });
      return (created['auth'] as { client_token: string }).client_token;
    };
    const reader = stream(port, await tokenFor('db-reader', `gcp/${P}/secrets/db`));
    const outsider = stream(port, await tokenFor('other-reader', `gcp/${P}/secrets/other`));
    await until(() => reader.text().includes('event: ready'));
    await until(() => outsider.text().includes('event: ready'));

    const start = Date.now();
    await call('POST', `/v1/gcp/${P}/secrets/db`, {
      secret: {
        replication: { automatic: {} },
        topics: [{ name: `${P}/topics/rot` }],
        rotation: {
          nextRotationTime: new Date(start + 301_000).toISOString(),
          rotationPeriod: '3600s',
        },
        annotations: { 'coffer.rotation-function': 'rotator' },
      },
    });
    await call('POST', `/v1/gcp/${P}/secrets/other`, {
      secret: { replication: { automatic: {} } },
    });
    // A command function (argv, no shell of Coffer's: sh is the program here) on a secret
    // whose only topic has no webhook registered.
    const out = join(tmpdir(), `coffer-gcp-rotate-${process.pid}-${Date.now()}.json`);
    cleanups.push(() => rm(out, { force: true }));
    await call('PUT', '/v1/gcp/rotation-functions/cmdfn', {
      type: 'command',
      command: ['/bin/sh', '-c', `cat > ${out}`],
    });
    await call('POST', `/v1/gcp/${P}/secrets/cmd`, {
      secret: {
        replication: { automatic: {} },
        topics: [{ name: `${P}/topics/unbound` }],
        rotation: { nextRotationTime: new Date(start + 301_000).toISOString() },
        annotations: { 'coffer.rotation-function': 'cmdfn' },
      },
    });
    // The rotation comes due; the next change to the secret re-arms its job, which runs at once.
    offset = 400_000;
    await call('POST', `/v1/gcp/${P}/secrets/db/add-version`, {
      payload: { data: Buffer.from(CANARY).toString('base64') },
    });
    await call('POST', `/v1/gcp/${P}/secrets/cmd/add-version`, {
      payload: { data: Buffer.from(CANARY).toString('base64') },
    });

    const rotations = () =>
      hook.received.filter((r) => r.body.includes('"eventType":"SECRET_ROTATE"'));
    await until(() => rotations().length === 2);
    await until(() => frames(reader.text()).some((f) => f['eventType'] === 'SECRET_ROTATE'));

    // The topic's webhook: a Pub/Sub push message, signed with the topic's key (Pub/Sub
    // does not order messages, nor does Coffer).
    const topicCalls = hook.received.filter((r) => r.path === '/topic');
    expect(
      topicCalls.map((r) => JSON.parse(r.body).message.attributes.eventType as string).sort(),
    ).toEqual(['SECRET_CREATE', 'SECRET_ROTATE', 'SECRET_VERSION_ADD', 'TOPIC_CONFIGURED']);
    for (const r of hook.received) {
      const ts = r.headers['x-coffer-timestamp'] as string;
      const expected = `sha256=${createHmac('sha256', HMAC_KEY).update(`${ts}.${r.body}`).digest('hex')}`;
      expect(r.headers['x-coffer-signature']).toBe(expected);
    }
    const rotate = JSON.parse(rotations().find((r) => r.path === '/topic')!.body);
    expect(rotate).toMatchObject({
      message: {
        attributes: {
          eventType: 'SECRET_ROTATE',
          secretId: `${P}/secrets/db`,
          dataFormat: 'JSON_API_V1',
        },
      },
      subscription: `${P}/subscriptions/coffer-rot`,
    });
    const resource = JSON.parse(Buffer.from(rotate.message.data, 'base64').toString());
    expect(resource).toMatchObject({
      name: `${P}/secrets/db`,
      topics: [{ name: `${P}/topics/rot` }],
    });
    expect(Date.parse(resource.rotation.nextRotationTime)).toBe(start + 301_000 + 3_600_000);
    expect(rotations().some((r) => r.path === '/rotate')).toBe(true);
    await until(() => existsSync(out) && readFileSync(out, 'utf8').endsWith('}'));
    const ran = readFileSync(out, 'utf8');
    expect(JSON.parse(ran)).toMatchObject({
      message: { attributes: { eventType: 'SECRET_ROTATE', secretId: `${P}/secrets/cmd` } },
    });
    expect(ran).not.toContain(Buffer.from(CANARY).toString('base64'));
    // Without a period the schedule ends after the one rotation.
    const cmd = await stack.app.inject({
      method: 'GET',
      url: `/v1/gcp/${P}/secrets/cmd`,
      headers: { 'x-vault-token': stack.rootToken },
    });
    expect(cmd.statusCode).toBe(200);
    expect(cmd.body).toContain(`${P}/secrets/cmd`);
    expect(cmd.body).not.toContain('nextRotationTime');

    // The stream: Google's event types for the secret the token may read, and nothing else.
    const seen = frames(reader.text()).filter((f) => f['eventType'] !== undefined);
    expect(seen.map((f) => f['eventType'])).toEqual([
      'SECRET_CREATE',
      'SECRET_VERSION_ADD',
      'SECRET_ROTATE',
    ]);
    expect(seen[2]).toMatchObject({ secretId: `${P}/secrets/db`, mount: 'gcp/' });
    await until(() => frames(outsider.text()).some((f) => f['eventType'] === 'SECRET_CREATE'));
    expect(outsider.text()).not.toContain('secrets/db');

    // No payload value anywhere: raw, base64, or in the decoded message data.
    const everything = [
      reader.text(),
      outsider.text(),
      ...hook.received.map((r) => r.body),
      ...hook.received.map((r) => {
        const data = (JSON.parse(r.body) as { message: { data?: string } }).message.data;
        return data === undefined ? '' : Buffer.from(data, 'base64').toString();
      }),
    ].join('\n');
    expect(everything).not.toContain(CANARY);
    expect(everything).not.toContain(Buffer.from(CANARY).toString('base64'));
  });

  it('logs a failed delivery by topic and status, never the URL, key or payload', async () => {
    const stack = await createUnsealedStack();
    cleanups.push(async () => {
      await stack.core.sealForShutdown();
    });
    const hook = await receiver(500);
    const call = async (url: string, payload: object) => {
      const res = await stack.app.inject({
        method: 'POST',
        url,
        payload,
        headers: { 'x-vault-token': stack.rootToken },
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
    };
    await call('/v1/sys/mounts/gcp', { type: 'gcp-sm' });
    await call('/v1/gcp/topics/proj/down', {
      url: `${hook.url}/down`,
      hmac_key: HMAC_KEY,
      retries: 0,
    });
    await call(`/v1/gcp/${P}/secrets/s`, {
      secret: { replication: { automatic: {} }, topics: [{ name: `${P}/topics/down` }] },
    });
    await call(`/v1/gcp/${P}/secrets/s/add-version`, {
      payload: { data: Buffer.from(CANARY).toString('base64') },
    });
    const failures = () => stack.logs.filter((l) => l.includes('notification delivery failed'));
    await until(() => failures().length === 3);
    expect(failures().join('\n')).toContain(`"target":"${P}/topics/down"`);
    expect(failures().join('\n')).toContain('answered 500');
    const logs = stack.logs.join('\n');
    for (const leak of [hook.url, HMAC_KEY, CANARY, Buffer.from(CANARY).toString('base64')]) {
      expect(logs).not.toContain(leak);
    }
  });

  it('refuses bad registrations with the field named', async () => {
    const stack = await createUnsealedStack();
    cleanups.push(async () => {
      await stack.core.sealForShutdown();
    });
    const put = (url: string, payload: object) =>
      stack.app.inject({
        method: 'PUT',
        url,
        payload,
        headers: { 'x-vault-token': stack.rootToken },
      });
    await put('/v1/sys/mounts/gcp', { type: 'gcp-sm' });
    const cases: [string, object, string][] = [
      ['/v1/gcp/topics/proj', { url: 'http://127.0.0.1:1', hmac_key: HMAC_KEY }, 'path'],
      ['/v1/gcp/topics/proj/t', { url: 'ftp://x', hmac_key: HMAC_KEY }, 'url'],
      ['/v1/gcp/topics/proj/t', { url: 'http://127.0.0.1:1', hmac_key: 'short' }, 'hmac_key'],
      [
        '/v1/gcp/topics/proj/t',
        { url: 'http://127.0.0.1:1', hmac_key: HMAC_KEY, subscription: 'nope' },
        'subscription',
      ],
      ['/v1/gcp/rotation-functions/f', { type: 'builtin', rotator: 'x' }, 'type'],
      ['/v1/gcp/rotation-functions/bad name', { type: 'command', command: ['true'] }, 'name'],
    ];
    for (const [url, payload, field] of cases) {
      const res = await put(url, payload);
      expect(res.statusCode, url).toBe(400);
      expect(res.body).toContain(field);
    }
  });
});
