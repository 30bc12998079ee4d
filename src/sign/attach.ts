import { descriptorFor, encodeManifest, MediaType, type Descriptor, type ImageManifest } from '../oci/index.ts';
import type { Target } from '../store/index.ts';

/** A blob a manifest refers to, with its bytes. */
export interface Blob {
  descriptor: Descriptor;
  data: Uint8Array;
}

/**
 * Pushes a manifest and the blobs it refers to (config and layers), blobs first so the target
 * never holds a manifest whose content is missing. Returns the manifest's descriptor.
 */
export async function pushManifest(target: Target, manifest: ImageManifest, blobs: Blob[]): Promise<Descriptor> {
  for (const b of blobs) await target.push(b.descriptor, b.data);
  const bytes = encodeManifest(manifest);
  const desc = descriptorFor(MediaType.ImageManifest, bytes);
  await target.push(desc, bytes);
  return desc;
}

/**
 * Puts any referrer (a signature of any family, an SBOM) on any target: the manifest must name
 * its subject; the target lists it through the referrers API or the tag schema.
 */
export async function attachReferrer(target: Target, manifest: ImageManifest, blobs: Blob[]): Promise<Descriptor> {
  if (!manifest.subject) throw new TypeError('attachReferrer: the manifest has no subject');
  return pushManifest(target, manifest, blobs);
}
