// Profiles the issue-17 headline read: `node --cpu-prof --cpu-prof-dir=DIR bench/profile-read.js`
// starts Coffer (in-memory storage, one file audit device, a token holding ten policies) from
// dist/, loads `GET /v1/secret/data/bench` from a worker thread for a few seconds, and prints the
// top self-time costs of the server thread's profile (bench/lib/cpu-profile.js). The worker's
// own profile lands in DIR too; the summary reads the main thread's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enableFileAudit, startCoffer } from './lib/coffer.js';
import { runLoadInWorker } from './lib/load.js';
import { createLimitedToken } from './lib/policies.js';
import { isMainModule } from './lib/report.js';

const PATH = '/v1/secret/data/bench';

export async function profileRead({
  seconds = Number(process.env.PROFILE_SECONDS ?? 6),
  audit = true,
  root = false,
  fsync = true,
  plaintextCacheLifetimeSeconds = undefined,
} = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-profile-'));
  const server = await startCoffer({ storage: 'inmem', plaintextCacheLifetimeSeconds });
  try {
    const headers = { 'x-vault-token': server.rootToken, 'content-type': 'application/json' };
    const res = await fetch(`${server.url}${PATH}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ data: { value: 'v'.repeat(100) } }),
    });
    await res.arrayBuffer();
    const limited = await createLimitedToken(server, PATH.slice('/v1/'.length));
    if (audit) {
      await enableFileAudit(server, join(dir, 'audit.log'), fsync ? {} : { fsync: 'false' });
    }
    const result = await runLoadInWorker({
      url: server.url,
      method: 'GET',
      path: PATH,
      headers: { 'x-vault-token': root ? server.rootToken : limited.token },
      connections: 32,
      warmupMs: 1_000,
      durationMs: seconds * 1000,
    });
    process.stdout.write(
      `${Math.round(result.perSecond)} reads/s, server busy ${Math.round(result.serverBusy * 100)}%\n`,
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  await profileRead({
    audit: !process.argv.includes('--no-audit'),
    root: process.argv.includes('--root'),
    fsync: !process.argv.includes('--no-fsync'),
    // --no-plaintext-cache: decrypt on every read (plaintext_cache_lifetime = 0).
    ...(process.argv.includes('--no-plaintext-cache') ? { plaintextCacheLifetimeSeconds: 0 } : {}),
  });
}
