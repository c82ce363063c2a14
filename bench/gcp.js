// Bench: Google AccessSecretVersion per second over gRPC and over REST (the Google door's own
// ports) against a KV v2 read of the same value through the Vault door: same server, same run,
// the same closed-loop client for all three (C concurrent callers for D ms, rounds alternated).
import { createRequire } from 'node:module';
import { startCoffer } from './lib/coffer.js';
import { isMainModule, num, printTable, writeResult } from './lib/report.js';

export const DEFAULTS = { connections: 16, rounds: 3, durationMs: 2_000, warmupMs: 500 };
const VALUE = 'v'.repeat(100);
const NAME = 'projects/bench/secrets/bench/versions/latest';

async function closedLoop(call, connections, durationMs) {
  const until = Date.now() + durationMs;
  let done = 0;
  const worker = async () => {
    while (Date.now() < until) {
      await call();
      done++;
    }
  };
  const start = Date.now();
  await Promise.all(Array.from({ length: connections }, worker));
  return (done * 1000) / (Date.now() - start);
}

export async function runGcpBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const server = await startCoffer({ storage: 'inmem', gcp: true });
  const require = createRequire(import.meta.url);
  const grpc = require('@grpc/grpc-js');
  const loader = require('@grpc/proto-loader');
  try {
    const token = server.rootToken;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const post = (url, body) =>
      fetch(url, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    const gcp = server.gcp;
    if (
      !(
        await post(`${gcp.restUrl}/v1/projects/bench/secrets?secretId=bench`, {
          replication: { automatic: {} },
        })
      ).ok
    ) {
      throw new Error('CreateSecret failed');
    }
    await post(`${gcp.restUrl}/v1/projects/bench/secrets/bench:addVersion`, {
      payload: { data: Buffer.from(VALUE).toString('base64') },
    });
    await fetch(`${server.url}/v1/secret/data/bench`, {
      method: 'POST',
      headers: { 'x-vault-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { value: VALUE } }),
    });
    const definition = loader.fromJSON(
      require('@google-cloud/secret-manager/build/protos/protos.json'),
      { keepCase: false, longs: String, enums: String, bytes: String, defaults: false },
    );
    const Service =
      grpc.loadPackageDefinition(definition).google.cloud.secretmanager.v1.SecretManagerService;
    const client = new Service(gcp.grpcAddress, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const check = (ok, what) => {
      if (!ok) throw new Error(`${what} failed`);
    };
    const variants = [
      {
        name: 'KV v2 read, Vault door',
        call: async () => {
          const res = await fetch(`${server.url}/v1/secret/data/bench`, {
            headers: { 'x-vault-token': token },
          });
          check(res.ok, 'KV read');
          await res.arrayBuffer();
        },
      },
      {
        name: 'AccessSecretVersion, REST',
        call: async () => {
          const res = await fetch(`${gcp.restUrl}/v1/${NAME}:access`, { headers: auth });
          check(res.ok, 'REST access');
          await res.arrayBuffer();
        },
      },
      {
        name: 'AccessSecretVersion, gRPC',
        call: () =>
          new Promise((resolve, reject) => {
            client.AccessSecretVersion({ name: NAME }, metadata, (err) =>
              err ? reject(err) : resolve(),
            );
          }),
      },
    ];
    const perRound = variants.map(() => []);
    for (const v of variants) await closedLoop(v.call, settings.connections, settings.warmupMs);
    for (let r = 0; r < settings.rounds; r++) {
      for (const [i, v] of variants.entries()) {
        perRound[i].push(await closedLoop(v.call, settings.connections, settings.durationMs));
      }
    }
    client.close();
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const rows = variants.map((v, i) => ({
      name: v.name,
      perSecond: median(perRound[i]),
      ratios: perRound[i].map((x, r) => x / perRound[0][r]),
    }));
    printTable(
      `AccessSecretVersion vs KV v2 read, same server (${settings.connections} callers, ${settings.rounds} rounds x ${settings.durationMs / 1000} s)`,
      [
        ['variant', 'l'],
        ['requests/s', 'r'],
        ['ratio to KV (min-max)', 'r'],
      ],
      rows.map((r) => [
        r.name,
        num(r.perSecond),
        `${num(Math.min(...r.ratios), 2)}-${num(Math.max(...r.ratios), 2)}`,
      ]),
    );
    const result = { settings, rows };
    writeResult('gcp', result);
    return result;
  } finally {
    await server.close();
  }
}

if (isMainModule(import.meta.url)) await runGcpBench();
