// The container image cannot be built here (no Docker engine), so this checks offline what can
// be checked: every file the Dockerfile copies from the build context exists and is not
// excluded by .dockerignore, everything the run stage copies from the build stage is what
// `npm run build` produces, the entrypoint is the package's `coffer` bin, the run stage runs
// no shell command and its user is not root.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server-process.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly stage: number;
}

function parse(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (m === null) throw new Error(`cannot parse Dockerfile line: ${line}`);
    if (m[1] === 'FROM') stage += 1;
    out.push({ op: m[1]!, args: m[2]!, stage });
  }
  return out;
}

const dockerfile = parse(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
};
const lastStage = Math.max(...dockerfile.map((i) => i.stage));
const runStage = dockerfile.filter((i) => i.stage === lastStage);

function isIgnored(path: string): boolean {
  return ignored.some((pattern) => {
    const p = pattern.replace(/^\*\*\//, '');
    return path === p || path.startsWith(`${p}/`) || path.split('/').includes(p);
  });
}

describe('Dockerfile', () => {
  it('has a build stage and a distroless run stage without a shell command', () => {
    const froms = dockerfile.filter((i) => i.op === 'FROM');
    expect(froms).toHaveLength(2);
    expect(froms[0]!.args).toMatch(/^node:20[-.\w]* AS build$/);
    expect(froms[1]!.args).toMatch(/^gcr\.io\/distroless\/nodejs20-debian12:nonroot$/);
    expect(runStage.filter((i) => i.op === 'RUN')).toEqual([]);
  });

  it('copies from the context only files that exist and are not ignored', () => {
    const copies = dockerfile.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const parts = copy.args.split(/\s+/);
      for (const source of parts.slice(0, -1)) {
        expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
        expect(isIgnored(source), `${source} is excluded by .dockerignore`).toBe(false);
      }
    }
    // What the build needs is copied: the build script's tsconfig files and the sources.
    const copied = copies.flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    for (const needed of [
      'package-lock.json',
      'tsconfig.build.json',
      'src',
      'bin',
      'packages/client/tsconfig.json',
    ]) {
      expect(copied).toContain(needed);
    }
  });

  it('takes from the build stage what `npm run build` produces', () => {
    const copies = runStage.filter((i) => i.op === 'COPY');
    for (const copy of copies) {
      expect(copy.args).toMatch(/^--from=build /);
      const source = copy.args.split(/\s+/)[1]!;
      expect(source.startsWith('/src/')).toBe(true);
      expect(existsSync(join(REPO_ROOT, source.slice('/src/'.length))), source).toBe(true);
    }
    const sources = copies.map((c) => c.args.split(/\s+/)[1]);
    for (const needed of ['/src/bin', '/src/dist', '/src/node_modules', '/src/package.json']) {
      expect(sources).toContain(needed);
    }
  });

  it("runs the package's coffer bin as a non-root user", () => {
    const workdir = runStage.filter((i) => i.op === 'WORKDIR').at(-1)!.args;
    const entrypoint = JSON.parse(runStage.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint[0]).toBe('/nodejs/bin/node');
    expect(entrypoint[1]).toBe(join(workdir, pkg.bin['coffer']!));
    const user = runStage.find((i) => i.op === 'USER')!.args;
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    // The Kubernetes manifests run it with the same uid.
    const deployments = readFileSync(
      join(REPO_ROOT, 'deploy/kubernetes/base/server/statefulset.yaml'),
      'utf8',
    );
    expect(deployments).toContain(`runAsUser: ${uid}`);
  });
});
