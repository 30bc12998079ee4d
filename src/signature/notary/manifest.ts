import { createHash, type X509Certificate } from 'node:crypto';
import {
  EMPTY_JSON,
  MediaType,
  descriptorFor,
  encodeManifest,
  isImageIndex,
  type Descriptor,
  type ImageManifest,
  type Manifest,
} from '../../oci/index.ts';
import { formatRfc3339 } from './headers.ts';
import { SIGNATURE_ARTIFACT_TYPE, THUMBPRINT_ANNOTATION } from './types.ts';

/** The OCI signature manifest notation ≥ 1.2 writes (notary-spec §8). */
export function signatureManifest(
  envelope: Descriptor,
  subject: Descriptor,
  chain: X509Certificate[],
  signingTime: Date,
  extraAnnotations: Record<string, string> = {}
): { manifest: ImageManifest; bytes: Uint8Array; descriptor: Descriptor } {
  const thumbprints = chain.map((c) => createHash('sha256').update(c.raw).digest('hex'));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: SIGNATURE_ARTIFACT_TYPE,
    config: { ...EMPTY_JSON },
    layers: [{ mediaType: envelope.mediaType, digest: envelope.digest, size: envelope.size }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      [THUMBPRINT_ANNOTATION]: JSON.stringify(thumbprints),
      'org.opencontainers.image.created': formatRfc3339(signingTime),
      ...extraAnnotations,
    },
  };
  const bytes = encodeManifest(manifest);
  return { manifest, bytes, descriptor: descriptorFor(MediaType.ImageManifest, bytes) };
}

/**
 * True for a Notary Project signature manifest, current form (artifactType + empty config) or
 * the older form (no artifactType, config media type application/vnd.cncf.notary.signature).
 */
export function isNotarySignatureManifest(m: Manifest): m is ImageManifest {
  if (isImageIndex(m)) return false;
  if (m.artifactType === SIGNATURE_ARTIFACT_TYPE) return m.config.mediaType === MediaType.Empty;
  return m.artifactType === undefined && m.config.mediaType === SIGNATURE_ARTIFACT_TYPE;
}
