#!/usr/bin/env node
// Runs the CLI from the compiled output when it exists, otherwise from source through tsx
// (a fresh checkout after `npm ci` works without a build step).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
// In a checkout (src/ present) run the source, so a stale dist/ can never shadow it; an installed
// package ships only dist/. SIGNET_USE_DIST=1 forces the compiled output (benchmarks).
const fromSource = existsSync(join(root, 'src', 'cli', 'main.ts')) && process.env.SIGNET_USE_DIST !== '1';
if (!fromSource && existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
