import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRegistry, type Authorizer } from '../../src/server/index.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const SIGNET_BIN = join(REPO_ROOT, 'bin/signet.js');

export interface Served {
  host: string;
  url: string;
  root: string;
  close(): Promise<void>;
}

/** `signet serve` in this process on a free loopback port with a temp root. */
export async function startServe(opts: { authorizer?: Authorizer; root?: string } = {}): Promise<Served> {
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'signet-serve-')));
  const reg = await startRegistry({
    addr: '127.0.0.1:0',
    root,
    ...(opts.authorizer ? { authorizer: opts.authorizer } : {}),
  });
  return {
    host: reg.host,
    url: reg.url,
    root,
    async close() {
      await reg.close();
      if (!opts.root) await rm(root, { recursive: true, force: true });
    },
  };
}

export interface SpawnedServe {
  host: string;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `signet serve` as its own process (for crash tests): waits for its "listening on" line. */
export async function spawnServe(root: string, extraArgs: string[] = [], addr = '127.0.0.1:0'): Promise<SpawnedServe> {
  const child = spawn(
    process.execPath,
    [SIGNET_BIN, 'serve', '--addr', addr, '--root', root, '--log-level', 'warn', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let output = '';
  const host = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`signet serve did not start: ${output}`)), 30_000);
    const onData = (b: Buffer): void => {
      output += b.toString();
      const m = /listening on http:\/\/([\d.]+:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`signet serve exited with ${code}: ${output}`));
    });
  });
  return {
    host,
    child,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('exit', () => r());
        child.kill(signal);
      }),
  };
}

/** Runs the CLI as a process; resolves with exit code and output (never rejects on exit code). */
export function runSignet(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [SIGNET_BIN, ...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd ?? REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
