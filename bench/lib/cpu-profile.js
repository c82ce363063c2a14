// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, the top N, as
// a share of the profile's samples. `node bench/lib/cpu-profile.js FILE [N] [--total]`.
import { readFileSync } from 'node:fs';
import { isMainModule } from './report.js';

/** @returns {Array<{ name: string, where: string, share: number }>} */
export function topSelfTime(profile, count = 10) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  const total = profile.samples.length;
  for (const id of profile.samples) {
    const node = byId.get(id);
    const frame = node.callFrame;
    const file = frame.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '');
    const name = frame.functionName || '(anonymous)';
    const key = `${name}\t${file === '' ? '' : `${file}:${frame.lineNumber + 1}`}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
  }
  return [...hits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, n]) => {
      const [name, where] = key.split('\t');
      return { name, where, share: n / total };
    });
}

/**
 * Total (inclusive) time per function: the share of samples with the function anywhere on the
 * stack (counted once per sample), for finding which subtree of the request path costs most.
 */
export function topTotalTime(profile, count = 10) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (node) => {
    const frame = node.callFrame;
    const file = frame.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '');
    return `${frame.functionName || '(anonymous)'}\t${file === '' ? '' : `${file}:${frame.lineNumber + 1}`}`;
  };
  const hits = new Map();
  for (const id of profile.samples) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(keyOf(byId.get(at)));
    for (const key of seen) hits.set(key, (hits.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...hits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, n]) => {
      const [name, where] = key.split('\t');
      return { name, where, share: n / total };
    });
}

if (isMainModule(import.meta.url)) {
  const args = process.argv.slice(2);
  const total = args.includes('--total');
  const [file, n] = args.filter((a) => a !== '--total');
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  for (const row of (total ? topTotalTime : topSelfTime)(profile, Number(n ?? 10))) {
    process.stdout.write(
      `${(row.share * 100).toFixed(1).padStart(5)}%  ${row.name}  ${row.where}\n`,
    );
  }
}
