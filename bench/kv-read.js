// Bench: KV v2 reads per second over HTTP with the root token and with a non-root token holding
// ten policies, versus a bare Fastify route returning the same JSON envelope, in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { enableFileAudit, selfSignedCert, startCoffer } from './lib/coffer.js';
import { isMainModule, num, pct, printTable, writeResult } from './lib/report.js';
import { createLimitedToken } from './lib/policies.js';
import { ratioBetween, ratioText, runRounds } from './lib/rounds.js';

/** 10 variants x 3 rounds x (0.5 s warm-up + 2 s) plus 1 s first warm-ups: about 85 s. */
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

/**
 * A plain Fastify app with one GET route returning `envelope`, on a loopback port from the OS;
 * over TLS with `tls` (the same certificate as Coffer's TLS listener).
 */
async function startBare(envelope, tls) {
  const app = Fastify({ logger: false, ...(tls === undefined ? {} : { https: tls }) });
  app.get(PATH, () => envelope);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${app.server.address().port}`;
  const bytes = Buffer.byteLength(JSON.stringify(envelope));
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
    // A third server with one file audit device with its defaults (fdatasync per batch).
    const audited = await startCoffer({ storage: 'inmem' });
    closers.push(() => audited.close());
    const auditedSeed = await seedSecret(audited);
    const auditedLimited = await createLimitedToken(audited, PATH.slice('/v1/'.length));
    await enableFileAudit(audited, join(dir, 'audit.log'));
    // A fourth with one file audit device with fsync=false (Vault's file device: lines handed
    // to the kernel, see docs/audit.md), also listening over TLS (same core, same device).
    const tls = selfSignedCert(dir);
    const unsynced = await startCoffer({ storage: 'inmem', tls });
    closers.push(() => unsynced.close());
    const unsyncedSeed = await seedSecret(unsynced);
    const unsyncedLimited = await createLimitedToken(unsynced, PATH.slice('/v1/'.length));
    await enableFileAudit(unsynced, join(dir, 'audit-unsynced.log'), { fsync: 'false' });
    // A fifth that decrypts on every read (plaintext_cache_lifetime = 0), to show the cache.
    const decrypting = await startCoffer({ storage: 'inmem', plaintextCacheLifetimeSeconds: 0 });
    closers.push(() => decrypting.close());
    const decryptingSeed = await seedSecret(decrypting);
    const bare = await startBare(inmemSeed.envelope);
    closers.push(() => bare.close());
    const bareTls = await startBare(inmemSeed.envelope, tls);
    closers.push(() => bareTls.close());
    const policiesText = `${limited.policies.length - 1} policies + default`;

    const targets = [
      { name: 'bare Fastify route', url: bare.url, token: inmem.rootToken, bytes: bare.bytes },
      {
        name: 'Coffer, inmem, root token',
        url: inmem.url,
        token: inmem.rootToken,
        bytes: inmemSeed.bytes,
      },
      {
        name: `Coffer, inmem, non-root token (${policiesText})`,
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
        name: `Coffer, inmem, non-root token (${policiesText}), file audit device`,
        url: audited.url,
        token: auditedLimited.token,
        bytes: auditedSeed.bytes,
      },
      {
        name: `Coffer, inmem, non-root token (${policiesText}), file audit device fsync=false`,
        url: unsynced.url,
        token: unsyncedLimited.token,
        bytes: unsyncedSeed.bytes,
      },
      {
        name: 'Coffer, SQLite, root token',
        url: sqlite.url,
        token: sqlite.rootToken,
        bytes: sqliteSeed.bytes,
      },
      { name: 'bare Fastify route, TLS', url: bareTls.url, token: '-', bytes: bareTls.bytes },
      {
        name: `Coffer, inmem, non-root token (${policiesText}), file audit fsync=false, TLS`,
        url: unsynced.tlsUrl,
        token: unsyncedLimited.token,
        bytes: unsyncedSeed.bytes,
      },
      {
        name: 'Coffer, inmem, root token, plaintext cache off',
        url: decrypting.url,
        token: decrypting.rootToken,
        bytes: decryptingSeed.bytes,
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
    const [
      ,
      rootRow,
      limitedRow,
      auditedRow,
      limitedAuditedRow,
      unsyncedRow,
      sqliteRow,
      bareTlsRow,
      tlsRow,
      decryptingRow,
    ] = rows;
    const cachedToDecrypting = ratioBetween(rootRow, decryptingRow);
    const limitedToRoot = ratioBetween(limitedRow, rootRow);
    const auditedToRoot = ratioBetween(auditedRow, rootRow);
    const limitedAuditedToLimited = ratioBetween(limitedAuditedRow, limitedRow);
    const unsyncedToLimited = ratioBetween(unsyncedRow, limitedRow);
    const tlsToBareTls = ratioBetween(tlsRow, bareTlsRow);
    const tailRatio = limitedAuditedRow.latencyMs.p99 / limitedAuditedRow.latencyMs.p50;
    const tailRatioUnsynced = unsyncedRow.latencyMs.p99 / unsyncedRow.latencyMs.p50;

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
        ['ratio to bare HTTP (min-max)', 'r'],
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
      `file audit device / no audit device (inmem, root token): ${ratioText(auditedToRoot)}\n` +
        `file audit device / no audit device (inmem, non-root token): ` +
        `${ratioText(limitedAuditedToLimited)}\n` +
        `file audit device fsync=false / no audit device (inmem, non-root token): ` +
        `${ratioText(unsyncedToLimited)}\n` +
        `TLS, non-root token, file audit fsync=false / bare Fastify over TLS: ` +
        `${ratioText(tlsToBareTls)}\n` +
        `p99 / p50 (inmem, non-root token, file audit device): ${num(tailRatio, 2)}; ` +
        `with fsync=false: ${num(tailRatioUnsynced, 2)}\n` +
        `plaintext cache on (default) / off (inmem, root token): ` +
        `${ratioText(cachedToDecrypting)}\n`,
    );
    const summary = {
      settings,
      ratio: rootRow.ratio,
      ratioAudited: auditedRow.ratio,
      auditedToRoot,
      ratioSqlite: sqliteRow.ratio,
      ratioLimited: limitedRow.ratio,
      ratioLimitedAudited: limitedAuditedRow.ratio,
      ratioUnsynced: unsyncedRow.ratio,
      unsyncedToLimited,
      tailRatioUnsynced,
      limitedAuditedToLimited,
      tlsToBareTls,
      tailRatio,
      limitedToRoot,
      cachedToDecrypting,
      limitedToken: {
        policies: limited.policies,
        rules: limited.rules,
        matchingRules: limited.matchingRules,
      },
      rows,
      named: {
        bare: rows[0],
        root: rootRow,
        limited: limitedRow,
        audited: auditedRow,
        limitedAudited: limitedAuditedRow,
        unsynced: unsyncedRow,
        sqlite: sqliteRow,
        bareTls: bareTlsRow,
        tls: tlsRow,
        decrypting: decryptingRow,
      },
    };
    process.stdout.write(`wrote ${writeResult('kv-read', summary)}\n`);
    return summary;
  } finally {
    for (const close of closers.reverse()) await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  // `--rounds=N` for a quicker (or steadier) look.
  const rounds = process.argv.find((a) => a.startsWith('--rounds='));
  await runKvReadBench(rounds === undefined ? {} : { rounds: Number(rounds.slice(9)) });
}
