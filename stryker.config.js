// Mutation testing (StrykerJS) of the modules that hold Coffer's security promises, one module
// per run: `npm run mutate -- <module>` (bench/mutate.js) sets MUTATE_MODULE. Each module names
// the files it mutates and the test files that guard them, so a run executes only those tests.
// Not part of CI: the report goes to bench/mutation.md.
import { MODULES } from './bench/mutation/modules.js';

const name = process.env.MUTATE_MODULE ?? '';
const module = MODULES[name];
if (module === undefined) {
  throw new Error(`MUTATE_MODULE must be one of: ${Object.keys(MODULES).join(', ')}`);
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // MUTATE_TYPECHECK=0 drops the TypeScript checker (mutants that do not compile are then run
  // anyway: vitest strips types) when the machine is too busy for a type check per mutant.
  checkers: process.env.MUTATE_TYPECHECK === '0' ? [] : ['typescript'],
  tsconfigFile: 'bench/mutation/tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  vitest: { configFile: 'bench/mutation/vitest.config.js', related: false },
  mutate: module.mutate,
  // Meant to make every mutant run the module's whole test set, but the vitest runner (9.6.1)
  // reports per-test coverage regardless and only covering tests run (bench/mutation.md);
  // static survivors must be checked by hand.
  coverageAnalysis: 'off',
  concurrency: 1,
  timeoutMS: 20_000,
  reporters: ['json', 'clear-text', 'progress'],
  jsonReporter: { fileName: `bench/results/mutation/${name}.json` },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'ui', 'docs', 'deploy', 'packages/*/dist', 'bench/results', 'coverage'],
  cleanTempDir: 'always',
};
