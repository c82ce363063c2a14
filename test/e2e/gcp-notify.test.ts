// End to end: changes made with @google-cloud/secret-manager (the real Node client, REST
// fallback) against a Coffer dev server reach the topic's webhook as signed Pub/Sub push
// messages, in Google's event types, with the resource's metadata and no payload.
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  startServer,
  type ServerProcess,
  type TempDir,
} from '../helpers/server-process.js';

const ROOT = 'gcp-notify-root';
const CANARY = 'canary-gcp-notify-e2e-Tk3Wp9';
const PROJECT = 'notify-proj';
const HMAC_KEY = randomBytes(24).toString('hex');

interface Push {
  readonly signature: string | undefined;
  readonly timestamp: string | undefined;
  readonly body: string;
}

describe('Google notifications from the real Node client', () => {
  let server: ServerProcess;
  let dir: TempDir;
  let hook: Server;
  let restPort: number;
  const pushes: Push[] = [];
  const previousCredentials = process.env['GOOGLE_APPLICATION_CREDENTIALS'];
  const vault = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${server.url}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: res.status === 204 ? {} : ((await res.json()) as any) }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    dir = createTempDir('coffer-gcp-notify-');
    hook = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        pushes.push({
          signature: req.headers['x-coffer-signature'] as string | undefined,
          timestamp: req.headers['x-coffer-timestamp'] as string | undefined,
          body,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    server = await startServer({ dev: { rootTokenId: ROOT } });
    restPort = Number(
      /Google Secret Manager \(REST\): http:\/\/127\.0\.0\.1:(\d+)/.exec(server.stdout())![1],
    );
    const { port } = hook.address() as AddressInfo;
    expect(
      (
        await vault('PUT', `gcp/topics/${PROJECT}/changes`, {
          url: `http://127.0.0.1:${port}/push`,
          hmac_key: HMAC_KEY,
          retries: 1,
        })
      ).status,
    ).toBe(204);
    await vault('PUT', 'sys/policies/acl/gcp-all', {
      policy:
        'path "gcp/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }',
    });
    const minted = await vault('POST', 'sys/door-credentials/gcp', {
      policies: ['gcp-all'],
      display_name: 'notifier',
      project_id: PROJECT,
    });
    expect(minted.status).toBe(200);
    const keyPath = dir.file('sa.json');
    writeFileSync(keyPath, JSON.stringify(minted.json.data.key_file));
    process.env['GOOGLE_APPLICATION_CREDENTIALS'] = keyPath;
  }, 30_000);

  afterAll(async () => {
    if (previousCredentials === undefined) delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
    else process.env['GOOGLE_APPLICATION_CREDENTIALS'] = previousCredentials;
    await server?.stop();
    await new Promise<void>((resolve) => {
      if (hook === undefined) resolve();
      else
        hook.close(() => {
          resolve();
        });
    });
    dir?.remove();
  });

  it('create, add-version and destroy arrive signed, as metadata only', async () => {
    const sm = new SecretManagerServiceClient({
      fallback: true,
      apiEndpoint: '127.0.0.1',
      port: restPort,
      protocol: 'http',
    });
    try {
      const [secret] = await sm.createSecret({
        parent: `projects/${PROJECT}`,
        secretId: 'watched',
        secret: {
          replication: { automatic: {} },
          topics: [{ name: `projects/${PROJECT}/topics/changes` }],
        },
      });
      const [version] = await sm.addSecretVersion({
        parent: secret.name!,
        payload: { data: Buffer.from(CANARY) },
      });
      await sm.destroySecretVersion({ name: version.name! });
    } finally {
      await sm.close();
    }
    const types = () =>
      pushes.map(
        (p) =>
          (JSON.parse(p.body) as { message: { attributes: { eventType: string } } }).message
            .attributes.eventType,
      );
    const deadline = Date.now() + 10_000;
    while (types().length < 4 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(types().sort()).toEqual([
      'SECRET_CREATE',
      'SECRET_VERSION_ADD',
      'SECRET_VERSION_DESTROY',
      'TOPIC_CONFIGURED',
    ]);
    for (const p of pushes) {
      const mac = createHmac('sha256', HMAC_KEY).update(`${p.timestamp!}.${p.body}`);
      expect(p.signature).toBe(`sha256=${mac.digest('hex')}`);
      expect(Math.abs(Number(p.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    }
    const add = pushes
      .map(
        (p) =>
          JSON.parse(p.body) as { message: { attributes: Record<string, string>; data: string } },
      )
      .find((m) => m.message.attributes['eventType'] === 'SECRET_VERSION_ADD')!;
    expect(add.message.attributes).toMatchObject({
      secretId: `projects/${PROJECT}/secrets/watched`,
      versionId: `projects/${PROJECT}/secrets/watched/versions/1`,
      dataFormat: 'JSON_API_V1',
    });
    expect(JSON.parse(Buffer.from(add.message.data, 'base64').toString())).toMatchObject({
      name: `projects/${PROJECT}/secrets/watched/versions/1`,
      state: 'ENABLED',
    });
    const all = pushes
      .map((p) => {
        const data = (JSON.parse(p.body) as { message: { data?: string } }).message.data;
        return `${p.body}\n${data === undefined ? '' : Buffer.from(data, 'base64').toString()}`;
      })
      .join('\n');
    expect(all).not.toContain(CANARY);
    expect(all).not.toContain(Buffer.from(CANARY).toString('base64'));
    expect(server.stdout() + server.stderr()).not.toContain(CANARY);
  });
});
