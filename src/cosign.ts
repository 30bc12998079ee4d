import type { KeyObject } from 'node:crypto';
import { descriptorFor, encodeManifest, isNotFound, MediaType, type Descriptor, type ImageManifest, type Reference } from './oci/index.ts';
import {
  appendCosignLayer,
  buildCosignPayload,
  COSIGN_PAYLOAD_MEDIA_TYPE,
  COSIGN_SIGNATURE_ANNOTATION,
  cosignSign,
  cosignSignatureTag,
  cosignVerify,
  parseCosignPayload,
} from './signature/index.ts';
import { fetchAll, fetchManifest, openTarget, type OpenOptions, type Target } from './store/index.ts';
import { SignetError } from './util/index.ts';

/** Artifact (config media) type of cosign signatures stored as OCI 1.1 referrers. */
export const COSIGN_REFERRER_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/** The identity cosign writes: the repository, without tag or digest. */
export function cosignIdentity(parsed: Reference): string {
  return parsed.kind === 'registry' ? `${parsed.registry}/${parsed.repository}` : parsed.path;
}

async function existingSignatures(target: Target, subject: Descriptor): Promise<ImageManifest | undefined> {
  try {
    const d = await target.resolve(cosignSignatureTag(subject.digest));
    const { manifest } = await fetchManifest(target, d);
    return 'layers' in manifest ? (manifest as ImageManifest) : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Signs an artifact the way `cosign sign --key` does and stores it under `sha256-<hex>.sig`. */
export async function signCosign(ref: string, key: KeyObject, options: { open?: OpenOptions; annotations?: Record<string, string>; referrers?: boolean } = {}): Promise<{ subject: Descriptor; signatureTag: string; manifest: Descriptor }> {
  const { target, reference, parsed } = await openTarget(ref, options.open);
  try {
    if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`, { kind: 'usage' });
    const root = await target.resolve(reference);
    const subject: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
    const payload = buildCosignPayload(cosignIdentity(parsed), subject.digest, options.annotations);
    const layer: Descriptor = { ...descriptorFor(COSIGN_PAYLOAD_MEDIA_TYPE, payload), annotations: { [COSIGN_SIGNATURE_ANNOTATION]: cosignSign(payload, key) } };
    await target.push(descriptorFor(COSIGN_PAYLOAD_MEDIA_TYPE, payload), payload);
    if (options.referrers) {
      // cosign's OCI 1.1 form (--registry-referrers-mode=oci-1-1): one manifest per signature,
      // config media type as artifact type, the signed image as subject.
      const { config } = appendCosignLayer(undefined, layer);
      const cfg = descriptorFor(COSIGN_REFERRER_ARTIFACT_TYPE, config);
      await target.push(cfg, config);
      const bytes = encodeManifest({ schemaVersion: 2, mediaType: MediaType.ImageManifest, config: { mediaType: cfg.mediaType, size: cfg.size, digest: cfg.digest }, layers: [layer], subject });
      const desc = descriptorFor(MediaType.ImageManifest, bytes);
      await target.push(desc, bytes);
      return { subject, signatureTag: '', manifest: desc };
    }
    const { manifest, config } = appendCosignLayer(await existingSignatures(target, subject), layer);
    await target.push(descriptorFor(MediaType.ImageConfig, config), config);
    const bytes = encodeManifest(manifest);
    const desc = descriptorFor(MediaType.ImageManifest, bytes);
    await target.push(desc, bytes);
    const tag = cosignSignatureTag(subject.digest);
    await target.tag(desc, tag);
    return { subject, signatureTag: tag, manifest: desc };
  } finally {
    await target.close();
  }
}

export interface CosignSignatureReport {
  layer: string;
  verified: boolean;
  reason?: string;
  dockerReference?: string;
}

/**
 * Verifies cosign key-based signatures of an artifact (`sha256-<hex>.sig`): each layer's payload
 * is fetched (digest-checked), must name this artifact's digest (and, with `identity`, this
 * repository), and must be signed by one of `publicKeys`. One good signature suffices.
 */
export async function verifyCosign(ref: string, publicKeys: KeyObject[], options: { open?: OpenOptions; identity?: string | false } = {}): Promise<{ reference: string; subject: Descriptor; verified: boolean; signatures: CosignSignatureReport[] }> {
  if (!publicKeys.length) throw new SignetError('USAGE', 'verifying cosign signatures needs at least one public key', { kind: 'usage' });
  const { target, reference, parsed } = await openTarget(ref, options.open);
  try {
    if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`, { kind: 'usage' });
    const root = await target.resolve(reference);
    const subject: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
    const expectedIdentity = options.identity === false ? undefined : (options.identity ?? cosignIdentity(parsed));
    const sigs = await existingSignatures(target, subject);
    const layers = [...(sigs?.layers ?? [])];
    // …and the OCI 1.1 form: referrers whose config media type is cosign's signature type.
    for (const r of await target.referrers(subject, COSIGN_REFERRER_ARTIFACT_TYPE)) {
      const { manifest } = await fetchManifest(target, r);
      if ('layers' in manifest) layers.push(...(manifest as ImageManifest).layers);
    }
    const out: CosignSignatureReport[] = [];
    for (const layer of layers) {
      const report: CosignSignatureReport = { layer: layer.digest, verified: false };
      out.push(report);
      const sig = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
      if (layer.mediaType !== COSIGN_PAYLOAD_MEDIA_TYPE || !sig) {
        report.reason = 'not a cosign simple-signing layer';
        continue;
      }
      try {
        const payload = await fetchAll(target, layer, 1024 * 1024);
        const p = parseCosignPayload(payload);
        report.dockerReference = p.dockerReference;
        if (p.digest !== subject.digest) report.reason = `the payload is for ${p.digest}, not ${subject.digest}`;
        else if (expectedIdentity !== undefined && p.dockerReference !== expectedIdentity) report.reason = `the payload names ${p.dockerReference}, not ${expectedIdentity}`;
        else if (!publicKeys.some((k) => cosignVerify(payload, sig, k))) report.reason = 'the signature does not verify with any of the given public keys';
        else report.verified = true;
      } catch (err) {
        if (err instanceof SignetError && err.kind !== 'failed' && err.kind !== 'input') throw err;
        report.reason = (err as Error).message;
      }
    }
    return { reference: `${target.name}@${subject.digest}`, subject, verified: out.some((s) => s.verified), signatures: out };
  } finally {
    await target.close();
  }
}

