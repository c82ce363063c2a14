// Rotation converges after a crash in any step: for each of the four steps, the webhook does
// the step's work and then hangs, the server (SQLite) is SIGKILLed, restarted and unsealed;
// the stored guard job resumes the same step, and the secret ends with exactly one AWSCURRENT
// holding the rotated value and no AWSPENDING. The same with the built-in PostgreSQL
// alternating-users rotator (made to hang by the test/fixtures/hanging-rotator-server.js fixture): the one
// AWSCURRENT logs in, and its password is the one PostgreSQL stores.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramMatches } from '../integration/database-fixtures.js';
import { requireService, skipNote, TEST_PG_URL } from '../helpers/services.js';
import {
  createTempDir,
  killAllServers,
  REPO_ROOT,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { initAndUnseal, unseal } from './vault-http.js';

/** `coffer server` with the aws-sm built-in rotators made to hang once after one step. */
const HANGING_ROTATOR_SERVER = `${REPO_ROOT}test/fixtures/hanging-rotator-server.js`;

const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
const postgres = await requireService('PostgreSQL', TEST_PG_URL);
const HMAC_KEY = 'crash-test-hmac-key-0123456789';

describe('rotation after SIGKILL in each step (SQLite)', () => {
  const dir = createTempDir('coffer-aws-crash-');
  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  for (const crashStep of STEPS) {
    it(`converges after a SIGKILL during ${crashStep}`, async () => {
      const config = sqliteConfig(dir.file(`${crashStep}.db`), { logLevel: 'warn' });
      let server: ServerProcess = await startServer({ configText: config });
      const init = await initAndUnseal(server.url, 1, 1);
      const root = init.root_token;
      const vault = (method: string, path: string, body: object) =>
        fetch(`${server.url}/v1/${path}`, {
          method,
          headers: { 'x-vault-token': root, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await vault('POST', 'sys/mounts/aws', { type: 'aws-sm' })).status).toBe(204);
      const key = (await (
        await vault('POST', 'sys/door-credentials/aws', { policies: ['root'] })
      ).json()) as {
        data: { access_key_id: string; secret_access_key: string };
      };
      const sm = () =>
        new SecretsManagerClient({
          endpoint: server.url,
          region: 'us-east-1',
          credentials: {
            accessKeyId: key.data.access_key_id,
            secretAccessKey: key.data.secret_access_key,
          },
          maxAttempts: 1,
        });
      let crashed = false;
      let hung: ServerResponse | undefined;
      let signalCrash: () => void = () => undefined;
      const atCrash = new Promise<void>((resolve) => (signalCrash = resolve));
      async function step(event: { SecretId: string; ClientRequestToken: string; Step: string }) {
        const client = sm();
        try {
          const { SecretId, ClientRequestToken: token, Step } = event;
          if (Step === 'createSecret') {
            const d = await client.send(new DescribeSecretCommand({ SecretId }));
            const ids = Object.entries(d.VersionIdsToStages ?? {});
            const hasValue = await client
              .send(new GetSecretValueCommand({ SecretId, VersionId: token }))
              .then(
                () => true,
                () => false,
              );
            if (!hasValue && ids.some(([id]) => id === token)) {
              await client.send(
                new PutSecretValueCommand({
                  SecretId,
                  ClientRequestToken: token,
                  SecretString: `rotated-${token}`,
                  VersionStages: ['AWSPENDING'],
                }),
              );
            }
          } else if (Step === 'finishSecret') {
            const d = await client.send(new DescribeSecretCommand({ SecretId }));
            const current = Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) =>
              s.includes('AWSCURRENT'),
            )![0];
            if (current !== token) {
              await client.send(
                new UpdateSecretVersionStageCommand({
                  SecretId,
                  VersionStage: 'AWSCURRENT',
                  MoveToVersionId: token,
                  RemoveFromVersionId: current,
                }),
              );
            }
          }
        } finally {
          client.destroy();
        }
      }
      const hook: Server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString('utf8')));
        req.on('end', () => {
          const event = JSON.parse(body) as {
            SecretId: string;
            ClientRequestToken: string;
            Step: string;
          };
          step(event).then(
            () => {
              if (event.Step === crashStep && !crashed) {
                crashed = true;
                hung = res; // the work is done; the answer never comes
                signalCrash();
                return;
              }
              res.writeHead(200).end('{}');
            },
            () => res.writeHead(500).end('{}'),
          );
        });
      });
      await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
      try {
        expect(
          (
            await vault('POST', 'aws/rotation-functions/crashy', {
              type: 'webhook',
              url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`,
              hmac_key: HMAC_KEY,
              timeout_ms: 1_000,
              retries: 0,
            })
          ).status,
        ).toBe(204);
        let client = sm();
        await client.send(new CreateSecretCommand({ Name: 'crash/db', SecretString: 'original' }));
        const { VersionId } = await client.send(
          new RotateSecretCommand({ SecretId: 'crash/db', RotationLambdaARN: 'crashy' }),
        );
        client.destroy();
        await atCrash;
        expect(await server.stop('SIGKILL')).toBeNull();
        hung?.destroy();
        server = await startServer({ configText: config });
        await unseal(server.url, init.keys.slice(0, 1));
        client = sm();
        const deadline = Date.now() + 40_000;
        let stages: Record<string, string[]> = {};
        for (;;) {
          stages =
            (await client.send(new DescribeSecretCommand({ SecretId: 'crash/db' })))
              .VersionIdsToStages ?? {};
          const all = Object.values(stages).flat();
          if ((stages[VersionId!] ?? []).includes('AWSCURRENT') && !all.includes('AWSPENDING'))
            break;
          if (Date.now() > deadline)
            throw new Error(
              `no convergence after a crash in ${crashStep}: ${JSON.stringify(stages)}`,
            );
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(
          Object.values(stages)
            .flat()
            .filter((s) => s === 'AWSCURRENT'),
        ).toHaveLength(1);
        expect(
          (await client.send(new GetSecretValueCommand({ SecretId: 'crash/db' }))).SecretString,
        ).toBe(`rotated-${VersionId!}`);
        console.info(`[aws rotation crash] ${crashStep}: converged, one AWSCURRENT`);
        client.destroy();
      } finally {
        await new Promise((resolve) => hook.close(resolve));
        await server.stop();
      }
    }, 90_000);
  }
});

describe.skipIf(!postgres.available)(
  `built-in PostgreSQL rotator after SIGKILL in each step${skipNote(postgres)}`,
  () => {
    const dir = createTempDir('coffer-aws-crash-builtin-');
    const url = new URL(TEST_PG_URL);
    const base = {
      engine: 'postgres',
      host: url.hostname,
      port: Number(url.port || 5432),
      dbname: url.pathname.slice(1) || 'test',
    };
    const prefix = `awscrash_${process.pid}`;
    const roles = STEPS.flatMap((_, i) => [`${prefix}_${i}`, `${prefix}_${i}_clone`]);
    let admin: pg.Client;

    beforeAll(async () => {
      admin = new pg.Client({ connectionString: TEST_PG_URL });
      await admin.connect();
      for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`);
      for (let i = 0; i < STEPS.length; i++) {
        await admin.query(`CREATE ROLE ${prefix}_${i} LOGIN PASSWORD 'initial'`);
      }
    });

    afterAll(async () => {
      await killAllServers();
      dir.remove();
      for (const role of roles) await admin?.query(`DROP ROLE IF EXISTS ${role}`);
      await admin?.end();
    });

    STEPS.forEach((crashStep, i) => {
      it(`converges after a SIGKILL during ${crashStep}`, async () => {
        const config = sqliteConfig(dir.file(`${crashStep}.db`), { logLevel: 'warn' });
        let server: ServerProcess = await startServer({
          configText: config,
          entry: HANGING_ROTATOR_SERVER,
          env: { HANG_AFTER_BUILTIN_STEP: crashStep },
        });
        const init = await initAndUnseal(server.url, 1, 1);
        const vault = (path: string, body: object) =>
          fetch(`${server.url}/v1/${path}`, {
            method: 'POST',
            headers: { 'x-vault-token': init.root_token, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        expect((await vault('sys/mounts/aws', { type: 'aws-sm' })).status).toBe(204);
        // A short step bound, so the guard job resumes the step soon after the restart.
        expect(
          (
            await vault('aws/rotation-functions/pg-alt', {
              type: 'builtin',
              rotator: 'postgresql-alternating-users',
              timeout_ms: 2_000,
            })
          ).status,
        ).toBe(204);
        const key = (await (
          await vault('sys/door-credentials/aws', { policies: ['root'] })
        ).json()) as { data: { access_key_id: string; secret_access_key: string } };
        const sm = () =>
          new SecretsManagerClient({
            endpoint: server.url,
            region: 'us-east-1',
            credentials: {
              accessKeyId: key.data.access_key_id,
              secretAccessKey: key.data.secret_access_key,
            },
            maxAttempts: 1,
          });
        let client = sm();
        await client.send(
          new CreateSecretCommand({
            Name: 'crash/master',
            SecretString: JSON.stringify({
              ...base,
              username: url.username === '' ? 'postgres' : decodeURIComponent(url.username),
              password: decodeURIComponent(url.password),
            }),
          }),
        );
        await client.send(
          new CreateSecretCommand({
            Name: 'crash/app',
            SecretString: JSON.stringify({
              ...base,
              username: `${prefix}_${i}`,
              password: 'initial',
              masterarn: 'crash/master',
            }),
          }),
        );
        const { VersionId } = await client.send(
          new RotateSecretCommand({
            SecretId: 'crash/app',
            RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:pg-alt',
          }),
        );
        client.destroy();
        // The hook logs once the step's work is done and the rotator hangs.
        const hangDeadline = Date.now() + 20_000;
        while (!server.stderr().includes('test fault: built-in rotator hangs')) {
          if (Date.now() > hangDeadline) throw new Error(`no hang in ${crashStep}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(await server.stop('SIGKILL')).toBeNull();
        server = await startServer({ configText: config });
        await unseal(server.url, init.keys.slice(0, 1));
        client = sm();
        try {
          const deadline = Date.now() + 45_000;
          let stages: Record<string, string[]> = {};
          for (;;) {
            stages =
              (await client.send(new DescribeSecretCommand({ SecretId: 'crash/app' })))
                .VersionIdsToStages ?? {};
            const all = Object.values(stages).flat();
            if ((stages[VersionId!] ?? []).includes('AWSCURRENT') && !all.includes('AWSPENDING'))
              break;
            if (Date.now() > deadline)
              throw new Error(
                `no convergence after a crash in ${crashStep}: ${JSON.stringify(stages)}`,
              );
            await new Promise((r) => setTimeout(r, 250));
          }
          expect(
            Object.values(stages)
              .flat()
              .filter((s) => s === 'AWSCURRENT'),
          ).toHaveLength(1);
          const now = JSON.parse(
            (await client.send(new GetSecretValueCommand({ SecretId: 'crash/app' }))).SecretString!,
          ) as { username: string; password: string };
          expect(now.username).toBe(`${prefix}_${i}_clone`);
          const stored = await admin.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
            now.username,
          ]);
          const verifier = (stored.rows[0] as { rolpassword: string }).rolpassword;
          expect(scramMatches(verifier, now.username, now.password)).toBe(true);
          const c = new pg.Client({
            ...base,
            user: now.username,
            password: now.password,
            database: base.dbname,
          });
          await c.connect();
          await c.query('SELECT 1');
          await c.end();
          console.info(
            `[aws rotation crash] built-in ${crashStep}: converged, one AWSCURRENT that logs in`,
          );
        } finally {
          client.destroy();
          await server.stop();
        }
      }, 120_000);
    });
  },
);
