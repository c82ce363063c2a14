/** Layer rules from ARCHITECTURE.md, checked by `npm run depcheck` (part of `npm run check`). */
const { builtinModules } = require('node:module');

/** Any Node built-in, as dependency-cruiser names it ("fs/promises", "node:test"). */
const NODE_BUILTIN = `^(node:)?(${builtinModules.map((m) => m.replace(/[/.]/g, '\\$&')).join('|')})$`;

module.exports = {
  forbidden: [
    {
      name: 'no-dev-dependencies-at-run-time',
      comment:
        'What src/ runs must come from a dependency: npm install -g ships no devDependencies, ' +
        'so an installed coffer would fail at import (seen: yaml for -format=yaml).',
      severity: 'error',
      from: { path: '^src/', pathNot: '(\\.test\\.ts|\\.contract\\.ts|/testing\\.ts)$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'sdk-depends-on-nothing-internal',
      severity: 'error',
      from: { path: '^src/sdk/' },
      to: { path: '^src/(?!sdk/)' },
    },
    {
      name: 'engines-only-use-sdk',
      comment:
        'Engines and auth methods import the contract, never the core, barrier, storage or another engine.',
      severity: 'error',
      from: { path: '^src/(engines|auth)/([^/]+)/' },
      to: { path: '^src/(core|barrier|physical|seal|http|config|client|cli)/' },
    },
    {
      name: 'engines-never-import-each-other',
      comment:
        'What two engines share lives in the SDK (the versioned-secret model, field parsing).',
      severity: 'error',
      from: { path: '^src/engines/(?!auth/)([^/]+)/' },
      to: { path: '^src/engines/', pathNot: '^src/engines/$1/' },
    },
    {
      name: 'shared-db-below-the-engines',
      comment:
        'The database drivers (src/shared/db/) serve the database engine and the aws-sm ' +
        'built-in rotators: they use the SDK and each other, never an engine or the server.',
      severity: 'error',
      from: { path: '^src/shared/db/' },
      to: { path: '^src/(?!sdk/|shared/db/)' },
    },
    {
      name: 'auth-methods-never-import-each-other',
      comment: 'Auth methods share only the helpers directly under src/engines/auth/.',
      severity: 'error',
      from: { path: '^src/engines/auth/([^/]+)/' },
      to: { path: '^src/engines/', pathNot: '^src/engines/auth/($1/|[^/]+\\.ts$)' },
    },
    {
      name: 'core-never-imports-http',
      severity: 'error',
      from: { path: '^src/(core|barrier|physical|seal)/' },
      to: { path: '^src/(http|cli|client)/' },
    },
    {
      name: 'barrier-below-core',
      severity: 'error',
      from: { path: '^src/(barrier|physical)/' },
      to: { path: '^src/(core|engines|auth)/' },
    },
    {
      name: 'physical-below-barrier',
      severity: 'error',
      from: { path: '^src/physical/' },
      to: { path: '^src/(barrier|seal)/' },
    },
    {
      name: 'client-side-never-imports-server',
      comment: 'The CLI, agent and UI use only the HTTP client.',
      severity: 'error',
      from: { path: '^src/(client|cli)/' },
      to: { path: '^src/(?!client/|cli/|shared/|k8s/commands\\.ts$)' },
    },
    {
      name: 'k8s-is-client-side',
      comment:
        'The operator and the injector are Coffer clients: they use the HTTP client, CLI pieces and shared code, never the server.',
      severity: 'error',
      from: { path: '^src/k8s/' },
      to: { path: '^src/(?!client/|cli/|shared/|k8s/)' },
    },
    {
      name: 'ui-uses-only-the-browser-client',
      comment:
        'The web UI reaches the server only through the typed client, by its browser entry ' +
        '(src/client/browser.ts); never server code, never the Node-only parts of the client.',
      severity: 'error',
      from: { path: '^ui/' },
      to: { path: '^src/', pathNot: '^src/client/browser\\.ts$' },
    },
    {
      name: 'browser-client-never-reaches-node',
      comment: 'What the UI bundles from the client must run in a browser: no node: modules.',
      severity: 'error',
      from: { path: '^src/client/browser\\.ts$' },
      to: { path: NODE_BUILTIN, reachable: true },
    },
    {
      name: 'browser-client-stays-in-the-client',
      severity: 'error',
      from: { path: '^src/client/browser\\.ts$' },
      to: { path: '^src/(?!client/)', reachable: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
