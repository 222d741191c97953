// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** The folder walls: each entry is a no-restricted-imports pattern group with the reason lint prints. */
const walls = {
  workflowSandbox: {
    regex: '^(?!@temporalio/(workflow|common)$|\\./|\\.\\./shared/)',
    allowTypeImports: true,
    message: 'Workflow code runs in the replay sandbox: only @temporalio/workflow, @temporalio/common and src/shared.',
  },
  apiNoActivities: {
    group: ['**/activities/*', '**/activities'],
    message: 'The API starts and signals workflows; it never runs activities itself.',
  },
  apiNoGit: {
    group: ['**/git/*', '**/git'],
    message: 'The API never runs git; shared URL rules live in src/egress.',
  },
  apiNoCodeRead: {
    group: ['**/code-read/*', '**/code-read'],
    allowTypeImports: true,
    message:
      'The API never reads a clone: src/code-read runs git on the worker host that holds it (docs/code-access.md).',
  },
  postgresInDb: {
    group: ['postgres'],
    message: 'Only src/db talks to PostgreSQL; add a function there.',
  },
};

/** @param {...{group?: string[], regex?: string, message: string, allowTypeImports?: boolean}} groups */
const restrict = (...groups) => ({
  '@typescript-eslint/no-restricted-imports': ['error', { patterns: groups }],
});

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', 'dist/', 'coverage/', '.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Lifecycle objects are closures ({ stop }), not classes: passing their methods along is how they are used.
      '@typescript-eslint/unbound-method': 'off',
      // Interface implementations (key providers, walkers) return promises without always awaiting.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests and benchmarks read untyped JSON bodies and pass methods to expect(): the any-flow rules stay for src.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['src/**/*.ts'], ignores: ['src/db/**'], rules: restrict(walls.postgresInDb) },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      ...restrict(walls.workflowSandbox, walls.postgresInDb),
      // The workflow stays a small entry point over named parts (docs/changing-the-workflow.md).
      'max-lines': ['error', { max: 200, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: restrict(walls.apiNoActivities, walls.apiNoGit, walls.apiNoCodeRead, walls.postgresInDb),
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  prettier,
);
