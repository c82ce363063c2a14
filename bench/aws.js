// Bench: AWS GetSecretValue per second through the AWS door (SigV4 verified on every request)
// against a KV v2 read of the same-sized value through the Vault door, same server, same run;
// and the cost of one SigV4 verification measured on its own.
import { createHash, createHmac } from 'node:crypto';
import { importDist, startCoffer } from './lib/coffer.js';
import { isMainModule, num, printTable, writeResult } from './lib/report.js';
import { ratioText, runRounds } from './lib/rounds.js';

export const DEFAULTS = {
  connections: 32,
  rounds: 3,
  firstWarmupMs: 1_000,
  warmupMs: 500,
  durationMs: 2_000,
  verifications: 20_000,
};

const KEY = { id: 'AKIDBENCH', secret: 'bench-secret-access-key-0123456789' };
const VALUE = 'v'.repeat(100);
const TYPE = 'application/x-amz-json-1.1';

/** A SigV4 signature as every AWS client computes it (the door replays it within 5 minutes). */
function sign(host, target, body, when = new Date()) {
  const amzDate = when
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/us-east-1/secretsmanager/aws4_request`;
  const signed = 'content-type;host;x-amz-date;x-amz-target';
  const hash = createHash('sha256').update(body).digest('hex');
  const canonical = `POST\n/\n\ncontent-type:${TYPE}\nhost:${host}\nx-amz-date:${amzDate}\nx-amz-target:${target}\n\n${signed}\n${hash}`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  let key = createHmac('sha256', `AWS4${KEY.secret}`).update(date).digest();
  for (const part of ['us-east-1', 'secretsmanager', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    'content-type': TYPE,
    'x-amz-date': amzDate,
    'x-amz-target': target,
    authorization: `AWS4-HMAC-SHA256 Credential=${KEY.id}/${scope}, SignedHeaders=${signed}, Signature=${signature}`,
  };
}

export async function runAwsBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const server = await startCoffer({ storage: 'inmem', awsKey: KEY });
  try {
    const host = new URL(server.url).host;
    const create = JSON.stringify({
      Name: 'bench',
      SecretString: VALUE,
      ClientRequestToken: 'b'.repeat(32),
    });
    const created = await fetch(server.url, {
      method: 'POST',
      headers: sign(host, 'secretsmanager.CreateSecret', create),
      body: create,
    });
    if (!created.ok)
      throw new Error(`CreateSecret failed: HTTP ${created.status} ${await created.text()}`);
    const kv = await fetch(`${server.url}/v1/secret/data/bench`, {
      method: 'POST',
      headers: { 'x-vault-token': server.rootToken, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { SecretString: VALUE } }),
    });
    if (!kv.ok) throw new Error(`KV write failed: HTTP ${kv.status}`);
    const get = JSON.stringify({ SecretId: 'bench' });
    const rows = await runRounds({
      bench: 'aws',
      settings,
      variants: [
        {
          name: 'KV v2 read, Vault door, root token',
          request: () => ({
            url: server.url,
            method: 'GET',
            path: '/v1/secret/data/bench',
            headers: { 'x-vault-token': server.rootToken },
          }),
        },
        {
          name: 'GetSecretValue, AWS door, root key (SigV4)',
          // Signed afresh each round: a signature stays valid for 5 minutes.
          request: () => ({
            url: server.url,
            method: 'POST',
            path: '/',
            headers: sign(host, 'secretsmanager.GetSecretValue', get),
            body: get,
          }),
        },
      ],
    });
    // SigV4 verification alone: parse + clock + canonical request + HMAC, per request.
    const { parseAuthorization, checkClock, verifySignature, headerValues } =
      await importDist('http/aws/sigv4.js');
    const headers = sign(host, 'secretsmanager.GetSecretValue', get);
    const raw = ['host', host, ...Object.entries(headers).flat()];
    const body = Buffer.from(get);
    const start = process.hrtime.bigint();
    for (let i = 0; i < settings.verifications; i++) {
      const auth = parseAuthorization(headers.authorization, headers['x-amz-date']);
      checkClock(auth, Date.now());
      verifySignature({
        auth,
        secret: KEY.secret,
        method: 'POST',
        path: '/',
        headers: headerValues(raw),
        body,
      });
    }
    const verifyUs = Number(process.hrtime.bigint() - start) / 1000 / settings.verifications;
    const [kvRow, awsRow] = rows;
    const perRequestUs = 1e6 / awsRow.perSecond;
    printTable(
      `AWS GetSecretValue vs KV v2 read, same server (${settings.connections} connections, ${settings.rounds} rounds x ${settings.durationMs / 1000} s)`,
      [
        ['variant', 'l'],
        ['requests/s', 'r'],
        ['p50 ms', 'r'],
        ['p99 ms', 'r'],
        ['ratio to KV (min-max)', 'r'],
      ],
      rows.map((r) => [
        r.name,
        num(r.perSecond),
        num(r.latencyMs.p50, 2),
        num(r.latencyMs.p99, 2),
        ratioText(r),
      ]),
    );
    process.stdout.write(
      `SigV4 verification: ${num(verifyUs, 1)} µs per request (${num((100 * verifyUs) / perRequestUs, 1)}% of one GetSecretValue's server time at ${num(awsRow.perSecond)} req/s)\n`,
    );
    const result = {
      settings,
      kv: kvRow,
      aws: awsRow,
      ratio: awsRow.ratio,
      verifyMicroseconds: verifyUs,
    };
    writeResult('aws', result);
    return result;
  } finally {
    await server.close();
  }
}

if (isMainModule(import.meta.url)) await runAwsBench();
