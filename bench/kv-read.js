// Bench: KV v2 reads per second over HTTP with the root token and with a non-root token holding
// ten policies, versus a bare Fastify route returning the same JSON envelope, in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { startCoffer } from './lib/coffer.js';
import { isMainModule, num, pct, printTable, writeResult } from './lib/report.js';
import { createLimitedToken } from './lib/policies.js';
import { ratioBetween, ratioText, runRounds } from './lib/rounds.js';

/** 4 variants x 3 rounds x (0.5 s warm-up + 2 s) plus 1 s first warm-ups: about 32 s. */
export const DEFAULTS = {
  connections: 32,
  rounds: 3,
  firstWarmupMs: 1_000,
  warmupMs: 500,
  durationMs: 2_000,
};

const PATH = '/v1/secret/data/bench';
const VALUE = 'v'.repeat(100);

/** Writes the secret the bench reads; returns the exact envelope a KV v2 read answers. */
async function seedSecret(server) {
  const headers = { 'x-vault-token': server.rootToken, 'content-type': 'application/json' };
  const write = await fetch(`${server.url}${PATH}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ data: { value: VALUE } }),
  });
  await write.arrayBuffer();
  if (!write.ok) throw new Error(`seeding the secret failed: HTTP ${write.status}`);
  const read = await fetch(`${server.url}${PATH}`, { headers });
  const text = await read.text();
  if (!read.ok) throw new Error(`reading the seeded secret failed: HTTP ${read.status}`);
  return { envelope: JSON.parse(text), bytes: Buffer.byteLength(text) };
}

/** Enables a file audit device at `file` through the API, as an operator would. */
async function enableFileAudit(server, file) {
  const res = await fetch(`${server.url}/v1/sys/audit/file`, {
    method: 'PUT',
    headers: { 'x-vault-token': server.rootToken, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'file', options: { file_path: file } }),
  });
  await res.arrayBuffer();
  if (res.status !== 204) throw new Error(`enabling the audit device failed: HTTP ${res.status}`);
}

/** A plain Fastify app with one GET route returning `envelope`, on a loopback port from the OS. */
async function startBare(envelope) {
  const app = Fastify({ logger: false });
  app.get(PATH, () => envelope);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${app.server.address().port}`;
  const probe = await fetch(`${url}${PATH}`);
  const bytes = Buffer.byteLength(await probe.text());
  return { url, bytes, close: () => app.close() };
}

/**
 * Measures a bare Fastify route (the baseline), Coffer on the in-memory backend with the root
 * token and with a token holding ten policies (lib/policies.js) plus `default`, and Coffer on
 * SQLite (the default backend) with the root token; all servers are up for the whole run and
 * loaded one at a time. Prints the table, writes bench/results/kv-read.json and returns it.
 * @param {Partial<typeof DEFAULTS>} [options]
 */
export async function runKvReadBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-'));
  const closers = [];
  try {
    const inmem = await startCoffer({ storage: 'inmem' });
    closers.push(() => inmem.close());
    const sqlite = await startCoffer({
      storage: 'sqlite',
      path: join(dir, 'coffer.db'),
      groupCommit: true,
    });
    closers.push(() => sqlite.close());
    const inmemSeed = await seedSecret(inmem);
    const sqliteSeed = await seedSecret(sqlite);
    const limited = await createLimitedToken(inmem, PATH.slice('/v1/'.length));
    // A third server with one file audit device (fdatasync per batch, the default).
    const audited = await startCoffer({ storage: 'inmem' });
    closers.push(() => audited.close());
    const auditedSeed = await seedSecret(audited);
    await enableFileAudit(audited, join(dir, 'audit.log'));
    const bare = await startBare(inmemSeed.envelope);
    closers.push(() => bare.close());

    const targets = [
      { name: 'bare Fastify route', url: bare.url, token: inmem.rootToken, bytes: bare.bytes },
      {
        name: 'Coffer, inmem, root token',
        url: inmem.url,
        token: inmem.rootToken,
        bytes: inmemSeed.bytes,
      },
      {
        name: `Coffer, inmem, non-root token (${limited.policies.length - 1} policies + default)`,
        url: inmem.url,
        token: limited.token,
        bytes: inmemSeed.bytes,
      },
      {
        name: 'Coffer, inmem, root token, file audit device',
        url: audited.url,
        token: audited.rootToken,
        bytes: auditedSeed.bytes,
      },
      {
        name: 'Coffer, SQLite, root token',
        url: sqlite.url,
        token: sqlite.rootToken,
        bytes: sqliteSeed.bytes,
      },
    ];
    const rows = await runRounds({
      bench: 'kv-read',
      settings,
      variants: targets.map((target) => ({
        name: target.name,
        request: () => ({
          url: target.url,
          method: 'GET',
          path: PATH,
          headers: { 'x-vault-token': target.token },
        }),
      })),
    });
    rows.forEach((row, v) => (row.bodyBytes = targets[v].bytes));
    const [, rootRow, limitedRow, auditedRow, sqliteRow] = rows;
    const limitedToRoot = ratioBetween(limitedRow, rootRow);
    const auditedToRoot = ratioBetween(auditedRow, rootRow);

    printTable(
      `KV v2 reads (root token; non-root token) vs a bare Fastify route (${settings.connections} ` +
        `connections, ${settings.rounds} rounds x ${settings.durationMs / 1000} s per variant)`,
      [
        ['variant', 'l'],
        ['reads/s', 'r'],
        ['p50 ms', 'r'],
        ['p99 ms', 'r'],
        ['server busy', 'r'],
        ['client busy', 'r'],
        ['body bytes', 'r'],
        ['ratio to bare (min-max)', 'r'],
      ],
      rows.map((r) => [
        r.name,
        num(r.perSecond),
        num(r.latencyMs.p50, 2),
        num(r.latencyMs.p99, 2),
        pct(r.serverBusy),
        pct(r.clientBusy),
        num(r.bodyBytes),
        ratioText(r),
      ]),
    );
    process.stdout.write(
      `non-root token / root token (inmem): ${ratioText(limitedToRoot)}; the token holds ` +
        `${limited.policies.join(', ')} (${limited.rules} path blocks besides default's; ` +
        `${limited.matchingRules} of them matches the bench path)\n`,
    );
    process.stdout.write(
      `file audit device / no audit device (inmem, root token): ${ratioText(auditedToRoot)}\n`,
    );
    const summary = {
      settings,
      ratio: rootRow.ratio,
      ratioAudited: auditedRow.ratio,
      auditedToRoot,
      ratioSqlite: sqliteRow.ratio,
      ratioLimited: limitedRow.ratio,
      limitedToRoot,
      limitedToken: {
        policies: limited.policies,
        rules: limited.rules,
        matchingRules: limited.matchingRules,
      },
      rows,
    };
    process.stdout.write(`wrote ${writeResult('kv-read', summary)}\n`);
    return summary;
  } finally {
    for (const close of closers.reverse()) await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  await runKvReadBench();
}
