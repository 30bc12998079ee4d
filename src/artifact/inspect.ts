import { isNotFound, type Descriptor, type ImageManifest } from '../oci/index.ts';
import {
  COSIGN_PAYLOAD_MEDIA_TYPE,
  SIGNATURE_ARTIFACT_TYPE,
  cosignAttestationTag,
  cosignSignatureTag,
  describeBundle,
  isNotarySignatureManifest,
  isSigstoreBundleType,
  legacyAttestationBundle,
  MAX_ENVELOPE_SIZE,
  parseCosignPayload,
  parseEnvelope,
  parseSimplePayload,
  type BundleSummary,
} from '../signature/index.ts';
import {
  fetchAll,
  fetchManifest,
  openTarget,
  resolveOpened,
  type OpenOptions,
  type ReadableTarget,
} from '../store/index.ts';
import { SignetError } from '../util/index.ts';

export interface SignatureInfo {
  digest: string;
  envelopeMediaType?: string;
  signingScheme?: string;
  signatureAlgorithm?: string;
  signingTime?: string;
  expiry?: string;
  signingAgent?: string;
  timestamped?: boolean;
  userMetadata?: Record<string, string>;
  certificateChain?: Array<{ subject: string; issuer: string; notBefore: string; notAfter: string; sha256: string }>;
  /** Set when the envelope could not be decoded. */
  error?: string;
}

/**
 * The signatures of an artifact, decoded but NOT verified (`signet ls` / `signet inspect`):
 * nothing here is trusted; use verify for that.
 */
export interface OtherSignatureInfo {
  family: 'cosign' | 'simple' | 'sigstore';
  /** Where it is stored: the `.sig` tag, or the referrer manifest's digest. */
  location: string;
  /** The identity the payload claims (not verified). */
  dockerReference?: string;
  signedDigest?: string;
  /** A Sigstore bundle, decoded (not verified). */
  bundle?: BundleSummary;
  error?: string;
}

/** The listed referrers of one artifact type (one listing, filtered here per family). */
function ofType(referrers: Descriptor[], type: string): Descriptor[] {
  return referrers.filter((r) => r.artifactType === type);
}

export async function inspect(
  ref: string,
  options: { open?: OpenOptions; maxSignatures?: number } = {}
): Promise<{
  reference: string;
  subject: Descriptor;
  signatures: SignatureInfo[];
  otherSignatures: OtherSignatureInfo[];
}> {
  const opened = await openTarget(ref, options.open);
  const { target } = opened;
  try {
    const subject = await resolveOpened(opened, ref);
    // One listing of the referrers, filtered here for each family (a registry round trip, or a
    // tag-schema index read, once instead of once per family).
    const referrers = await target.referrers(subject);
    const signatures: SignatureInfo[] = [];
    for (const sig of ofType(referrers, SIGNATURE_ARTIFACT_TYPE).slice(0, options.maxSignatures ?? 100)) {
      const info: SignatureInfo = { digest: sig.digest };
      signatures.push(info);
      try {
        const { manifest } = await fetchManifest(target, sig);
        if (!isNotarySignatureManifest(manifest) || manifest.layers.length !== 1)
          throw new SignetError('SIGNATURE_INVALID', 'not a Notary Project signature manifest');
        const layer = manifest.layers[0]!;
        info.envelopeMediaType = layer.mediaType;
        const c = parseEnvelope(await fetchAll(target, layer, MAX_ENVELOPE_SIZE), layer.mediaType);
        const si = c.signerInfo;
        info.signingScheme = si.signingScheme;
        info.signatureAlgorithm = si.signatureAlgorithm;
        const t = si.signingTime ?? si.authenticSigningTime;
        if (t) info.signingTime = t.toISOString();
        if (si.expiry) info.expiry = si.expiry.toISOString();
        if (si.signingAgent) info.signingAgent = si.signingAgent;
        info.timestamped = Boolean(si.timestampSignature);
        if (c.targetArtifact.annotations) info.userMetadata = c.targetArtifact.annotations;
        info.certificateChain = si.certificateChain.map((x) => ({
          subject: x.subject.split('\n').reverse().join(', '),
          issuer: x.issuer.split('\n').reverse().join(', '),
          notBefore: new Date(x.validFrom).toISOString(),
          notAfter: new Date(x.validTo).toISOString(),
          sha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
        }));
      } catch (err) {
        info.error = (err as Error).message;
      }
    }
    return {
      reference: `${target.name}@${subject.digest}`,
      subject,
      signatures,
      otherSignatures: await otherFamilies(target, subject, referrers),
    };
  } finally {
    await target.close();
  }
}

