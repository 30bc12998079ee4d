import { stat } from 'node:fs/promises';
import type { Target } from '../target.ts';
import { LayoutTarget } from './dir.ts';
import { HttpLayoutTarget } from './http.ts';
import { TarLayoutTarget } from './tar.ts';

export { LayoutTarget } from './dir.ts';
export type { LayoutOpenOptions, LowerBlobs } from './dir.ts';
export { TarLayoutTarget } from './tar.ts';
export { HttpLayoutTarget } from './http.ts';
export { REF_NAME } from './reader.ts';

/** Opens `path` as an OCI image layout: a directory, a `.tar` file, or an http(s):// URL (read-only). */
export async function openLayout(path: string, options: { create?: boolean } = {}): Promise<Target> {
  if (/^https?:\/\//i.test(path)) return new HttpLayoutTarget(path);
  // An existing directory is a directory layout whatever its name ends with.
  const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
  if (!isDir && /\.tar$/i.test(path)) return TarLayoutTarget.open(path, options);
  return LayoutTarget.open(path, options);
}
