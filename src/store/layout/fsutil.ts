import { randomBytes } from 'node:crypto';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Flushes a file or directory to disk (a rename is durable only once its directory is). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A temp name beside `path` (same filesystem, so the final rename is atomic); dot-prefixed so listings skip it. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

/** Publishes `path` whole or not at all: temp file, fsync, rename, fsync of the directory. */
export async function commitFile(tmp: string, path: string): Promise<void> {
  try {
    await fsyncPath(tmp);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncPath(dirname(path));
}

/** Writes a small file atomically; readers see the old content or the new, never a mix. */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, data, { flag: 'wx' });
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await commitFile(tmp, path);
}
