import {
  MAX_MANIFEST_SIZE,
  OciError,
  parseVerifiedManifest,
  verifyBytes,
  type Descriptor,
  type Manifest,
} from '../../oci/index.ts';
import type { RegistryStorage } from '../storage.ts';

/** The most bytes of one blob the web view reads to decode (an envelope, a payload). */
export const MAX_DECODED_BLOB = 256 * 1024;

export interface StoredManifest {
  descriptor: Descriptor;
  manifest: Manifest;
}

/**
 * A manifest of `repo`, read within the manifest size limit and checked against its digest; null
 * when `repo` holds no such manifest (a digest of another repository is not found here).
 */
export async function readManifest(
  storage: RegistryStorage,
  repo: string,
  digest: string
): Promise<StoredManifest | null> {
  const info = await storage.manifestInfo(repo, digest);
  if (!info) return null;
  if (info.size > MAX_MANIFEST_SIZE)
    throw new OciError('MANIFEST_INVALID', `manifest is ${info.size} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`);
  const descriptor: Descriptor = { mediaType: info.mediaType, digest, size: info.size };
  return { descriptor, manifest: parseVerifiedManifest(await storage.readManifest(digest), descriptor) };
}

/**
 * A blob of `repo` that a manifest names, checked against the descriptor's size and digest; null
 * when it is larger than `max` (the caller says so instead of decoding it).
 */
export async function readBlob(
  storage: RegistryStorage,
  repo: string,
  desc: Descriptor,
  max = MAX_DECODED_BLOB
): Promise<Uint8Array | null> {
  const size = await storage.blobSize(repo, desc.digest);
  if (size === null) throw new OciError('BLOB_UNKNOWN', `blob ${desc.digest} is not in ${repo}`);
  if (size !== desc.size)
    throw new OciError('SIZE_INVALID', `blob ${desc.digest} has ${size} bytes, the manifest says ${desc.size}`);
  if (size > max) return null;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of storage.openBlob(desc.digest)) {
    total += (chunk as Buffer).length;
    if (total > max) throw new OciError('SIZE_INVALID', `blob ${desc.digest} grew past ${max} bytes while read`);
    chunks.push(chunk as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  verifyBytes(bytes, desc);
  return bytes;
}
