// Lint rules: type-aware typescript-eslint plus layer backstops (the dependency rule proper is
// enforced by dependency-cruiser, see .dependency-cruiser.cjs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'packages/*/dist/**',
      'node_modules/**',
      'coverage/**',
      // Stryker's sandbox copies of the tree, present while `npm run mutate` runs.
      '.stryker-tmp/**',
      'bin/**',
      'test/fixtures/**/*.js',
      'bench/**/*.js',
      '*.config.js',
      '*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
    },
  },
  {
    // The web UI (ui/) is typed against the DOM, with its own tsconfig.
    files: ['ui/**/*.ts', 'ui/**/*.tsx'],
    languageOptions: {
      parserOptions: { project: './ui/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // Only main (and the CLI's entry) read argv and the environment; everything else gets them
    // injected.
    files: ['src/**/*.ts'],
    ignores: ['src/main.ts', 'src/cli/**', 'src/**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only main.ts reads the environment.' },
        { object: 'process', property: 'argv', message: 'Only main.ts reads argv.' },
      ],
    },
  },
  {
    // @kubernetes/client-node's models are generated classes used as plain data: its serializer
    // reads fields by declared type, so object literals (and spread copies) are what it expects.
    files: ['src/k8s/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
    },
  },
  {
    files: ['src/engines/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/core/**', '**/barrier/**', '**/physical/**', '**/http/**', '**/seal/**'] },
      ],
    },
  },
  {
    files: ['src/**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts', 'ui/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
