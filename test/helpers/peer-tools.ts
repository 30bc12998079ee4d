import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * cosign 2.5 and oras 1.2 from Debian 13 packages and cosign 3 from Debian unstable, unpacked (not installed) by the shared
 * interop script into a reusable directory. Fails (never skips) when they cannot be had.
 */
export async function peerTools(): Promise<{ cosign: string; cosign3: string; oras: string }> {
  const out = join(tmpdir(), 'signet-peer-tools');
  const { stdout } = await run('bash', [join(import.meta.dirname, '../fixtures/interop/get-peer-tools.sh'), out], {
    timeout: 600_000,
  });
  const bin = stdout.trim().split('\n').pop()!;
  return { cosign: join(bin, 'cosign'), cosign3: join(bin, 'cosign3'), oras: join(bin, 'oras') };
}

/**
 * cosign 3's arguments to sign `ref` with the key pair `cosign.key` in the working directory, with
 * no transparency log and no signing config (the registries in tests are plain HTTP on 127.0.0.1).
 */
export function cosign3KeySignArgs(ref: string): string[] {
  return [
    'sign',
    '--key',
    'cosign.key',
    '--tlog-upload=false',
    '--use-signing-config=false',
    '--allow-insecure-registry',
    ref,
  ];
}
