// Test runner configuration: unit tests beside the code, integration and e2e under test/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'ui/src/**/*.test.ts'],
    pool: 'forks',
    setupFiles: ['./test/has-assertions.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The test script must never talk to a developer's real server.
    env: { COFFER_ADDR: '', COFFER_TOKEN: '', VAULT_ADDR: '', VAULT_TOKEN: '' },
  },
});
