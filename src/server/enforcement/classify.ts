import { isImageIndex, MediaType, type Manifest } from '../../oci/index.ts';

/** Configs of runnable images: a manifest with one of these is an image, whatever else it carries. */
const IMAGE_CONFIGS = new Set<string>([MediaType.ImageConfig, MediaType.DockerConfig]);

/**
 * Layers that only ever hold signatures and attestations (cosign's tag-based `.sig`/`.att`
 * manifests carry no `subject` and an image config, but nothing a runtime could unpack).
 */
// Literal media types, as written by cosign and the Sigstore specs: importing them from src/signature/
// would load every signature family (pkijs, undici) into a registry that verifies nothing.
const SIGNATURE_LAYERS = new Set<string>([
  'application/vnd.dev.cosign.simplesigning.v1+json',
  'application/vnd.dsse.envelope.v1+json',
  'application/vnd.in-toto+json',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
]);

/** Children read at most to decide whether an index only lists referrers (the tag schema). */
export const MAX_INDEX_CHILDREN = 256;

export type ManifestClass =
  /** A signature, SBOM or attestation of something in the repository: readable, never enforced. */
  | { kind: 'referrer' }
  /** An index: a referrer list when every child is a referrer, else enforced like an image. */
  | { kind: 'index'; children: string[] }
  | { kind: 'enforced' };

/**
 * What a manifest is for enforcement. Verifiers and signers must read signatures, so a manifest
 * is exempt when it is a referrer of a manifest that exists here and is not an image (its config
 * is not an image config), or is a cosign signature manifest (only signature layers). An image
 * that merely carries a `subject` is enforced like any other.
 */
export function classifyManifest(manifest: Manifest, subjectExists: boolean): ManifestClass {
  if (isImageIndex(manifest)) return { kind: 'index', children: manifest.manifests.map((m) => m.digest) };
  if (manifest.subject && subjectExists && !IMAGE_CONFIGS.has(manifest.config.mediaType)) return { kind: 'referrer' };
  if (manifest.layers.length > 0 && manifest.layers.every((l) => SIGNATURE_LAYERS.has(l.mediaType)))
    return { kind: 'referrer' };
  return { kind: 'enforced' };
}
