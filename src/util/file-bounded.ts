import { open } from 'node:fs/promises';
import { readBodyBounded } from './http-body.ts';

/**
 * What a local configuration file may hold (a trust policy, a trust store's certificate file,
 * docker's config.json, registries.d, a key or trusted root file): far more than any real one.
 */
export const MAX_CONFIG_FILE_SIZE = 4 * 1024 * 1024;

/**
 * A local file read whole, never more than `maxBytes` (SIZE_EXCEEDED): a regular file over the
 * bound is refused before it is read, and one that grows while read, a FIFO or a device
 * (`/dev/zero`) is cut off at the bound. A file that cannot be opened fails as readFile does.
 */
export async function readFileBounded(path: string, maxBytes: number, what = path): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const st = await handle.stat();
    return await readBodyBounded(handle.createReadStream({ autoClose: false }), maxBytes, {
      what,
      contentLength: st.isFile() ? st.size : null,
    });
  } finally {
    await handle.close();
  }
}
