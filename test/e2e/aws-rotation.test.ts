// Rotation end to end: RotateSecret runs AWS's four steps through a webhook rotation function
// (a loopback HTTP server in this test running a Lambda-style alternating-users handler, like
// AWS's PostgreSQL template, against real PostgreSQL) while a reader loops on GetSecretValue +
// connect: no failed connection across 20 rotations, exactly one AWSCURRENT after each, and
// every webhook call carries a valid HMAC signature.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeSecretCommand,
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireService, TEST_PG_URL } from '../helpers/services.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const postgres = await requireService('PostgreSQL', TEST_PG_URL);
const ROOT = 'aws-rot-root';
const KEY = { id: 'AKIDE2EROT', secret: 'rotation-e2e-secret-key-012345' };
const HMAC_KEY = randomBytes(24).toString('hex');
const PREFIX = `awsrot_${process.pid}`;
const USERS = [`${PREFIX}_a`, `${PREFIX}_b`];

interface DbSecret {
  username: string;
  password: string;
  host: string;
  port: number;
  dbname: string;
}

describe.skipIf(!postgres.available)('rotation on PostgreSQL through a webhook', () => {
  let server: ServerProcess;
  let sm: SecretsManagerClient;
  let hook: Server;
  let admin: pg.Client;
  const endpoint = new URL(TEST_PG_URL);
  const steps: string[] = [];
  let badSignatures = 0;

  /** AWS's alternating-users template, step by step (idempotent, like a Lambda must be). */
  async function handle(event: { SecretId: string; ClientRequestToken: string; Step: string }) {
    const { SecretId, ClientRequestToken: token, Step } = event;
    steps.push(Step);
    const meta = await sm.send(new DescribeSecretCommand({ SecretId }));
    const stages = meta.VersionIdsToStages?.[token] ?? [];
    if (!stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT')) {
      throw new Error('token is not pending');
    }
    if (Step === 'createSecret') {
      try {
        await sm.send(
          new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }),
        );
        return; // already created (a retried step)
      } catch {
        // create it
      }
      const current = JSON.parse(
        (await sm.send(new GetSecretValueCommand({ SecretId }))).SecretString!,
      ) as DbSecret;
      const next: DbSecret = {
        ...current,
        username: current.username === USERS[0] ? USERS[1]! : USERS[0]!,
        password: randomBytes(18).toString('base64url'),
      };
      await sm.send(
        new PutSecretValueCommand({
          SecretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify(next),
          VersionStages: ['AWSPENDING'],
        }),
      );
    } else if (Step === 'setSecret') {
      const pending = JSON.parse(
        (
          await sm.send(
            new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }),
          )
        ).SecretString!,
      ) as DbSecret;
      await admin.query(`ALTER ROLE "${pending.username}" WITH PASSWORD '${pending.password}'`);
    } else if (Step === 'testSecret') {
      const pending = JSON.parse(
        (
          await sm.send(
            new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }),
          )
        ).SecretString!,
      ) as DbSecret;
      const c = new pg.Client({ ...pending, user: pending.username, database: pending.dbname });
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
    } else if (Step === 'finishSecret') {
      const current = Object.entries(meta.VersionIdsToStages ?? {}).find(([, s]) =>
        s.includes('AWSCURRENT'),
      )?.[0];
      if (current === token) return;
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: current!,
        }),
      );
    }
  }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    for (const user of USERS) {
      await admin.query(`DROP ROLE IF EXISTS "${user}"`);
      await admin.query(`CREATE ROLE "${user}" LOGIN PASSWORD 'initial'`);
    }
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const ts = String(req.headers['x-coffer-timestamp']);
        const expected = `sha256=${createHmac('sha256', HMAC_KEY).update(`${ts}.${body}`).digest('hex')}`;
        if (req.headers['x-coffer-signature'] !== expected) {
          badSignatures++;
          res.writeHead(401).end();
          return;
        }
        handle(
          JSON.parse(body) as { SecretId: string; ClientRequestToken: string; Step: string },
        ).then(
          () => res.writeHead(200).end('{}'),
          () => res.writeHead(500).end('{}'),
        );
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    server = await startServer({ dev: { rootTokenId: ROOT, awsKey: KEY } });
    sm = new SecretsManagerClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: KEY.id, secretAccessKey: KEY.secret },
    });
    const res = await fetch(`${server.url}/v1/aws/rotation-functions/pg-alternating`, {
      method: 'POST',
      headers: { 'x-vault-token': ROOT, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'webhook',
        url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`,
        hmac_key: HMAC_KEY,
        timeout_ms: 10_000,
        retries: 1,
      }),
    });
    expect(res.status).toBe(204);
  }, 30_000);

  afterAll(async () => {
    sm?.destroy();
    await server?.stop();
    await new Promise((resolve) => hook?.close(resolve));
    for (const user of USERS) await admin?.query(`DROP ROLE IF EXISTS "${user}"`);
    await admin?.end();
  });

  it('rotates 20 times while a reader connects with AWSCURRENT, with no failed connection', async () => {
    const initial: DbSecret = {
      username: USERS[0]!,
      password: 'initial',
      host: endpoint.hostname,
      port: Number(endpoint.port || 5432),
      dbname: endpoint.pathname.slice(1) || 'test',
    };
    await sm.send(
      new CreateSecretCommand({ Name: 'db/app', SecretString: JSON.stringify(initial) }),
    );
    let reading = true;
    let connections = 0;
    let failures = 0;
    const reader = (async () => {
      while (reading && connections < 100_000) {
        try {
          const s = JSON.parse(
            (await sm.send(new GetSecretValueCommand({ SecretId: 'db/app' }))).SecretString!,
          ) as DbSecret;
          const c = new pg.Client({
            host: s.host,
            port: s.port,
            user: s.username,
            password: s.password,
            database: s.dbname,
          });
          await c.connect();
          await c.query('SELECT 1');
          await c.end();
          connections++;
        } catch {
          failures++;
        }
      }
    })();
    const ROTATIONS = 20;
    for (let i = 0; i < ROTATIONS; i++) {
      const { VersionId } = await sm.send(
        new RotateSecretCommand({
          SecretId: 'db/app',
          RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:pg-alternating',
        }),
      );
      // Asynchronous as in AWS: wait (bounded) until the new version is current.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const d = await sm.send(new DescribeSecretCommand({ SecretId: 'db/app' }));
        const stages = d.VersionIdsToStages ?? {};
        if (
          (stages[VersionId!] ?? []).includes('AWSCURRENT') &&
          !Object.values(stages).flat().includes('AWSPENDING')
        ) {
          expect(
            Object.values(stages)
              .flat()
              .filter((s) => s === 'AWSCURRENT'),
          ).toHaveLength(1);
          break;
        }
        if (Date.now() > deadline) throw new Error(`rotation ${i} did not finish`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    reading = false;
    await reader;
    console.info(
      `[aws rotation] ${ROTATIONS} rotations, ${connections} reader connections, ${failures} failed`,
    );
    expect(failures).toBe(0);
    expect(connections).toBeGreaterThan(0);
    expect(badSignatures).toBe(0);
    expect(steps.filter((s) => s === 'finishSecret').length).toBeGreaterThanOrEqual(ROTATIONS);
    const last = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId: 'db/app' }))).SecretString!,
    ) as DbSecret;
    expect(USERS).toContain(last.username);
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'db/app' }));
    expect(described.RotationEnabled).toBe(true);
    expect(described.LastRotatedDate).toBeInstanceOf(Date);
  }, 240_000);
});
