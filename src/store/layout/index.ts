import { stat } from 'node:fs/promises';
import { OciError } from '../../oci/index.ts';
import type { ReadableTarget, Target } from '../target.ts';
import { LayoutTarget } from './dir.ts';
import { HttpLayoutTarget } from './http.ts';
import { TarLayoutTarget } from './tar.ts';

export { LayoutTarget } from './dir.ts';
export type { LayoutOpenOptions, LowerBlobs } from './dir.ts';
export { TarLayoutTarget } from './tar.ts';
export { HttpLayoutTarget } from './http.ts';
export { REF_NAME } from './reader.ts';

/** Opens `path` as an OCI image layout: a directory, a `.tar` file, or an http(s):// URL (read-only). */
export async function openLayout(path: string, options: { create: true }): Promise<Target>;
export async function openLayout(path: string, options?: { create?: boolean }): Promise<ReadableTarget>;
export async function openLayout(path: string, options: { create?: boolean } = {}): Promise<ReadableTarget> {
  if (/^https?:\/\//i.test(path)) {
    if (options.create) throw new OciError('READ_ONLY', `oci:${path} is a layout served over HTTP: read-only`);
    return new HttpLayoutTarget(path);
  }
  // An existing directory is a directory layout whatever its name ends with.
  const isDir = await stat(path).then(
    (s) => s.isDirectory(),
    () => false
  );
  if (!isDir && /\.tar$/i.test(path)) return TarLayoutTarget.open(path, options);
  return LayoutTarget.open(path, options);
}
