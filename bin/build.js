// `npm run build` (and `prepare`): compiles src/ to dist/ with tsc, then writes dist/.source-stamp,
// a listing of what the build read (every file under src/ by path, size and mtime, and the tsconfig
// files) taken before tsc starts. bin/signet.js compares it with the tree as it is now: a checkout
// runs the compiled dist/ only while nothing it was built from has changed, so it can never be
// stale (an edit, a new or deleted file, a checkout of other sources all change the listing).
// An installed package has no src/ and always runs dist/ (bin/signet.js never loads this file there).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STAMP_FILE = '.source-stamp';
const INPUTS = ['tsconfig.json', 'tsconfig.build.json'];

/**
 * What the build reads, one line per file (path, size, mtime), sorted: no hashing, since loading
 * node:crypto alone costs more than the walk. `null` when there is no src/ (an installed package).
 */
export function sourceStamp(root) {
  const lines = [];
  const walk = (dir, rel) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else {
        const st = statSync(p);
        lines.push(`${rel}${e.name}\0${st.size}\0${st.mtimeMs}`);
      }
    }
  };
  try {
    walk(join(root, 'src'), 'src/');
  } catch {
    return null;
  }
  for (const f of INPUTS) {
    try {
      const st = statSync(join(root, f));
      lines.push(`${f}\0${st.size}\0${st.mtimeMs}`);
    } catch {
      lines.push(`${f}\0-`);
    }
  }
  return lines.sort().join('\n');
}

function build(root) {
  const stamp = sourceStamp(root);
  // Compiled beside, then swapped in: a CLI started during the build (tests, a second shell) sees
  // the old dist/ or the new one, never a half-written one.
  const tmp = join(root, 'node_modules', '.cache', `signet-build-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    return r.status ?? 1;
  }
  if (stamp) writeFileSync(join(tmp, STAMP_FILE), stamp);
  const dist = join(root, 'dist');
  const old = `${dist}.old-${process.pid}`;
  if (existsSync(dist)) renameSync(dist, old);
  try {
    renameSync(tmp, dist);
  } catch (err) {
    // node_modules on another file system (a symlinked node_modules): copy instead
    if (err.code !== 'EXDEV') throw err;
    cpSync(tmp, dist, { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  process.exitCode = build(join(dirname(fileURLToPath(import.meta.url)), '..'));
}
