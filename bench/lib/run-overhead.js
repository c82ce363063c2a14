// Bench: what `coffer run` costs a program. (1) Start-up overhead: `coffer run -path P -- true`
// against `true` run directly (with `node -e 0` and `coffer version` to show how much of it is
// Node's own start and the CLI's module loading), interleaved, median of N each. (2) Change
// propagation: with `coffer run -watch`, the time from a KV write to the restarted program
// printing the new value (p50/p99 over M writes).
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startCoffer } from './coffer.js';
import { isMainModule, num, printTable, writeResult } from './report.js';
import { median } from './rounds.js';

export const DEFAULTS = {
  /** Start-up runs per variant (interleaved). */
  starts: 20,
  /** Writes whose propagation is timed. */
  changes: 30,
  /** Bound on one propagation; a miss means change events do not reach `coffer run`. */
  changeTimeoutMs: 5_000,
};

const COFFER_BIN = fileURLToPath(new URL('../../bin/coffer.js', import.meta.url));

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Runs `command args` to completion and returns the wall time in ms; rejects on failure. */
function timeRun(command, args, env) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - start;
      if (code === 0) resolve(ms);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

async function kvPut(coffer, path, data) {
  const res = await fetch(`${coffer.url}/v1/secret/data/${path}`, {
    method: 'POST',
    headers: { 'X-Vault-Token': coffer.rootToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`write secret/${path}: HTTP ${res.status}`);
  await res.arrayBuffer();
}

async function measureStarts(coffer, settings, env) {
  // Two keys, neither a protected variable name (`user` would set USER, which `coffer run`
  // refuses without an explicit -map since the safe delivery defaults).
  await kvPut(coffer, 'bench-run', { token: 'value-1', app_user: 'bench' });
  const variants = {
    true: () => timeRun('true', [], env),
    node: () => timeRun(process.execPath, ['-e', '0'], env),
    version: () => timeRun(process.execPath, [COFFER_BIN, 'version'], env),
    run: () =>
      timeRun(process.execPath, [COFFER_BIN, 'run', '-path=secret/bench-run', '--', 'true'], env),
  };
  for (const f of Object.values(variants)) await f(); // warm the file cache once
  const times = { true: [], node: [], version: [], run: [] };
  for (let i = 0; i < settings.starts; i++) {
    const order = Object.keys(times);
    if (i % 2 === 1) order.reverse();
    for (const name of order) times[name].push(await variants[name]());
  }
  return {
    trueMs: median(times.true),
    nodeMs: median(times.node),
    cliStartMs: median(times.version),
    runMs: median(times.run),
    overheadMs: median(times.run) - median(times.true),
    samples: times,
  };
}

async function measureChanges(coffer, settings, env) {
  await kvPut(coffer, 'bench-watch', { token: 'v0' });
  const child = spawn(
    process.execPath,
    [
      COFFER_BIN,
      'run',
      '-watch',
      '-path=secret/bench-watch',
      '--',
      process.execPath,
      '-e',
      'console.log("v=" + process.env.TOKEN); setInterval(() => {}, 1000)',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (c) => (out += c.toString()));
  const waitFor = async (line, timeoutMs) => {
    const start = performance.now();
    while (!out.includes(line)) {
      if (performance.now() - start > timeoutMs) return false;
      await new Promise((r) => setTimeout(r, 1));
    }
    return true;
  };
  const latencies = [];
  let missed = 0;
  try {
    if (!(await waitFor('v=v0\n', 10_000))) throw new Error('coffer run -watch did not start');
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 1; i <= settings.changes; i++) {
      const start = performance.now();
      await kvPut(coffer, 'bench-watch', { token: `v${i}` });
      if (await waitFor(`v=v${i}\n`, settings.changeTimeoutMs)) {
        latencies.push(performance.now() - start);
      } else {
        missed++;
        if (latencies.length === 0) break; // no events at all: stop early
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
  return {
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    measured: latencies.length,
    missed,
    samples: latencies,
  };
}

export async function runRunOverheadBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const coffer = await startCoffer({ storage: 'inmem' });
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      COFFER_ADDR: coffer.url,
      COFFER_TOKEN: coffer.rootToken,
    };
    const starts = await measureStarts(coffer, settings, env);
    const changes = await measureChanges(coffer, settings, env);
    printTable(
      `coffer run start-up (median of ${settings.starts}, interleaved) and -watch propagation (${changes.measured} writes)`,
      [
        ['measured', 'l'],
        ['ms', 'r'],
      ],
      [
        ['true, run directly', num(starts.trueMs, 1)],
        ['node -e 0 (Node start-up alone)', num(starts.nodeMs, 1)],
        ['coffer version (CLI start-up, no request)', num(starts.cliStartMs, 1)],
        ['coffer run -path=secret/bench-run -- true', num(starts.runMs, 1)],
        ['overhead of coffer run over true', num(starts.overheadMs, 1)],
        ['write → restarted program printed the value, p50', num(changes.p50Ms, 1)],
        ['write → restarted program printed the value, p99', num(changes.p99Ms, 1)],
      ],
    );
    if (changes.missed > 0) {
      process.stdout.write(`${changes.missed} change(s) did not reach the program in time\n`);
    }
    const summary = { settings, starts, changes };
    process.stdout.write(`wrote ${writeResult('run-overhead', summary)}\n`);
    return summary;
  } finally {
    await coffer.close();
  }
}

if (isMainModule(import.meta.url)) {
  await runRunOverheadBench();
}
