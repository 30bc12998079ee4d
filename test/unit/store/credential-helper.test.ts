import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCredentialHelper } from '../../../src/store/credentials/docker-config.ts';
import { REPO_ROOT } from '../../helpers/serve.ts';

/**
 * docker-credential-<name> helpers are other programs: one may exit without reading its stdin
 * (the write then fails with EPIPE) or print without end. Both are coded errors, never a crash.
 */
describe('credential helpers are hostile input', () => {
  let bin: string;
  let oldPath: string | undefined;

  const helper = async (name: string, body: string): Promise<void> => {
    const p = join(bin, `docker-credential-${name}`);
    await writeFile(p, `#!/bin/sh\n${body}\n`);
    await chmod(p, 0o755);
  };

  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), 'signet-credhelper-'));
    await helper('quit', 'exit 0');
    await helper('quitfail', 'exit 1');
    await helper('endless', 'exec yes \'{"Username":"u","Secret":"s"}\'');
    // a valid answer whose secret alone is 8 MiB
    await helper(
      'huge',
      `head -c 8388608 /dev/zero | tr '\\0' a | { printf '{"Username":"u","Secret":"'; cat; printf '"}'; }`
    );
    await helper('good', 'cat >/dev/null; printf \'{"Username":"u","Secret":"s3cret"}\'');
    oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath ?? ''}`;
  });
  afterAll(async () => {
    process.env.PATH = oldPath;
    await rm(bin, { recursive: true, force: true });
  });

  it('a helper that exits without reading its stdin is a coded error, not an unhandled EPIPE', async () => {
    // in a process of its own: an unhandled 'error' event would kill it (exit 1, "verification failed")
    const code = `
      import { runCredentialHelper } from ${JSON.stringify(join(REPO_ROOT, 'src/store/credentials/docker-config.ts'))};
      for (const h of ['quit', 'quitfail']) {
        for (const registry of ['127.0.0.1:5000', 'r'.repeat(1 << 20)]) {
          try { const c = await runCredentialHelper(h, registry); console.log(h, 'ok', JSON.stringify(c ?? null)); }
          catch (e) { console.log(h, 'error', e.code); }
        }
      }`;
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: REPO_ROOT,
        env: process.env,
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('close', (c) => resolve({ code: c, out, err }));
    });
    expect(r.err).not.toMatch(/EPIPE/);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l).toMatch(/^(quit|quitfail) (ok null|error CREDENTIAL_HELPER_FAILED)$/);
    expect(lines.filter((l) => l.startsWith('quitfail'))).toEqual([
      'quitfail error CREDENTIAL_HELPER_FAILED',
      'quitfail error CREDENTIAL_HELPER_FAILED',
    ]);
  });

  it('output past the bound is refused: an endless helper and an 8 MiB answer', async () => {
    await expect(runCredentialHelper('endless', 'r.example')).rejects.toMatchObject({
      code: 'CREDENTIAL_HELPER_FAILED',
      message: expect.stringMatching(/more than/),
    });
    await expect(runCredentialHelper('huge', 'r.example')).rejects.toMatchObject({
      code: 'CREDENTIAL_HELPER_FAILED',
      message: expect.stringMatching(/more than/),
    });
  });

  it('a well-behaved helper still answers', async () => {
    expect(await runCredentialHelper('good', 'r.example')).toEqual({ username: 'u', password: 's3cret' });
  });
});
