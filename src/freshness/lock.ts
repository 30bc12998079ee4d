import { open, rm, stat } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SignetError } from '../util/index.ts';

/** A lock older than this is taken to be left over by a process that died holding it. */
const STALE_MS = 30_000;
/** How long a caller waits for a lock before giving up (an I/O error, never a verdict). */
const WAIT_MS = 15_000;

/**
 * Runs `fn` holding the lock `<path>.lock` (created exclusively: one holder across processes).
 * State files are read, compared and written only inside it, so two verifications of one tag
 * cannot interleave a read and a write and lower a high-water mark.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const s = await stat(lock).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > STALE_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new SignetError('IO', `the state lock ${lock} is held by another process (remove it if none is running)`);
      await new Promise((r) => setTimeout(r, delay + Math.floor(Math.random() * delay)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
