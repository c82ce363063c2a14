// Runs the variants of one bench in interleaved rounds (A B, B A, A B, ...) against servers that
// stay up, so that noise from other work on a shared machine hits every variant alike; reports
// per-variant numbers and per-round ratios against the baseline variant.
import { runLoadInWorker } from './load.js';
import { assertNoErrors, num } from './report.js';

/**
 * @typedef {object} RoundSettings
 * @property {number} connections
 * @property {number} rounds        How many times each variant is measured.
 * @property {number} firstWarmupMs Warm-up before a variant's first window (JIT, caches).
 * @property {number} warmupMs      Warm-up before each later window.
 * @property {number} durationMs    Measured window per variant per round.
 */

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** @param {number[]} values */
function mean(values) {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * @param {object} options
 * @param {string} options.bench    Name used in error messages.
 * @param {Array<{ name: string, request: (round: number) => Omit<import('./load.js').LoadSpec,
 *   'connections' | 'warmupMs' | 'durationMs'> }>} options.variants  The first is the baseline.
 * @param {RoundSettings} options.settings
 */
export async function runRounds({ bench, variants, settings }) {
  /** @type {Array<Array<import('./load.js').LoadResult>>} results[variant][round] */
  const results = variants.map(() => []);
  for (let round = 0; round < settings.rounds; round++) {
    // Alternate the order so no variant always runs first (or right after another).
    const order = variants.map((_, v) => v);
    if (round % 2 === 1) order.reverse();
    for (const v of order) {
      const variant = variants[v];
      const load = await runLoadInWorker({
        ...variant.request(round),
        connections: settings.connections,
        warmupMs: round === 0 ? settings.firstWarmupMs : settings.warmupMs,
        durationMs: settings.durationMs,
      });
      assertNoErrors(`${bench} (${variant.name}, round ${round + 1})`, load);
      results[v].push(load);
    }
  }

  const baseline = results[0];
  return variants.map((variant, v) => {
    const runs = results[v];
    const requests = runs.reduce((sum, r) => sum + r.requests, 0);
    const ratios = runs.map((r, round) => r.perSecond / baseline[round].perSecond);
    return {
      name: variant.name,
      /** Pooled over all rounds: measured requests / total measured time. */
      perSecond: requests / ((settings.rounds * settings.durationMs) / 1000),
      perSecondByRound: runs.map((r) => r.perSecond),
      /** Median over rounds of each round's percentile. */
      latencyMs: {
        p50: median(runs.map((r) => r.latencyMs.p50)),
        p99: median(runs.map((r) => r.latencyMs.p99)),
        max: Math.max(...runs.map((r) => r.latencyMs.max)),
      },
      requests,
      totalOk: runs.reduce((sum, r) => sum + r.totalOk, 0),
      serverBusy: mean(runs.map((r) => r.serverBusy)),
      clientBusy: mean(runs.map((r) => r.clientBusy)),
      /** This variant's throughput over the baseline's, median of the per-round ratios. */
      ratio: median(ratios),
      ratioByRound: ratios,
      rounds: runs,
    };
  });
}

/**
 * One variant's throughput over another's (rows from the same runRounds call), computed per
 * round like `ratio`: for comparisons between two variants neither of which is the baseline.
 * @returns {{ ratio: number, ratioByRound: number[] }}
 */
export function ratioBetween(row, baseRow) {
  const ratioByRound = row.perSecondByRound.map(
    (perSecond, round) => perSecond / baseRow.perSecondByRound[round],
  );
  return { ratio: median(ratioByRound), ratioByRound };
}

/** "1.23x (1.10-1.40)": median ratio with the spread over rounds. */
export function ratioText(row) {
  const lo = Math.min(...row.ratioByRound);
  const hi = Math.max(...row.ratioByRound);
  return `${num(row.ratio, 2)}x (${num(lo, 2)}-${num(hi, 2)})`;
}
