// The vitest configuration Stryker runs: only the test files of the module under mutation
// (MUTATE_MODULE, see modules.js), one fork, no summary reporter.
import { defineConfig } from 'vitest/config';
import { MODULES } from './modules.js';

const module = MODULES[process.env.MUTATE_MODULE ?? ''];
if (module === undefined) throw new Error('MUTATE_MODULE names no module in modules.js');

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: module.tests,
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: {
      COFFER_ADDR: '',
      COFFER_TOKEN: '',
      VAULT_ADDR: '',
      VAULT_TOKEN: '',
      // The ACL property test (src/core/policy/acl.property.test.ts) at 10,000 cases instead of
      // 100,000: it runs once per surviving mutant. Fewer cases can only let a mutant live.
      ACL_PROPERTY_SETS: '2500',
    },
  },
});
