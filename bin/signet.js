#!/usr/bin/env node
// The `signet` command. An installed package ships dist/ only and runs the compiled CLI (no tsx).
// A checkout (src/ present) runs the source through tsx, so a stale dist/ can never shadow it;
// SIGNET_USE_DIST=1 forces the compiled output (benchmarks, the packaging test).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined; // a checkout installed without dev dependencies: use dist/ if it is there
  }
}

const register = existsSync(source) && process.env.SIGNET_USE_DIST !== '1' ? await tsxRegister() : undefined;
if (register) {
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const hint = existsSync(source) ? 'run `npm ci` (for tsx) or `npm run build`' : 'reinstall the package';
  process.stderr.write(`Error: signet is not built: ${built} is missing (${hint})\n`);
  process.exitCode = 3;
}
