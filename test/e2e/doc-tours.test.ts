// The doc tours run as written: every fenced block marked ```sh tour in README.md and
// docs/*.md runs, in order, with bash -euo pipefail against a dev server started for that file
// (in memory, root token dev-only-token, COFFER_ADDR/COFFER_TOKEN set as the README's export
// line does), in an empty temporary folder with an empty HOME. `npx coffer` and `coffer` run
// this checkout's bin/coffer.js. A line whose comment says `# Error...` must fail.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  COFFER_BIN,
  REPO_ROOT,
  createTempDir,
  killAllServers,
  startServer,
} from '../helpers/server-process.js';

const ROOT_TOKEN = 'dev-only-token';
const TOUR_FENCE = /^```sh tour\n([\s\S]*?)^```$/gm;

interface Block {
  readonly line: number;
  readonly text: string;
}

function toursOf(file: string): Block[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(TOUR_FENCE)].map((m) => ({
    line: text.slice(0, m.index).split('\n').length,
    text: m[1]!,
  }));
}

/** A line documented to fail (`cmd   # Error: ...`) must fail; the rest run as written. */
function script(block: string): string {
  return block
    .split('\n')
    .map((line) => {
      const m = /^(.*?\S)\s+# Error\b.*$/.exec(line);
      if (m === null || line.trimEnd().endsWith('\\')) return line;
      return `if ${m[1]!} >/dev/null 2>&1; then echo "expected to fail: ${m[1]!.replace(/["$`\\]/g, '\\$&')}" >&2; exit 1; fi`;
    })
    .join('\n');
}

const files = [
  join(REPO_ROOT, 'README.md'),
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(REPO_ROOT, 'docs', f)),
].filter((f) => toursOf(f).length > 0);

const tmp = createTempDir('coffer-tours-');

afterAll(async () => {
  await killAllServers();
  tmp.remove();
});

describe('doc tours', () => {
  it('README.md has a tour', () => {
    expect(files).toContain(join(REPO_ROOT, 'README.md'));
  });

  for (const file of files) {
    const name = file.slice(REPO_ROOT.length);
    it(`${name} runs as written`, async () => {
      const server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
      const work = join(tmp.path, name.replace(/\W+/g, '_'));
      const bin = join(work, '.bin');
      mkdirSync(bin, { recursive: true });
      const shim = join(bin, 'coffer');
      writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${COFFER_BIN}" "$@"\n`);
      chmodSync(shim, 0o755);
      // `npx coffer ...` as inside the repository: this checkout's coffer, nothing fetched.
      const prelude =
        'npx() { if [ "$1" = coffer ]; then shift; coffer "$@"; else command npx "$@"; fi; }\n';
      for (const block of toursOf(file)) {
        const run = spawnSync(
          'bash',
          ['--norc', '--noprofile', '-euo', 'pipefail', '-c', prelude + script(block.text)],
          {
            cwd: work,
            encoding: 'utf8',
            timeout: 120_000,
            env: {
              PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
              HOME: work,
              LANG: 'C.UTF-8',
              COFFER_ADDR: server.url,
              COFFER_TOKEN: ROOT_TOKEN,
            },
          },
        );
        expect(run.status, `${name}:${block.line} failed:\n${run.stderr}\n${run.stdout}`).toBe(0);
      }
      await server.stop();
    }, 300_000);
  }
});
