// deploy/systemd/coffer.service: systemd itself (systemd-analyze verify) accepts every line
// without a warning, and the hardening options the docs promise are there. ExecStart's binary
// is swapped for /bin/true in a copy, since verify insists that it exists.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, createTempDir } from '../helpers/server-process.js';
import { isCi } from '../helpers/services.js';

const UNIT = readFileSync(join(REPO_ROOT, 'deploy', 'systemd', 'coffer.service'), 'utf8');
const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8', timeout: 10_000 });
const missing =
  probe.status === 0 ? undefined : 'systemd-analyze is not installed (Debian: systemd)';
if (missing !== undefined && !isCi()) console.warn(`[systemd unit] verify skipped: ${missing}`);
const dir = createTempDir('coffer-systemd-');

afterAll(() => {
  dir.remove();
});

function verify(text: string): string {
  const file = join(dir.path, 'coffer.service');
  writeFileSync(file, text.replace('ExecStart=/usr/local/bin/coffer', 'ExecStart=/bin/true'));
  const run = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
  return `${run.status === 0 ? '' : `exit ${String(run.status)}\n`}${run.stderr}${run.stdout}`.trim();
}

describe('the systemd unit', () => {
  it.skipIf(missing !== undefined && !isCi())(
    'passes systemd-analyze verify with no warning',
    () => {
      expect(verify(UNIT)).toBe('');
      // The check notices a misspelt option (so a silent typo cannot drop a hardening line).
      expect(verify(UNIT.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'))).toContain(
        "Unknown key 'NoNewPrivilege'",
      );
    },
  );

  it('has the hardening options, no core dumps, and no MemoryDenyWriteExecute (V8 JIT)', () => {
    const lines = new Set(UNIT.split('\n').map((l) => l.trim()));
    for (const option of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'SystemCallFilter=@system-service',
      'LimitCORE=0',
      'UMask=0077',
      'StateDirectoryMode=0700',
      'User=coffer',
    ]) {
      expect(lines.has(option), option).toBe(true);
    }
    expect(UNIT).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });
});
