// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, the top N, as
// a share of the profile's samples. `node bench/lib/cpu-profile.js FILE [N] [--total]`.
import { readFileSync } from 'node:fs';
import { isMainModule } from './report.js';

/** A profile node's function and place, `name\twhere` (dist/ and node_modules/ paths shortened). */
function frameKey(node) {
  const frame = node.callFrame;
  const file = frame.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '');
  const name = frame.functionName || '(anonymous)';
  return `${name}\t${file === '' ? '' : `${file}:${frame.lineNumber + 1}`}`;
}

/** The `count` keys with most hits, each as a share of the profile's samples. */
function top(hits, total, count) {
  return [...hits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, n]) => {
      const [name, where] = key.split('\t');
      return { name, where, share: n / total };
    });
}

/** @returns {Array<{ name: string, where: string, share: number }>} */
export function topSelfTime(profile, count = 10) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  for (const id of profile.samples) {
    const key = frameKey(byId.get(id));
    hits.set(key, (hits.get(key) ?? 0) + 1);
  }
  return top(hits, profile.samples.length, count);
}

/**
 * Total (inclusive) time per function: the share of samples with the function anywhere on the
 * stack (counted once per sample), for finding which subtree of the request path costs most.
 */
export function topTotalTime(profile, count = 10) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map();
  for (const id of profile.samples) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(frameKey(byId.get(at)));
    for (const key of seen) hits.set(key, (hits.get(key) ?? 0) + 1);
  }
  return top(hits, profile.samples.length, count);
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