/** cosign (.sig tag and OCI 1.1 referrers) and simple signatures kept as referrers, decoded, not verified. */
async function otherFamilies(
  target: ReadableTarget,
  subject: Descriptor,
  referrers: Descriptor[]
): Promise<OtherSignatureInfo[]> {
  const out: OtherSignatureInfo[] = [];
  const cosignLayers = async (manifest: Descriptor, location: string): Promise<void> => {
    const { manifest: m } = await fetchManifest(target, manifest);
    for (const l of 'layers' in m ? (m as ImageManifest).layers : []) {
      if (l.mediaType !== COSIGN_PAYLOAD_MEDIA_TYPE) continue;
      const info: OtherSignatureInfo = { family: 'cosign', location };
      try {
        const p = parseCosignPayload(await fetchAll(target, l, 1024 * 1024));
        info.dockerReference = p.dockerReference;
        info.signedDigest = p.digest;
      } catch (err) {
        info.error = (err as Error).message;
      }
      out.push(info);
    }
  };
  try {
    const tag = cosignSignatureTag(subject.digest);
    await cosignLayers(await target.resolve(tag), tag);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  for (const r of ofType(referrers, 'application/vnd.dev.cosign.artifact.sig.v1+json')) await cosignLayers(r, r.digest);
  for (const r of ofType(referrers, 'application/vnd.signet.containers.simple-signature.v1')) {
    const info: OtherSignatureInfo = { family: 'simple', location: r.digest };
    try {
      const { manifest: m } = await fetchManifest(target, r);
      const layer = 'layers' in m ? (m as ImageManifest).layers[0] : undefined;
      if (layer) {
        // The OpenPGP message carries the payload as literal data; read it without verifying.
        const openpgp = await import('openpgp');
        const msg = await openpgp.readMessage({ binaryMessage: await fetchAll(target, layer, 4 * 1024 * 1024) });
        const data = msg.getLiteralData();
        const p = parseSimplePayload(data instanceof Uint8Array ? data : new Uint8Array());
        info.dockerReference = p.dockerReference;
        info.signedDigest = p.dockerManifestDigest;
      }
    } catch (err) {
      info.error = (err as Error).message;
    }
    out.push(info);
  }
  // cosign's legacy attestations (the `.att` tag), each DSSE layer read as the bundle it amounts to
  try {
    const tag = cosignAttestationTag(subject.digest);
    const { manifest: m } = await fetchManifest(target, await target.resolve(tag));
    for (const l of 'layers' in m ? (m as ImageManifest).layers : []) {
      const info: OtherSignatureInfo = { family: 'sigstore', location: `${tag} ${l.digest}` };
      try {
        info.bundle = describeBundle(legacyAttestationBundle(await fetchAll(target, l, 1024 * 1024), l.annotations));
      } catch (err) {
        info.error = (err as Error).message;
      }
      out.push(info);
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  // Sigstore bundles (cosign 3's default): by artifact type, or — in cosign's tag-schema index,
  // which lists them as the empty type — by the manifest's own.
  for (const r of referrers) {
    const listed =
      r.artifactType && r.artifactType !== 'application/vnd.oci.empty.v1+json' ? r.artifactType : undefined;
    if (listed && !isSigstoreBundleType(listed)) continue;
    let m: ImageManifest | undefined;
    try {
      const got = (await fetchManifest(target, r)).manifest;
      m = 'layers' in got ? (got as ImageManifest) : undefined;
    } catch (err) {
      out.push({ family: 'sigstore', location: r.digest, error: (err as Error).message });
      continue;
    }
    if (!isSigstoreBundleType(listed ?? m?.artifactType)) continue;
    const info: OtherSignatureInfo = { family: 'sigstore', location: r.digest };
    const layer = m?.layers.length === 1 ? m.layers[0] : undefined;
    try {
      if (!layer || !isSigstoreBundleType(layer.mediaType)) throw new Error('not one bundle layer');
      info.bundle = describeBundle(await fetchAll(target, layer, 1024 * 1024));
    } catch (err) {
      info.error = (err as Error).message;
    }
    out.push(info);
  }
  return out;
}
