import {
  descriptorFor,
  EMPTY_JSON,
  encodeManifest,
  MediaType,
  type Descriptor,
  type ImageManifest,
} from '../oci/index.ts';
import type { Target } from '../store/index.ts';
import { SignetError } from '../util/index.ts';

/**
 * The artifact (and layer) type of a Sigstore trusted_root.json carried beside the images (also
 * in src/verify/requirements/sigstore.ts, which reads it: verify/ does not import copy/).
 */
export const SIGSTORE_TRUSTED_ROOT_TYPE = 'application/vnd.dev.sigstore.trustedroot.v0.1+json';
/** The tag it is stored under in the destination repository or layout. */
export const SIGSTORE_TRUSTED_ROOT_TAG = 'sigstore-trusted-root';
/** A trusted root larger than this is refused (the public-good one is ~10 KiB). */
export const MAX_TRUSTED_ROOT_SIZE = 1024 * 1024;

/** The bytes are a protobuf-specs trusted_root.json (its media type names a trusted root). */
export function checkTrustedRoot(bytes: Uint8Array, where: string): void {
  if (bytes.byteLength > MAX_TRUSTED_ROOT_SIZE)
    throw new SignetError('SIZE_EXCEEDED', `${where} is larger than ${MAX_TRUSTED_ROOT_SIZE} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new SignetError('INPUT_INVALID', `${where} is not JSON: ${(err as Error).message}`);
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !mediaType.includes('trustedroot'))
    throw new SignetError('INPUT_INVALID', `${where} is not a Sigstore trusted_root.json (no trustedroot mediaType)`);
}

/**
 * Stores a trusted_root.json in `dst` as an OCI artifact (artifactType and its one layer
 * `application/vnd.dev.sigstore.trustedroot.v0.1+json`, the empty config), tagged
 * `sigstore-trusted-root`. It is carried, not trusted: a verifier uses it only when its policy
 * pins the layer's digest (`trustedRootDigest`). Returns the manifest and the layer (the root's digest).
 */
export async function carryTrustedRoot(
  dst: Target,
  root: Uint8Array,
  where = 'the trusted root'
): Promise<{ manifest: Descriptor; root: Descriptor }> {
  checkTrustedRoot(root, where);
  const layer = descriptorFor(SIGSTORE_TRUSTED_ROOT_TYPE, root);
  const empty = { mediaType: EMPTY_JSON.mediaType, digest: EMPTY_JSON.digest, size: EMPTY_JSON.size };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: SIGSTORE_TRUSTED_ROOT_TYPE,
    config: empty,
    layers: [
      {
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.size,
        annotations: { 'org.opencontainers.image.title': 'trusted_root.json' },
      },
    ],
  };
  if (!(await dst.exists(empty))) await dst.push(empty, Buffer.from('{}'));
  if (!(await dst.exists(layer))) await dst.push(layer, root);
  const bytes = encodeManifest(manifest);
  const desc = descriptorFor(MediaType.ImageManifest, bytes);
  await dst.push(desc, bytes);
  await dst.tag(desc, SIGSTORE_TRUSTED_ROOT_TAG, { manifest: bytes });
  return { manifest: desc, root: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size } };
}
