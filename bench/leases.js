// Bench: what the number of stored leases costs an unseal (the lease manager's open() after the
// barrier opens): with N leases due next week versus with none, same run, on SQLite with
// synchronous=FULL; then the time to revoke N leases that have all expired.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { importDist } from './lib/coffer.js';
import { isMainModule, num, printTable, writeResult } from './lib/report.js';
import { median } from './lib/rounds.js';

export const DEFAULTS = {
  /** Stored leases for the "many" store (`--leases=N` overrides; the figure is 1,000,000). */
  leases: 100_000,
  /** Unseal+open repetitions per store; the median is reported. */
  repeats: 5,
};

const WEEK_MS = 7 * 86_400_000;

async function openStore(path, rootKey) {
  const [{ openSqliteBackend }, { AesGcmBarrier }] = await Promise.all([
    importDist('physical/sqlite.js'),
    importDist('barrier/aes-gcm-barrier.js'),
  ]);
  const physical = openSqliteBackend({ path, synchronous: 'full', groupCommit: true });
  const barrier = new AesGcmBarrier(physical, { now: () => Date.now(), cacheEntries: 0 });
  if (!(await barrier.isInitialized())) await barrier.initialize(rootKey);
  return { physical, barrier };
}

async function newManager(barrier, now, revoker = async () => {}) {
  const [{ LeaseManager }, { LEASE_KEYS }, { prefixedStorage }] = await Promise.all([
    importDist('core/lease-manager.js'),
    importDist('core/lease-keys.js'),
    importDist('sdk/storage.js'),
  ]);
  return new LeaseManager({
    storage: prefixedStorage(barrier, LEASE_KEYS.prefix),
    now,
    revoker,
  });
}

/** Barrier unseal + lease manager open on a freshly opened store: what a restart pays. */
async function timeUnseal(path, rootKey) {
  const { physical, barrier } = await openStore(path, rootKey);
  const start = performance.now();
  await barrier.unseal(rootKey);
  const manager = await newManager(barrier, () => Date.now());
  await manager.open();
  const ms = performance.now() - start;
  const inMemory = manager.stats().inMemory;
  manager.close();
  barrier.seal();
  await physical.close();
  return { ms, inMemory };
}

async function fill(path, rootKey, count) {
  const { physical, barrier } = await openStore(path, rootKey);
  await barrier.unseal(rootKey);
  const manager = await newManager(barrier, () => Date.now());
  await manager.open();
  const start = performance.now();
  for (let i = 0; i < count; i += 1_000) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 1_000); j++) {
      batch.push(
        manager.register({
          path: 'bench/creds/app',
          mountPath: 'bench/',
          ttlSeconds: WEEK_MS / 1000 + (j % 3_600),
          maxTtlSeconds: 0,
          renewable: true,
        }),
      );
    }
    await Promise.all(batch);
  }
  const ms = performance.now() - start;
  manager.close();
  barrier.seal();
  await physical.close();
  return ms;
}

/** Opens the store a week and a day later: every lease is overdue; times their revocation. */
async function timeRevokeAll(path, rootKey, count) {
  const { physical, barrier } = await openStore(path, rootKey);
  await barrier.unseal(rootKey);
  let revoked = 0;
  const later = Date.now() + WEEK_MS + 2 * 3_600_000;
  const manager = await newManager(
    barrier,
    () => later,
    async () => {
      revoked++;
    },
  );
  const start = performance.now();
  await manager.open();
  const deadline = performance.now() + 600_000;
  while (revoked < count && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await manager.settled();
  const ms = performance.now() - start;
  const left = (await barrier.list('sys/expire/id/')).length;
  manager.close();
  barrier.seal();
  await physical.close();
  return { ms, revoked, left };
}

export async function runLeasesBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-leases-'));
  const rootKey = randomBytes(32);
  try {
    const emptyPath = join(dir, 'empty.db');
    const fullPath = join(dir, 'full.db');
    await fill(emptyPath, rootKey, 0);
    const fillMs = await fill(fullPath, rootKey, settings.leases);
    const empty = [];
    const full = [];
    for (let r = 0; r < settings.repeats; r++) {
      empty.push(await timeUnseal(emptyPath, rootKey));
      full.push(await timeUnseal(fullPath, rootKey));
    }
    const emptyMs = median(empty.map((x) => x.ms));
    const fullMs = median(full.map((x) => x.ms));
    const revoke = await timeRevokeAll(fullPath, rootKey, settings.leases);
    printTable(
      `Unseal (barrier unseal + lease manager open) with ${num(settings.leases)} stored leases vs none, SQLite synchronous=FULL (median of ${settings.repeats})`,
      [
        ['store', 'l'],
        ['stored leases', 'r'],
        ['unseal ms', 'r'],
        ['leases loaded into memory', 'r'],
      ],
      [
        ['empty', '0', num(emptyMs, 2), num(empty[0].inMemory)],
        ['full', num(settings.leases), num(fullMs, 2), num(full[0].inMemory)],
      ],
    );
    process.stdout.write(
      `unseal with ${num(settings.leases)} leases / with none: ${num(fullMs / emptyMs, 2)}x\n` +
        `registering ${num(settings.leases)} leases took ${num(fillMs / 1000, 1)} s ` +
        `(${num((settings.leases / fillMs) * 1000)} per second)\n` +
        `revoking ${num(revoke.revoked)} expired leases took ${num(revoke.ms / 1000, 2)} s ` +
        `(${num((revoke.revoked / revoke.ms) * 1000)} per second); records left: ${revoke.left}\n`,
    );
    const summary = {
      settings,
      unsealEmptyMs: emptyMs,
      unsealFullMs: fullMs,
      ratio: fullMs / emptyMs,
      fillMs,
      revokeMs: revoke.ms,
      revoked: revoke.revoked,
      recordsLeft: revoke.left,
    };
    process.stdout.write(`wrote ${writeResult('leases', summary)}\n`);
    return summary;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  const arg = process.argv.find((a) => a.startsWith('--leases='));
  await runLeasesBench(arg === undefined ? {} : { leases: Number(arg.split('=')[1]) });
}
