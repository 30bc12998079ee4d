import type { KeyObject } from 'node:crypto';
import {
  descriptorFor,
  isNotFound,
  MediaType,
  type Descriptor,
  type ImageManifest,
  type Reference,
} from '../oci/index.ts';
import {
  appendCosignLayer,
  buildCosignPayload,
  COSIGN_PAYLOAD_MEDIA_TYPE,
  COSIGN_REFERRER_ARTIFACT_TYPE,
  COSIGN_SIGNATURE_ANNOTATION,
  cosignSign,
  cosignSignatureTag,
} from '../signature/index.ts';
import {
  fetchManifest,
  openTarget,
  resolveOpened,
  requireWritable,
  type OpenOptions,
  type ReadableTarget,
} from '../store/index.ts';
import { attachReferrer, pushManifest } from './attach.ts';

/** The identity cosign writes: the repository, without tag or digest. */
export function cosignIdentity(parsed: Reference): string {
  return parsed.kind === 'registry' ? `${parsed.registry}/${parsed.repository}` : parsed.path;
}

async function existingSignatures(target: ReadableTarget, subject: Descriptor): Promise<ImageManifest | undefined> {
  try {
    const d = await target.resolve(cosignSignatureTag(subject.digest));
    const { manifest } = await fetchManifest(target, d);
    return 'layers' in manifest ? (manifest as ImageManifest) : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Signs an artifact the way `cosign sign --key` does: under the `sha256-<hex>.sig` tag (one
 * manifest, a layer per signature), or with `referrers` in cosign's OCI 1.1 form (one referrer
 * per signature, config media type as artifact type).
 */
export async function signCosign(
  ref: string,
  key: KeyObject,
  options: { open?: OpenOptions; annotations?: Record<string, string>; referrers?: boolean } = {}
): Promise<{ subject: Descriptor; signatureTag: string; manifest: Descriptor }> {
  const opened = await openTarget(ref, options.open);
  const { parsed } = opened;
  try {
    const target = requireWritable(opened.target);
    const subject = await resolveOpened(opened, ref);
    const payload = buildCosignPayload(cosignIdentity(parsed), subject.digest, options.annotations);
    const payloadDesc = descriptorFor(COSIGN_PAYLOAD_MEDIA_TYPE, payload);
    const layer: Descriptor = {
      ...payloadDesc,
      annotations: { [COSIGN_SIGNATURE_ANNOTATION]: cosignSign(payload, key) },
    };
    const payloadBlob = { descriptor: payloadDesc, data: payload };
    if (options.referrers) {
      const { config } = appendCosignLayer(undefined, layer);
      const cfg = descriptorFor(COSIGN_REFERRER_ARTIFACT_TYPE, config);
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: { mediaType: cfg.mediaType, size: cfg.size, digest: cfg.digest },
        layers: [layer],
        subject,
      };
      const desc = await attachReferrer(target, manifest, [payloadBlob, { descriptor: cfg, data: config }]);
      return { subject, signatureTag: '', manifest: desc };
    }
    const { manifest, config } = appendCosignLayer(await existingSignatures(target, subject), layer);
    const desc = await pushManifest(target, manifest, [
      payloadBlob,
      { descriptor: descriptorFor(MediaType.ImageConfig, config), data: config },
    ]);
    const tag = cosignSignatureTag(subject.digest);
    await target.tag(desc, tag);
    return { subject, signatureTag: tag, manifest: desc };
  } finally {
    await opened.target.close();
  }
}
