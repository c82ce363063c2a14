// The skip guard itself: CI detected as CI systems set it, and a planted skip (a hand-written
// `it.skip`, or a missing requirement) that passes locally fails a vitest run under CI.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isCi } from './skips.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const CONFIG = 'test/fixtures/skips/vitest.config.ts';

/** Runs the fixture files matching `filter` in a child vitest; its exit code and output. */
function runFixture(
  filter: string,
  ci: string | undefined,
): Promise<{ code: number; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CI;
  if (ci !== undefined) env.CI = ci;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG, filter], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code: code ?? -1, out });
    });
  });
}

describe('CI detection', () => {
  it('takes the values CI systems set as CI, and only those', () => {
    for (const value of ['true', 'TRUE', '1', 'yes', 'on', 'woodpecker']) {
      expect(isCi({ CI: value }), value).toBe(true);
    }
    for (const value of [undefined, '', ' ', '0', 'false', 'False', 'no', 'off']) {
      expect(isCi(value === undefined ? {} : { CI: value }), String(value)).toBe(false);
    }
  });
});

describe('a planted skip under CI fails the run', () => {
  it('a hand-written it.skip passes locally and fails under CI=true', async () => {
    const [local, ci] = await Promise.all([
      runFixture('planted-skip', undefined),
      runFixture('planted-skip', 'true'),
    ]);
    expect(local.out).toContain('1 passed, 0 failed, 1 skipped');
    expect(local.code, local.out).toBe(0);
    expect(ci.out).toContain('CI is set, so skipped tests fail the run');
    expect(ci.out).toContain('is skipped by hand');
    expect(ci.code, ci.out).not.toBe(0);
  });

  it('a missing requirement skips locally and fails under CI=1', async () => {
    const [local, ci] = await Promise.all([
      runFixture('planted-missing', undefined),
      runFixture('planted-missing', '1'),
    ]);
    expect(local.out).toContain('0 passed, 0 failed, 1 skipped');
    expect(local.code, local.out).toBe(0);
    expect(ci.out).toContain('the planted service is not running');
    expect(ci.code, ci.out).not.toBe(0);
  });
});
