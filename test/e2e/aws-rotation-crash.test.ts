// Rotation converges after a crash in any step: for each of the four steps, the webhook does
// the step's work and then hangs, the server (SQLite) is SIGKILLed, restarted and unsealed;
// the stored guard job resumes the same step, and the secret ends with exactly one AWSCURRENT
// holding the rotated value and no AWSPENDING.
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
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  killAllServers,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { initAndUnseal, unseal } from './vault-http.js';

const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
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
