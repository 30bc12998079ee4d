// Runs the bundled CLI (dist/cli-bundle/main.cjs, written by bin/build.js) with V8's code cache, so
// that a command does not parse and compile again the code it ran the last time. Node's own compile
// cache (module.enableCompileCache) exists from Node 22 only and stores what was compiled when a
// module was loaded, before anything ran; here the cache is taken when the command ends, so it holds
// every function the command compiled as it went (what a cold `signet verify` spent most of its
// compile time on). Measured on Node 20: a cold `signet verify` 520 -> 380 ms; Node 22: 360 -> 300 ms.
//
// The cache is a file per Node version, architecture, V8 tier setting, bundle (its path, size and
// mtime: two installs of signet keep a cache each) and command, in the user's cache directory ($XDG_CACHE_HOME/signet/code-cache, else
// ~/.cache/signet/code-cache), created private (0700) and used only while it is owned by this user
// and not writable by others: it holds compiled code. A file is written whole and renamed into place;
// V8 checks its version, flags and the source's length and refuses a cache that does not match, and
// the cache is then written again. The directory is bounded (CACHE_MAX_BYTES): a cache is touched
// when used, and writing one removes the least recently used past the bound (installs that are gone,
// such as the clones CI runs in, leave theirs behind otherwise). SIGNET_CODE_CACHE=0 runs without it.
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { isAscii } from 'node:buffer';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What the cache directory may hold: a command's cache is 0.5-2 MB, every command's about 30 MB. */
const CACHE_MAX_BYTES = 96 * 1024 * 1024;
/** A cache used is touched at most this often (its mtime says when it was last used). */
const TOUCH_EVERY_MS = 24 * 60 * 60 * 1000;

/**
 * Removes this command's caches for other bundles (`older`), then the least recently used caches
 * until the directory holds no more than CACHE_MAX_BYTES; never `keep`, the one just written.
 */
function prune(dir, keep, older) {
  const files = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.v8cache')) continue;
    const path = join(dir, f);
    if (path === keep) continue;
    if (older(f)) {
      rmSync(path, { force: true });
      continue;
    }
    const st = statSync(path, { throwIfNoEntry: false });
    if (st) files.push({ path, size: st.size, used: st.mtimeMs });
  }
  let total = statSync(keep).size + files.reduce((n, f) => n + f.size, 0);
  for (const f of files.sort((a, b) => a.used - b.used)) {
    if (total <= CACHE_MAX_BYTES) break;
    rmSync(f.path, { force: true });
    total -= f.size;
  }
}

/** The private directory for the cache files, or undefined when there is none to trust. */
function cacheDirectory() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(base, 'signet', 'code-cache');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return undefined;
    if ((st.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined; // no home, a read-only file system: run without the cache
  }
}

/** FNV-1a (32 bits) of a string, in hex: names a bundle's path in a file name (not a security hash). */
function pathTag(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Compiles and runs `file` (a CommonJS bundle) as the main program. `tier` names the V8 flags in
 * force (they are part of what a cache is valid for), `command` the CLI command (each command's
 * cache holds what that command compiles).
 */
export function runBundle(file, { tier, command }) {
  // esbuild writes ASCII (it escapes the rest): read as latin1, that is the same text without the
  // UTF-8 decoding of 3 MB.
  const bytes = readFileSync(file);
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  const dir = process.env.SIGNET_CODE_CACHE === '0' ? undefined : cacheDirectory();
  let cacheFile;
  let cachedData;
  let older; // this command's caches for other bundles: replaced, not kept beside
  if (dir) {
    const st = statSync(file);
    const name = /^[a-z][a-z-]{0,31}$/.test(command ?? '') ? command : 'other';
    const prefix = `${process.version}-${process.arch}-${tier}-${pathTag(file)}-`;
    const suffix = `-${name}.v8cache`;
    cacheFile = join(dir, `${prefix}${st.size}-${Math.trunc(st.mtimeMs)}${suffix}`);
    older = (f) => f.startsWith(prefix) && f.endsWith(suffix) && join(dir, f) !== cacheFile;
    try {
      cachedData = readFileSync(cacheFile);
      const used = statSync(cacheFile).mtimeMs;
      const now = Date.now();
      if (now - used > TOUCH_EVERY_MS) utimesSync(cacheFile, now / 1000, now / 1000); // used: kept by prune
    } catch {
      // first run of this command with this bundle: compiled from source, cached at exit
    }
  }
  // The CommonJS wrapper Node would add, plus the value of the sources' `import.meta.url`.
  const wrapper = `(function (exports, require, module, __filename, __dirname, __signetImportMetaUrl) {${source}\n})`;
  const script = new vm.Script(wrapper, {
    filename: file,
    cachedData,
  });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        renameSync(tmp, cacheFile);
        prune(dir, cacheFile, older);
      } catch {
        // a full disk or a removed directory costs the next run its cache, nothing else
        try {
          rmSync(tmp, { force: true });
        } catch {
          // nothing more to do at exit
        }
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), pathToFileURL(file).href);
}
