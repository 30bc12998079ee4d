import { randomBytes } from 'node:crypto';
import { open, rename, mkdir, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

/** Name of a temp file beside `path` (same filesystem, so rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.tmp-${basename(path)}-${randomBytes(6).toString('hex')}`);
}

/** fsyncs a directory so a rename inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a small file atomically and durably: temp file, write, fsync, rename, fsync the
 * directory. Readers see the old content or the new one, never a partial file, and an
 * acknowledged write survives `kill -9`.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** Moves a finished temp file into place durably (the file itself must be fsynced already). */
export async function commitFile(tmp: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}
