// Prints one plain closing line, "N passed, N failed, N skipped", after vitest's own summary,
// so tools that read a run's last line see the real counts. Under CI (test/helpers/skips.ts
// `isCi`) a skipped test fails the run: every test needing a service, a client or a
// registered auth method must have run, and a forgotten `it.skip` cannot hide a failure.
import type { Reporter, TestModule } from 'vitest/node';
import { isCi } from './helpers/skips.js';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped.push(`${module.moduleId}: ${test.fullName}`);
      }
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
    if (isCi() && skipped.length > 0) {
      process.stdout.write(
        `CI is set, so skipped tests fail the run:\n${skipped.map((s) => `  ${s}\n`).join('')}`,
      );
      process.exitCode = 1;
    }
  }
}
