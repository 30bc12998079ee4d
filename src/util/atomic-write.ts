import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Atomic, durable file writes: temp file beside the target → write → fsync → rename → fsync the
 * directory. Readers see the old content or the new one, never a partial file, and a write that
 * returned survives a crash. The one implementation for layouts, the server and every small
 * state file.
 */

/** Temp files start with this (dot-prefixed, so listings skip them; crash clean-up removes them). */
export const TEMP_PREFIX = '.tmp-';

/** True for a name made by `tempPathFor` (a leftover of an interrupted write). */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/** A unique temp name beside `path`: same directory, so the final rename is atomic. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${randomBytes(8).toString('hex')}`);
}

/** Flushes a file or a directory to disk (a rename is durable only once its directory is). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes a directory, so renames and unlinks inside it survive a crash. */
export const fsyncDir = fsyncPath;

export interface CommitOptions {
  /** Fail with EEXIST instead of replacing an existing `path` (the temp file is removed). */
  noReplace?: boolean;
}

/**
 * Publishes a finished temp file at `path`, whole or not at all: fsync the temp file, rename
 * (or, with `noReplace`, hard-link and unlink), fsync the directory. Creates the directory when
 * missing. On failure the temp file is removed.
 */
export async function commitFile(tmp: string, path: string, options: CommitOptions = {}): Promise<void> {
  try {
    await fsyncPath(tmp);
    await mkdir(dirname(path), { recursive: true });
    if (options.noReplace) {
      await link(tmp, path);
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dirname(path));
}

export interface WriteAtomicOptions extends CommitOptions {
  /** The file's permission bits, applied exactly (not reduced by the umask). Default: 0o666 less the umask. */
  mode?: number;
}

/**
 * Writes `data` to `path` atomically and durably (temp file with a unique name in the same
 * directory, write, fsync, rename, fsync of the directory); creates the directory when missing.
 * Concurrent writers to one path each publish a complete file; the last rename wins.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteAtomicOptions = {}
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', options.mode ?? 0o666);
  try {
    if (options.mode !== undefined) await fh.chmod(options.mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await commitFile(tmp, path, options);
}
