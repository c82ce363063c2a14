// Bench: the server's memory under a long read load. 10,000 distinct secrets are written to
// SQLite, then read 1,000,000 times over HTTP in chunks, and the process's RSS and V8 heap are
// sampled after each chunk: bounded means the series levels off instead of growing with reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCoffer } from './lib/coffer.js';
import { runLoadInWorker } from './lib/load.js';
import { assertNoErrors, isMainModule, num, printTable, writeResult } from './lib/report.js';

export const DEFAULTS = {
  secrets: 10_000,
  reads: 1_000_000,
  chunks: 10,
  connections: 32,
};

const MIB = 1024 * 1024;

function sample(label, reads) {
  const usage = process.memoryUsage();
  return {
    label,
    reads,
    rssMiB: usage.rss / MIB,
    heapUsedMiB: usage.heapUsed / MIB,
    externalMiB: usage.external / MIB,
  };
}

/** Runs exactly `count` requests (bounded by a generous window) and fails on any error. */
async function exactly(label, spec, count) {
  const result = await runLoadInWorker({
    ...spec,
    maxRequests: count,
    warmupMs: 0,
    durationMs: 600_000,
  });
  assertNoErrors(label, result);
  if (result.totalOk !== count) throw new Error(`${label}: ${result.totalOk} of ${count} done`);
  return result;
}

/**
 * Coffer on SQLite (group commit) with the root token and no audit device (the audit file would
 * grow by design); prints the table, writes bench/results/kv-memory.json and returns it.
 * @param {Partial<typeof DEFAULTS>} [options]
 */
export async function runKvMemoryBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-'));
  let server;
  try {
    server = await startCoffer({
      storage: 'sqlite',
      path: join(dir, 'coffer.db'),
      groupCommit: true,
    });
    const headers = { 'x-vault-token': server.rootToken };
    const samples = [sample('started', 0)];
    await exactly(
      'kv-memory (seeding)',
      {
        url: server.url,
        method: 'POST',
        path: '/v1/secret/data/k{i}',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ data: { value: 'v{i}'.padEnd(100, 'v') } }),
        connections: settings.connections,
      },
      settings.secrets,
    );
    samples.push(sample(`${num(settings.secrets)} secrets written`, 0));
    const perChunk = Math.ceil(settings.reads / settings.chunks);
    let reads = 0;
    const started = Date.now();
    for (let chunk = 0; chunk < settings.chunks; chunk++) {
      const count = Math.min(perChunk, settings.reads - reads);
      await exactly(
        `kv-memory (reads, chunk ${chunk + 1})`,
        {
          url: server.url,
          method: 'GET',
          path: '/v1/secret/data/k{i}',
          headers,
          connections: settings.connections,
          // Round robin over all the secrets (k0, k1, ..., k9999, k0, ...).
          firstIndex: 0,
          indexModulo: settings.secrets,
        },
        count,
      );
      reads += count;
      samples.push(sample(`after ${num(reads)} reads`, reads));
    }
    const seconds = (Date.now() - started) / 1000;
    printTable(
      `Memory: ${num(settings.reads)} KV v2 reads of ${num(settings.secrets)} distinct secrets ` +
        `(SQLite, root token, ${settings.connections} connections, ${num(seconds, 0)} s)`,
      [
        ['point', 'l'],
        ['RSS MiB', 'r'],
        ['heap used MiB', 'r'],
        ['external MiB', 'r'],
      ],
      samples.map((s) => [s.label, num(s.rssMiB, 1), num(s.heapUsedMiB, 1), num(s.externalMiB, 1)]),
    );
    const afterSeed = samples[1];
    const halfway = samples[Math.floor((samples.length + 1) / 2)];
    const last = samples[samples.length - 1];
    const summary = {
      settings,
      readsPerSecond: settings.reads / seconds,
      rssAfterSeedMiB: afterSeed.rssMiB,
      rssHalfwayMiB: halfway.rssMiB,
      rssAfterReadsMiB: last.rssMiB,
      maxRssMiB: Math.max(...samples.map((s) => s.rssMiB)),
      samples,
    };
    process.stdout.write(`wrote ${writeResult('kv-memory', summary)}\n`);
    return summary;
  } finally {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  const reads = process.argv.find((a) => a.startsWith('--reads='));
  await runKvMemoryBench(reads === undefined ? {} : { reads: Number(reads.slice(8)) });
}
