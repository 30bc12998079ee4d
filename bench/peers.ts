import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { freePort } from '../test/helpers/net.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A registry process under measurement. */
export interface RegistryProcess {
  name: string;
  host: string;
  pid: number;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  stop(): Promise<void>;
}

async function procStatusValue(pid: number, key: string): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

async function waitReady(host: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`registry exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`registry at ${host} did not become ready`);
}

function wrap(name: string, host: string, child: ChildProcess, cleanup: () => Promise<void>): RegistryProcess {
  return {
    name,
    host,
    pid: child.pid!,
    peakRss: () => procStatusValue(child.pid!, 'VmHWM'),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await cleanup();
    },
  };
}

let staleNoted = false;

/**
 * Notes once (stderr) when `signet serve` will not run the built product: bin/signet.js runs src/
 * under tsx when dist/ no longer matches the sources (another loader thread and the compiler in
 * the process: tens of MiB more RSS, slower requests), which makes every number of the server a
 * different program's. SIGNET_USE_DIST=1 forces dist/ as it is.
 */
async function noteStaleDist(): Promise<void> {
  if (staleNoted || process.env.SIGNET_USE_DIST) return;
  staleNoted = true;
  const { readFile } = await import('node:fs/promises');
  const build = (await import(new URL('../bin/build.js', import.meta.url).href)) as {
    sourceStamp(root: string): string | null;
  };
  const stamp = await readFile(new URL('../dist/.source-stamp', import.meta.url), 'utf8').catch(() => null);
  if (stamp !== build.sourceStamp(fileURLToPath(new URL('..', import.meta.url))))
    console.error(
      'note: dist/ is stale or missing, so `signet serve` runs src/ under tsx here: its RSS and speed are not those of the built CLI (run `npm run build` first, or set SIGNET_USE_DIST=1)'
    );
}

/**
 * Starts `signet serve` as its own process (so its RSS is its own); `extra` adds flags
 * (`--policy …`, or `--upstream …`, which takes no --root).
 */
export async function startSignet(
  root?: string,
  extra: string[] = [],
  name = 'signet serve'
): Promise<RegistryProcess> {
  await noteStaleDist();
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'signet-bench-')));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const storage = extra.includes('--upstream') ? [] : ['--root', dir];
  const child = spawn(
    process.execPath,
    ['bin/signet.js', 'serve', '--addr', host, ...storage, '--log-level', 'warn', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] }
  );
  await waitReady(host, child);
  // A root the caller named is the caller's to remove.
  return wrap(name, host, child, () => (root ? Promise.resolve() : rm(dir, { recursive: true, force: true })));
}

/** Starts Debian's docker-registry (distribution 2.8.2) with filesystem storage. */
export async function startDistribution(): Promise<RegistryProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'distribution-bench-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n`
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitReady(host, child);
  return wrap('docker-registry', host, child, () => rm(dir, { recursive: true, force: true }));
}
