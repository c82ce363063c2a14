// The modules under mutation testing: the files Stryker mutates and the test files run against
// each mutant (only those, so each run stays short). Shared by stryker.config.js,
// bench/mutation/vitest.config.js and bench/mutate.js.

const src = (globs) => [...globs, '!**/*.test.ts', '!**/testing.ts'];

export const MODULES = {
  policy: {
    mutate: src(['src/core/policy/*.ts']),
    tests: ['src/core/policy/*.test.ts', 'src/http/policy-matrix.test.ts'],
  },
  // The same module in two runs, each under the 30-minute budget of a shared machine: the
  // compiled ACL, and the policy language with the built-in policies and the store.
  'policy-acl': {
    mutate: ['src/core/policy/acl.ts'],
    tests: [
      'src/core/policy/acl.test.ts',
      'src/core/policy/acl.property.test.ts',
      'src/http/policy-matrix.test.ts',
    ],
  },
  'policy-parse': {
    mutate: [
      'src/core/policy/parse.ts',
      'src/core/policy/builtin.ts',
      'src/core/policy/policy-store.ts',
      'src/core/policy/policy.ts',
    ],
    tests: [
      'src/core/policy/parse.test.ts',
      'src/core/policy/builtin.test.ts',
      'src/core/policy/policy-store.test.ts',
      'src/core/policy/acl.test.ts',
      'src/http/policy-matrix.test.ts',
    ],
  },
  barrier: {
    mutate: src(['src/barrier/*.ts']),
    tests: ['src/barrier/*.test.ts'],
  },
  audit: {
    mutate: src(['src/core/audit/**/*.ts']),
    tests: ['src/core/audit/**/*.test.ts', 'src/http/audit-pipeline.test.ts'],
  },
  // The same module in two runs, each under the 30-minute budget of a shared machine: the
  // broker with the line format, the HMACs and the hash chain; and the device options, the
  // file and socket devices and the log view. Without the tests that build a whole server in a
  // beforeAll (audit-pipeline, door-audit): Stryker counts the broker code they run there as
  // static, and reruns every test for each of those mutants (53% of the broker's mutants).
  'audit-core': {
    mutate: [
      'src/core/audit/audit-broker.ts',
      'src/core/audit/chain.ts',
      'src/core/audit/format.ts',
      'src/core/audit/hash.ts',
      'src/core/audit/paths.ts',
    ],
    tests: [
      'src/core/audit/audit-broker.test.ts',
      'src/core/audit/chain.test.ts',
      'src/core/audit/format.test.ts',
      'src/core/audit/hash.test.ts',
      'src/core/audit/paths.test.ts',
      'src/core/audit/log-view.test.ts',
    ],
  },
  'audit-devices': {
    mutate: [
      'src/core/audit/device-config.ts',
      'src/core/audit/devices/*.ts',
      'src/core/audit/log-view.ts',
      '!**/*.test.ts',
    ],
    tests: [
      'src/core/audit/device-config.test.ts',
      'src/core/audit/devices/*.test.ts',
      'src/core/audit/log-view.test.ts',
      'src/core/audit/audit-broker.test.ts',
      'src/core/audit/paths.test.ts',
    ],
  },
  'token-store': {
    mutate: ['src/core/token-store.ts'],
    tests: [
      'src/core/token-store.test.ts',
      'src/core/token-backend.test.ts',
      'src/core/token-leases.test.ts',
    ],
  },
  wrapping: {
    mutate: ['src/core/wrapping.ts'],
    tests: ['src/core/wrapping.test.ts'],
  },
  userpass: {
    mutate: src(['src/engines/auth/userpass/*.ts']),
    tests: ['src/engines/auth/userpass/*.test.ts'],
  },
  statements: {
    mutate: ['src/shared/db/statements.ts'],
    tests: ['src/shared/db/statements.test.ts'],
  },
  'aws-auth': {
    mutate: ['src/http/aws/sigv4.ts', 'src/engines/aws-secrets/action-policy.ts'],
    // Not src/http/aws/door.test.ts: it boots the whole server for every mutant (about six
    // times slower here), and what it adds beyond these tests is in door.ts, not mutated.
    tests: ['src/http/aws/sigv4*.test.ts', 'src/engines/aws-secrets/*.test.ts'],
  },
  // The Google door's authorisation: the bearer credential it accepts and the IAM bindings
  // it evaluates on a secret.
  'gcp-auth': {
    mutate: ['src/http/gcp/auth.ts', 'src/engines/gcp-sm/iam.ts'],
    tests: ['src/http/gcp/*.test.ts', 'src/engines/gcp-sm/*.test.ts'],
  },
};
