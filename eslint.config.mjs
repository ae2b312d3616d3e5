// ESLint flat config (`npm run lint`, .ci/lint.sh): typescript-eslint's recommended rules plus the
// ones the code already claims through its eslint-disable comments, and the 120-column limit.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';


export default tseslint.config(
  {
    ignores: [
      'dist/',
      'build/',
      'build-cmake/',
      'prebuilds/',
      'node_modules/',
      'test/fixtures/.build/',
      'bench/results/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.node,
    },
    rules: {
      'prefer-arrow-callback': 'error',
      'max-len': ['error', { code: 120, ignoreUrls: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            ':matches(PropertyDefinition, TSParameterProperty, MethodDefinition[kind!="constructor"])' +
            '[accessibility="private"]',
          message: 'Use a #private field or method, not the `private` keyword (docs/conventions.md).',
        },
      ],
      // `{}` is TypeScript's "any non-nullish value", the bound lru-cache puts on cached values.
      '@typescript-eslint/no-empty-object-type': ['error', { allowObjectTypes: 'always' }],
    },
  },
  // CommonJS files (test fixtures loaded by require, worker scripts): require() is how they import.
  {
    files: ['**/*.cjs', 'scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-redeclare': ['error', { builtinGlobals: false }] },
  },
  // CommonJS scripts (fixtures that tests run as child processes, the install script that runs before any
  // build) load modules with require().
  {
    files: ['**/*.cjs', 'scripts/install.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
