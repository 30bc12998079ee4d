import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// Each src/<domain>/ may be imported by other domains only through its index.ts, and the
// dependency direction of docs/architecture.md holds (oci and util are leaves, nothing imports cli).

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli/**', '../cli/*'], message: 'nothing imports cli/' }] }],
    },
  },
  { files: ['src/cli/**/*.ts', 'scripts/**', 'bench/**', 'test/**'], rules: { 'no-console': 'off' } },
  { files: ['src/oci/**/*.ts', 'src/util/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../store/**', '../copy/**', '../server/**', '../trust/**', '../signature/**', '../pki/**', '../cli/**', '../plugin/**'], message: 'oci/ and util/ are leaves' }] }] } },
  { files: ['src/pki/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../store/**', '../copy/**', '../server/**', '../trust/**', '../signature/**', '../cli/**', '../plugin/**'], message: 'pki/ imports only oci/ and util/' }] }] } },
  { files: ['src/server/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../cli/**', '../trust/**'], message: 'storage never imports trust; nothing imports cli' }] }] } },
  { rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }] } },
);
