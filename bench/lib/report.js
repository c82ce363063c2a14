// Output of the benches: aligned text tables on stdout and one JSON file per bench under
// bench/results/ (git-ignored).
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** Fixed-point number for tables; "-" for a missing or non-finite value. */
export function num(value, digits = 0) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A 0..1 fraction as a whole percentage. */
export function pct(fraction) {
  return typeof fraction === 'number' && Number.isFinite(fraction)
    ? `${num(fraction * 100)}%`
    : '-';
}

/**
 * Prints a table: `columns` are [header, align] pairs ('l' or 'r'); rows are arrays of strings
 * in the same order.
 * @param {string} title
 * @param {Array<[string, 'l' | 'r']>} columns
 * @param {string[][]} rows
 */
export function printTable(title, columns, rows) {
  const widths = columns.map(([header], c) =>
    Math.max(header.length, ...rows.map((row) => String(row[c] ?? '').length)),
  );
  const line = (cells) =>
    cells
      .map((cell, c) => {
        const text = String(cell ?? '');
        return columns[c][1] === 'r' ? text.padStart(widths[c]) : text.padEnd(widths[c]);
      })
      .join('  ')
      .trimEnd();
  const out = [
    '',
    title,
    line(columns.map(([header]) => header)),
    widths.map((w) => '-'.repeat(w)).join('  '),
  ];
  for (const row of rows) out.push(line(row));
  process.stdout.write(`${out.join('\n')}\n`);
}

/** What the numbers were measured on (the JSON files carry it). */
export function machineInfo() {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMb: Math.round(totalmem() / 1024 / 1024),
    /** 1-minute load average when the file was written: other work on the box skews numbers. */
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
  };
}

/**
 * Writes bench/results/<name>.json and returns its path.
 * @param {string} name
 * @param {unknown} data
 */
export function writeResult(name, data) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = new URL(`${name}.json`, `file://${RESULTS_DIR}`);
  const body = { bench: name, at: new Date().toISOString(), machine: machineInfo(), ...data };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return fileURLToPath(file);
}

/** Throws when a load run had errors: a ratio over failed requests means nothing. */
export function assertNoErrors(label, result) {
  if (result.errors > 0) {
    throw new Error(
      `${label}: ${result.errors} failed requests (first: ${result.firstError ?? 'unknown'})`,
    );
  }
  if (result.requests === 0) throw new Error(`${label}: no request completed in the window`);
}

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMainModule(moduleUrl) {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}
