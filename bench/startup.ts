// Start-up (issue 12): cold `signet verify` processes against a bare `node -e 0` and against each
// other (built package, checkout), on Node 20, 22 and 24 (the npm `node` package, through npx),
// and the `npm start` walkthrough with dist/ against every CLI through tsx.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sign } from '../src/sign/index.ts';
import { RegistryTarget } from '../src/store/index.ts';
import { pushArtifact } from '../test/helpers/artifacts.ts';
import { trustSetup } from '../test/helpers/trust.ts';
import { startSignet } from './peers.ts';
import { median, row } from './rows.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'signet.js');

/** Builds dist/ (bin/build.js) unless its source stamp matches the tree: the CLI runs dist/ then. */
export async function ensureBuilt(): Promise<void> {
  const { sourceStamp } = (await import(pathToFileURL(join(ROOT, 'bin', 'build.js')).href)) as {
    sourceStamp(root: string): string | null;
  };
  const stampFile = join(ROOT, 'dist', '.source-stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === sourceStamp(ROOT)) return;
  console.log('(dist/ is stale: npm run build)');
  execFileSync(process.execPath, [join(ROOT, 'bin', 'build.js')], { stdio: 'inherit', cwd: ROOT });
}

/** The node binaries to measure: this one, and Node 22 and 24 from the npm `node` package. */
function nodeBinaries(): Array<{ version: string; bin: string }> {
  const out = [{ version: process.version, bin: process.execPath }];
  for (const major of ['20', '22', '24']) {
    if (process.version.startsWith(`v${major}.`)) continue;
    try {
      const [version, bin] = execFileSync(
        'npx',
        ['-y', '-p', `node@${major}`, 'node', '-p', 'process.version+" "+process.execPath'],
        {
          encoding: 'utf8',
          timeout: 300_000,
          stdio: ['ignore', 'pipe', 'ignore'],
        }
      )
        .trim()
        .split(' ');
      out.push({ version: version!, bin: bin! });
    } catch {
      console.log(`(node@${major} is not available through npx here: skipped)`);
    }
  }
  return out;
}

/** Wall time of one process in ms; it must exit 0. */
function timed(bin: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, args, { env, cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

/** Medians of interleaved runs (so a load spike hits every variant alike). */
function interleaved(n: number, variants: Record<string, () => number>): Record<string, number> {
  const samples: Record<string, number[]> = {};
  for (const k of Object.keys(variants)) {
    variants[k]!(); // warm-up: file cache, and the compile cache on Node 22+
    samples[k] = [];
  }
  for (let i = 0; i < n; i++) for (const [k, f] of Object.entries(variants)) samples[k]!.push(f());
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

export async function startupSection(): Promise<void> {
  console.log('\n## start-up: cold CLI processes, medians of interleaved runs (same run)');
  const work = await mkdtemp(join(tmpdir(), 'signet-bench-startup-'));
  const reg = await startSignet(join(work, 'registry'));
  try {
    const { keys, store, policy } = await trustSetup(work);
    const t = new RegistryTarget({ registry: reg.host, repository: 'bench/startup' });
    await pushArtifact(t, 'start-up', { tag: 'v1' });
    await t.close();
    const ref = `${reg.host}/bench/startup:v1`;
    await sign(ref, { keyStore: keys });
    await ensureBuilt();
    const args = [BIN, 'verify', ref, '--policy', policy, '--trust-store', store];
    const base: NodeJS.ProcessEnv = { ...process.env, SIGNET_HOME: join(work, 'home') };
    delete base.SIGNET_USE_DIST;
    delete base.NODE_OPTIONS; // `npm run bench` runs under tsx: the CLI processes must not
    // dist/ through bin/signet.js: the esbuild bundle of the CLI (dist/cli-bundle/), as installed
    const built = { ...base, SIGNET_USE_DIST: '1' };
    for (const { version, bin } of nodeBinaries()) {
      const m = interleaved(7, {
        bare: () => timed(bin, ['-e', '0'], base),
        built: () => timed(bin, args, built),
        checkout: () => timed(bin, args, base),
      });
      row(
        'cold signet verify, built package ÷ bare node -e 0',
        m.built!,
        'ms',
        { name: 'node -e 0', value: m.bare! },
        { max: 2.5 },
        version
      );
      row(
        'cold signet verify, checkout ÷ built package',
        m.checkout!,
        'ms',
        { name: 'built package', value: m.built! },
        { max: 1.1 },
        version
      );
      if (bin === process.execPath) {
        // A command's first run after an install or a build: the bundle compiled from source (the
        // run that writes the code cache the rows above use).
        const first = interleaved(3, { first: () => timed(bin, args, { ...built, SIGNET_CODE_CACHE: '0' }) });
        row(
          'cold signet verify, first run after a build (no code cache yet) ÷ built package',
          first.first!,
          'ms',
          { name: 'built package', value: m.built! },
          { text: 'info (once per command and build)' },
          version
        );
        // What every invocation from a checkout cost before dist/ was stamped: src/ through tsx.
        const tsx = interleaved(3, { tsx: () => timed(bin, args, { ...base, SIGNET_USE_DIST: '0' }) });
        row(
          'cold signet verify, checkout through tsx (dist/ stale) ÷ built package',
          tsx.tsx!,
          'ms',
          { name: 'built package', value: m.built! },
          { text: 'info (the fallback)' },
          version
        );
      }
    }
  } finally {
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** `npm start` (the walkthrough: ~25 CLI processes and two servers), with dist/ and through tsx. */
export async function demoSection(): Promise<void> {
  console.log('\n## npm start: the walkthrough, wall time (same run)');
  await ensureBuilt();
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.SIGNET_USE_DIST;
  const run = (extra: NodeJS.ProcessEnv): number => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('npm', ['start', '--silent'], { env: { ...env, ...extra }, cwd: ROOT, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`npm start exited ${r.status}`);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const withDist = run({});
  const throughTsx = run({ SIGNET_USE_DIST: '0' });
  row(
    'npm start duration (dist/ fresh)',
    withDist,
    's',
    { name: 'every CLI through tsx (before)', value: throughTsx },
    { max: 20, on: 'value' },
    process.version
  );
}
