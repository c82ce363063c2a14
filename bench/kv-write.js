// Bench: durable KV v2 writes per second over HTTP, SQLite (synchronous=FULL) with group commit
// versus one commit per write, measured in the same run; the result is their ratio.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enableFileAudit, startCoffer } from './lib/coffer.js';
import { isMainModule, num, pct, printTable, writeResult } from './lib/report.js';
import { ratioBetween, ratioText, runRounds } from './lib/rounds.js';

/** 4 variants x 3 rounds x (0.5 s warm-up + 2 s) plus 1 s first warm-ups: about 34 s. */
export const DEFAULTS = {
  connections: 32,
  rounds: 3,
  firstWarmupMs: 1_000,
  warmupMs: 500,
  durationMs: 2_000,
};

/** ~100 bytes of secret per write (the same value for every key). */
const BODY = JSON.stringify({ data: { value: 'v'.repeat(100) } });
/** Keys written in round r start at k<r * KEYS_PER_ROUND>, so every write creates a new key. */
const KEYS_PER_ROUND = 10_000_000;

const VARIANTS = [
  { name: 'one commit per write', groupCommit: false, audit: undefined },
  { name: 'group commit', groupCommit: true, audit: undefined },
  { name: 'group commit, file audit device', groupCommit: true, audit: {} },
  {
    name: 'group commit, file audit device fsync=false',
    groupCommit: true,
    audit: { fsync: 'false' },
  },
];

/**
 * Runs both variants (each on its own fresh database file, both servers up for the whole run,
 * loaded one at a time), prints the table, writes bench/results/kv-write.json and returns it.
 * @param {Partial<typeof DEFAULTS>} [options]
 */
export async function runKvWriteBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-'));
  const servers = [];
  try {
    for (const [v, variant] of VARIANTS.entries()) {
      const server = await startCoffer({
        storage: 'sqlite',
        path: join(dir, `variant-${v}.db`),
        groupCommit: variant.groupCommit,
      });
      servers.push(server);
      // The device's defaults (see docs/audit.md for what they promise).
      if (variant.audit !== undefined) {
        await enableFileAudit(server, join(dir, `audit-${v}.log`), variant.audit);
      }
    }
    const before = servers.map((s) => s.physical.stats());
    const rows = await runRounds({
      bench: 'kv-write',
      settings,
      variants: VARIANTS.map((variant, v) => ({
        name: variant.name,
        request: (round) => ({
          url: servers[v].url,
          method: 'POST',
          path: '/v1/secret/data/k{i}',
          headers: { 'x-vault-token': servers[v].rootToken, 'content-type': 'application/json' },
          body: BODY,
          firstIndex: round * KEYS_PER_ROUND,
        }),
      })),
    });
    rows.forEach((row, v) => {
      const after = servers[v].physical.stats();
      row.groupCommit = VARIANTS[v].groupCommit;
      row.commits = after.commits - before[v].commits;
      row.storageOps = after.writes - before[v].writes;
      row.opsPerCommit = row.commits === 0 ? null : row.storageOps / row.commits;
      row.httpWritesPerCommit = row.commits === 0 ? null : row.totalOk / row.commits;
    });

    printTable(
      `KV v2 durable writes, SQLite synchronous=FULL (${settings.connections} connections, ` +
        `${settings.rounds} rounds x ${settings.durationMs / 1000} s per variant)`,
      [
        ['variant', 'l'],
        ['writes/s', 'r'],
        ['p50 ms', 'r'],
        ['p99 ms', 'r'],
        ['server busy', 'r'],
        ['client busy', 'r'],
        ['HTTP writes', 'r'],
        ['commits', 'r'],
        ['storage ops', 'r'],
        ['ops/commit', 'r'],
        ['HTTP writes/commit', 'r'],
        ['ratio (min-max)', 'r'],
      ],
      rows.map((r) => [
        r.name,
        num(r.perSecond),
        num(r.latencyMs.p50, 2),
        num(r.latencyMs.p99, 2),
        pct(r.serverBusy),
        pct(r.clientBusy),
        num(r.totalOk),
        num(r.commits),
        num(r.storageOps),
        num(r.opsPerCommit, 1),
        num(r.httpWritesPerCommit, 2),
        ratioText(r),
      ]),
    );
    const ratio = rows[1].ratio;
    const auditedToGroup = ratioBetween(rows[2], rows[1]);
    const unsyncedToGroup = ratioBetween(rows[3], rows[1]);
    process.stdout.write(
      `group commit / one commit per write: ${num(ratio, 2)}x (median of per-round ratios)\n` +
        `file audit device / no audit device (group commit): ${ratioText(auditedToGroup)}\n` +
        `file audit device fsync=false / no audit device (group commit): ` +
        `${ratioText(unsyncedToGroup)}\n` +
        'HTTP writes and storage counts include the warm-ups.\n',
    );
    const summary = { settings, ratio, auditedToGroup, unsyncedToGroup, rows };
    process.stdout.write(`wrote ${writeResult('kv-write', summary)}\n`);
    return summary;
  } finally {
    for (const server of servers) await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  const rounds = process.argv.find((a) => a.startsWith('--rounds='));
  await runKvWriteBench(rounds === undefined ? {} : { rounds: Number(rounds.slice(9)) });
}
