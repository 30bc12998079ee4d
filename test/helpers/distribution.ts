import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { freePort } from './net.ts';
import { join } from 'node:path';

/**
 * Debian's docker-registry (distribution 2.8.2: no referrers API) on a free loopback port with a
 * temp storage dir; `htpasswd` enables its basic auth.
 */
export async function startDistribution(
  opts: { htpasswd?: string } = {}
): Promise<{ host: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'distribution-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let auth = '';
  if (opts.htpasswd) {
    await writeFile(join(dir, 'htpasswd'), opts.htpasswd);
    auth = `auth:\n  htpasswd:\n    realm: test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  await writeFile(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n${auth}`
  );
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${err}`);
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 200 || r.status === 401) break;
    } catch {
      // starting
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    async close() {
      await new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
