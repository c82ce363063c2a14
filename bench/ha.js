// Bench: durable KV v2 writes per second on PostgreSQL versus SQLite (both synchronous commits,
// group commit on), and KV v2 reads through an HA standby (forwarded to the active node) versus
// through the active node itself, each pair measured in the same run.
// Needs the PostgreSQL at TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { importDist, startCoffer } from './lib/coffer.js';
import { isMainModule, num, printTable, writeResult } from './lib/report.js';
import { ratioText, runRounds } from './lib/rounds.js';

/** 4 variants x 2 rounds x (0.5 s warm-up + 1.5 s) plus first warm-ups: about 20 s. */
export const DEFAULTS = {
  connections: 16,
  rounds: 2,
  firstWarmupMs: 1_000,
  warmupMs: 500,
  durationMs: 1_500,
};

const PG_URL = process.env.TEST_PG_URL || 'postgresql://postgres@127.0.0.1:5432/test';
const BODY = JSON.stringify({ data: { value: 'v'.repeat(100) } });
const KEYS_PER_ROUND = 10_000_000;
const READ_PATH = '/v1/secret/data/bench';

/** One HA node in this process: PostgreSQL storage with ha_enabled, on a loopback port. */
async function startHaNode(table, apiPort) {
  const [{ assembleServer }, listen, { openPostgresBackend }] = await Promise.all([
    importDist('assemble.js'),
    importDist('http/listener.js'),
    importDist('physical/postgresql.js'),
  ]);
  const physical = openPostgresBackend({
    connectionUrl: PG_URL,
    table,
    haTable: `${table}_ha`,
  });
  const assembled = assembleServer({
    physical,
    logger: pino({ level: 'warn' }),
    now: () => Date.now(),
    version: 'bench',
    defaultLeaseTtlSeconds: 2_764_800,
    maxLeaseTtlSeconds: 2_764_800,
    ha: {
      holderId: randomUUID(),
      apiAddr: `http://127.0.0.1:${apiPort}`,
      standbyMode: 'forward',
    },
  });
  const listener = await listen.startListener(assembled.app, { host: '127.0.0.1', port: apiPort });
  assembled.ha.start();
  return {
    ...assembled,
    url: listener.url,
    async close() {
      await listener.close(2_000);
      await assembled.ha.stop();
      await assembled.core.sealForShutdown();
      await physical.close();
    },
  };
}

async function freePort() {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(what, check) {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * @param {Partial<typeof DEFAULTS>} [options]
 */
export async function runHaBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-ha-'));
  const table = `coffer_bench_${process.pid}_${Date.now().toString(36)}`;
  const writeTable = `${table}_w`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const servers = [];
  try {
    // ---- durable writes: SQLite vs PostgreSQL ----
    const sqlite = await startCoffer({
      storage: 'sqlite',
      path: join(dir, 'w.db'),
      groupCommit: true,
    });
    servers.push(sqlite);
    const postgres = await startCoffer({
      storage: 'postgresql',
      connectionUrl: PG_URL,
      table: writeTable,
    });
    servers.push(postgres);
    const writers = [sqlite, postgres];
    const writeRows = await runRounds({
      bench: 'ha-writes',
      settings,
      variants: ['SQLite (synchronous=FULL)', 'PostgreSQL (synchronous_commit=on)'].map(
        (name, v) => ({
          name,
          request: (round) => ({
            url: writers[v].url,
            method: 'POST',
            path: '/v1/secret/data/k{i}',
            headers: {
              'x-vault-token': writers[v].rootToken,
              'content-type': 'application/json',
            },
            body: BODY,
            firstIndex: round * KEYS_PER_ROUND,
          }),
        }),
      ),
    });

    // ---- reads: through the active node vs forwarded by a standby ----
    const active = await startHaNode(table, await freePort());
    servers.push(active);
    const { shares, rootToken } = await active.core.initialize({
      secretShares: 1,
      secretThreshold: 1,
    });
    await active.core.unseal(shares[0]);
    await waitFor('the first node to become active', () => !active.core.isSealed);
    await active.core.mounts.enable('secret/', { type: 'kv', options: { version: '2' } });
    const standby = await startHaNode(table, await freePort());
    servers.push(standby);
    await standby.core.unseal(shares[0]);
    await waitFor('the second node to be a standby', () => standby.core.isStandby);
    const headers = { 'x-vault-token': rootToken, 'content-type': 'application/json' };
    const seeded = await fetch(`${active.url}${READ_PATH}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ data: { value: 'v'.repeat(100) } }),
    });
    await seeded.arrayBuffer();
    if (!seeded.ok) throw new Error(`seeding failed: HTTP ${seeded.status}`);
    const readers = [active, standby];
    const readRows = await runRounds({
      bench: 'ha-reads',
      settings,
      variants: ['read via the active node', 'read via a standby (forwarded)'].map((name, v) => ({
        name,
        request: () => ({
          url: readers[v].url,
          method: 'GET',
          path: READ_PATH,
          headers: { 'x-vault-token': rootToken },
        }),
      })),
    });

    const columns = [
      ['variant', 'l'],
      ['req/s', 'r'],
      ['p50 ms', 'r'],
      ['p99 ms', 'r'],
      ['ratio (min-max)', 'r'],
    ];
    const render = (rows) =>
      rows.map((r) => [
        r.name,
        num(r.perSecond),
        num(r.latencyMs.p50, 2),
        num(r.latencyMs.p99, 2),
        ratioText(r),
      ]);
    printTable(
      `Durable KV v2 writes (${settings.connections} connections)`,
      columns,
      render(writeRows),
    );
    printTable(
      `KV v2 reads in an HA pair on PostgreSQL (${settings.connections} connections)`,
      columns,
      render(readRows),
    );
    const summary = {
      settings,
      postgresOverSqliteWrites: writeRows[1].ratio,
      standbyOverActiveReads: readRows[1].ratio,
      writeRows,
      readRows,
    };
    process.stdout.write(
      `PostgreSQL / SQLite durable writes: ${num(summary.postgresOverSqliteWrites, 2)}x; ` +
        `standby-forwarded / active reads: ${num(summary.standbyOverActiveReads, 2)}x\n`,
    );
    process.stdout.write(`wrote ${writeResult('ha', summary)}\n`);
    return summary;
  } finally {
    for (const server of servers.reverse()) await server.close().catch(() => undefined);
    for (const name of [table, `${table}_ha`, writeTable, `${writeTable}_ha`]) {
      await admin.query(`DROP TABLE IF EXISTS "${name}"`).catch(() => undefined);
    }
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  await runHaBench();
}
