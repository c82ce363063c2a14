// `npm run mutate [-- module ...]`: StrykerJS over the modules that hold Coffer's security
// promises (bench/mutation/modules.js), one module at a time with one test runner, then a
// score table per module and the surviving mutants (file:line, mutator, replacement) from
// the JSON reports in bench/results/mutation/. Not part of CI; bench/mutation.md records a run.
// `--report-only` prints the table from existing reports without running Stryker.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { MODULES } from './mutation/modules.js';

const args = process.argv.slice(2);
const reportOnly = args.includes('--report-only');
const names = args.filter((a) => !a.startsWith('--'));
const selected = names.length === 0 ? Object.keys(MODULES) : names;
for (const name of selected) {
  if (MODULES[name] === undefined) {
    process.stderr.write(`unknown module ${name}; known: ${Object.keys(MODULES).join(', ')}\n`);
    process.exit(2);
  }
}

const reportPath = (name) => `bench/results/mutation/${name}.json`;

if (!reportOnly) {
  for (const name of selected) {
    process.stdout.write(`\n== mutating ${name}\n`);
    const run = spawnSync('npx', ['stryker', 'run', 'stryker.config.js'], {
      stdio: 'inherit',
      env: { ...process.env, MUTATE_MODULE: name },
    });
    if (run.status !== 0) process.stderr.write(`stryker failed on ${name} (${run.status})\n`);
  }
}

const DETECTED = new Set(['Killed', 'Timeout']);
const IGNORED = new Set(['CompileError', 'RuntimeError', 'Ignored']);

/** Mutation score as Stryker counts it: detected / (detected + survived + no coverage). */
function summarise(report) {
  const counts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0 };
  const survivors = [];
  for (const [file, { mutants, source }] of Object.entries(report.files)) {
    const lines = source.split('\n');
    for (const m of mutants) {
      if (IGNORED.has(m.status)) continue;
      if (m.status === 'Killed') counts.killed++;
      else if (m.status === 'Timeout') counts.timeout++;
      else if (m.status === 'Survived') counts.survived++;
      else if (m.status === 'NoCoverage') counts.noCoverage++;
      if (!DETECTED.has(m.status)) {
        const at = m.location.start;
        const end = m.location.end;
        // The mutated text itself when it fits on one line (a line can hold several mutants).
        const line = lines[at.line - 1] ?? '';
        const span =
          end.line === at.line ? line.slice(at.column - 1, end.column - 1) : `${line.trim()} …`;
        survivors.push({
          where: `${file}:${at.line}:${at.column}`,
          status: m.status,
          mutator: m.mutatorName,
          original: span.replace(/\s+/g, ' ').slice(0, 100),
          replacement: (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 80),
        });
      }
    }
  }
  const valid = counts.killed + counts.timeout + counts.survived + counts.noCoverage;
  const score = valid === 0 ? 100 : ((counts.killed + counts.timeout) / valid) * 100;
  return { counts, valid, score, survivors };
}

process.stdout.write(
  '\n| module | mutants | killed | timeout | survived | no coverage | score |\n',
);
process.stdout.write('|---|---:|---:|---:|---:|---:|---:|\n');
const all = [];
for (const name of selected) {
  if (!existsSync(reportPath(name))) {
    process.stdout.write(`| ${name} | (no report) | | | | | |\n`);
    continue;
  }
  const s = summarise(JSON.parse(readFileSync(reportPath(name), 'utf8')));
  all.push([name, s]);
  const c = s.counts;
  process.stdout.write(
    `| ${name} | ${s.valid} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} | ${s.score.toFixed(1)}% |\n`,
  );
}
if (args.includes('--survivors')) {
  for (const [name, s] of all) {
    process.stdout.write(`\n### ${name}: ${s.survivors.length} not detected\n`);
    for (const v of s.survivors) {
      process.stdout.write(
        `- ${v.where} ${v.status} ${v.mutator}: \`${v.original}\` → \`${v.replacement}\`\n`,
      );
    }
  }
}
