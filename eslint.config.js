import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import importX from 'eslint-plugin-import-x';

// The module rules of docs/architecture.md, as zones over resolved file paths (so they hold in
// nested folders too): a folder imports only the folders listed for it, and another folder only
// through its index.ts. test/unit/lint/boundaries.test.ts proves that they bite.
export const ALLOWED = {
  util: [],
  oci: ['util'],
  store: ['oci', 'util'],
  copy: ['store', 'oci', 'util'],
  artifact: ['copy', 'sign', 'signature', 'store', 'oci', 'util'],
  pki: ['oci', 'util'],
  signature: ['pki', 'oci', 'util'],
  plugin: ['signature', 'pki', 'oci', 'util'],
  trust: ['plugin', 'signature', 'pki', 'oci', 'util'],
  freshness: ['plugin', 'store', 'pki', 'oci', 'util'],
  verify: ['trust', 'signature', 'freshness', 'store', 'pki', 'oci', 'util'],
  sign: ['plugin', 'signature', 'freshness', 'pki', 'store', 'oci', 'util'],
  server: ['verify', 'signature', 'store', 'oci', 'util'],
};
const FOLDERS = [...Object.keys(ALLOWED), 'cli'];

const zones = [];
for (const [folder, allowed] of Object.entries(ALLOWED)) {
  for (const other of FOLDERS) {
    if (other === folder) continue;
    const zone = { target: `./src/${folder}`, from: `./src/${other}` };
    if (allowed.includes(other))
      zones.push({ ...zone, except: ['./index.ts'], message: `import src/${other}/ only through its index.ts` });
    else
      zones.push({
        ...zone,
        message: `src/${folder}/ may import only ${allowed.length ? allowed.join(', ') : 'the public API'} (docs/architecture.md)`,
      });
  }
}
// The CLI is a thin shell over the public API: src/index.ts and its own files, nothing else.
zones.push({
  target: './src/cli',
  from: './src',
  except: ['./index.ts', './cli'],
  message: 'src/cli/ imports only the public API (src/index.ts)',
});
// Library folders never reach the public API module (it would make every folder depend on all).
zones.push({
  target: './src/!(cli)/**',
  from: './src/index.ts',
  message: 'library folders do not import src/index.ts',
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      'no-console': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
    },
  },
  { files: ['src/cli/**/*.ts', 'scripts/**', 'bench/**', 'test/**'], rules: { 'no-console': 'off' } },
  { rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }] } }
);
