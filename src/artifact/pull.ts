import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isImageIndex, OciError } from '../oci/index.ts';
import { fetchManifest, openTarget, resolveOpened, type OpenOptions } from '../store/index.ts';
import { TITLE_ANNOTATION } from './push.ts';

/**
 * `signet pull`: the titled layers of an artifact into `dir`. Every file is checked against its
 * digest while it streams into a temp file, fsynced, and only then renamed into place; a title is
 * attacker-controlled and must be a plain file name.
 */
export async function pull(
  ref: string,
  dir: string,
  options: { open?: OpenOptions } = {}
): Promise<Array<{ path: string; size: number }>> {
  const opened = await openTarget(ref, options.open);
  const { target } = opened;
  try {
    const root = await resolveOpened(opened, ref);
    const { manifest } = await fetchManifest(target, root);
    if (isImageIndex(manifest)) throw new OciError('UNSUPPORTED', `${ref} is an image index; pull a platform manifest`);
    const out = resolve(dir);
    await mkdir(out, { recursive: true });
    const written: Array<{ path: string; size: number }> = [];
    for (const layer of manifest.layers) {
      const title = layer.annotations?.[TITLE_ANNOTATION];
      if (!title) continue;
      if (
        title !== basename(title) ||
        title === '..' ||
        title === '.' ||
        title.includes('\\') ||
        title.includes('\0')
      ) {
        throw new OciError('MANIFEST_INVALID', `layer title ${JSON.stringify(title)} is not a plain file name`);
      }
      const dest = join(out, title);
      const tmp = `${dest}.signet-partial`;
      try {
        await pipeline(await target.fetch(layer), createWriteStream(tmp));
        const fh = await open(tmp, 'r');
        await fh.sync();
        await fh.close();
        await rename(tmp, dest);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      written.push({ path: dest, size: (await stat(dest)).size });
    }
    return written;
  } finally {
    await target.close();
  }
}
