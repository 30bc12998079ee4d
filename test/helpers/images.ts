import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs Debian's skopeo; never throws: `ok` and everything it printed. */
export async function skopeo(args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await run('skopeo', args, { maxBuffer: 64 << 20 });
    return { ok: true, out: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** An OCI image built by umoci (`label` makes images distinct): a config, and one layer holding a real file. */
export async function buildImage(dir: string, label = 'signet-test'): Promise<string> {
  const layout = join(dir, 'image');
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:v1`]);
  const bundle = join(dir, 'bundle');
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, bundle]);
  await mkdir(join(bundle, 'rootfs', 'app'), { recursive: true });
  await writeFile(join(bundle, 'rootfs', 'app', 'hello.txt'), 'hello from umoci\n'.repeat(1000));
  await run('umoci', ['repack', '--image', `${layout}:v1`, bundle]);
  await run('umoci', ['config', '--image', `${layout}:v1`, '--config.label', `org.example=${label}`]);
  return layout;
}
