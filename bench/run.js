// `npm run bench`: runs every bench in sequence (same process, one at a time) and prints a
// summary of the ratios each one measured.
import { runAwsBench } from './aws.js';
import { runDatabaseBench } from './database.js';
import { runKvMemoryBench } from './kv-memory.js';
import { runKvReadBench } from './kv-read.js';
import { runKvWriteBench } from './kv-write.js';
import { runLeasesBench } from './leases.js';
import { runLoginsBench } from './lib/logins.js';
import { machineInfo, num, printTable, writeResult } from './lib/report.js';
import { runRunOverheadBench } from './lib/run-overhead.js';
import { ratioText } from './lib/rounds.js';

const machine = machineInfo();
process.stdout.write(
  `Coffer benches on ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, ` +
    `load average ${machine.loadAverage1m}\n`,
);
const started = Date.now();
const write = await runKvWriteBench();
const read = await runKvReadBench();
const leases = await runLeasesBench();
const logins = await runLoginsBench();
const database = await runDatabaseBench();
const runOverhead = await runRunOverheadBench();
const aws = await runAwsBench();
const memory = await runKvMemoryBench();
const [single, group, groupAudited, groupUnsynced] = write.rows;
const {
  bare,
  root: inmem,
  limited,
  audited,
  limitedAudited,
  unsynced,
  sqlite,
  bareTls,
  tls,
  decrypting,
} = read.named;

