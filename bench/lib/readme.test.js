// bench/README.md's prose checked against its own results table: each claim about a ratio
// carries a marker `<!-- check: <bench> | <text in the measured column> | <lo>-<hi> -->`, and
// the row's ratio (the bold **N.NNx**) must lie in [lo, hi]; the sentence before the marker
// must state the same range. Run by `node --test bench/lib/` (npm test, so CI).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The results table: bench name, measured text, ratio (undefined when the row has none). */
export function tableRows(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 6 || cells[1] === 'bench' || cells[1].startsWith('---')) continue;
    const ratio = /\*\*(\d+(?:\.\d+)?)x\*\*/.exec(cells[4] ?? '');
    rows.push({ bench: cells[1], measured: cells[2], ratio: ratio ? Number(ratio[1]) : undefined });
  }
  return rows;
}

const CHECK = /<!-- check: ([\w-]+) \| ([^|]+?) \| (\d+(?:\.\d+)?)-(\d+(?:\.\d+)?) -->/g;

/** Every claim marker with the prose just before it (back to the previous marker or bullet). */
export function claims(text) {
  const found = [];
  for (const match of text.matchAll(CHECK)) {
    const before = text.slice(0, match.index);
    const start = Math.max(before.lastIndexOf('\n- '), before.lastIndexOf('-->'));
    found.push({
      bench: match[1],
      measured: match[2].trim(),
      lo: match[3],
      hi: match[4],
      prose: before.slice(start).replace(/\s+/g, ' '),
    });
  }
  return found;
}

describe('bench/README.md', () => {
  const rows = tableRows(README);
  const all = claims(README);

  it('marks its ratio claims (one per row with a ratio is not required, but some exist)', () => {
    assert.ok(all.length >= 4, `only ${all.length} checked claims`);
  });

  for (const claim of all) {
    it(`${claim.bench} "${claim.measured}": ${claim.lo}-${claim.hi}x agrees with the table`, () => {
      const row = rows.find((r) => r.bench === claim.bench && r.measured.includes(claim.measured));
      assert.ok(row, `no ${claim.bench} row measures "${claim.measured}"`);
      assert.ok(row.ratio !== undefined, `the ${claim.bench} row has no ratio`);
      assert.ok(
        row.ratio >= Number(claim.lo) && row.ratio <= Number(claim.hi),
        `the table says ${row.ratio}x, the prose ${claim.lo}-${claim.hi}x`,
      );
      assert.ok(
        claim.prose.includes(`${claim.lo}-${claim.hi}x`),
        `the prose before the marker does not state ${claim.lo}-${claim.hi}x: ${claim.prose}`,
      );
    });
  }

  it('catches prose that disagrees with its table', () => {
    const planted = [
      '| bench | measured | baseline | ratio |',
      '|---|---|---|---|',
      '| database | credentials issued 231/s | direct 282/s | **0.82x** |',
      '',
      '- Issuing is 0.6-0.8x of the SQL. <!-- check: database | credentials issued | 0.6-0.8 -->',
    ].join('\n');
    const [claim] = claims(planted);
    const row = tableRows(planted).find((r) => r.measured.includes(claim.measured));
    assert.equal(row.ratio, 0.82);
    assert.ok(row.ratio > Number(claim.hi), 'the planted disagreement is visible');
  });
});
