import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCliForTest } from './testing.js';

/** Runs the bash script's completion function for `line` (the last word is being typed). */
function complete(script: string, line: string): string[] {
  const words = line.split(' ');
  const program = [
    script,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    '_coffer',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const run = spawnSync('bash', ['--norc', '--noprofile', '-c', program], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.split('\n').filter((w) => w !== '');
}

describe('coffer completion', () => {
  it('bash completes command words at every level of the tree', async () => {
    const { code, stdout } = await runCliForTest(['completion', 'bash']);
    expect(code).toBe(0);
    expect(complete(stdout, 'coffer kv g')).toEqual(['get']);
    expect(complete(stdout, 'coffer op')).toEqual(['operator']);
    expect(complete(stdout, 'coffer se')).toEqual(['secrets', 'server']);
    expect(complete(stdout, 'coffer kv metadata ')).toEqual(
      expect.arrayContaining(['get', 'put', 'delete']),
    );
    expect(complete(stdout, 'coffer -address=x kv pu')).toEqual(['put']);
    // After a full command: nothing from us (bash falls back to file names).
    expect(complete(stdout, 'coffer kv get ')).toEqual([]);
  });

  it('prints a zsh script and refuses other shells', async () => {
    const zsh = await runCliForTest(['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef coffer/);
    expect(zsh.stdout).toContain('"kv") cmds=(');
    const fish = await runCliForTest(['completion', 'fish']);
    expect(fish.code).toBe(2);
    expect(fish.stderr).toContain('bash or zsh');
  });
});