printTable(
  `Summary (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  [
    ['bench', 'l'],
    ['measured', 'l'],
    ['baseline', 'l'],
    ['ratio (min-max over rounds)', 'r'],
  ],
  [
    [
      'kv-write',
      `group commit ${num(group.perSecond)} writes/s`,
      `one commit per write ${num(single.perSecond)} writes/s`,
      ratioText(group),
    ],
    [
      'kv-write',
      `group commit, file audit ${num(groupAudited.perSecond)} writes/s`,
      `group commit, no audit ${num(group.perSecond)} writes/s`,
      ratioText(write.auditedToGroup),
    ],
    [
      'kv-write',
      `group commit, file audit fsync=false ${num(groupUnsynced.perSecond)} writes/s`,
      `group commit, no audit ${num(group.perSecond)} writes/s`,
      ratioText(write.unsyncedToGroup),
    ],
    [
      'kv-read',
      `Coffer inmem, non-root token, file audit ${num(limitedAudited.perSecond)} reads/s ` +
        `(p99/p50 ${num(read.tailRatio, 2)})`,
      `bare Fastify ${num(bare.perSecond)} reads/s`,
      ratioText(limitedAudited),
    ],
    [
      'kv-read',
      `Coffer inmem, non-root token, file audit fsync=false ${num(unsynced.perSecond)} reads/s ` +
        `(p99/p50 ${num(read.tailRatioUnsynced, 2)})`,
      `bare Fastify ${num(bare.perSecond)} reads/s`,
      ratioText(unsynced),
    ],
    [
      'kv-read',
      `TLS: Coffer inmem, non-root token, file audit fsync=false ${num(tls.perSecond)} reads/s`,
      `bare Fastify over TLS ${num(bareTls.perSecond)} reads/s`,
      ratioText(read.tlsToBareTls),
    ],
    [
      'kv-read',
      `Coffer inmem ${num(inmem.perSecond)} reads/s`,
      `bare Fastify ${num(bare.perSecond)} reads/s`,
      ratioText(inmem),
    ],
    [
      'kv-read',
      `Coffer inmem, non-root token ${num(limited.perSecond)} reads/s`,
      `bare Fastify ${num(bare.perSecond)} reads/s`,
      ratioText(limited),
    ],
    [
      'kv-read',
      `Coffer inmem, non-root token ${num(limited.perSecond)} reads/s`,
      `Coffer inmem, root token ${num(inmem.perSecond)} reads/s`,
      ratioText(read.limitedToRoot),
    ],
    [
      'kv-read',
      `Coffer inmem, root token, plaintext cache (default) ${num(inmem.perSecond)} reads/s`,
      `the same, plaintext_cache_lifetime = 0 ${num(decrypting.perSecond)} reads/s`,
      ratioText(read.cachedToDecrypting),
    ],
    [
      'kv-read',
      `Coffer inmem, file audit ${num(audited.perSecond)} reads/s`,
      `Coffer inmem, no audit ${num(inmem.perSecond)} reads/s`,
      ratioText(read.auditedToRoot),
    ],
    [
      'kv-read',
      `Coffer inmem, file audit ${num(audited.perSecond)} reads/s`,
      `bare Fastify ${num(bare.perSecond)} reads/s`,
      ratioText(audited),
    ],
    [
      'leases',
      `unseal with ${num(leases.settings.leases)} leases ${num(leases.unsealFullMs, 2)} ms`,
      `unseal with none ${num(leases.unsealEmptyMs, 2)} ms`,
      `${num(leases.ratio, 2)}x`,
    ],
    [
      'leases',
      `revoke ${num(leases.revoked)} expired leases ${num(leases.revokeMs / 1000, 1)} s`,
      '',
      '',
    ],
    [
      'kv-read',
      `Coffer SQLite ${num(sqlite.perSecond)} reads/s`,
      `bare Fastify ${num(bare.perSecond)} reads/s`,
      ratioText(sqlite),
    ],
    [
      'database',
      `PostgreSQL creds issued ${num(database.cofferIssuedPerSecond)}/s`,
      `direct CREATE ROLE+GRANT ${num(database.directCreatePerSecond)}/s`,
      `${num(database.issueRatio, 2)}x`,
    ],
    [
      'database',
      `PostgreSQL creds revoked ${num(database.cofferRevokedPerSecond)}/s`,
      `direct DROP ROLE ${num(database.directDropPerSecond)}/s`,
      `${num(database.revokeRatio, 2)}x`,
    ],
    [
      'logins',
      `AppRole ${num(logins.rows[1].perSecond)} logins/s`,
      `token lookup-self ${num(logins.rows[0].perSecond)}/s`,
      ratioText(logins.rows[1]),
    ],
    [
      'logins',
      `userpass (argon2id), 4 users ${num(logins.rows[3].perSecond)} logins/s`,
      `token lookup-self ${num(logins.rows[0].perSecond)}/s`,
      ratioText(logins.rows[3]),
    ],
    [
      'run',
      `coffer run -- true ${num(runOverhead.starts.runMs, 1)} ms`,
      `true ${num(runOverhead.starts.trueMs, 1)} ms`,
      `+${num(runOverhead.starts.overheadMs, 1)} ms`,
    ],
    [
      'run',
      `-watch write → restart p50 ${num(runOverhead.changes.p50Ms, 1)} ms`,
      `p99 ${num(runOverhead.changes.p99Ms, 1)} ms`,
      '',
    ],
    [
      'aws',
      `GetSecretValue (AWS door, SigV4) ${num(aws.aws.perSecond)} req/s`,
      `KV v2 read (Vault door) ${num(aws.kv.perSecond)} req/s`,
      `${ratioText(aws.aws)}; SigV4 verify ${num(aws.verifyMicroseconds, 1)} µs`,
    ],
    [
      'kv-memory',
      `RSS after ${num(memory.settings.reads)} reads of ${num(memory.settings.secrets)} ` +
        `secrets ${num(memory.rssAfterReadsMiB, 0)} MiB`,
      `after writing them ${num(memory.rssAfterSeedMiB, 0)} MiB, halfway ` +
        `${num(memory.rssHalfwayMiB, 0)} MiB`,
      '',
    ],
  ],
);
process.stdout.write(`load average now: ${machineInfo().loadAverage1m}\n`);
const file = writeResult('summary', {
  kvWriteRatio: write.ratio,
  kvReadRatio: read.ratio,
  kvReadRatioSqlite: read.ratioSqlite,
  kvReadRatioLimited: read.ratioLimited,
  kvReadLimitedToRoot: read.limitedToRoot.ratio,
  kvReadAuditedToUnaudited: read.auditedToRoot.ratio,
  kvReadRatioAudited: read.ratioAudited,
  kvReadRatioLimitedAudited: read.ratioLimitedAudited,
  kvReadTlsToBareTls: read.tlsToBareTls.ratio,
  kvReadTailP99ToP50: read.tailRatio,
  kvWriteAuditedToGroup: write.auditedToGroup.ratio,
  kvWriteUnsyncedToGroup: write.unsyncedToGroup.ratio,
  kvReadRatioUnsynced: read.ratioUnsynced,
  kvWriteGroupPerSecond: group.perSecond,
  memoryRssAfterReadsMiB: memory.rssAfterReadsMiB,
  leasesUnsealRatio: leases.ratio,
  leasesRevokeMs: leases.revokeMs,
  databaseIssuedPerSecond: database.cofferIssuedPerSecond,
  databaseRevokedPerSecond: database.cofferRevokedPerSecond,
  approleLoginToLookup: logins.approleToLookup,
  userpassManyUsersToLookup: logins.userpassManyUsersToLookup,
  runOverheadMs: runOverhead.starts.overheadMs,
  runChangeP50Ms: runOverhead.changes.p50Ms,
  runChangeP99Ms: runOverhead.changes.p99Ms,
  awsGetToKvRead: aws.ratio,
  awsSigV4VerifyMicroseconds: aws.verifyMicroseconds,
});
process.stdout.write(`wrote ${file}\n`);
