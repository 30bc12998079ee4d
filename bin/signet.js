#!/usr/bin/env node
// The `signet` command. An installed package ships dist/ only and runs the compiled CLI (no tsx).
// A checkout (src/ present) runs dist/ too while it is fresh: `npm run build` (run by `npm ci`
// through `prepare`) stamps dist/ with a listing of the sources it compiled (bin/build.js), and a
// checkout whose sources no longer match runs src/ through tsx instead, so a stale dist/ can never
// shadow them. SIGNET_USE_DIST=1 forces dist/ (the test runner builds first), SIGNET_USE_DIST=0
// forces the sources. dist/ holds the CLI twice: bundled by esbuild into one file
// (dist/cli-bundle/main.cjs, run with V8's code cache by bin/code-cache.js), which runs when
// present, and compiled file by file by tsc (dist/cli/main.js, beside the library), the fallback.
import module from 'node:module';
import v8 from 'node:v8';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// WebAssembly stays on V8's baseline compiler (Liftoff) for a short-lived command. undici parses
// HTTP with a WebAssembly module (llhttp) that V8 recompiles with its optimizing tier in the
// background once it is hot, and Node waits for background compile jobs before a process exits:
// a cold `signet verify` spent 100-500 ms after its output waiting for a compile it would never
// use. `serve` runs for long and keeps the optimizing tier.
const serve = process.argv[2] === 'serve';
if (!serve) v8.setFlagsFromString('--liftoff-only');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundled = join(root, 'dist', 'cli-bundle', 'main.cjs');
const compiled = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined; // a checkout installed without dev dependencies: use dist/ if it is there
  }
}

/** A checkout's dist/ is fresh when the stamp its build wrote matches the sources as they are now. */
async function distIsFresh() {
  let stamp;
  try {
    stamp = readFileSync(join(root, 'dist', '.source-stamp'), 'utf8');
  } catch {
    return false; // never built, or built by something else than `npm run build`
  }
  const { sourceStamp } = await import('./build.js');
  return sourceStamp(root) === stamp;
}

const force = process.env.SIGNET_USE_DIST;
const fromSource = existsSync(source) && force !== '1' && (force === '0' || !(await distIsFresh()));
const register = fromSource ? await tsxRegister() : undefined;
if (register) {
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(bundled)) {
  const { runBundle } = await import('./code-cache.js');
  runBundle(bundled, { tier: serve ? 'full' : 'liftoff', command: process.argv[2] });
} else if (existsSync(compiled)) {
  // Node 22+: cache V8's compiled code of the modules on disk; Node 20 has no such API.
  module.enableCompileCache?.();
  await import(pathToFileURL(compiled).href);
} else {
  const hint = existsSync(source) ? 'run `npm ci` (for tsx) or `npm run build`' : 'reinstall the package';
  process.stderr.write(`Error: signet is not built: ${compiled} is missing (${hint})\n`);
  process.exitCode = 3;
}
