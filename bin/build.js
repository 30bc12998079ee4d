// `npm run build` (and `prepare`): compiles src/ to dist/ with tsc, then writes dist/.source-stamp,
// a listing of what the build read (every file under src/ by path, size and mtime, and the tsconfig
// files) taken before tsc starts. bin/signet.js compares it with the tree as it is now: a checkout
// runs the compiled dist/ only while nothing it was built from has changed, so it can never be
// stale (an edit, a new or deleted file, a checkout of other sources all change the listing).
// An installed package has no src/ and always runs dist/ (bin/signet.js never loads this file there).
//
// Beside the tsc output (the library and its types, for package users), the build writes the CLI as
// one esbuild bundle, dist/cli-bundle/main.js plus split chunks: a cold `signet` then loads a few
// files instead of hundreds of modules, and each command's `import()` of what it uses stays a lazy
// chunk. The packages are bundled too (that is where the start-up goes), except CLI_EXTERNAL.
import { cpSync, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STAMP_FILE = '.source-stamp';
const INPUTS = ['tsconfig.json', 'tsconfig.build.json'];
/** The bundled CLI's directory under dist/, and its entry (bin/signet.js runs it). */
export const CLI_BUNDLE = 'cli-bundle';
/**
 * Packages the CLI bundle leaves to node_modules: pino starts its transports from its own files
 * (thread-stream workers). Not bundled either, without being listed: what the sources require at
 * run time through `createRequire(import.meta.url)` (the Sigstore libraries, cbor2), resolved from
 * dist/cli-bundle/ to the package's node_modules.
 */
const CLI_EXTERNAL = ['pino'];

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

/**
 * undici's main file requires all of undici (fetch, WebSocket, EventSource, mocks, caches: ~700 kB)
 * and its cookie code touches `globalThis.Headers`, which makes Node load its own bundled undici as
 * well. Signet's sources use only `Agent`, two interceptors and `request(url, options)`, so in the
 * CLI bundle their `import … from 'undici'` is served by this ES module over undici's own files.
 * Being an ES module, a name it does not export fails the build, so a new import from undici
 * cannot silently miss; a file undici moves fails the build too.
 */
const UNDICI_ENTRY = `
import Agent from './lib/dispatcher/agent.js';
import Dispatcher from './lib/dispatcher/dispatcher.js';
import api from './lib/api/index.js';
import errors from './lib/core/errors.js';
import globalDispatcher from './lib/global.js';
import redirect from './lib/interceptor/redirect.js';
import retry from './lib/interceptor/retry.js';

// dispatcher.request() and the other API methods on every dispatcher (undici's index adds them).
Object.assign(Dispatcher.prototype, api);
export { Agent, errors };
export const interceptors = { redirect, retry };

// The one form the sources call: a URL and options naming the method, on the options' dispatcher
// (else the global one).
export function request(url, { dispatcher = globalDispatcher.getGlobalDispatcher(), ...options } = {}) {
  const u = new URL(url);
  return dispatcher.request({ ...options, origin: u.origin, path: u.pathname + u.search });
}
`;

/** The esbuild plugin that serves `undici` imported from src/ with UNDICI_ENTRY. */
function slimUndici(root) {
  const src = join(root, 'src') + sep;
  return {
    name: 'signet-slim-undici',
    setup(b) {
      b.onResolve({ filter: /^undici$/ }, (args) =>
        args.importer.startsWith(src) ? { path: 'undici', namespace: 'signet-undici' } : undefined
      );
      b.onLoad({ filter: /.*/, namespace: 'signet-undici' }, () => ({
        contents: UNDICI_ENTRY,
        loader: 'js',
        resolveDir: dirname(createRequire(join(root, 'package.json')).resolve('undici/package.json')),
      }));
    },
  };
}

/**
 * Node built-in modules that cost a cold command 5-30 ms to load and that few commands use are
 * loaded on first use in the bundle: commander requires node:child_process for executable
 * subcommands (Signet has none); the sources use it for plugins and credential helpers. Every
 * import of one is served by a module whose exports are getters over the real module, required on
 * the first property read (esbuild's ES module interop reads properties at each use, never at load).
 */
const LAZY_BUILTINS = ['child_process'];

function lazyBuiltins() {
  const builtins = createRequire(import.meta.url);
  const filter = new RegExp(`^(?:node:)?(?:${LAZY_BUILTINS.join('|')})$`);
  return {
    name: 'signet-lazy-builtins',
    setup(b) {
      b.onResolve({ filter }, (args) =>
        args.namespace === 'signet-lazy-builtin'
          ? undefined
          : { path: args.path.replace(/^node:/, ''), namespace: 'signet-lazy-builtin' }
      );
      b.onLoad({ filter: /.*/, namespace: 'signet-lazy-builtin' }, (args) => {
        const id = `node:${args.path}`;
        const names = Object.keys(builtins(id)).filter((n) => n !== 'default');
        return {
          contents: [
            'let real;',
            `const load = () => (real ??= require(${JSON.stringify(id)}));`,
            `for (const name of ${JSON.stringify(names)})`,
            '  Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });',
            '',
          ].join('\n'),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * undici's client requires its HTTP/2 connector at load, which loads node:http2 and node:tls
 * (~30 ms of a cold command); only a connection that negotiated h2 calls it, and Signet's agents
 * do not offer h2. In the bundle the connector is required on its first call instead.
 */
function lazyUndiciH2() {
  return {
    name: 'signet-lazy-undici-h2',
    setup(b) {
      b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
        args.importer.endsWith(join('undici', 'lib', 'dispatcher', 'client.js'))
          ? { path: join(args.resolveDir, 'client-h2.js'), namespace: 'signet-lazy-h2' }
          : undefined
      );
      b.onLoad({ filter: /.*/, namespace: 'signet-lazy-h2' }, (args) => ({
        contents: `module.exports = function connectH2(...args) {\n  return require(${JSON.stringify(args.path)})(...args);\n};\n`,
        loader: 'js',
        resolveDir: dirname(args.path),
      }));
    },
  };
}

/**
 * Bundles src/cli/main.ts into `outdir`/main.cjs with esbuild's API: one CommonJS file holding the
 * CLI, its packages (but CLI_EXTERNAL) and every lazily imported module (an `import()` stays lazy:
 * esbuild wraps each module so it runs on its first require). bin/signet.js compiles it with
 * node:vm and V8's code cache (bin/code-cache.js), which only a script, not an ES module, can use
 * on Node 20; a cached command then neither parses nor compiles what it ran before.
 * `overrides` (esbuild options) is for measuring variants.
 */
export async function bundleCli(root, outdir, overrides = {}) {
  const esbuild = await import('esbuild');
  return esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: join(root, 'src', 'cli', 'main.ts') },
    outdir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: CLI_EXTERNAL,
    plugins: [slimUndici(root), lazyUndiciH2(), lazyBuiltins()],
    treeShaking: true,
    // Less to parse when there is no code cache yet; keepNames keeps functions' and classes' names
    // (stack traces, error names) at no measurable cost.
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    // The sources are ES modules: bin/code-cache.js runs the bundle inside a function that receives
    // the bundle's own file URL for `import.meta.url` (createRequire, the package's version).
    define: { 'import.meta.url': '__signetImportMetaUrl' },
    // `import()` of what stays outside the bundle (Node's built-in modules, CLI_EXTERNAL) becomes
    // require(): a script compiled by node:vm has no module loader of its own to import with.
    supported: { 'dynamic-import': false },
    ...overrides,
  });
}

async function build(root) {
  const stamp = sourceStamp(root);
  // Compiled beside, then swapped in: a CLI started during the build (tests, a second shell) sees
  // the old dist/ or the new one, never a half-written one.
  const tmp = join(root, 'node_modules', '.cache', `signet-build-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  // node:child_process loads here, not with this file: bin/signet.js imports it for sourceStamp()
  const { spawnSync } = await import('node:child_process');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    return r.status ?? 1;
  }
  try {
    await bundleCli(root, join(tmp, CLI_BUNDLE));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    process.stderr.write(`bin/build.js: bundling the CLI failed: ${err?.message ?? err}\n`);
    return 1;
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
  process.exitCode = await build(join(dirname(fileURLToPath(import.meta.url)), '..'));
}
