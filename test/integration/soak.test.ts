import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

/**
 * `npm run soak` briefly (issue 13, item 5): 16 clients for 5 s against `signet serve` on
 * loopback, malformed requests and dropped uploads mixed in. The script itself checks that the
 * server still answers, RSS and fds come back, every acknowledged write reads back and fsck is
 * clean; this test asserts its verdict. No assertion on speed: the timeout is a hang guard.
 */
function runSoak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/soak.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

describe('npm run soak', () => {
  it('ends OK after 5 s of 16 clients with malformed requests and dropped uploads', async () => {
    const r = await runSoak(['--seconds', '5', '--clients', '16']);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1), `${r.stdout}\n${r.stderr}`).toBe('soak: OK');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^soak: requests served: [1-9]\d* during the run/m);
    expect(r.stdout).toMatch(/uploads dropped mid-body/);
    expect(r.stdout).toMatch(/^soak: errors by code: .*DIGEST_INVALID/m);
    expect(r.stdout).toMatch(/^soak: fsck: .* 0 corrupt, 0 dangling/m);
  }, 180_000);
});
