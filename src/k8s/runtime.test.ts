import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeCofferArgv, RUNTIME_MOUNT_PATH } from './injector.js';
import { copyRuntime, isLoader, sharedObjectsOf, sonameOf } from './runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-runtime-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('copy-runtime', () => {
  it('reads the mapped shared objects and their sonames', () => {
    const maps = [
      '55d0-55d1 r--p 00000000 08:01 1 /usr/bin/node',
      '7f00-7f01 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30',
      '7f02-7f03 r-xp 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '7f04-7f05 r-xp 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '7f06-7f07 r-xp 00000000 08:01 4 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      '7ffd-7ffe rw-p 00000000 00:00 0 [stack]',
    ].join('\n');
    expect(sharedObjectsOf(maps)).toEqual([
      '/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30',
      '/usr/lib/x86_64-linux-gnu/libc.so.6',
      '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
    ]);
    expect(sonameOf('libstdc++.so.6.0.30')).toBe('libstdc++.so.6');
    expect(sonameOf('libc.so.6')).toBe('libc.so.6');
    expect(isLoader('ld-linux-x86-64.so.2')).toBe(true);
    expect(isLoader('ld-musl-x86_64.so.1')).toBe(true);
    expect(isLoader('libc.so.6')).toBe(false);
  });

  it('copies node, its libraries and the app so that the loader runs them anywhere', async () => {
    const app = join(dir, 'app-src');
    for (const part of ['bin', 'dist', 'node_modules'])
      mkdirSync(join(app, part), { recursive: true });
    writeFileSync(join(app, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(app, 'bin', 'coffer.js'),
      "process.stdout.write(`ran ${process.version} ${process.argv.slice(2).join(' ')}`);\n",
    );
    const dest = join(dir, 'runtime');
    const result = await copyRuntime(dest, app);
    expect(result.loader).toMatch(/^ld-/);
    expect(result.libraries.length).toBeGreaterThan(2);
    // The injected command, with the runtime where the emptyDir is mounted in the pod.
    const argv = runtimeCofferArgv().map((a) => a.replace(RUNTIME_MOUNT_PATH, dest));
    const out = execFileSync(argv[0]!, [...argv.slice(1), 'k8s', 'run'], {
      encoding: 'utf8',
      env: {},
      timeout: 20_000,
    });
    expect(out).toBe(`ran ${process.version} k8s run`);
  }, 60_000);
});
